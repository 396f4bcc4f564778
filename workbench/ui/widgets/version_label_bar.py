"""An inline row under the library's versions for labelling one of them ("production").

Inline rather than a dialog, so the versions stay in view while a label is typed. Enter sets the
label, Escape closes the row; Remove takes a label this version has off it.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt, Signal
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QCompleter, QHBoxLayout, QLabel, QLineEdit, QToolButton, QWidget

#: Offered as completions next to the labels the template already has.
COMMON_LABELS = ("production", "staging", "candidate", "baseline")


class VersionLabelBar(QWidget):
    """``open_for(number, labels_here, known)``, then emits ``labelSet`` or ``labelRemoved``."""

    labelSet = Signal(int, str)  # version number, label
    labelRemoved = Signal(str)
    closed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAccessibleName("Label a version")
        self.caption = QLabel(self)
        self.edit = QLineEdit(self)
        self.edit.setAccessibleName("Label")
        self.edit.setPlaceholderText("e.g. production")
        self.edit.setToolTip(
            "A word that names this version, such as production or staging; a label set on "
            "another version moves here (Enter sets it, Escape closes)"
        )
        self.edit.setClearButtonEnabled(True)
        self.set_button = self._button("Set", "Put this label on the version (Enter)")
        self.remove_button = self._button("Remove", "Take this label off the version")
        self.close_button = self._button("✕", "Close without changing labels (Escape)")
        self.close_button.setAccessibleName("Close labelling")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        layout.addWidget(self.caption)
        layout.addWidget(self.edit, 1)
        layout.addWidget(self.set_button)
        layout.addWidget(self.remove_button)
        layout.addWidget(self.close_button)
        self.edit.returnPressed.connect(self._set)
        self.edit.textChanged.connect(lambda _text: self._update())
        self.edit.installEventFilter(self)
        self.set_button.clicked.connect(self._set)
        self.remove_button.clicked.connect(self._remove)
        self.close_button.clicked.connect(self.close_bar)
        self.number = 0
        self._here: list[str] = []
        self.hide()

    def _button(self, text: str, tip: str) -> QToolButton:
        button = QToolButton(self)
        button.setText(text)
        button.setToolTip(tip)
        button.setAutoRaise(True)
        return button

    def open_for(self, number: int, labels_here: list[str], known: list[str]) -> None:
        """Label version ``number``, which has ``labels_here``; ``known`` are the template's."""
        offered = list(dict.fromkeys([*known, *COMMON_LABELS]))
        completer = QCompleter(offered, self.edit)
        completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.edit.setCompleter(completer)
        self.edit.setText(labels_here[0] if labels_here else "")
        self.retarget(number, labels_here)
        self.show()
        self.edit.setFocus()
        self.edit.selectAll()

    def retarget(self, number: int, labels_here: list[str]) -> None:
        """Follow the selection to version ``number``, keeping what was typed."""
        self.number, self._here = number, list(labels_here)
        self.caption.setText(f"Label v{number}:")
        self._update()

    def close_bar(self) -> None:
        self.hide()
        self.closed.emit()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        """Escape closes the row (taken before any window-wide Escape shortcut sees it)."""
        if (
            watched is self.edit
            and isinstance(event, QKeyEvent)
            and event.key() == Qt.Key.Key_Escape
        ):
            completer = self.edit.completer()
            popup = completer.popup() if completer is not None else None
            if popup is not None and popup.isVisible():
                return False  # Escape closes the completions first
            if event.type() == QEvent.Type.ShortcutOverride:
                event.accept()
                return True
            if event.type() == QEvent.Type.KeyPress:
                self.close_bar()
                return True
        return super().eventFilter(watched, event)

    def _update(self) -> None:
        text = self.edit.text().strip()
        self.set_button.setEnabled(bool(text) and text not in self._here)
        self.remove_button.setEnabled(text in self._here)
        self.remove_button.setToolTip(
            f"Take “{text}” off v{self.number}"
            if text in self._here
            else "Type a label this version has to take it off"
        )

    def _set(self) -> None:
        text = self.edit.text().strip()
        if text and text not in self._here:
            self.labelSet.emit(self.number, text)

    def _remove(self) -> None:
        text = self.edit.text().strip()
        if text in self._here:
            self.labelRemoved.emit(text)
