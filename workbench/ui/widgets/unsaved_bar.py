"""The line under the template's title asking what to do with unsaved edits before another
template replaces them: Save, Discard or Cancel.

It was a message box over the window, which sat on the editor's own labels ("Prompt
components" half hidden under it), read by a first-time user as part of the editor drawn in
the wrong place. As a line of the window's layout it takes its own room and pushes the editor
down. The caller waits for the answer, as it did for the box: ``ask`` returns once a button,
Enter (Save) or Esc (Cancel) answers.
"""

from __future__ import annotations

from PySide6.QtCore import QEventLoop, Qt
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QApplication, QHBoxLayout, QLabel, QMessageBox, QPushButton, QWidget

Answer = QMessageBox.StandardButton


class UnsavedBar(QWidget):
    """``ask(name)``: Save, Discard or Cancel, answered in place."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAccessibleName("Unsaved edits")
        self.label = QLabel(self)
        self.label.setWordWrap(True)
        self.buttons: dict[Answer, QPushButton] = {}
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(8)
        layout.addWidget(self.label, 1)
        for answer, text in ((Answer.Save, "&Save"), (Answer.Discard, "&Discard"),
                             (Answer.Cancel, "Cancel")):
            button = QPushButton(text, self)
            button.clicked.connect(lambda _checked=False, a=answer: self.answer(a))
            layout.addWidget(button)
            self.buttons[answer] = button
        self._loop: QEventLoop | None = None
        self._answer = Answer.Cancel
        self.hide()

    @property
    def asking(self) -> bool:
        return self._loop is not None

    def ask(self, name: str) -> Answer:
        """Show the question and wait for its answer (Cancel for a second question asked while
        one waits: the first is still the person's to answer)."""
        if self._loop is not None:
            return Answer.Cancel
        self.label.setText(f"“{name}” has edits that are not saved. Save them?")
        focus = QApplication.focusWidget()
        self._answer = Answer.Cancel
        self.show()
        self.buttons[Answer.Save].setFocus()
        self._loop = QEventLoop(self)
        try:
            self._loop.exec()
        finally:
            self._loop = None
            self.hide()
        if focus is not None and focus.isVisible():
            focus.setFocus()
        return self._answer

    def answer(self, answer: Answer) -> None:
        """End the wait with ``answer`` (the window closing answers Cancel)."""
        if self._loop is not None:
            self._answer = answer
            self._loop.quit()

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_Escape:
            self.answer(Answer.Cancel)
        elif event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            focused = next((a for a, b in self.buttons.items() if b.hasFocus()), Answer.Save)
            self.answer(focused)
        else:
            super().keyPressEvent(event)
