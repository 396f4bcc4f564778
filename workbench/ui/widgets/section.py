"""A titled section that folds open and shut, with a one-line summary beside its title.

Used for the parts of a template most people touch less often (prompt components, few-shot
examples): folded, the summary still says what is in them ("3 of 5 used, seed 42").
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QToolButton, QVBoxLayout, QWidget


class Section(QWidget):
    """A fold-out header (arrow, title, summary) above a content widget."""

    toggled = Signal(bool)

    def __init__(
        self, title: str, content: QWidget, *, tooltip: str, expanded: bool = False,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.button = QToolButton(self)
        self.button.setText(title)
        self.button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.button.setAutoRaise(True)
        font = self.button.font()
        font.setBold(True)
        self.button.setFont(font)
        self.button.setToolTip(tooltip)
        self.button.setAccessibleName(title)
        self.summary = QLabel(self)
        self.summary.setEnabled(False)  # the palette's dimmed text: secondary information
        self.summary.setAccessibleName(f"{title} summary")
        self.content = content
        header = QHBoxLayout()
        header.setContentsMargins(0, 0, 0, 0)
        header.setSpacing(8)
        header.addWidget(self.button)
        header.addWidget(self.summary, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        layout.addLayout(header)
        layout.addWidget(content)
        self._expanded = expanded
        self.button.clicked.connect(lambda: self._set_expanded(not self._expanded))
        self._set_expanded(expanded)

    @property
    def expanded(self) -> bool:
        return self._expanded

    def set_expanded(self, expanded: bool) -> None:
        if expanded != self._expanded:
            self._set_expanded(expanded)

    def set_summary(self, text: str) -> None:
        self.summary.setText(text)

    def _set_expanded(self, expanded: bool) -> None:
        self._expanded = expanded
        self.button.setAccessibleDescription("expanded" if expanded else "collapsed")
        self.button.setArrowType(
            Qt.ArrowType.DownArrow if expanded else Qt.ArrowType.RightArrow
        )
        self.content.setVisible(expanded)
        self.toggled.emit(expanded)
