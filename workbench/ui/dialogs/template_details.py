"""The small dialog that names a template on its first save, renames it, and edits its
description and tags.

The name proposed is selected, so typing replaces it and Enter keeps it; the library key the
name gives is shown as it is typed (the file people will find on disk).
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QPoint
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QVBoxLayout,
    QWidget,
)


def parse_tags(text: str) -> list[str]:
    """"a, b c,,a" -> ["a", "b c"]: comma-separated, trimmed, each once."""
    tags: dict[str, None] = {}
    for tag in text.split(","):
        if tag.strip():
            tags[tag.strip()] = None
    return list(tags)


class TemplateDetailsDialog(QDialog):
    """Name (with the key it gives), description, tags and a version message; each part is
    shown only where the caller asks for it."""

    def __init__(
        self,
        parent: QWidget | None,
        *,
        title: str,
        accept_text: str,
        name: str | None = None,
        key_for: Callable[[str], str] | None = None,
        description: str | None = None,
        tags: list[str] | None = None,
        message: bool = False,
        intro: str = "",
        over: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        self._key_for = key_for
        self._over = over
        form = QFormLayout()
        form.setHorizontalSpacing(8)
        form.setVerticalSpacing(6)
        self.name_edit = QLineEdit(self)
        self.name_edit.setAccessibleName("Template name")
        self.name_edit.setToolTip("What the library and history call the template")
        self.key_label = QLabel(self)
        self.key_label.setAccessibleName("Library file")
        self.key_label.setEnabled(False)
        self.description_edit = QPlainTextEdit(self)
        self.description_edit.setAccessibleName("Description")
        self.description_edit.setPlaceholderText("optional: what the template is for")
        self.description_edit.setTabChangesFocus(True)
        self.description_edit.setFixedHeight(self.fontMetrics().lineSpacing() * 3 + 16)
        self.tags_edit = QLineEdit(self)
        self.tags_edit.setAccessibleName("Tags")
        self.tags_edit.setPlaceholderText("optional, comma-separated: support, summaries")
        self.message_edit = QLineEdit(self)
        self.message_edit.setAccessibleName("Version message")
        self.message_edit.setPlaceholderText("optional: what this version changes")
        if name is not None:
            self.name_edit.setText(name)
            self.name_edit.selectAll()
            form.addRow("&Name", self.name_edit)
            if key_for is not None:
                form.addRow("", self.key_label)
        if description is not None:
            self.description_edit.setPlainText(description)
            form.addRow("&Description", self.description_edit)
        if tags is not None:
            self.tags_edit.setText(", ".join(tags))
            form.addRow("&Tags", self.tags_edit)
        if message:
            form.addRow("Version &message", self.message_edit)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self
        )
        ok = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        ok.setText(accept_text)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 12, 12, 12)
        layout.setSpacing(8)
        if intro:
            note = QLabel(intro, self)
            note.setWordWrap(True)
            layout.addWidget(note)
        layout.addLayout(form)
        layout.addWidget(self.buttons)
        self.name_edit.textChanged.connect(self._name_changed)
        self._name_changed()
        self.setMinimumWidth(460)

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if self._over is not None and self._over.isVisible():
            self._place_over(self._over)

    def _place_over(self, widget: QWidget) -> None:
        """Sit exactly over ``widget`` (its left edge, its width, its top), as a sheet: centred
        on the window it covered the variable rows' edges, leaving clipped labels beside it."""
        top_left = widget.mapToGlobal(QPoint(0, 0))
        width = max(self.minimumWidth(), widget.width())
        frame = self.frameGeometry().size() - self.geometry().size()  # a window manager's frame
        self.resize(width - frame.width(), self.height())
        self.move(top_left)

    def _name_changed(self, _text: str = "") -> None:
        name = self.name_edit.text().strip()
        ok = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        ok.setEnabled(bool(name) or not self.name_edit.isVisibleTo(self))
        if self._key_for is not None:
            self.key_label.setText(
                f"Saved in the library as {self._key_for(name)}.prompt.yaml" if name else
                "A template needs a name"
            )

    def name(self) -> str:
        return self.name_edit.text().strip()

    def description(self) -> str:
        return self.description_edit.toPlainText().strip()

    def tags(self) -> list[str]:
        return parse_tags(self.tags_edit.text())

    def message(self) -> str:
        return self.message_edit.text().strip()
