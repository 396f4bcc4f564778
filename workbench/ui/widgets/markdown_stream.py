"""Markdown that grows while a model streams, rendered in time proportional to what changed.

Re-rendering the whole answer with ``setMarkdown`` costs about 1 ms per KB, so a long answer
would stall the GUI on every refresh. Instead, the text is cut at blank lines outside fenced code
blocks: every finished block is rendered once and appended, and only the unfinished tail is
re-rendered on each refresh. The cuts depend only on the text, so a streamed answer and the same
answer shown at once render identically.
"""

from __future__ import annotations

import re

from PySide6.QtGui import (
    QColor,
    QTextBlockFormat,
    QTextCharFormat,
    QTextCursor,
    QTextDocument,
    QTextFormat,
)

_FENCE = re.compile(r"^ {0,3}(```|~~~)", re.MULTILINE)
#: Space between blocks (px): Qt's Markdown reader leaves paragraphs without any.
BLOCK_GAP = 8
_PLACEHOLDER = "\u200b"


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
        self._stable = 0  # characters of text rendered as finished blocks
        self._scan = 0  # characters already scanned for cuts
        self._fence_open = False
        self._tail_pos = 0  # document position where the unfinished tail starts
        self._blocks = 0

    @property
    def text(self) -> str:
        return self._text


    def update(self, text: str) -> None:
        if not text.startswith(self._text):
            self.reset()
        self._text = text
        cursor = QTextCursor(self.document)
        cursor.beginEditBlock()
        try:
            self._remove_tail(cursor)
            for block in self._finished_blocks(text):
                self._insert(cursor, block)
            self._tail_pos = cursor.position()
            tail = text[self._stable:].strip("\n")
            if tail:
                self._insert(cursor, tail, count=False)
        finally:
            cursor.endEditBlock()

    def _finished_blocks(self, text: str) -> list[str]:
        blocks: list[str] = []
        while True:
            cut = text.find("\n\n", self._scan)
            if cut < 0:
                return blocks
            if len(_FENCE.findall(text, self._scan, cut)) % 2:
                self._fence_open = not self._fence_open
            self._scan = cut + 2
            if not self._fence_open:
                block = text[self._stable:cut].strip("\n")
                if block:
                    blocks.append(block)
                self._stable = self._scan

    def _remove_tail(self, cursor: QTextCursor) -> None:
        """Remove the tail rendered last time. Removing a block separator can hand the next
        block's format to the last finished block, so that format is put back."""
        cursor.setPosition(self._tail_pos)
        kept = cursor.block().blockFormat()
        # setPosition, not movePosition(End): that walks the whole document's layout
        cursor.setPosition(self.document.characterCount() - 1, QTextCursor.MoveMode.KeepAnchor)
        cursor.removeSelectedText()
        if self._tail_pos > 0:
            cursor.setBlockFormat(kept)

    def _insert(self, cursor: QTextCursor, markdown: str, *, count: bool = True) -> None:
        if cursor.position() == 0:
            start = 0
            cursor.insertMarkdown(markdown)
        else:
            start = self._append_block(cursor, markdown)
        if self.code_background is not None:
            self._shade_code(start, cursor.position(), self.code_background)
        if count:
            self._blocks += 1

    def _append_block(self, cursor: QTextCursor, markdown: str) -> int:
        """Insert ``markdown`` as new blocks after the current one; returns where they start.

        ``insertMarkdown`` pours its first block into the block at the cursor, which keeps that
        block's format (a code block's first line would lose its code format). A throw-away
        paragraph takes that place and is removed afterwards.
        """
        begin = cursor.position()
        cursor.insertBlock(QTextBlockFormat(), QTextCharFormat())
        cursor.insertMarkdown(_PLACEHOLDER + "\n\n" + markdown)
        end = cursor.position()
        block = self.document.findBlock(begin)
        while block.isValid() and block.position() <= end and _PLACEHOLDER not in block.text():
            block = block.next()  # a block or two at most: only the inserted text is searched
        if not block.isValid() or block.position() > end:  # the reader dropped it
            return begin
        remove = QTextCursor(self.document)
        if block.text() == _PLACEHOLDER and block.next().isValid() and block.position() > 0:
            start = block.position()
            remove.setPosition(start - 1)
            remove.setPosition(start + len(_PLACEHOLDER), QTextCursor.MoveMode.KeepAnchor)
            remove.removeSelectedText()
            gap = QTextBlockFormat()
            first = self.document.findBlock(start)
            gap.setTopMargin(max(BLOCK_GAP, first.blockFormat().topMargin()))
            QTextCursor(first).mergeBlockFormat(gap)
            cursor.setPosition(end - 1 - len(_PLACEHOLDER))
            return start
        start = block.position() + block.text().index(_PLACEHOLDER)
        remove.setPosition(start)
        remove.setPosition(start + len(_PLACEHOLDER), QTextCursor.MoveMode.KeepAnchor)
        remove.removeSelectedText()
        cursor.setPosition(end - len(_PLACEHOLDER))
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
