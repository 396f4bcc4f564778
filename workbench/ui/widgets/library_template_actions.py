"""What the library's template list does to a template: its context menu (open, rename,
description and tags, delete), the Delete key, and the strip that offers Undo after a delete.

The panel only asks: it emits ``renameRequested``/``detailsRequested``/``deleteRequested``/
``undeleteRequested`` with the template's key, and the window does the work.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QPoint, Qt, SignalInstance
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QHBoxLayout, QLabel, QMenu, QPushButton, QWidget

if TYPE_CHECKING:
    from workbench.ui.widgets.library_panel import LibraryPanel


class TemplateActions(QObject):
    """The template list's menu and the undo-delete strip of one ``LibraryPanel``."""

    def __init__(self, panel: LibraryPanel) -> None:
        super().__init__(panel)
        self.panel = panel
        tree = panel.tree
        self.undo_strip = QWidget(panel)
        self.undo_label = QLabel(self.undo_strip)
        self.undo_label.setWordWrap(True)
        self.undo_button = QPushButton("Undo", self.undo_strip)
        self.undo_button.setAccessibleName("Undo delete")
        self.undo_button.setToolTip("Put the deleted template back, with its history")
        strip = QHBoxLayout(self.undo_strip)
        strip.setContentsMargins(0, 0, 0, 0)
        strip.addWidget(self.undo_label, 1)
        strip.addWidget(self.undo_button)
        self.undo_strip.hide()
        self._deleted_key: str | None = None
        self.undo_button.clicked.connect(self._undelete)

        self.menu = QMenu(panel)
        self.menu.setAccessibleName("Template actions")
        opener = self.menu.addAction("Open")
        opener.triggered.connect(self._open)
        self.menu.addSeparator()
        self.rename_action = self._action(
            "Rename…", "Give the template a new name (F2)", panel.renameRequested, "F2"
        )
        self.details_action = self._action(
            "Description and tags…", "What the template is for, and its tags",
            panel.detailsRequested,
        )
        self.delete_action = self._action(
            "Delete", "Delete the template (Undo puts it back)", panel.deleteRequested, "Del"
        )
        self.menu.addAction(self.rename_action)
        self.menu.addAction(self.details_action)
        self.menu.addSeparator()
        self.menu.addAction(self.delete_action)
        tree.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        tree.customContextMenuRequested.connect(self._show_menu)

    def _action(
        self, text: str, tip: str, signal: SignalInstance, shortcut: str = ""
    ) -> QAction:
        action = QAction(text, self.panel.tree)
        action.setToolTip(tip)
        if shortcut:  # on the list only: elsewhere the key means something else
            action.setShortcut(QKeySequence(shortcut))
            action.setShortcutContext(Qt.ShortcutContext.WidgetShortcut)
            self.panel.tree.addAction(action)
        action.triggered.connect(lambda: self._emit(signal))
        return action

    def _emit(self, signal: SignalInstance) -> None:
        key = self.panel.current_key()
        if key:
            signal.emit(key)

    def _open(self) -> None:
        key = self.panel.current_key()
        if key:
            self.panel.templateActivated.emit(key, None)

    def _show_menu(self, point: QPoint) -> None:
        tree = self.panel.tree
        item = tree.itemAt(point)
        if item is None or not item.data(0, Qt.ItemDataRole.UserRole):
            return  # a collection's folder
        tree.setCurrentItem(item)
        self.menu.popup(tree.viewport().mapToGlobal(point))

    def offer_undelete(self, key: str) -> None:
        """After a delete: say so, with an Undo button."""
        self._deleted_key = key
        self.undo_label.setText(f"Deleted “{key}”.")
        self.undo_strip.show()

    def _undelete(self) -> None:
        if self._deleted_key:
            self.panel.undeleteRequested.emit(self._deleted_key)
        self._deleted_key = None
        self.undo_strip.hide()
