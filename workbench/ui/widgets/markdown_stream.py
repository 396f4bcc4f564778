"""Markdown that grows while a model streams, rendered in time proportional to what changed.

Re-rendering the whole answer with ``setMarkdown`` costs about 1 ms per KB, so a long answer
would stall the GUI on every refresh. Instead the text is cut into pieces that render on their
own (``markdown_blocks``): each finished piece is rendered once and appended, and only the open
tail is rendered again on each refresh. Inside a code fence every finished line is a piece of its
own, appended as text with the code block's format; list items are added to the list before
them; a long table goes on as further tables of ``TABLE_CHUNK`` rows drawn flush below it, and
the open one grows by the rows that arrive (``markdown_tables``). So a refresh costs what
arrived, not the length of the answer nor of its open block. The cuts depend
only on the text, so a streamed answer and the same answer shown at once render identically,
and like ``setMarkdown`` of the whole text (tests/ui/test_markdown_stream.py; a long list is
drawn as consecutive lists of ``LIST_CHUNK`` items, a long table as consecutive tables, see
there).
"""

from __future__ import annotations

from PySide6.QtGui import (
    QColor,
    QTextBlock,
    QTextBlockFormat,
    QTextCharFormat,
    QTextCursor,
    QTextDocument,
    QTextFormat,
    QTextLength,
    QTextList,
    QTextTable,
)

from workbench.ui.widgets.markdown_blocks import Attach, BlockCutter, Piece, only_rows
from workbench.ui.widgets.markdown_tables import OpenTable, column_widths, table_rows

#: Space between blocks (px): Qt's Markdown reader leaves paragraphs without any.
BLOCK_GAP = 8
_PLACEHOLDER = "\u200b"
#: Items per list object. Qt lays a whole list out again for every item added to it (25 us per
#: item here: 15 ms at 600 items), so a long list goes on as a new list with the same look and
#: its numbers continued every this many items.
LIST_CHUNK = 64


class _Kept:
    """A block's formats and list, put back after removing the block separator after it
    (which can hand the removed block's format, or none, to it)."""

    def __init__(self, block: QTextBlock) -> None:
        self.format, self.chars = block.blockFormat(), block.charFormat()
        self.list = block.textList()

    def restore(self, cursor: QTextCursor) -> None:
        cursor.setBlockFormat(self.format)
        cursor.setBlockCharFormat(self.chars)
        if self.list is not None and cursor.block().textList() is None:
            self.list.add(cursor.block())


