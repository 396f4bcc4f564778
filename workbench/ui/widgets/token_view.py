"""The token view: the prompt's text with each token on its own alternating background.

Token boundaries come from the tokenizer's spans (computed off the GUI thread); a
``QSyntaxHighlighter`` colours each line from them with a binary search, so colouring costs per
visible change, not per token. Hovering a token shows its id.
"""

from __future__ import annotations

from bisect import bisect_right

from PySide6.QtCore import QEvent
from PySide6.QtGui import QFont, QHelpEvent, QSyntaxHighlighter, QTextCharFormat, QTextDocument
from PySide6.QtWidgets import QPlainTextEdit, QToolTip, QWidget

from workbench.ui.theming import monospace_font
from workbench.ui.widgets.palette_colors import token_backgrounds
from workbench.ui.widgets.preview_compute import TokenView


class _TokenHighlighter(QSyntaxHighlighter):
    def __init__(self, document: QTextDocument) -> None:
        super().__init__(document)
        self.view: TokenView | None = None
        self.formats = (QTextCharFormat(), QTextCharFormat())
        self.header = QTextCharFormat()
        self.header.setFontWeight(QFont.Weight.Bold)

    def set_colors(self, first: QTextCharFormat, second: QTextCharFormat) -> None:
        self.formats = (first, second)

    def highlightBlock(self, text: str) -> None:
        view = self.view
        if view is None:
            return
        block = self.currentBlock()
        start = block.position()
        end = start + block.length() - 1
        for h_start, h_end in view.headers:
            if h_start < end and h_end > start:
                self.setFormat(max(h_start, start) - start, min(h_end, end) - max(h_start, start),
                               self.header)
        i = max(bisect_right(view.starts, start) - 1, 0)
        starts, ends = view.starts, view.ends
        while i < len(starts) and starts[i] < end:
            if ends[i] > start:
                left = max(starts[i], start)
                self.setFormat(left - start, min(ends[i], end) - left, self.formats[i % 2])
            i += 1


class TokenBoundaryView(QPlainTextEdit):
    """Read-only text whose tokens alternate between two background colours."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setReadOnly(True)
        self.setFont(monospace_font())
        self.setAccessibleName("Tokens")
        self.setToolTip(
            "Each token on its own background: models read tokens (words, parts of words, "
            "punctuation), not characters. Hover a token to see its id."
        )
        self._highlighter = _TokenHighlighter(self.document())
        self._view: TokenView | None = None
        self._apply_colors()

    @property
    def token_view(self) -> TokenView | None:
        return self._view

    def set_tokens(self, view: TokenView | None) -> None:
        self._view = view
        self._highlighter.view = view
        self.setPlainText("" if view is None else view.text)  # the highlighter colours it

    def token_at(self, position: int) -> int | None:
        """Index of the token covering a document position, or None."""
        view = self._view
        if view is None:
            return None
        i = bisect_right(view.starts, position) - 1
        if i >= 0 and position < view.ends[i]:
            return i
        return None

    def _apply_colors(self) -> None:
        formats = []
        for color in token_backgrounds(self.palette()):
            fmt = QTextCharFormat()
            fmt.setBackground(color)
            formats.append(fmt)
        self._highlighter.set_colors(formats[0], formats[1])
        self._highlighter.rehighlight()

    def event(self, event: QEvent) -> bool:
        if event.type() == QEvent.Type.PaletteChange:
            self._apply_colors()
        elif event.type() == QEvent.Type.ToolTip and isinstance(event, QHelpEvent):
            pos = self.viewport().mapFromGlobal(event.globalPos())
            index = self.token_at(self.cursorForPosition(pos).position())
            if index is not None and self._view is not None:
                tip = f"token {index + 1}: id {self._view.ids[index]}"
                QToolTip.showText(event.globalPos(), tip, self)
                return True
        return super().event(event)
