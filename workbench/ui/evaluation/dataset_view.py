"""The dataset as an editable table: one column per variable, then the expected output and a
description. Edits go through ``core.datasets.DatasetTable`` (the same operations the CLI and the
tests use); this module only adapts it to Qt's model/view. With a runner, "Generate rows…" has
a model propose rows for the variables (``generate_rows.GenerateRowsDialog``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt, Signal
from PySide6.QtGui import QKeySequence, QPalette
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QTableView,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from workbench.core.datasets import DESCRIPTION, EXPECTED, DatasetError, DatasetTable
from workbench.core.experiments import TestCase
from workbench.core.wording import plural
from workbench.services.runner import Runner
from workbench.ui import theming
from workbench.ui.evaluation.generate_rows import GenerateRowsDialog

Index = QModelIndex | QPersistentModelIndex
_TIPS = {
    EXPECTED: "The output a good answer should match (diffed in the scorecard, used by "
    "similarity metrics)",
    DESCRIPTION: "What this row tests, shown in reports",
}


class DatasetModel(QAbstractTableModel):
    """A ``DatasetTable`` as a Qt table model; every edit is one of the table's operations."""

    edited = Signal()

    def __init__(self, rows: Iterable[TestCase] = (), parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.table = DatasetTable(rows)

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.table.rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.table.columns)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> object:
        if not index.isValid():
            return None
        column = self.table.columns[index.column()]
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.EditRole):
            return self.table.cell(index.row(), column)
        if role == Qt.ItemDataRole.FontRole and column != DESCRIPTION:  # values and outputs
            return theming.monospace_font()
        return None

    def setData(self, index: Index, value: object, role: int = Qt.ItemDataRole.EditRole) -> bool:
        if role != Qt.ItemDataRole.EditRole or not index.isValid():
            return False
        self.table.set_cell(index.row(), self.table.columns[index.column()], str(value))
        self.dataChanged.emit(index, index, [role])
        self.edited.emit()
        return True

    def flags(self, index: Index) -> Qt.ItemFlag:
        return super().flags(index) | Qt.ItemFlag.ItemIsEditable

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> object:
        if orientation == Qt.Orientation.Vertical:
            return str(section + 1) if role == Qt.ItemDataRole.DisplayRole else None
        column = self.table.columns[section]
        if role == Qt.ItemDataRole.DisplayRole:
            return column
        if role == Qt.ItemDataRole.ToolTipRole:
            return _TIPS.get(column, f"Variable '{column}': its value in each row")
        return None

    # --- rows and columns ----------------------------------------------------------------------

    def insert_row(self, at: int | None = None) -> int:
        at = len(self.table.rows) if at is None else at
        self.beginInsertRows(QModelIndex(), at, at)
        self.table.insert_row(at)
        self.endInsertRows()
        self.edited.emit()
        return at

    def duplicate_row(self, row: int) -> int:
        self.beginInsertRows(QModelIndex(), row + 1, row + 1)
        at = self.table.duplicate_row(row)
        self.endInsertRows()
        self.edited.emit()
        return at

    def append_rows(self, rows: Iterable[TestCase]) -> None:
        """Add ``rows`` at the end (their new variables become columns)."""
        self.beginResetModel()
        for row in rows:
            self.table.insert_row(None, row)
        self.endResetModel()
        self.edited.emit()

    def remove_rows(self, rows: Iterable[int]) -> None:
        self.beginResetModel()
        self.table.remove_rows(rows)
        self.endResetModel()
        self.edited.emit()

    def add_column(self, name: str) -> None:
        self._reshape(lambda: self.table.add_column(name))

    def rename_column(self, old: str, new: str) -> None:
        self._reshape(lambda: self.table.rename_column(old, new))

    def remove_column(self, name: str) -> None:
        self._reshape(lambda: self.table.remove_column(name))

    def _reshape(self, change: object) -> None:
        self.beginResetModel()
        try:
            change()  # type: ignore[operator]
        finally:
            self.endResetModel()
        self.edited.emit()


