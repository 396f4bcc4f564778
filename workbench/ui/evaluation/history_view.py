"""A suite's history in the app: the trend (pass rate and mean score with 95% intervals per
evaluation and per template version), each case across runs (better, worse, flaky) and the
pinned baseline, which the latest evaluation is checked against (``services.baseline``).

The history is read off the GUI thread; pinning goes through the store's writer thread."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCharts import QAreaSeries, QLineSeries, QValueAxis
from PySide6.QtCore import QPointF, Qt, Signal
from PySide6.QtGui import QCloseEvent, QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from workbench.core.wording import plural
from workbench.services.baseline import BaselineCheck, check_baseline
from workbench.services.eval_history import (
    MatrixRow,
    Snapshot,
    TrendPoint,
    by_version,
    case_matrix,
    load_history,
    suite_key,
    trend,
)
from workbench.services.evaluation import Evaluation
from workbench.services.workspace import Workspace
from workbench.storage.repositories import Store
from workbench.ui import theming
from workbench.ui.background import TaskRunner, TaskWorker
from workbench.ui.evaluation.scorecard_view import (
    chart_view,
    rate_text,
    score_text,
    series_color,
    style_chart,
)
from workbench.ui.theming import StatusKind
from workbench.ui.widgets.history_panel import format_time
from workbench.ui.widgets.window_keys import add_close_keys

LAST = 20  # evaluations shown
MOVEMENT_KIND: dict[str, StatusKind] = {"better": "ok", "worse": "error", "flaky": "warning"}
MARK_KIND: dict[str, StatusKind] = {
    "passing": "ok", "failing": "error", "flaky": "warning", "error": "warning"
}


@dataclass(frozen=True)
class History:
    snapshots: list[Snapshot]
    baseline: str | None
    check: BaselineCheck | None  # the latest evaluation against the pinned baseline


def read_history(workspace: Workspace, key: str) -> History:
    """The suite's last evaluations and the latest one checked against the baseline."""
    store = workspace.store

    def open_evaluation(experiment_id: str) -> Evaluation:
        return Evaluation.open(store, experiment_id, workspace.runner)

    snapshots = load_history(store, key, open_evaluation, LAST)
    pinned = store.suites.baseline(key)
    check = None
    if pinned is not None and snapshots and snapshots[-1].evaluation_id != pinned:
        base = next((s for s in snapshots if s.evaluation_id == pinned), None)
        if base is None:
            created = store.experiments.get(pinned).created_at
            base = Snapshot.of(open_evaluation(pinned), created)
        check = check_baseline(base, snapshots[-1])
    return History(snapshots, pinned, check)


def _table(parent: QWidget, name: str, headers: list[str]) -> QTableWidget:
    table = QTableWidget(0, len(headers), parent)
    table.setAccessibleName(name)
    table.setHorizontalHeaderLabels(headers)
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    table.verticalHeader().setVisible(False)
    table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    table.horizontalHeader().setStretchLastSection(True)
    return table


