"""History: every past run, newest first, searchable over prompts and outputs, filtered by
where it came from (typed by hand, a compare column, a sweep, an evaluation), template, backend
and rating.

Each row names what tells runs apart: the template and version (else the prompt's start), the
start of the output, the backend and model, the key parameters, the rating and the source. The
panel only needs a ``HistorySource`` (a query to rows, plus the templates and backends to offer
as filters), so it works with the SQLite run repository (``repository_source``) or anything else.
Queries run off the GUI thread (``LatestJob``: a newer query makes an older one's result stale),
debounced while typing. Activating a row emits ``runActivated(run_id)``; the window restores
that run.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import PurePath
from typing import Any, Protocol

from PySide6.QtCore import (
    QModelIndex,
    QPersistentModelIndex,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import QResizeEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFrame,
    QGridLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QTreeView,
    QVBoxLayout,
    QWidget,
)

from workbench.core.errors import KnownError
from workbench.core.template_files import SUFFIX
from workbench.core.wording import one_line, plural
from workbench.storage.db import Database
from workbench.storage.repositories import RunSummary
from workbench.storage.repositories.runs import (
    SOURCES,
    RatingFilter,
    RunFilter,
    RunRepository,
    Source,
)
from workbench.ui import theming
from workbench.ui.background import LatestJob, watch_writes
from workbench.ui.qt_models.rows_model import RowsTableModel
from workbench.ui.run_text import format_duration

SEARCH_DEBOUNCE_MS = 150
RECENT_LIMIT = 200

STATUS_MARK = {"ok": "✓", "error": "✗", "cancelled": "⊘"}
STATUS_WORD = {"ok": "finished", "error": "failed", "cancelled": "cancelled"}
SOURCE_WORD: dict[str, str] = {
    "hand": "hand", "compare": "compare", "sweep": "sweep", "eval": "eval"}
SOURCE_PHRASE: dict[str, str] = {"hand": "by hand", "compare": "from a comparison",
                                 "sweep": "from a sweep", "eval": "from an evaluation"}
SOURCE_TIP = "Typed by hand, a compare column, a sweep cell or an evaluation case"
RATING_CHOICES: tuple[tuple[str, RatingFilter | None], ...] = (
    ("Any rating", None), ("Rated", "rated"), ("Thumbs up ▲", "up"), ("Thumbs down ▼", "down"),
    ("Not rated", "unrated"))
#: The parameters a row shows, in this order, with their short names.
KEY_PARAMS = (("temperature", "T"), ("top_p", "p"), ("top_k", "k"), ("max_tokens", "max"),
              ("seed", "seed"))
OUTPUT_CHARS = 120

#: Before the prompt of a run branched from another at a token.
VALUE_CHARS = 24  # of each value shown beside a template's name
BRANCH_MARK = "↳ "


def params_text(params: dict[str, Any]) -> str:
    """"T 0.7 · max 256": the key parameters a run was sent, short enough for a column."""
    shown = []
    for name, short in KEY_PARAMS:
        value = params.get(name)
        if value is not None:
            shown.append(f"{short} {value:g}" if isinstance(value, float) else f"{short} {value}")
    return " · ".join(shown)


def rating_text(thumbs: int | None, stars: int | None) -> str:
    """"▲ ★4": thumbs up (▲) or down (▼) and stars, empty when not rated."""
    parts = [{1: "▲", -1: "▼"}.get(thumbs or 0, ""), f"★{stars}" if stars else ""]
    return " ".join(p for p in parts if p)


@dataclass(frozen=True)
class HistoryRow:
    """What one line of the history shows."""

    run_id: str
    created_at: str  # ISO 8601
    status: str  # "ok", "error" or "cancelled"
    backend: str  # the configured backend's name ("down"), else its type for older runs
    model: str = ""
    template: str = ""  # template name; empty for runs that were not made from one
    version: str | None = None
    preview: str = ""  # the last user message: what a person recognises a run by
    total_s: float | None = None
    error_kind: str | None = None
    snippet: str | None = None  # the matching passage of a search hit, with [brackets]
    backend_type: str = ""  # "openai_compat": shown beside a configured name in the tooltip
    source: Source = "hand"
    output: str = ""  # the start of the answer (the error's for a failed run)
    params: dict[str, Any] = field(default_factory=dict)
    thumbs: int | None = None
    stars: int | None = None
    parent_run_id: str | None = None  # a branch at a token: the run it continues
    values: dict[str, str] = field(default_factory=dict)  # the template's variables, filled
    file: str = ""  # the template file its document was bound to (no library template)
    draft: str = ""  # the name of a draft it was run from (no library template, no file)

    @classmethod
    def from_summary(cls, summary: RunSummary) -> HistoryRow:
        version = summary.template_version
        return cls(
            run_id=summary.id, created_at=summary.created_at, status=summary.status,
            backend=summary.backend_name or summary.backend, backend_type=summary.backend,
            model=summary.model, template=summary.template_key or "",
            version=str(version) if version is not None else None,
            preview=summary.preview, total_s=summary.total_s, error_kind=summary.error_kind,
            snippet=summary.snippet, source=summary.source,
            output=summary.response_preview or summary.error or "", params=summary.params,
            thumbs=summary.thumbs, stars=summary.stars, parent_run_id=summary.parent_run_id,
            values=summary.variables, file=summary.template_file or "",
            draft=summary.template_name or "",
        )

    @property
    def label(self) -> str:
        """The template and version with the values it was filled with ("haiku v1 · cat"):
        runs of one template told apart at a glance; "(unsaved)" for an edit or a draft that
        was run before it was saved; a template file's by its file name, a draft's by its
        name and values. Else: its prompt."""
        branch = BRANCH_MARK if self.parent_run_id else ""
        if self.template:
            which = (f"{self.template} v{self.version}" if self.version
                     else f"{self.template} (unsaved)")
        elif self.file:
            which = PurePath(self.file).name.removesuffix(SUFFIX)
        elif self.draft and self.values_text():  # its values say more than its prompt's start
            which = f"{self.draft} (unsaved)"
        else:
            return branch + " ".join(self.preview.split())
        return " · ".join([branch + which, *self.values_text()])

    def values_text(self) -> list[str]:
        """Each value's start, on one line."""
        return [one_line(value, VALUE_CHARS) for value in self.values.values() if value.strip()]

    @property
    def backend_model(self) -> str:
        return " · ".join(p for p in (self.backend, self.model) if p)

    @property
    def output_start(self) -> str:
        return " ".join(self.output[:OUTPUT_CHARS].split())


