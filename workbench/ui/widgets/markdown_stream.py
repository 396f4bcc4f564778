"""Markdown that grows while a model streams, rendered in time proportional to what changed.

Re-rendering the whole answer with ``setMarkdown`` costs about 1 ms per KB, so a long answer
would stall the GUI on every refresh. Instead, the text is cut at blank lines outside fenced code
blocks: every finished block is rendered once and appended, and only the unfinished tail is
re-rendered on each refresh. The cuts depend only on the text, so a streamed answer and the same
answer shown at once render identically.
"""

from __future__ import annotations

import re

from PySide6.QtGui import QTextBlockFormat, QTextCharFormat, QTextCursor, QTextDocument

_FENCE = re.compile(r"^ {0,3}(```|~~~)", re.MULTILINE)
#: Space between blocks (px): Qt's Markdown reader leaves paragraphs without any.
BLOCK_GAP = 8


class MarkdownStream:
    """Renders a growing Markdown text into ``document``.

    ``update(text)`` accepts the whole text so far; when it does not extend the previous text
    (a new run, a restored result) the document is rebuilt from scratch.
    """

    def __init__(self, document: QTextDocument) -> None:
        self.document = document
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
        cursor.setPosition(self._tail_pos)
        cursor.movePosition(QTextCursor.MoveOperation.End, QTextCursor.MoveMode.KeepAnchor)
        cursor.removeSelectedText()

    def _insert(self, cursor: QTextCursor, markdown: str, *, count: bool = True) -> None:
        if self._blocks:
            spaced = QTextBlockFormat()
            spaced.setTopMargin(BLOCK_GAP)
            cursor.insertBlock(spaced, QTextCharFormat())
            start = cursor.position()
            cursor.insertMarkdown(markdown)
            self._drop_empty_lead(cursor, start)
        else:
            cursor.insertMarkdown(markdown)
        if count:
            self._blocks += 1

    def _drop_empty_lead(self, cursor: QTextCursor, start: int) -> None:
        """Lists, quotes and code open a block of their own, leaving the separator we inserted
        empty: merge it away and give the gap to the block that really starts there."""
        lead = self.document.findBlock(start)
        first = lead.next()
        if lead.length() > 1 or not first.isValid():
            return
        end = cursor.position()
        fix = QTextCursor(self.document)
        fix.setPosition(start)
        fix.deletePreviousChar()
        gap = QTextBlockFormat()
        gap.setTopMargin(max(BLOCK_GAP, first.blockFormat().topMargin()))
        QTextCursor(first).mergeBlockFormat(gap)
        cursor.setPosition(end - 1)
