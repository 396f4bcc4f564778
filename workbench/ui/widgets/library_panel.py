"""The prompt library sidebar: search, collections with their templates, and the versions of the
selected template with their labels, to open, compare, label and restore.

Reads go straight to the library (SQLite reads of a few rows, well under a frame); so do labels
and restores (a restore writes a text the library already holds). Activating a template or one of
its versions emits ``templateActivated(key, version)``; a restore activates the template, whose
newest version is then the restored one. Two versions (or one and the newest) are compared in a
``VersionDiff`` window beside the main one.
"""

from __future__ import annotations

from PySide6.QtCore import (
    QItemSelectionModel,
    QModelIndex,
    QPoint,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFrame,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMenu,
    QSplitter,
    QToolBar,
    QToolButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from workbench.core.errors import KnownError
from workbench.storage.library import Library
from workbench.storage.library_records import LibraryEntry, TemplateVersion
from workbench.ui.widgets.history_panel import format_time
from workbench.ui.widgets.library_template_actions import TemplateActions
from workbench.ui.widgets.version_diff import VersionDiff
from workbench.ui.widgets.version_label_bar import VersionLabelBar

SEARCH_DEBOUNCE_MS = 150
_KEY = Qt.ItemDataRole.UserRole
_VERSION = Qt.ItemDataRole.UserRole + 1


class LibraryPanel(QWidget):
    """Templates by collection, searchable; the selected template's versions below, with what
    can be done to them (open, compare, label, restore) as buttons, a context menu and keys."""

    templateActivated = Signal(str, object)  # key, version number (None: the current one)
    renameRequested = Signal(str)  # key
    detailsRequested = Signal(str)  # key
    deleteRequested = Signal(str)  # key
    undeleteRequested = Signal(str)  # key

    def __init__(self, library: Library, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.library = library
        self.search = QLineEdit(self)
        self.search.setPlaceholderText("Search templates (Ctrl+F)")
        self.search.setClearButtonEnabled(True)
        self.search.setAccessibleName("Search the library")
        self.search.setToolTip("Find templates whose name, tags or text hold every word typed")
        self.tree = QTreeWidget(self)
        self.tree.setHeaderHidden(True)
        self.tree.setAccessibleName("Templates")
        self.tree.setToolTip("Double-click or press Enter to open a template")
        self.tree.setFrameShape(QFrame.Shape.NoFrame)
        self.tree.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.versions = QListWidget(self)
        self.versions.setAccessibleName("Versions")
        self.versions.setToolTip(
            "Every save is a version. Enter or double-click opens one; select two "
            "(Ctrl+click, Shift+arrows) and press Ctrl+D to compare them; right-click "
            "(or Shift+F10) for more"
        )
        self.versions.setFrameShape(QFrame.Shape.NoFrame)
        self.versions.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.versions.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.label_bar = VersionLabelBar(self)
        self.status = QLabel(self)
        self.status.setWordWrap(True)
        self.status.setEnabled(False)
        self.status.setAccessibleName("Library status")
        self._build_actions()
        self.template_actions = TemplateActions(self)
        self.undo_strip = self.template_actions.undo_strip
        self.undo_button = self.template_actions.undo_button
        split = QSplitter(Qt.Orientation.Vertical, self)
        split.setChildrenCollapsible(False)
        split.addWidget(self.tree)
        split.addWidget(self._versions_box())
        split.setSizes([300, 160])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        layout.addWidget(self.search)
        layout.addWidget(split, 1)
        layout.addWidget(self.status)
        layout.addWidget(self.undo_strip)
        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(SEARCH_DEBOUNCE_MS)
        self._debounce.timeout.connect(self.refresh)
        self.search.textChanged.connect(lambda _text: self._debounce.start())
        self.tree.currentItemChanged.connect(lambda item, _old: self._show_versions(item))
        self.tree.itemActivated.connect(self._activate_template)
        self.versions.itemActivated.connect(self._activate_version)
        self.versions.itemSelectionChanged.connect(self._update_actions)
        self.versions.currentItemChanged.connect(lambda _item, _old: self._update_actions())
        self.versions.customContextMenuRequested.connect(self._show_menu)
        self.label_bar.labelSet.connect(self.set_label)
        self.label_bar.labelRemoved.connect(self.remove_label)
        self.label_bar.closed.connect(self.versions.setFocus)
        self.history: list[TemplateVersion] = []  # the shown template's versions, oldest first
        self._labels: dict[int, list[str]] = {}  # version number -> its labels
        self._shown_key: str | None = None
        self.diff: VersionDiff | None = None
        self._update_actions()

    def _action(self, text: str, tip: str, short: str, shortcut: str = "") -> QAction:
        action = QAction(text, self)
        action.setIconText(short)
        action.setToolTip(tip)
        if shortcut:
            action.setShortcut(QKeySequence(shortcut))
            action.setShortcutContext(Qt.ShortcutContext.WidgetShortcut)
            self.versions.addAction(action)
        return action

    def _build_actions(self) -> None:
        self.open_action = self._action("Open", "Open the version in the editor", "Open")
        self.open_action.triggered.connect(self.open_current)
        self.compare_action = self._action(
            "Compare versions", "Word diff of two versions", "Compare", "Ctrl+D"
        )
        self.compare_action.triggered.connect(self.compare_selected)
        self.compare_with_menu = QMenu("Compare with", self)
        self.compare_with_menu.setToolTipsVisible(True)
        self.label_action = self._action(
            "Label…", "Put a label such as production on the version", "Label…", "Ctrl+L"
        )
        self.label_action.triggered.connect(self.label_current)
        self.unlabel_menu = QMenu("Remove label", self)
        self.restore_action = self._action(
            "Restore", "Make the version's content the newest version", "Restore"
        )
        self.restore_action.triggered.connect(self.restore_current)
        menu_key = self._action("Actions", "The versions' context menu", "Actions", "Shift+F10")
        menu_key.triggered.connect(lambda: self._show_menu(self._menu_point()))
        self.menu = QMenu(self)
        self.menu.setAccessibleName("Version actions")
        self.menu.addAction(self.open_action)
        self.menu.addSeparator()
        self.menu.addAction(self.compare_action)
        self.menu.addMenu(self.compare_with_menu)
        self.menu.addSeparator()
        self.menu.addAction(self.label_action)
        self.menu.addMenu(self.unlabel_menu)
        self.menu.addSeparator()
        self.menu.addAction(self.restore_action)

    def offer_undelete(self, key: str) -> None:
        """After a delete: say so, with an Undo button."""
        self.template_actions.offer_undelete(key)

    def show_document(self, key: str | None, version: int | None) -> None:
        """Highlight the template and version open in the editor; nothing for a document that
        is not in the library (a new one, a file, a built-in)."""
        if key is None:
            self.tree.setCurrentIndex(QModelIndex())
            self.tree.clearSelection()
            return
        self.select(key)
        if self.current_key() == key and version is not None:
            self._select_versions([version], version)

    def _versions_box(self) -> QWidget:
        """The versions list with its toolbar (its last buttons behind » when the sidebar is
        narrow) and the hidden label row under it."""
        box = QWidget(self)
        self.toolbar = QToolBar("Version actions", box)
        self.toolbar.setAccessibleName("Version actions")
        self.toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        self.toolbar.setMovable(False)
        bar_layout = self.toolbar.layout()
        if bar_layout is not None:  # all four buttons fit the sidebar's usual 256 px
            bar_layout.setContentsMargins(0, 2, 0, 2)
            bar_layout.setSpacing(0)
        self.buttons: dict[str, QToolButton] = {}
        for name, action in (
            ("open", self.open_action),
            ("compare", self.compare_action),
            ("label", self.label_action),
            ("restore", self.restore_action),
        ):
            self.toolbar.addAction(action)
            button = self.toolbar.widgetForAction(action)
            assert isinstance(button, QToolButton)
            button.setAccessibleName(action.iconText().rstrip("…"))
            button.setFocusPolicy(Qt.FocusPolicy.TabFocus)  # toolbars skip Tab by default
            self.buttons[name] = button
        self.buttons["compare"].setMenu(self.compare_with_menu)
        self.buttons["compare"].setPopupMode(QToolButton.ToolButtonPopupMode.MenuButtonPopup)
        column = QVBoxLayout(box)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(4)
        column.addWidget(self.versions, 1)
        column.addWidget(self.toolbar)
        column.addWidget(self.label_bar)
        return box

    # --- public surface -----------------------------------------------------------------------

    def refresh(self) -> None:
        """Re-read the library (after a save, an import, or as the search text changes)."""
        self._debounce.stop()
        current = self.current_key()
        keep = (self.selected_versions(), self.current_version())
        query = self.search.text().strip()
        try:
            entries = self.library.search(query) if query else self.library.entries()
        except KnownError as err:
            self.status.setText(str(err))
            return
        self._fill(entries, grouped=not query)
        if entries:
            self.status.setText("")
        else:
            self.status.setText(
                f"No template matches “{query}”."
                if query
                else "The library is empty: "
                "save a template with Ctrl+S or import a prompt library (File ▸ Import)."
            )
        if current:
            self.select(current)
            if self.current_key() == current and keep[1] is not None:
                self._select_versions(*keep)

    def select(self, key: str) -> None:
        item = self._items().get(key)
        if item is not None:
            self.tree.setCurrentItem(item)

    def current_key(self) -> str | None:
        item = self.tree.currentItem()
        return item.data(0, _KEY) if item is not None else None

    def template_keys(self) -> list[str]:
        return list(self._items())

    def focus_search(self) -> None:
        self.search.setFocus()
        self.search.selectAll()

    def selected_versions(self) -> list[int]:
        """The selected versions' numbers, oldest first."""
        return sorted(item.data(_VERSION) for item in self.versions.selectedItems())

    def current_version(self) -> int | None:
        """The version that Open, Label and Restore act on: the focused row if it is selected,
        else the one selected row."""
        item = self.versions.currentItem()
        if item is not None and item.isSelected():
            return int(item.data(_VERSION))
        selected = self.versions.selectedItems()
        return int(selected[0].data(_VERSION)) if selected else None

    def compare_pair(self) -> tuple[int, int] | None:
        """What Compare versions shows: the oldest and newest selected versions, or the one
        selected against the newest (the newest against the one before it)."""
        picked = self.selected_versions()
        if len(picked) >= 2:
            return picked[0], picked[-1]
        if len(picked) == 1 and len(self.history) > 1:
            newest = self.history[-1].number
            return (picked[0], newest) if picked[0] != newest else (self.history[-2].number, newest)
        return None

    def compare(self, a: int, b: int) -> VersionDiff | None:
        """Show versions ``a`` and ``b`` of the selected template (older on the left) in the
        diff window, opening it if needed."""
        key = self.current_key()
        if not key or a == b:
            return None
        if self.diff is None:
            self.diff = VersionDiff(self)
            self.diff.resize(980, 640)
        self.diff.compare(key, self.history, self._labels, min(a, b), max(a, b))
        self.diff.show()
        self.diff.raise_()
        self.diff.activateWindow()
        return self.diff

    def compare_selected(self) -> VersionDiff | None:
        pair = self.compare_pair()
        return self.compare(*pair) if pair else None

    def open_current(self) -> None:
        key, number = self.current_key(), self.current_version()
        if key and number is not None:
            self.templateActivated.emit(key, number)

    def label_current(self) -> None:
        number = self.current_version()
        if number is not None:
            known = sorted({label for labels in self._labels.values() for label in labels})
            self.label_bar.open_for(number, self._labels.get(number, []), known)

    def set_label(self, number: int, label: str) -> None:
        """Put ``label`` on version ``number`` (moving it from the version that had it)."""
        key = self.current_key()
        if not key:
            return
        moved_from = next((n for n, names in self._labels.items() if label in names), None)
        try:
            self.library.set_label(key, label, number)
        except KnownError as err:
            self.status.setText(f"Not labelled: {err}")
            return
        self.label_bar.hide()
        self._reload_versions()
        self.status.setText(
            f"“{label}” moved from v{moved_from} to v{number}"
            if moved_from is not None
            else f"v{number} is labelled “{label}”"
        )
        self.versions.setFocus()

    def remove_label(self, label: str) -> None:
        key = self.current_key()
        number = next((n for n, names in self._labels.items() if label in names), None)
        if not key or number is None:
            return
        try:
            self.library.remove_label(key, label)
        except KnownError as err:
            self.status.setText(f"Label not removed: {err}")
            return
        self.label_bar.hide()
        self._reload_versions()
        self.status.setText(f"“{label}” removed from v{number}")
        self.versions.setFocus()

    def restore_current(self) -> None:
        """Make the selected version's content the newest version ("restored vN"), then open
        the template. History is kept: the versions in between stay as they were."""
        key, number = self.current_key(), self.current_version()
        if not key or number is None:
            return
        newest = self.history[-1].number if self.history else None
        try:
            restored = self.library.restore(key, number)
        except KnownError as err:
            self.status.setText(f"Not restored: {err}")
            return
        self.refresh()
        self._select_versions([restored.number], restored.number)
        self.status.setText(
            f"Restored v{number} as v{restored.number}"
            if restored.number != newest
            else f"v{number} has the same content as v{restored.number}: nothing to restore"
        )
        self.templateActivated.emit(key, None)

    # --- internals ----------------------------------------------------------------------------

    def _items(self) -> dict[str, QTreeWidgetItem]:
        found: dict[str, QTreeWidgetItem] = {}
        stack = [self.tree.topLevelItem(i) for i in range(self.tree.topLevelItemCount())]
        while stack:
            item = stack.pop()
            if item is None:
                continue
            key = item.data(0, _KEY)
            if key:
                found[key] = item
            stack.extend(item.child(i) for i in range(item.childCount()))
        return found

    def _fill(self, entries: list[LibraryEntry], *, grouped: bool) -> None:
        self.tree.clear()
        folders: dict[str, QTreeWidgetItem] = {}
        for entry in entries:
            parent: QTreeWidget | QTreeWidgetItem = self.tree
            if grouped and entry.collection:
                parent = folders.get(entry.collection) or self._folder(entry.collection, folders)
            item = QTreeWidgetItem(parent, [f"{entry.name}  ·  v{entry.version}"])
            item.setData(0, _KEY, entry.key)
            tags = f"\nTags: {', '.join(entry.tags)}" if entry.tags else ""
            snippet = f"\n{entry.snippet}" if entry.snippet else ""
            item.setToolTip(0, f"{entry.key}{tags}{snippet}")
        self.tree.expandAll()

    def _folder(self, collection: str, folders: dict[str, QTreeWidgetItem]) -> QTreeWidgetItem:
        parent: QTreeWidget | QTreeWidgetItem = self.tree
        path = ""
        for part in collection.split("/"):
            path = f"{path}/{part}" if path else part
            if path not in folders:
                folder = QTreeWidgetItem(parent, [part])
                folder.setFlags(Qt.ItemFlag.ItemIsEnabled)
                folders[path] = folder
            parent = folders[path]
        assert isinstance(parent, QTreeWidgetItem)
        return parent

    def _reload_versions(self) -> None:
        """The same template's versions read again, keeping what was selected."""
        keep = (self.selected_versions(), self.current_version())
        self._show_versions(self.tree.currentItem())
        self._select_versions(*keep)

    def _show_versions(self, item: QTreeWidgetItem | None) -> None:
        self.versions.clear()
        self.history, self._labels = [], {}
        key = item.data(0, _KEY) if item is not None else None
        if key != self._shown_key:
            self.label_bar.hide()
        self._shown_key = key
        if key:
            try:
                self.history = self.library.versions(key)
                labels = self.library.labels(key)
            except KnownError as err:
                self.status.setText(str(err))
                labels = {}
            for label, number in labels.items():
                self._labels.setdefault(number, []).append(label)
            for version in reversed(self.history):
                self._add_row(key, version)
            self.versions.setCurrentRow(0)  # the newest: Compare shows what it changed
        self._update_actions()
        if self.diff is not None and self.diff.isVisible() and self.diff.key == key:
            pair = self.diff.picked()
            if pair is not None:
                self.diff.compare(key, self.history, self._labels, *pair)

    def _add_row(self, key: str, version: TemplateVersion) -> None:
        labels = sorted(self._labels.get(version.number, []))
        marks = "".join(f"  [{label}]" for label in labels)
        message = f"  {version.message}" if version.message else ""
        text = f"v{version.number}  {format_time(version.created_at)}{message}{marks}"
        row = QListWidgetItem(text, self.versions)
        row.setData(_KEY, key)
        row.setData(_VERSION, version.number)
        named = f"\nLabels: {', '.join(labels)}" if labels else ""
        row.setToolTip(
            f"v{version.number} · {version.origin} · {version.created_at}{named}\n"
            "Enter opens it; select two and press Ctrl+D to compare; right-click for more"
        )

    def _select_versions(self, numbers: list[int], current: int | None) -> None:
        rows = [self.versions.item(i) for i in range(self.versions.count())]
        flag = QItemSelectionModel.SelectionFlag.NoUpdate
        for row in rows:
            if row.data(_VERSION) == current:
                self.versions.setCurrentItem(row, flag)
        for row in rows:
            row.setSelected(row.data(_VERSION) in numbers)
        self._update_actions()

    def _update_actions(self) -> None:
        """Enable and name the actions for what is selected ("Restore v2", "Compare v1 and v3")."""
        number = self.current_version()
        newest = self.history[-1].number if self.history else None
        pair = self.compare_pair()
        self.open_action.setEnabled(number is not None)
        self.open_action.setText(f"Open v{number}" if number is not None else "Open")
        self.open_action.setToolTip(
            f"Open v{number} in the editor (Enter or double-click)"
            if number is not None
            else "Select a version to open it in the editor"
        )
        self.compare_action.setEnabled(pair is not None)
        self.compare_action.setText(
            f"Compare v{pair[0]} and v{pair[1]}" if pair else "Compare versions"
        )
        self.compare_action.setToolTip(
            f"Word diff of v{pair[0]} and v{pair[1]}: messages, parameters, variables, "
            "technique (Ctrl+D); the arrow compares with another version"
            if pair
            else "Select one version (compared with the newest) or two to see their word diff"
        )
        self._fill_compare_with(number)
        self.label_action.setEnabled(number is not None)
        self.label_action.setText(f"Label v{number}…" if number is not None else "Label…")
        self.label_action.setToolTip(
            f"Put a label such as production on v{number} (Ctrl+L)"
            if number is not None
            else "Select a version to label it"
        )
        self._fill_unlabel(number)
        if self.label_bar.isVisible():
            if number is None:
                self.label_bar.hide()
            elif number != self.label_bar.number:
                self.label_bar.retarget(number, self._labels.get(number, []))
        can_restore = number is not None and number != newest
        self.restore_action.setEnabled(can_restore)
        self.restore_action.setText(f"Restore v{number}" if can_restore else "Restore")
        self.restore_action.setToolTip(
            f"Save v{number}'s content as a new newest version (v{(newest or 0) + 1}) and open "
            "it; the versions in between are kept"
            if can_restore
            else "The newest version is already current"
            if number is not None
            else "Select an older version to make it the newest again"
        )

    def _fill_compare_with(self, number: int | None) -> None:
        self.compare_with_menu.clear()
        others = [v for v in reversed(self.history) if v.number != number]
        self.compare_with_menu.setEnabled(number is not None and bool(others))
        if number is None:
            return
        for version in others:
            labels = "".join(f" [{label}]" for label in self._labels.get(version.number, []))
            message = f"  {version.message}" if version.message else ""
            action = self.compare_with_menu.addAction(f"v{version.number}{labels}{message}")
            action.setToolTip(f"Word diff of v{number} and v{version.number}")
            action.triggered.connect(
                lambda _checked=False, other=version.number: self.compare(number, other)
            )

    def _fill_unlabel(self, number: int | None) -> None:
        self.unlabel_menu.clear()
        labels = self._labels.get(number, []) if number is not None else []
        self.unlabel_menu.setEnabled(bool(labels))
        for label in labels:
            action = self.unlabel_menu.addAction(f"“{label}”")
            action.triggered.connect(lambda _checked=False, name=label: self.remove_label(name))

    def _menu_point(self) -> QPoint:
        item = self.versions.currentItem()
        rect = self.versions.visualItemRect(item) if item is not None else None
        return rect.bottomLeft() if rect is not None else QPoint(0, 0)

    def _show_menu(self, point: QPoint) -> None:
        """The context menu at ``point`` (viewport coordinates) for the selected versions."""
        if not self.history:
            return
        self._update_actions()
        self.menu.popup(self.versions.viewport().mapToGlobal(point))

    def _activate_template(self, item: QTreeWidgetItem) -> None:
        key = item.data(0, _KEY)
        if key:
            self.templateActivated.emit(key, None)

    def _activate_version(self, item: QListWidgetItem) -> None:
        self.templateActivated.emit(item.data(_KEY), item.data(_VERSION))
