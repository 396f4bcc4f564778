"""The Experiments browser: every saved comparison, sweep and evaluation, to reopen in the app.

A row says what the experiment is (kind, name, when it last changed, its template, how many
cells a full run makes and has run) and which variant the judgements so far favour
(``services.experiments_overview``). Activating a row asks the main window to reopen it in the
window it was made in (``openRequested(kind, experiment_id)``). The list is read off the GUI
thread.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from PySide6.QtCore import (
    QModelIndex,
    QPersistentModelIndex,
    QSortFilterProxyModel,
    Qt,
    Signal,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QTreeView,
    QVBoxLayout,
    QWidget,
)

from workbench.core.errors import KnownError
from workbench.core.wording import plural
from workbench.services.experiments_overview import KIND_WORD, Overview
from workbench.ui.background import LatestJob
from workbench.ui.qt_models.rows_model import RowsTableModel
from workbench.ui.widgets.history_panel import format_time

OverviewSource = Callable[[], Sequence[Overview]]


class ExperimentsModel(RowsTableModel[Overview]):
    COLUMNS = ("Kind", "Name", "Changed", "Template", "Cells", "Runs", "Best variant")
    TIPS = (
        "Comparison (columns side by side), sweep (a grid of settings) or evaluation (a dataset "
        "with assertions)",
        "The experiment's name",
        "When it was last saved or run",
        "The template of its first variant",
        "Calls one full run makes: variants × test cases × repeats",
        "Runs stored so far (a cell run again counts again)",
        "What the judgements favour: pass rate, else A/B wins, else stars, else thumbs",
    )

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = 0) -> Any:
        if not index.isValid():
            return None
        row, column = self.rows[index.row()], index.column()
        s = row.summary
        if role == Qt.ItemDataRole.DisplayRole:
            return (KIND_WORD[s.kind], s.name, format_time(s.updated_at), s.template,
                    f"{s.cells:,}", f"{s.runs:,}", row.best or "–")[column]
        if role == Qt.ItemDataRole.EditRole:  # what sorting compares
            return (s.kind, s.name.casefold(), s.updated_at, s.template.casefold(), s.cells,
                    s.runs, row.best)[column]
        if role == Qt.ItemDataRole.TextAlignmentRole and column in (4, 5):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.ToolTipRole:
            notes = f"\n{s.notes}" if s.notes else ""
            return (f"{KIND_WORD[s.kind]} “{s.name}” · {plural(s.variants, 'variant')} · "
                    f"{plural(s.tests, 'test case')} · ×{s.repeats}\n"
                    f"created {s.created_at[:16].replace('T', ' ')}"
                    f"{notes}\nDouble-click or press Enter to open it")
        if role == Qt.ItemDataRole.UserRole:
            return row
        return None


class _Filter(QSortFilterProxyModel):
    """Rows of one kind (or all) whose name or template contains the typed text."""

    def __init__(self, parent: QWidget) -> None:
        super().__init__(parent)
        self.kind: str | None = None
        self.text = ""
        self.setSortRole(Qt.ItemDataRole.EditRole)

    def filterAcceptsRow(self, row: int, parent: QModelIndex | QPersistentModelIndex) -> bool:
        model = self.sourceModel()
        assert isinstance(model, ExperimentsModel)
        summary = model.rows[row].summary
        if self.kind is not None and summary.kind != self.kind:
            return False
        text = self.text.casefold()
        return not text or text in summary.name.casefold() or text in summary.template.casefold()

    def refilter(self) -> None:
        self.beginFilterChange()
        self.endFilterChange()


class ExperimentsBrowser(QWidget):
    """A window listing saved experiments; Open (or Enter, or a double-click) reopens one."""

    openRequested = Signal(str, str)  # kind ("compare", "sweep", "eval"), experiment id

    def __init__(self, source: OverviewSource, parent: QWidget | None = None) -> None:
        super().__init__(parent, Qt.WindowType.Window)
        self.setWindowTitle("Experiments")
        self._source = source
        self.kind_box = QComboBox(self)
        self.kind_box.setAccessibleName("Kind of experiment")
        self.kind_box.addItem("All kinds", None)
        for kind, word in KIND_WORD.items():
            self.kind_box.addItem(f"{word}s", kind)
        self.search = QLineEdit(self)
        self.search.setPlaceholderText("Filter by name or template")
        self.search.setClearButtonEnabled(True)
        self.search.setAccessibleName("Filter experiments")
        self.open_button = QPushButton("Open", self)
        self.open_button.setToolTip("Open the experiment with its results (Enter)")
        self.open_button.setEnabled(False)
        self.model = ExperimentsModel(self)
        self.proxy = _Filter(self)
        self.proxy.setSourceModel(self.model)
        self.view = QTreeView(self)
        self.view.setModel(self.proxy)
        self.view.setRootIsDecorated(False)
        self.view.setUniformRowHeights(True)
        self.view.setAlternatingRowColors(True)
        self.view.setSortingEnabled(True)
        self.view.sortByColumn(2, Qt.SortOrder.DescendingOrder)
        self.view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.view.setAccessibleName("Saved experiments")
        header = self.view.header()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        header.setStretchLastSection(False)
        self.status = QLabel(self)
        self.status.setAccessibleName("Experiments status")
        self.status.setWordWrap(True)
        bar = QHBoxLayout()
        bar.setSpacing(6)
        bar.addWidget(self.kind_box)
        bar.addWidget(self.search, 1)
        bar.addWidget(self.open_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 8)
        layout.setSpacing(8)
        layout.addLayout(bar)
        layout.addWidget(self.view, 1)
        layout.addWidget(self.status)
        self._job = LatestJob(self._show, self._failed, self)
        self.kind_box.currentIndexChanged.connect(self._refilter)
        self.search.textChanged.connect(self._refilter)
        self.view.activated.connect(lambda index: self.open(index))
        self.view.selectionModel().currentRowChanged.connect(
            lambda current, _old: self.open_button.setEnabled(current.isValid()))
        self.open_button.clicked.connect(lambda: self.open(self.view.currentIndex()))
        self.view.setFocus()  # the list first: Enter opens the row shown picked, as the footer says
        self.refresh()

    @property
    def busy(self) -> bool:
        return self._job.running

    def refresh(self) -> None:
        """Read the list again (after an experiment was saved or run)."""
        if not self.model.rowCount():
            self.status.setText("Reading the saved experiments…")
        self._job.submit(self._source)

    def shown(self) -> list[Overview]:
        """The rows as listed (filtered and sorted)."""
        return [self.proxy.index(r, 0).data(Qt.ItemDataRole.UserRole)
                for r in range(self.proxy.rowCount())]

    def open(self, index: QModelIndex) -> None:
        if not index.isValid():
            return
        row: Overview = index.siblingAtColumn(0).data(Qt.ItemDataRole.UserRole)
        self.openRequested.emit(row.kind, row.id)

    def _refilter(self) -> None:
        self.proxy.kind = self.kind_box.currentData()
        self.proxy.text = self.search.text().strip()
        self.proxy.refilter()
        self._say()

    def _show(self, rows: Sequence[Overview]) -> None:
        current = self.view.currentIndex()
        picked = current.siblingAtColumn(0).data(Qt.ItemDataRole.UserRole)
        self.model.set_rows(rows)
        self._say()
        ids = [row.id for row in self.shown()]
        if picked is not None and picked.id in ids:  # read again: the same one stays picked
            self.view.setCurrentIndex(self.proxy.index(ids.index(picked.id), 0))
        elif self.proxy.rowCount() and not self.view.currentIndex().isValid():
            self.view.setCurrentIndex(self.proxy.index(0, 0))

    def _say(self) -> None:
        total, shown = self.model.rowCount(), self.proxy.rowCount()
        if not total:
            self.status.setText("No saved experiments yet: a comparison is saved when it first "
                                "runs (Run ▸ Compare variants…), a sweep and an evaluation too.")
        elif shown < total:
            self.status.setText(f"{shown} of {plural(total, 'experiment')} shown.")
        else:
            self.status.setText(
                f"{plural(total, 'experiment')}. Double-click or press Enter to open one."
            )

    def _failed(self, error: KnownError) -> None:
        self.status.setText(f"Cannot list the experiments: {error}")
