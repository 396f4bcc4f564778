"""A reasoning model's thinking, folded above its answer: "▸ Thinking (N tokens)".

Hidden while a run has no reasoning. Folded by default, since the answer is what is read; opened,
it shows the thinking in greyed text and keeps streaming into it live. Folded, the text is only
kept, and painted once when it is opened.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, Qt
from PySide6.QtGui import QPalette, QTextCursor
from PySide6.QtWidgets import (
    QAbstractScrollArea,
    QPlainTextEdit,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from workbench.core.models import RunResult

#: Lines of thinking shown when opened before it scrolls (the answer keeps the rest).
VISIBLE_LINES = 8


class ThinkingPanel(QWidget):
    """Call ``append`` with streamed reasoning, ``show_result`` at the end, ``clear`` between
    runs."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._parts: list[str] = []
        self._shown = 0  # characters painted into the text view
        self._tokens: int | None = None  # exact, once the run says
        self._live = 0  # reasoning pieces so far (≈ tokens) while streaming
        self.toggle = QToolButton(self)
        self.toggle.setCheckable(True)
        self.toggle.setAutoRaise(True)
        self.toggle.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.toggle.setArrowType(Qt.ArrowType.RightArrow)
        self.toggle.setAccessibleName("Show the model's thinking")
        self.toggle.setToolTip(
            "What the model thought before answering: kept apart from the answer, which is "
            "what assertions, judges and compare read"
        )
        self.toggle.toggled.connect(self._toggled)
        self.view = QPlainTextEdit(self)
        self.view.setReadOnly(True)
        self.view.setAccessibleName("The model's thinking")
        self.view.setFrameShape(QAbstractScrollArea.Shape.NoFrame)
        self.view.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.view.hide()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.toggle, 0, Qt.AlignmentFlag.AlignLeft)
        layout.addWidget(self.view)
        # Never more than its header (and the opened text) needs: the answer takes the rest.
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Maximum)
        self._grey()
        self.hide()

    @property
    def text(self) -> str:
        return "".join(self._parts)

    @property
    def is_open(self) -> bool:
        return self.toggle.isChecked()

    def set_open(self, opened: bool) -> None:
        self.toggle.setChecked(opened)

    def clear(self) -> None:
        self._parts.clear()
        self._shown = 0
        self._tokens = None
        self._live = 0
        self.view.clear()
        self.hide()

    def append(self, text: str, pieces: int) -> None:
        """Reasoning streamed since the last call; ``pieces``: how many so far in all."""
        if not text:
            return
        self._parts.append(text)
        self._live = pieces
        self._label()
        self.show()
        if self.is_open:
            self._paint()

    def show_result(self, result: RunResult) -> None:
        """A run's end (or a past run): its whole reasoning and exact count, when it has one."""
        if not result.reasoning:
            self.clear()
            return
        if result.reasoning != self.text:
            self._parts = [result.reasoning]
            self._shown = 0
            self.view.clear()
        self._tokens = result.usage.reasoning_tokens
        self._label()
        self.show()
        if self.is_open:
            self._paint()

    def _label(self) -> None:
        if self._tokens is not None:
            count = _tokens(self._tokens)
        elif self._live:
            count = f"≈ {_tokens(self._live)}"
        else:
            count = ""
        self.toggle.setText(f"Thinking ({count})" if count else "Thinking")

    def _toggled(self, opened: bool) -> None:
        self.toggle.setArrowType(Qt.ArrowType.DownArrow if opened else Qt.ArrowType.RightArrow)
        self.toggle.setAccessibleName(
            "Hide the model's thinking" if opened else "Show the model's thinking"
        )
        self.view.setVisible(opened)
        if opened:
            lines = self.view.fontMetrics().lineSpacing() * VISIBLE_LINES
            self.view.setFixedHeight(lines + 2 * self.view.frameWidth() + 8)
            self._paint()

    def _paint(self) -> None:
        """Add what arrived since the last paint, following the end if it was at the end."""
        text = self.text
        if self._shown == len(text):
            return
        bar = self.view.verticalScrollBar()
        follow = bar.value() >= bar.maximum() - 4
        cursor = QTextCursor(self.view.document())
        cursor.movePosition(QTextCursor.MoveOperation.End)
        cursor.insertText(text[self._shown:])
        self._shown = len(text)
        if follow:
            bar.setValue(bar.maximum())

    def _grey(self) -> None:
        """The thinking reads as an aside: the palette's placeholder grey on the window's
        background, not the answer's text colour on its page."""
        palette = QPalette(self.palette())
        palette.setColor(QPalette.ColorRole.Text,
                         palette.color(QPalette.ColorRole.PlaceholderText))
        palette.setColor(QPalette.ColorRole.Base, palette.color(QPalette.ColorRole.Window))
        self.view.setPalette(palette)

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.PaletteChange:
            self._grey()
        super().changeEvent(event)


def _tokens(count: int) -> str:
    return f"{count:,} token" + ("" if count == 1 else "s")
