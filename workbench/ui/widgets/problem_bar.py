"""The line under the template's title naming a file the window could not open.

The status bar's messages time out and the next one replaces them: at start, the template opened
instead of an unreadable file wrote over its error, which then showed only on stderr. This line
stays, in the error colour, until the person dismisses it (or a file opens fine).
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QWidget

from workbench.ui import theming


class ProblemBar(QWidget):
    """A problem shown until dismissed: ``show_problem(text)``; "Dismiss" hides it."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAccessibleName("Problem")
        self.label = QLabel(self)
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.dismiss_button = QPushButton("Dismiss", self)
        self.dismiss_button.setAccessibleName("Dismiss the problem")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(8)
        layout.addWidget(self.label, 1)
        layout.addWidget(self.dismiss_button)
        self.dismiss_button.clicked.connect(self.hide)
        self.hide()

    def text(self) -> str:
        return self.label.text()

    def show_problem(self, text: str) -> None:
        palette = self.label.palette()
        palette.setColor(self.label.foregroundRole(), theming.status_color("error"))
        self.label.setPalette(palette)
        self.label.setText(text)
        self.show()
