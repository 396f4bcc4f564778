"""The prompt library sidebar: search, collections with their templates, and the versions of the
selected template with their labels.

Reads go straight to the library (SQLite reads of a few rows, well under a frame); activating a
template or one of its versions emits ``templateActivated(key, version)``.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFrame,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QSplitter,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from workbench.core.errors import KnownError
from workbench.storage.library import Library
from workbench.storage.library_records import LibraryEntry
from workbench.ui.widgets.history_panel import format_time

SEARCH_DEBOUNCE_MS = 150
_KEY = Qt.ItemDataRole.UserRole
_VERSION = Qt.ItemDataRole.UserRole + 1


class LibraryPanel(QWidget):
    """Templates by collection, searchable; the selected template's versions below."""

    templateActivated = Signal(str, object)  # key, version number (None: the current one)

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
        self.versions.setToolTip("Every save is a version; double-click one to open it")
        self.versions.setFrameShape(QFrame.Shape.NoFrame)
        self.status = QLabel(self)
        self.status.setWordWrap(True)
        self.status.setEnabled(False)
        self.status.setAccessibleName("Library status")
        split = QSplitter(Qt.Orientation.Vertical, self)
        split.setChildrenCollapsible(False)
        split.addWidget(self.tree)
        split.addWidget(self.versions)
        split.setSizes([300, 120])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        layout.addWidget(self.search)
        layout.addWidget(split, 1)
        layout.addWidget(self.status)
        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(SEARCH_DEBOUNCE_MS)
        self._debounce.timeout.connect(self.refresh)
        self.search.textChanged.connect(lambda _text: self._debounce.start())
        self.tree.currentItemChanged.connect(lambda item, _old: self._show_versions(item))
        self.tree.itemActivated.connect(self._activate_template)
        self.versions.itemActivated.connect(self._activate_version)

    # --- public surface -----------------------------------------------------------------------

    def refresh(self) -> None:
        """Re-read the library (after a save, an import, or as the search text changes)."""
        self._debounce.stop()
        current = self.current_key()
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

    def _show_versions(self, item: QTreeWidgetItem | None) -> None:
        self.versions.clear()
        key = item.data(0, _KEY) if item is not None else None
        if not key:
            return
        try:
            versions = self.library.versions(key)
            labels = self.library.labels(key)
        except KnownError as err:
            self.status.setText(str(err))
            return
        by_number: dict[int, list[str]] = {}
        for label, number in labels.items():
            by_number.setdefault(number, []).append(label)
        for version in reversed(versions):
            marks = "".join(f"  [{label}]" for label in sorted(by_number.get(version.number, [])))
            message = f"  {version.message}" if version.message else ""
            text = f"v{version.number}  {format_time(version.created_at)}{message}{marks}"
            row = QListWidgetItem(text, self.versions)
            row.setData(_KEY, key)
            row.setData(_VERSION, version.number)
            row.setToolTip(f"{version.origin} · {version.created_at}")

    def _activate_template(self, item: QTreeWidgetItem) -> None:
        key = item.data(0, _KEY)
        if key:
            self.templateActivated.emit(key, None)

    def _activate_version(self, item: QListWidgetItem) -> None:
        self.templateActivated.emit(item.data(_KEY), item.data(_VERSION))