@dataclass(frozen=True)
class HistoryQuery:
    """Search words (empty: the most recent runs) and the filters."""

    text: str = ""
    where: RunFilter = field(default_factory=RunFilter)


@dataclass(frozen=True)
class HistoryPage:
    """What one query shows: the rows, and the templates and backends the filters offer."""

    rows: Sequence[HistoryRow]
    templates: Sequence[str] = ()
    backends: Sequence[str] = ()


class HistorySource(Protocol):
    def __call__(self, query: HistoryQuery) -> HistoryPage: ...


def repository_source(runs: RunRepository, limit: int = RECENT_LIMIT) -> HistorySource:
    """Recent runs for an empty search, else the full-text matches (every word must appear),
    narrowed by the filters."""

    def query(query: HistoryQuery) -> HistoryPage:
        text = query.text.strip()
        found = (runs.search(text, limit=limit, where=query.where) if text
                 else runs.recent(limit, where=query.where))
        templates, backends = runs.choices()
        return HistoryPage([HistoryRow.from_summary(s) for s in found], templates, backends)

    return query


def format_time(iso: str, now: datetime | None = None) -> str:
    """"12:04" today, "Mar 3 12:04" this year, "2024-03-03" before."""
    try:
        when = datetime.fromisoformat(iso).astimezone()
    except ValueError:
        return iso
    now = now or datetime.now(when.tzinfo)
    if when.date() == now.date():
        return when.strftime("%H:%M")
    if when.year == now.year:
        return f"{when.strftime('%b')} {when.day} {when.strftime('%H:%M')}"
    return when.strftime("%Y-%m-%d")