class MarkdownStream:
    """Renders a growing Markdown text into ``document``.

    ``update(text)`` accepts the whole text so far; when it does not extend the previous text
    (a new run, a restored result) the document is rebuilt from scratch.
    """

    def __init__(self, document: QTextDocument, code_background: QColor | None = None) -> None:
        self.document = document
        document.setUndoRedoEnabled(False)  # an output is never undone; the history costs time
        #: Shade behind code blocks (Qt's reader gives them none); applies to what is rendered next.
        self.code_background = code_background
        self.reset()

    def reset(self) -> None:
        self.document.clear()
        self._text = ""
        self._cutter = BlockCutter()
        self._tail_pos = 0  # document position where the unfinished tail starts
        self._list: QTextList | None = None  # the top-level list that "join" pieces continue
        self._code = QTextCharFormat()  # the open code block's text format
        self._nothing = True  # no finished piece has rendered anything yet
        self._piece = ""  # the last finished piece that is not a table's next rows
        self._columns: list[QTextLength] | None = None  # its table's column widths
        self._open: OpenTable | None = None  # the tail, when it is a table that rows grow

    @property
    def text(self) -> str:
        return self._text

    def update(self, text: str) -> None:
        if not text.startswith(self._text):
            self.reset()
        self._text = text
        cutter = self._cutter
        pieces = cutter.feed(text)
        grown, self._open = self._open, None
        table = self._tail_table() if grown is not None else None  # before the edit block
        cursor = QTextCursor(self.document)
        cursor.beginEditBlock()
        try:
            if grown is not None and table is not None:
                if not pieces and cutter.growing_table(text) is not None:
                    if grown.grow(table, text[grown.rendered:], cutter.scanned):
                        self._open = grown  # only rows were added: nothing else changes
                        return
                elif pieces and self._finish_table(grown, table, text, pieces[0]):
                    pieces = pieces[1:]
            self._remove_tail(cursor)
            for piece in pieces:
                self._insert(cursor, text[piece.start:piece.end], piece.attach, piece.prefix)
            self._tail_pos = cursor.position()
            tail = text[cutter.cut:]
            if cutter.in_code:
                if tail and not cutter.closes_fence(tail):
                    self._insert(cursor, tail, "code", tail=True)
            elif tail.strip():
                self._insert(cursor, tail, cutter.attach, cutter.prefix, tail=True)
                if (head := cutter.growing_table(text)) is not None:
                    self._open = OpenTable(head, cutter.cut, cutter.scanned,
                                           bool(text[cutter.scanned:].strip()))
        finally:
            cursor.endEditBlock()

    def _tail_table(self) -> QTextTable | None:
        """The table the tail starts with (a table is reachable as one only once the edit block
        that made it has ended)."""
        block = self.document.findBlock(self._tail_pos)
        while block.isValid() and QTextCursor(block).currentTable() is None:
            block = block.next()  # a block or two: the tail starts with its table
        return QTextCursor(block).currentTable() if block.isValid() else None

    def _finish_table(
        self, grown: OpenTable, table: QTextTable, text: str, piece: Piece
    ) -> bool:
        """When the tail, a table grown by its rows, is now a finished piece that only adds rows
        to it: keep it (rendering it whole again would insert a table, which makes Qt scan the
        whole document) and add them; True if so."""
        if piece.start != grown.start or not only_rows(text[grown.rendered:piece.end]):
            return False
        if not grown.grow(table, text[grown.rendered:piece.end], piece.end):
            return False
        if piece.attach != "rows":  # as ``_insert`` keeps track of a finished piece
            self._piece, self._columns = text[piece.start:piece.end], None
        self._list, self._nothing = None, False
        self._tail_pos = self.document.characterCount() - 1
        return True

    def _remove_tail(self, cursor: QTextCursor) -> None:
        """Remove the tail rendered last time."""
        cursor.setPosition(self._tail_pos)
        keep = _Kept(cursor.block()) if self._tail_pos > 0 else None
        # setPosition, not movePosition(End): that walks the whole document's layout
        cursor.setPosition(self.document.characterCount() - 1, QTextCursor.MoveMode.KeepAnchor)
        cursor.removeSelectedText()
        if keep is not None:
            keep.restore(cursor)

    def _insert(
        self, cursor: QTextCursor, text: str, attach: Attach, prefix: str = "", *,
        tail: bool = False,
    ) -> None:
        if attach == "code":  # one more line of the open code block, as text
            block = cursor.block()
            cursor.insertBlock(block.blockFormat(), self._code)
            cursor.insertText(_expand_indent(text), self._code)
            return
        if self._nothing:  # insertMarkdown would pour a first list item into a paragraph
            start = 0
            self.document.setMarkdown(text)
            # a front matter is not shown, and it is not part of what a later piece renders
            self.document.setMetaInformation(QTextDocument.MetaInformation.FrontMatter, "")
            cursor.setPosition(self.document.characterCount() - 1)
            self._nothing = tail or (
                self.document.characterCount() == 1 and not self.document.toMarkdown().strip()
            )
        elif attach == "rows":
            if self._columns is None:  # the table's first rows are the piece before
                self._columns = column_widths(self.document, self._piece)
            start = self._append_block(cursor, prefix + text, gap=False, columns=self._columns)
        else:
            start = self._append_block(cursor, text, gap=attach == "gap")
        if not tail and attach != "rows":
            self._piece, self._columns = text, None
        end = cursor.position()
        if self.code_background is not None:
            self._shade_code(start, end, self.code_background)
        first = self.document.findBlock(start)
        items = first.textList()
        if attach == "join" and items is not None and self._list is not None:
            if self._list.count() < LIST_CHUNK:
                self._join(self._list, items, first, end)
            else:  # the same list drawn on as a new one, its numbers going on
                look = self._list.format()
                look.setStart(look.start() + self._list.count())
                items.setFormat(look)
                if not tail:
                    self._list = items
        elif not tail:
            self._list = items
        last = self.document.findBlock(end)
        if last.blockFormat().nonBreakableLines() and last.text():  # a code block goes on
            here = QTextCursor(self.document)
            here.setPosition(last.position() + 1)
            self._code = here.charFormat()

    @staticmethod
    def _join(into: QTextList, items: QTextList, block: QTextBlock, end: int) -> None:
        """Move the blocks of ``items`` from ``block`` up to ``end`` into the list ``into``."""
        index = items.objectIndex()
        while block.isValid() and block.position() <= end:
            inside = block.textList()
            if inside is not None and inside.objectIndex() == index:
                into.add(block)
            block = block.next()

    def _append_block(
        self, cursor: QTextCursor, markdown: str, *, gap: bool,
        columns: list[QTextLength] | None = None,
    ) -> int:
        """Insert ``markdown`` as new blocks after the current one; returns where they start.
        With ``columns`` (a "rows" piece, after its table's header and delimiter lines) the
        table's header row is dropped, and it is drawn flush below the one before with the
        columns of that one.

        ``insertMarkdown`` pours its first block into the block at the cursor, which keeps that
        block's format (a code block's first line would lose its code format). A throw-away
        paragraph takes that place and is removed afterwards.
        """
        begin = cursor.position()
        keep = _Kept(cursor.block())  # removing up to the text can hand it another format
        cursor.insertBlock(QTextBlockFormat(), QTextCharFormat())
        if columns is not None:
            cursor.insertFragment(table_rows(_PLACEHOLDER + "\n\n" + markdown, columns))
        else:
            cursor.insertMarkdown(_PLACEHOLDER + "\n\n" + markdown)
        end = cursor.position()
        block = self.document.findBlock(begin + 1)
        while block.isValid() and _PLACEHOLDER not in block.text():
            block = block.next()  # a block or two at most: only the inserted text is searched
        if not block.isValid():  # the reader dropped it
            return begin + 1
        remove = QTextCursor(self.document)
        if block.text() != _PLACEHOLDER:  # it shares a block with the text: only it goes
            start = block.position() + block.text().index(_PLACEHOLDER)
            remove.setPosition(start)
            remove.setPosition(start + len(_PLACEHOLDER), QTextCursor.MoveMode.KeepAnchor)
            remove.removeSelectedText()
            cursor.setPosition(end - len(_PLACEHOLDER))
            return start
        # Everything from the end of the block before up to the placeholder goes (Qt sometimes
        # leaves the new block empty and puts the placeholder in a block of its own), or all of
        # it when the text rendered as nothing.
        nothing = not block.next().isValid()
        upto = end if nothing else block.position() + len(_PLACEHOLDER)
        remove.setPosition(begin)
        remove.setPosition(upto, QTextCursor.MoveMode.KeepAnchor)
        remove.removeSelectedText()
        keep.restore(remove)
        cursor.setPosition(end - (upto - begin))
        if nothing:
            return begin
        start = begin + 1
        if gap:
            space = QTextBlockFormat()
            first = self.document.findBlock(start)
            space.setTopMargin(max(BLOCK_GAP, first.blockFormat().topMargin()))
            QTextCursor(first).mergeBlockFormat(space)
        return start

    def _shade_code(self, start: int, end: int, color: QColor) -> None:
        shade = QTextBlockFormat()
        shade.setBackground(color)
        block = self.document.findBlock(start)
        while block.isValid() and block.position() <= end:
            fmt = block.blockFormat()
            if fmt.nonBreakableLines() or fmt.hasProperty(QTextFormat.Property.BlockCodeLanguage):
                QTextCursor(block).mergeBlockFormat(shade)
            block = block.next()


def _expand_indent(line: str) -> str:
    """``line`` with the tabs of its indent turned into spaces (tab stops every 4 columns), as
    Qt's reader gives code lines."""
    column = 0
    for index, char in enumerate(line):
        if char == " ":
            column += 1
        elif char == "\t":
            column += 4 - column % 4
        else:
            return " " * column + line[index:]
    return " " * column
