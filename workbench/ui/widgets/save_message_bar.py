"""The line under the template's title where Ctrl+Shift+S asks what a version changes.

Ctrl+S saves at once, as people press it every few minutes; a message is worth writing now and
then ("few-shot examples reordered"), so it is asked only on Ctrl+Shift+S, inline rather than in
a dialog: Enter saves with the message, Esc puts the line away.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QHBoxLayout, QLabel, QLineEdit, QPushButton, QWidget


class SaveMessageBar(QWidget):
    """Emits ``saveRequested(message)`` when Enter or its button saves."""

    saveRequested = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        label = QLabel("Version message", self)
        self.edit = QLineEdit(self)
        self.edit.setAccessibleName("Version message")
        self.edit.setPlaceholderText("what this version changes (Enter saves, Esc cancels)")
        label.setBuddy(self.edit)
        self.save_button = QPushButton("Save version", self)
        self.save_button.setAccessibleName("Save version with message")
        self.cancel_button = QPushButton("Cancel", self)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(8)
        layout.addWidget(label)
        layout.addWidget(self.edit, 1)
        layout.addWidget(self.save_button)
        layout.addWidget(self.cancel_button)
        self.edit.returnPressed.connect(self._save)
        self.save_button.clicked.connect(self._save)
        self.cancel_button.clicked.connect(self.hide)
        self.hide()

    def open(self) -> None:
        self.show()
        self.edit.setFocus()
        self.edit.selectAll()

    def _save(self) -> None:
        message = self.edit.text().strip()
        self.hide()
        self.edit.clear()
        self.saveRequested.emit(message)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_Escape:
            self.hide()
            return
        super().keyPressEvent(event)