class DatasetView(QWidget):
    """The table with a toolbar: add, duplicate and remove rows; add, rename, remove columns.
    Problems (a bad column name) show inline under the toolbar, never in a dialog."""

    def __init__(self, rows: Iterable[TestCase] = (), parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = DatasetModel(rows, self)
        self.view = QTableView(self)
        self.view.setModel(self.model)
        self.view.setAccessibleName("Dataset rows")
        self.view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectItems)
        self.view.setEditTriggers(
            QAbstractItemView.EditTrigger.DoubleClicked
            | QAbstractItemView.EditTrigger.EditKeyPressed
            | QAbstractItemView.EditTrigger.AnyKeyPressed
        )
        self.view.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        self.view.horizontalHeader().setStretchLastSection(True)
        self.view.setWordWrap(False)

        self.add_row = self._button("Add row", "Append an empty row (Ctrl+Shift+N)", "Ctrl+Shift+N")
        self.add_row.clicked.connect(self._add_row)
        self.duplicate = self._button(
            "Duplicate", "Copy the current row below it (Ctrl+D)", "Ctrl+D"
        )
        self.duplicate.clicked.connect(self._duplicate)
        self.remove = self._button("Remove rows", "Delete the selected rows (Ctrl+Del)", "Ctrl+Del")
        self.remove.clicked.connect(self._remove_rows)
        self.column_name = QLineEdit(self)
        self.column_name.setPlaceholderText("new variable name")
        self.column_name.setAccessibleName("New column name")
        self.column_name.setMaximumWidth(200)
        self.column_name.returnPressed.connect(self._add_column)
        self.add_column = self._button("Add column", "Add a variable column with this name", "")
        self.add_column.clicked.connect(self._add_column)
        self.rename = self._button(
            "Rename column", "Rename the current variable column to the name", ""
        )
        self.rename.clicked.connect(self._rename_column)
        self.remove_column = self._button("Remove column", "Delete the current variable column", "")
        self.remove_column.clicked.connect(self._remove_column)
        self.generate = self._button(
            "Generate rows…", "Have a model propose rows for these variables; review them first", ""
        )
        self.generate.clicked.connect(self.open_generator)
        self.generate.hide()  # until enable_generation gives it a runner
        self._runner: Runner | None = None
        self._backends: list[str] | None = None
        self.generator: GenerateRowsDialog | None = None
        self.problem = QLabel(self)
        self.problem.setAccessibleName("Dataset problem")
        self.problem.setVisible(False)
        self.count = QLabel(self)
        self.count.setForegroundRole(QPalette.ColorRole.PlaceholderText)

        bar = QHBoxLayout()
        bar.setSpacing(4)
        for button in (self.add_row, self.duplicate, self.remove):
            bar.addWidget(button)
        bar.addSpacing(16)
        bar.addWidget(self.column_name)
        for button in (self.add_column, self.rename, self.remove_column):
            bar.addWidget(button)
        bar.addSpacing(16)
        bar.addWidget(self.generate)
        bar.addStretch(1)
        bar.addWidget(self.count)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 8)
        layout.setSpacing(4)
        layout.addLayout(bar)
        layout.addWidget(self.problem)
        layout.addWidget(self.view, 1)
        self.model.edited.connect(self._update_count)
        self.model.modelReset.connect(self._update_count)
        self.model.modelReset.connect(self._fit_columns)
        self._update_count()
        self._fit_columns()

    def _button(self, text: str, tip: str, shortcut: str) -> QToolButton:
        button = QToolButton(self)
        button.setText(text)
        button.setToolTip(tip)
        if shortcut:
            button.setShortcut(QKeySequence(shortcut))
        return button

    def enable_generation(self, runner: Runner, backends: Sequence[str] | None = None) -> None:
        """Offer "Generate rows…", running on ``runner`` (the local model by default, or one of
        ``backends``, the configured ones unless given)."""
        self._runner = runner
        self._backends = None if backends is None else list(backends)
        self.generate.show()

    def open_generator(self) -> GenerateRowsDialog | None:
        """The Generate rows dialog for the current variables; the rows it keeps are added."""
        if self._runner is None:
            return None
        if not self.model.table.variables:
            self._show_problem(DatasetError("add a variable column first: rows are generated "
                                            "for the variables"))
            return None
        self._show_problem(None)
        dialog = GenerateRowsDialog(self._runner, self.model.table.variables, self.rows(),
                                    backends=self._backends, parent=self)
        dialog.accepted.connect(lambda: self.model.append_rows(dialog.kept))
        self.generator = dialog
        dialog.open()
        return dialog

    def rows(self) -> list[TestCase]:
        """The rows as edited (copies)."""
        return [r.model_copy(deep=True) for r in self.model.table.rows]

    def _fit_columns(self) -> None:
        """Columns as wide as their contents, up to a third of the view each."""
        self.view.resizeColumnsToContents()
        cap = max(160, self.view.viewport().width() // 3)
        header = self.view.horizontalHeader()
        for section in range(header.count()):
            header.resizeSection(section, min(max(header.sectionSize(section), 90), cap))

    def _update_count(self) -> None:
        n = len(self.model.table.rows)
        if n == 0:
            self.count.setText("No rows yet: add one, or import a CSV / JSONL file")
        else:
            self.count.setText(
                f"{plural(n, 'row')} · {plural(len(self.model.table.variables), 'variable')}"
            )

    def _show_problem(self, err: DatasetError | None) -> None:
        if err is None:
            self.problem.setVisible(False)
            return
        color = theming.status_color("error").name()
        self.problem.setText(f"<span style='color:{color}'>{err}</span>")
        self.problem.setVisible(True)

    def _current_column(self) -> str | None:
        index = self.view.currentIndex()
        if not index.isValid():
            return None
        column = self.model.table.columns[index.column()]
        return column if column in self.model.table.variables else None

    def _add_row(self) -> None:
        row = self.model.insert_row()
        self.view.setCurrentIndex(self.model.index(row, 0))

    def _duplicate(self) -> None:
        index = self.view.currentIndex()
        if index.isValid():
            row = self.model.duplicate_row(index.row())
            self.view.setCurrentIndex(self.model.index(row, index.column()))

    def _remove_rows(self) -> None:
        rows = {i.row() for i in self.view.selectionModel().selectedIndexes()}
        if not rows and self.view.currentIndex().isValid():
            rows = {self.view.currentIndex().row()}
        if rows:
            self.model.remove_rows(rows)

    def _column_op(self, op: str) -> None:
        name = self.column_name.text().strip()
        current = self._current_column()
        try:
            if op == "add":
                self.model.add_column(name)
            elif current is None:
                raise DatasetError("select a cell in a variable column first")
            elif op == "rename":
                self.model.rename_column(current, name)
            else:
                self.model.remove_column(current)
        except DatasetError as err:
            self._show_problem(err)
            return
        self._show_problem(None)
        if op != "remove":
            self.column_name.clear()

    def _add_column(self) -> None:
        self._column_op("add")

    def _rename_column(self) -> None:
        self._column_op("rename")

    def _remove_column(self) -> None:
        self._column_op("remove")