class SuiteHistoryView(QWidget):
    """The history of the suite at ``path`` (a window of its own)."""

    pinned = Signal(str)  # the evaluation pinned as the baseline

    def __init__(self, workspace: Workspace, path: Path, parent: QWidget | None = None) -> None:
        super().__init__(parent, Qt.WindowType.Window)
        self.workspace = workspace
        self.path = path
        self.key = suite_key(path)
        self.history: History | None = None
        self.setWindowTitle(f"History — {path.name}")
        self.resize(960, 720)
        add_close_keys(self)  # Ctrl+W and Escape, as every window beside the main one
        self.status = QLabel(self)
        self.status.setAccessibleName("History summary")
        self.status.setWordWrap(True)
        self.check = QLabel(self)
        self.check.setAccessibleName("Against the baseline")
        self.check.setWordWrap(True)
        self.trend = _table(
            self,
            "Trend per evaluation",
            ["When", "Variant", "Version", "Pass rate [95% CI]", "Mean score [95% CI]", "Judged"],
        )
        self.versions = _table(
            self,
            "Trend per template version",
            ["Variant", "Version", "Evaluations", "Pass rate [95% CI]", "Mean score [95% CI]"],
        )
        self.cases = _table(self, "Cases across runs", ["Case"])
        self.chart = chart_view("Pass rate per evaluation, with its 95% interval")
        self.chart.setAccessibleName("Trend chart")
        self.chart.setMinimumHeight(240)
        tabs = QTabWidget(self)
        tabs.addTab(self.trend, "Per evaluation")
        tabs.addTab(self.versions, "Per template version")
        tabs.addTab(self.cases, "Cases across runs")
        self.tabs = tabs
        self.pin_button = QPushButton("Pin as baseline", self)
        self.pin_button.setToolTip(
            "Make the selected evaluation the suite's baseline: 'workbench eval SUITE "
            "--baseline' and this window check later evaluations against it"
        )
        self.pin_button.setEnabled(False)
        self.pin_button.clicked.connect(self._pin_selected)
        self.trend.itemSelectionChanged.connect(
            lambda: self.pin_button.setEnabled(self.selected() is not None)
        )
        bar = QHBoxLayout()
        bar.addWidget(self.status, 1)
        bar.addWidget(self.pin_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 8)
        layout.addLayout(bar)
        layout.addWidget(self.check)
        layout.addWidget(self.chart, 2)
        layout.addWidget(tabs, 3)
        self.tasks = TaskRunner(self, max_threads=1)
        self._row_ids: list[str] = []  # trend row -> evaluation id
        self._bands: list[tuple[QAreaSeries, QLineSeries, QLineSeries]] = []
        self.refresh()

    def refresh(self) -> None:
        """Read the history again (off the GUI thread)."""
        self.status.setText(f"Reading the history of {self.path.name}…")
        worker: TaskWorker[History] = TaskWorker(
            lambda _r, _c: read_history(self.workspace, self.key)
        )
        worker.signals.finished.connect(self._show)
        worker.signals.failed.connect(
            lambda err: self.status.setText(f"The history could not be read: {err}")
        )
        self.tasks.start(worker)

    def selected(self) -> str | None:
        rows = self.trend.selectionModel().selectedRows()
        return self._row_ids[rows[0].row()] if rows else None

    def _pin_selected(self) -> None:
        experiment_id = self.selected()
        if experiment_id is not None:
            self.pin(experiment_id)

    def pin(self, experiment_id: str) -> None:
        """Pin ``experiment_id`` as the suite's baseline (on the writer thread), then re-read."""
        key = self.key

        def job(store: Store) -> None:
            store.suites.pin(key, experiment_id)

        self.workspace.writer.submit(job).result()
        self.pinned.emit(experiment_id)
        self.refresh()

    # --- showing ---------------------------------------------------------------------------------

    def _show(self, history: History) -> None:
        self.history = history
        snaps = history.snapshots
        if not snaps:
            self.status.setText(f"No evaluation of {self.path.name} yet.")
        else:
            where = "none pinned: select an evaluation and pin it"
            pinned = [s for s in snaps if s.evaluation_id == history.baseline]
            if pinned:
                where = f"the evaluation of {format_time(pinned[0].created_at)} (★)"
            elif history.baseline is not None:
                where = f"evaluation {history.baseline} (older than those shown)"
            self.status.setText(
                f"{plural(len(snaps), 'evaluation')} of {self.path.name}, oldest first · "
                f"baseline: {where}"
            )
        self._fill_trend(snaps, history.baseline)
        self._fill_chart(snaps)
        self._fill_versions(by_version(snaps))
        self._fill_cases(snaps, case_matrix(snaps), history.baseline)
        self._show_check(history.check)

    def _show_check(self, check: BaselineCheck | None) -> None:
        if check is None:
            self.check.setVisible(False)
            return
        color = theming.status_color("error" if check.regressed else "ok").name()
        worse = ", ".join(f"{c.name} · {c.variant}" for c in check.worse_cases()[:8])
        self.check.setText(
            f"<span style='color:{color}'>Latest against the baseline: {check.summary()}</span>"
            + (f"<br>Got worse: {worse}" if worse else "")
        )
        self.check.setVisible(True)

    def _fill_trend(self, snaps: list[Snapshot], baseline: str | None) -> None:
        points: list[tuple[Snapshot, TrendPoint]] = [(s, p) for s in snaps for p in trend([s])]
        self._row_ids = [s.evaluation_id for s, _ in points]
        self.trend.setRowCount(len(points))
        for row, (s, p) in enumerate(points):
            pinned = " ★ baseline" if s.evaluation_id == baseline else ""
            when = format_time(s.created_at) + pinned
            cells = [when, p.label, p.version, rate_text(p.stats), score_text(p.stats),
                     str(p.stats.cases.judged)]
            for column, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setToolTip(f"evaluation {s.evaluation_id}")
                self.trend.setItem(row, column, item)

    def _fill_chart(self, snaps: list[Snapshot]) -> None:
        """Per variant: the pass rate of each evaluation (x: its number, oldest first) as a line
        over a band from the low to the high end of its Wilson interval."""
        chart = self.chart.chart()
        chart.removeAllSeries()
        self._bands = []
        for axis in chart.axes():
            chart.removeAxis(axis)
        x, y = QValueAxis(), QValueAxis()
        x.setRange(0.5, len(snaps) + 0.5)  # room around the first and last points
        x.setLabelFormat("%d")
        x.setTickType(QValueAxis.TickType.TicksDynamic)
        x.setTickAnchor(1)
        x.setTickInterval(max(1, len(snaps) // 10))
        x.setTitleText("evaluation")
        y.setRange(0, 100)
        y.setLabelFormat("%d")
        y.setTitleText("%")
        chart.addAxis(x, Qt.AlignmentFlag.AlignBottom)
        chart.addAxis(y, Qt.AlignmentFlag.AlignLeft)
        labels = list(dict.fromkeys(label for s in snaps for label in s.labels))
        for i, label in enumerate(labels):
            line, low, high = QLineSeries(), QLineSeries(), QLineSeries()
            line.setName(label)
            for n, s in enumerate(snaps, start=1):
                if label not in s.labels:
                    continue
                cases = s.card.variants[s.labels.index(label)].overall.cases
                if cases.rate is None or cases.ci is None:
                    continue
                line.append(QPointF(n, 100 * cases.rate))
                for edge in (n - 0.2, n + 0.2):  # a little wide: one evaluation shows too
                    low.append(QPointF(edge, 100 * cases.ci[0]))
                    high.append(QPointF(edge, 100 * cases.ci[1]))
            color = series_color(i)
            band = QAreaSeries(high, low)
            band.setName(f"{label} 95% CI")
            shade = QColor(color)
            shade.setAlpha(50)
            band.setColor(shade)
            band.setBorderColor(shade)
            line.setColor(color)
            line.setPointsVisible(True)  # one evaluation is a point, not yet a line
            line.setMarkerSize(9)
            for series in (band, line):
                chart.addSeries(series)
                series.attachAxis(x)
                series.attachAxis(y)
            for marker in chart.legend().markers(band):
                marker.setVisible(False)
            self._bands.append((band, low, high))  # QAreaSeries does not own its lines
        style_chart(chart, self.palette())

    def _fill_versions(self, points: list[TrendPoint]) -> None:
        self.versions.setRowCount(len(points))
        for row, p in enumerate(points):
            cells = [p.label, p.version, str(len(p.evaluations)), rate_text(p.stats),
                     score_text(p.stats)]
            for column, text in enumerate(cells):
                self.versions.setItem(row, column, QTableWidgetItem(text))

    def _fill_cases(
        self, snaps: list[Snapshot], rows: list[MatrixRow], baseline: str | None
    ) -> None:
        """A heat map: one row per case, one column per evaluation (★ the baseline), then how
        it moved in the latest."""
        self.cases.clear()
        self.cases.setColumnCount(len(snaps) + 2)
        times = [
            format_time(s.created_at) + (" ★" if s.evaluation_id == baseline else "")
            for s in snaps
        ]
        self.cases.setHorizontalHeaderLabels(["Case", *times, "Latest"])
        self.cases.setRowCount(len(rows))
        for r, row in enumerate(rows):
            self.cases.setItem(r, 0, QTableWidgetItem(f"{row.name} · {row.variant}"))
            for c, outcome in enumerate(row.outcomes, start=1):
                item = QTableWidgetItem("·" if outcome is None else outcome.mark)
                item.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
                if outcome is not None:
                    item.setForeground(theming.status_color(MARK_KIND[outcome.verdict]))
                    item.setToolTip(f"{outcome.verdict}: {outcome.passed} passed, "
                                    f"{outcome.failed} failed, {outcome.errors} errors")
                self.cases.setItem(r, c, item)
            movement = QTableWidgetItem(row.movement)
            if row.movement in MOVEMENT_KIND:
                movement.setForeground(theming.status_color(MOVEMENT_KIND[row.movement]))
            self.cases.setItem(r, len(snaps) + 1, movement)

    def closeEvent(self, event: QCloseEvent) -> None:
        self.tasks.shutdown(timeout_s=5.0)
        super().closeEvent(event)

