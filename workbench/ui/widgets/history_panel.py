"""History: every past run, newest first, searchable over prompts and outputs.

The panel only needs a function from a search text to rows (``HistorySource``), so it works
with the SQLite run repository (``repository_source``) or anything else. Queries run off the
GUI thread (``LatestJob``: a newer search makes an older one's result stale), debounced while
typing. Activating a row emits ``runActivated(run_id)``; the window restores that run.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QPersistentModelIndex,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFrame,
    QHeaderView,
    QLabel,
    QLineEdit,
    QTreeView,
    QVBoxLayout,
    QWidget,
)

from workbench.core.errors import KnownError
from workbench.storage.repositories import RunSummary
from workbench.storage.repositories.runs import RunRepository
from workbench.ui import theming
from workbench.ui.run_text import format_duration
from workbench.ui.widgets.latest_job import LatestJob

SEARCH_DEBOUNCE_MS = 150
RECENT_LIMIT = 200

STATUS_MARK = {"ok": "✓", "error": "✗", "cancelled": "⊘"}
STATUS_WORD = {"ok": "finished", "error": "failed", "cancelled": "cancelled"}


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

    @classmethod
    def from_summary(cls, summary: RunSummary) -> HistoryRow:
        version = summary.template_version
        return cls(
            run_id=summary.id, created_at=summary.created_at, status=summary.status,
            backend=summary.backend_name or summary.backend, backend_type=summary.backend,
            model=summary.model, template=summary.template_key or "",
            version=str(version) if version is not None else None,
            preview=summary.preview, total_s=summary.total_s, error_kind=summary.error_kind,
            snippet=summary.snippet,
        )

    @property
    def label(self) -> str:
        if self.template:
            return f"{self.template} v{self.version}" if self.version else self.template
        return " ".join(self.preview.split())


HistorySource = Callable[[str], Sequence[HistoryRow]]


def repository_source(runs: RunRepository, limit: int = RECENT_LIMIT) -> HistorySource:
    """Recent runs for an empty search, else the full-text matches (every word must appear)."""

    def query(text: str) -> list[HistoryRow]:
        text = text.strip()
        found = runs.search(text, limit=limit) if text else runs.recent(limit)
        return [HistoryRow.from_summary(s) for s in found]

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


_ROOT = QModelIndex()


class HistoryModel(QAbstractTableModel):
    COLUMNS = ("Time", "Prompt", "", "Backend", "Took")
    HEADER_TIPS = (
        "When the run ended",
        "The template and version a run came from, else its last user message",
        "✓ finished · ✗ failed · ⊘ cancelled",
        "The backend the run was sent to, by its name in Tools ▸ Backends (runs saved before "
        "names were kept show its type); the row's tooltip has the type and the model",
        "How long the run took",
    )

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.rows: list[HistoryRow] = []

    def set_rows(self, rows: Sequence[HistoryRow]) -> None:
        self.beginResetModel()
        self.rows = list(rows)
        self.endResetModel()

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = _ROOT) -> int:
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = _ROOT) -> int:
        return 0 if parent.isValid() else len(self.COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = 0) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return self.COLUMNS[section]
        if role == Qt.ItemDataRole.ToolTipRole and orientation == Qt.Orientation.Horizontal:
            return self.HEADER_TIPS[section]
        return None

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = 0) -> Any:
        if not index.isValid():
            return None
        row, column = self.rows[index.row()], index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return (
                format_time(row.created_at),
                row.label,
                STATUS_MARK.get(row.status, "?"),
                row.backend,
                format_duration(row.total_s) if row.total_s is not None else "",
            )[column]
        if role == Qt.ItemDataRole.ToolTipRole:
            return self._tooltip(row)
        if role == Qt.ItemDataRole.ForegroundRole and column == 2:
            kind: theming.StatusKind = (
                "ok" if row.status == "ok" else "error" if row.status == "error" else "warning"
            )
            return theming.status_color(kind)
        if role == Qt.ItemDataRole.TextAlignmentRole and column in (2, 4):
            align = Qt.AlignmentFlag.AlignCenter if column == 2 else Qt.AlignmentFlag.AlignRight
            return int(align | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.AccessibleTextRole:
            return f"{STATUS_WORD.get(row.status, row.status)} run, {row.label}, {row.backend}"
        if role == Qt.ItemDataRole.UserRole:
            return row.run_id
        return None

    @staticmethod
    def _tooltip(row: HistoryRow) -> str:
        lines = [f"{row.created_at} · {STATUS_WORD.get(row.status, row.status)}"
                 + (f" ({row.error_kind})" if row.error_kind else ""),
                 " · ".join(p for p in (row.backend, row.model) if p)
                 + (f" ({row.backend_type})" if row.backend_type not in ("", row.backend) else "")]
        if row.template:
            lines.append(row.label)
        if row.preview:
            lines.append(f"Prompt: {row.preview[:160]}")
        if row.snippet:
            lines.append(f"Match: {row.snippet}")
        return "\n".join(lines)


class HistoryPanel(QWidget):
    """Search box, list of runs, and an empty state that says what to do."""

    runActivated = Signal(str)  # run id: restore this run
    runSelected = Signal(str)

    def __init__(self, source: HistorySource | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._source = source
        self._query = ""
        self.search = QLineEdit(self)
        self.search.setPlaceholderText("Search prompts and outputs")
        self.search.setClearButtonEnabled(True)
        self.search.setAccessibleName("Search history")
        self.search.setToolTip("Find runs whose prompt or output contains every word typed")
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
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        self.empty = QLabel(self)
        self.empty.setAccessibleName("History status")
        self.empty.setWordWrap(True)
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty.setEnabled(False)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        layout.addWidget(self.search)
        layout.addWidget(self.view, 1)
        layout.addWidget(self.empty, 1)
        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(SEARCH_DEBOUNCE_MS)
        self._debounce.timeout.connect(self.refresh)
        self._job = LatestJob(self._show, self._failed, self)
        self.search.textChanged.connect(lambda _text: self._debounce.start())
        self.search.returnPressed.connect(self.refresh)
        self.view.activated.connect(self._activated)
        self.view.selectionModel().currentRowChanged.connect(self._current_changed)
        self._show([])

    # --- public surface -----------------------------------------------------------------------

    def set_source(self, source: HistorySource) -> None:
        self._source = source
        self.refresh()

    def refresh(self) -> None:
        """Query again (after a run was saved, or as the search text changes)."""
        self._debounce.stop()
        if self._source is None:
            return
        self._query = self.search.text()
        self._job.submit(self._source, self._query)

    @property
    def busy(self) -> bool:
        return self._job.running

    def run_ids(self) -> list[str]:
        return [row.run_id for row in self.model.rows]

    def focus_search(self) -> None:
        self.search.setFocus()
        self.search.selectAll()

    # --- internals ----------------------------------------------------------------------------

    def _show(self, rows: Sequence[HistoryRow]) -> None:
        self.model.set_rows(rows)
        has_rows = bool(rows)
        self.view.setVisible(has_rows)
        self.empty.setVisible(not has_rows)
        if not has_rows:
            query = self._query.strip()
            self.empty.setText(
                f"No run matches “{query}”." if query
                else "No runs yet. Press Run (Ctrl+Enter): every run is saved here."
            )
        if has_rows and self.view.header().count():
            self.view.header().setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)

    def _failed(self, error: BaseException) -> None:
        if not isinstance(error, KnownError):
            raise error
        self.model.set_rows([])
        self.view.hide()
        self.empty.setText(f"Search failed: {error}")
        self.empty.show()

    def _activated(self, index: QModelIndex) -> None:
        self.runActivated.emit(self.model.rows[index.row()].run_id)

    def _current_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        if current.isValid():
            self.runSelected.emit(self.model.rows[current.row()].run_id)
