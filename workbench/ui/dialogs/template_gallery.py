"""File ▸ New from template…: the built-in templates, each with its technique, what it shows and
the messages it sends (rendered with its variables' defaults), to start a new document from.

The built-ins are the files under ``templates/`` (the judges' templates in its sub-folder are
for evaluations, not for starting a prompt). Choosing one opens a copy as an unsaved document.
"""

from __future__ import annotations

import html
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from workbench.core.errors import KnownError
from workbench.core.models import PromptTemplate
from workbench.core.paths import builtin_templates_dir
from workbench.core.techniques import get_technique
from workbench.core.template_files import SUFFIX, read_template
from workbench.core.templates import render
from workbench.ui.theming import monospace_font

_TEMPLATE = Qt.ItemDataRole.UserRole


def builtin_gallery(folder: Path | None = None) -> list[PromptTemplate]:
    """The built-in templates, the welcome template first, then by name."""
    paths = sorted((folder or builtin_templates_dir()).glob(f"*{SUFFIX}"))
    templates = [read_template(path) for path in paths]
    return sorted(templates, key=lambda t: (t.name != "welcome", t.name))


def technique_name(template: PromptTemplate) -> str:
    try:
        return get_technique(template.technique).name
    except KnownError:
        return template.technique


def rendered_preview(template: PromptTemplate) -> str:
    """The messages the template sends with its defaults, each under its role."""
    try:
        messages = render(template)
    except KnownError as err:
        return f"(does not render without values: {err})"
    if template.mode == "completion":
        return messages[0].content
    return "\n\n".join(f"── {m.role} ──\n{m.content}" for m in messages)


class TemplateGallery(QDialog):
    """Pick a built-in template; ``chosen()`` is the one to open."""

    def __init__(
        self, parent: QWidget | None = None, templates: list[PromptTemplate] | None = None
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("New from template")
        self.list = QTreeWidget(self)
        self.list.setAccessibleName("Built-in templates")
        self.list.setHeaderLabels(["Template", "Technique"])
        self.list.setRootIsDecorated(False)
        self.list.setMinimumWidth(380)
        for template in templates if templates is not None else builtin_gallery():
            item = QTreeWidgetItem(self.list, [template.name, technique_name(template)])
            item.setData(0, _TEMPLATE, template)
            item.setToolTip(0, template.description)
        self.list.resizeColumnToContents(0)
        self.title = QLabel(self)
        self.title.setTextFormat(Qt.TextFormat.RichText)
        self.title.setAccessibleName("Template")
        self.description = QLabel(self)
        self.description.setWordWrap(True)
        self.description.setAccessibleName("Description")
        self.preview = QPlainTextEdit(self)
        self.preview.setReadOnly(True)
        self.preview.setFont(monospace_font())
        self.preview.setAccessibleName("Rendered messages")
        self.preview.setToolTip("What the template sends, with its variables' default values")
        sent = QLabel("What it sends (with the default values)", self)
        sent.setBuddy(self.preview)
        right = QVBoxLayout()
        right.setSpacing(6)
        right.addWidget(self.title)
        right.addWidget(self.description)
        right.addWidget(sent)
        right.addWidget(self.preview, 1)
        row = QHBoxLayout()
        row.setSpacing(12)
        row.addWidget(self.list)
        row.addLayout(right, 1)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Open | QDialogButtonBox.StandardButton.Cancel, self
        )
        self.buttons.button(QDialogButtonBox.StandardButton.Open).setText("Open as new prompt")
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 12, 12, 12)
        layout.addLayout(row, 1)
        layout.addWidget(self.buttons)
        self.list.currentItemChanged.connect(lambda item, _old: self._show(item))
        self.list.itemActivated.connect(lambda _item, _column: self.accept())
        first = self.list.topLevelItem(0)
        if first is not None:
            self.list.setCurrentItem(first)
        self.resize(980, 600)

    def count(self) -> int:
        return self.list.topLevelItemCount()

    def _show(self, item: QTreeWidgetItem | None) -> None:
        template = item.data(0, _TEMPLATE) if item is not None else None
        if template is None:
            return
        tags = f" · tags: {', '.join(template.tags)}" if template.tags else ""
        self.title.setText(
            f"<b>{html.escape(template.name)}</b> — {html.escape(technique_name(template))}"
            f"{html.escape(tags)}"
        )
        self.description.setText(template.description)
        self.preview.setPlainText(rendered_preview(template))

    def chosen(self) -> PromptTemplate | None:
        item = self.list.currentItem()
        return item.data(0, _TEMPLATE) if item is not None else None

    def select(self, name: str) -> None:
        for row in range(self.count()):
            item = self.list.topLevelItem(row)
            if item is not None and item.data(0, _TEMPLATE).name == name:
                self.list.setCurrentItem(item)