class HistoryModel(RowsTableModel[HistoryRow]):
    COLUMNS = ("Time", "", "Prompt", "Output", "Rating", "Source", "Backend", "Parameters",
               "Took")
    TIPS = (
        "When the run ended",
        "✓ finished · ✗ failed · ⊘ cancelled",
        "The template and version a run came from, else its last user message",
        "The start of the answer (why it failed, for a failed run)",
        "▲ thumbs up · ▼ thumbs down · ★ stars, as rated in the compare view",
        SOURCE_TIP,
        "The backend the run was sent to, by its name in Tools ▸ Backends (runs saved before "
        "names were kept show its type), and the model",
        "Key parameters sent: T temperature, p top_p, k top_k, max max_tokens, seed",
        "How long the run took",
    )
    #: Widths in characters (the output's least: it takes the room left). Time and status fit
    #: their contents. Columns right of the output are hidden, from the right, when the panel
    #: is too narrow for them (their values are in each row's tooltip).
    WIDTHS = (0, 2, 13, 11, 5, 7, 18, 14, 6)
    STATUS, OUTPUT, RATING, TOOK = 1, 3, 4, 8

    @staticmethod
    def cells(row: HistoryRow) -> tuple[str, ...]:
        return (
            format_time(row.created_at),
            STATUS_MARK.get(row.status, "?"),
            row.label,
            row.output_start,
            rating_text(row.thumbs, row.stars),
            SOURCE_WORD.get(row.source, row.source),
            row.backend_model,
            params_text(row.params),
            format_duration(row.total_s) if row.total_s is not None else "",
        )

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = 0) -> Any:
        if not index.isValid():
            return None
        row, column = self.rows[index.row()], index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return self.cells(row)[column]
        if role == Qt.ItemDataRole.ToolTipRole:
            return self._tooltip(row)
        if role == Qt.ItemDataRole.ForegroundRole and column == self.STATUS:
            kind: theming.StatusKind = (
                "ok" if row.status == "ok" else "error" if row.status == "error" else "warning"
            )
            return theming.status_color(kind)
        if role == Qt.ItemDataRole.TextAlignmentRole and column in (self.STATUS, self.TOOK):
            align = (Qt.AlignmentFlag.AlignCenter if column == self.STATUS
                     else Qt.AlignmentFlag.AlignRight)
            return int(align | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.AccessibleTextRole:
            return (f"{STATUS_WORD.get(row.status, row.status)} run {SOURCE_PHRASE[row.source]}"
                    f", {row.label}, {row.backend}")
        if role == Qt.ItemDataRole.UserRole:
            return row.run_id
        return None

    @staticmethod
    def _tooltip(row: HistoryRow) -> str:
        lines = [f"{row.created_at} · {STATUS_WORD.get(row.status, row.status)}"
                 + (f" ({row.error_kind})" if row.error_kind else ""),
                 " · ".join(p for p in (row.backend, row.model) if p)
                 + (f" ({row.backend_type})" if row.backend_type not in ("", row.backend) else "")]
        if row.parent_run_id:
            lines.append("Branched at a token from an earlier run (its child: same prompt, the "
                         "answer continued from a chosen alternative)")
        if row.template:
            lines.append(row.label)
        params = params_text(row.params)
        if params:
            lines.append(f"Parameters: {params}")
        if row.preview:
            lines.append(f"Prompt: {row.preview[:160]}")
        if row.output:
            lines.append(f"Output: {row.output[:160]}")
        if row.snippet:
            lines.append(f"Match: {row.snippet}")
        return "\n".join(lines)


class FilterBar(QWidget):
    """Source, template, backend and rating filters, two by two (the dock is narrow)."""

    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.source = self._box("Filter by source", SOURCE_TIP)
        self.source.addItem("All sources", None)
        for source in SOURCES:
            self.source.addItem({"hand": "By hand", "compare": "Compare", "sweep": "Sweeps",
                                 "eval": "Evaluations"}[source], source)
        self.template = self._box("Filter by template", "Runs of one library template")
        self.template.addItem("All templates", None)
        self.backend = self._box("Filter by backend", "Runs sent to one backend")
        self.backend.addItem("All backends", None)
        self.rating = self._box("Filter by rating", "Rated runs, thumbs up or down, or unrated")
        for text, value in RATING_CHOICES:
            self.rating.addItem(text, value)
        grid = QGridLayout(self)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.setSpacing(4)
        for n, box in enumerate((self.source, self.rating, self.template, self.backend)):
            grid.addWidget(box, n // 2, n % 2)
            box.currentIndexChanged.connect(lambda _i: self.changed.emit())

    def _box(self, name: str, tip: str) -> QComboBox:
        box = QComboBox(self)
        box.setAccessibleName(name)
        box.setToolTip(tip)
        box.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        box.setMinimumContentsLength(8)
        return box

    def where(self) -> RunFilter:
        return RunFilter(source=self.source.currentData(), template_key=self.template.currentData(),
                         backend=self.backend.currentData(), rating=self.rating.currentData())

    def offer(self, templates: Sequence[str], backends: Sequence[str]) -> None:
        """Refill the template and backend lists, keeping what is chosen."""
        for box, values in ((self.template, templates), (self.backend, backends)):
            chosen = box.currentData()
            wanted = [None, *values] if chosen is None or chosen in values else [
                None, *values, chosen]
            if [box.itemData(i) for i in range(box.count())] == wanted:
                continue
            box.blockSignals(True)
            while box.count() > 1:
                box.removeItem(1)
            for value in wanted[1:]:
                box.addItem(str(value), value)
            box.setCurrentIndex(max(box.findData(chosen), 0) if chosen is not None else 0)
            box.blockSignals(False)

    @property
    def active(self) -> bool:
        return self.where() != RunFilter()

    def clear(self) -> None:
        for box in (self.source, self.template, self.backend, self.rating):
            box.setCurrentIndex(0)


class HistoryPanel(QWidget):
    """Search box, filters, list of runs, and an empty state that says what to do."""

    runActivated = Signal(str)  # run id: restore this run
    runSelected = Signal(str)

    def __init__(self, source: HistorySource | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._source = source
        self._query = HistoryQuery()
        self._running = 0  # runs in flight (not listed until they end)
        self._page: HistoryPage | None = None
        self.search = QLineEdit(self)
        self.search.setPlaceholderText("Search prompts and outputs")
        self.search.setClearButtonEnabled(True)
        self.search.setAccessibleName("Search history")
        self.search.setToolTip("Find runs whose prompt or output contains every word typed")
        self.filters = FilterBar(self)
        self.model = HistoryModel(self)
        self.view = QTreeView(self)
        self.view.setModel(self.model)
        self.view.setRootIsDecorated(False)
        self.view.setUniformRowHeights(True)
        self.view.setAlternatingRowColors(True)
        self.view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.view.setAccessibleName("Past runs")
        self.view.setFrameShape(QFrame.Shape.NoFrame)
        self.view.setToolTip("Double-click or press Enter to restore a run")
        header = self.view.header()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setSectionResizeMode(HistoryModel.OUTPUT, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        self.empty = QLabel(self)
        self.empty.setAccessibleName("History status")
        self.empty.setWordWrap(True)
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty.setEnabled(False)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        layout.addWidget(self.search)
        layout.addWidget(self.filters)
        layout.addWidget(self.view, 1)
        layout.addWidget(self.empty, 1)
        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(SEARCH_DEBOUNCE_MS)
        self._debounce.timeout.connect(self.refresh)
        self._job = LatestJob(self._show, self._failed, self)
        self.search.textChanged.connect(lambda _text: self._debounce.start())
        self.search.returnPressed.connect(self.refresh)
        self.filters.changed.connect(self.refresh)
        self.view.activated.connect(self._activated)
        self.view.selectionModel().currentRowChanged.connect(self._current_changed)
        self._show(HistoryPage([]))

    def _width(self, column: int) -> int:
        chars = HistoryModel.WIDTHS[column]
        if not chars:
            return max(self.view.sizeHintForColumn(column),
                       self.view.header().sectionSizeHint(column))
        return chars * self.view.fontMetrics().horizontalAdvance("0") + 12

    def fit_columns(self) -> None:
        """Show the columns that fit the panel's width, in order; the output takes the rest.
        Columns after the output that are empty on every row (nothing rated yet) are hidden."""
        header = self.view.header()
        bar = self.view.verticalScrollBar()
        available = self.width() - (bar.sizeHint().width() if bar.isVisible() else 0)
        used, fits = 0, True
        cells = [HistoryModel.cells(row) for row in self.model.rows]
        for column in range(len(HistoryModel.COLUMNS)):
            width = self._width(column)
            fits = fits and (column <= HistoryModel.OUTPUT or used + width <= available)
            empty = column > HistoryModel.OUTPUT and not any(c[column] for c in cells)
            header.setSectionHidden(column, not fits or empty)
            if fits and not empty:
                used += width
                if column not in (0, HistoryModel.OUTPUT):
                    header.resizeSection(column, width)

    def visible_columns(self) -> list[str]:
        header = self.view.header()
        return [name for column, name in enumerate(HistoryModel.COLUMNS)
                if not header.isSectionHidden(column)]

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self.fit_columns()

    # --- public surface -----------------------------------------------------------------------

    def set_source(self, source: HistorySource) -> None:
        self._source = source
        self.refresh()

    def refresh(self) -> None:
        """Query again (after a run was saved, or as the search text or a filter changes)."""
        self._debounce.stop()
        if self._source is None:
            return
        self._query = HistoryQuery(self.search.text(), self.filters.where())
        self._job.submit(self._source, self._query)

    def watch(self, db: Database) -> None:
        """Refresh when anything else writes to ``db``: runs from ``workbench compare`` or
        ``workbench eval`` in a terminal, or a sweep window's writer, appear without a filter
        change or a window switch."""
        watch_writes(self, db, self.refresh)

    def set_running(self, count: int) -> None:
        """``count`` runs are in flight: an empty history says so rather than "No runs yet"
        (a run is listed once it ends and is saved)."""
        self._running = count
        if not self.model.rows:
            self._show(HistoryPage([]) if self._page is None else self._page)

    @property
    def busy(self) -> bool:
        return self._job.running

    def run_ids(self) -> list[str]:
        return [row.run_id for row in self.model.rows]

    def focus_search(self) -> None:
        self.search.setFocus()
        self.search.selectAll()

    # --- internals ----------------------------------------------------------------------------

    def _show(self, page: HistoryPage) -> None:
        self._page = page
        self.filters.offer(page.templates, page.backends)
        self.model.set_rows(page.rows)
        self.fit_columns()  # the time column may have grown ("Mar 3 12:04")
        has_rows = bool(page.rows)
        self.view.setVisible(has_rows)
        self.empty.setVisible(not has_rows)
        if not has_rows:
            query = self._query.text.strip()
            filtered = self._query.where != RunFilter()
            self.empty.setText(
                f"No run matches “{query}”" + (" with these filters." if filtered else ".")
                if query
                else "No run matches these filters: choose “All …” to see more."
                if filtered
                else f"{plural(self._running, 'run')} in progress… "
                "Each is listed here when it ends."
                if self._running
                else "No runs yet. Press Run (Ctrl+Enter): every run is saved here."
            )

    def _failed(self, error: KnownError) -> None:
        self.model.set_rows([])
        self.view.hide()
        self.empty.setText(f"Search failed: {error}")
        self.empty.show()

    def _activated(self, index: QModelIndex) -> None:
        self.runActivated.emit(self.model.rows[index.row()].run_id)

    def _current_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        if current.isValid():
            self.runSelected.emit(self.model.rows[current.row()].run_id)
