"""The results half of the sweep view: the metric picked and its colour scale over the matrix of
the shown sweep's cells, the picked cell's answers under it and the chart beside it; until a
sweep is shown, what to do instead.

Apart from ``SweepView`` (the axes, the estimate, running) because it only draws what its
``SweepResults`` holds: which sweep that is, the view decides.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QSplitter,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from workbench.core.sweep_cells import CellSummary
from workbench.ui import theming
from workbench.ui.compare.sweep_chart import (
    METRIC_BY_KEY,
    METRICS,
    MetricChart,
    SweepMatrix,
    legend_html,
)
from workbench.ui.compare.sweep_layout import SweepLayout
from workbench.ui.compare.sweep_results import SweepResults

EMPTY_STATE = (
    "Choose what to sweep on the two axes, check the estimate, then Run sweep (Ctrl+Enter).\n"
    "The matrix and the chart of the results appear here."
)


class SweepPane(QWidget):
    """The matrix, chart and picked cell's answers of ``cells``; ``running`` says whether its
    sweep is still running (a cell without a run then waits, "…", instead of "not run")."""

    def __init__(self, running: Callable[[], bool], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.running = running
        self.cells = SweepResults()  # the sweep whose results are shown, by matrix cell
        self.metric_box = QComboBox(self)
        for metric in METRICS:
            self.metric_box.addItem(metric.label, metric.key)
        self.metric_box.setAccessibleName("Metric")
        self.metric_box.setToolTip("The figure the matrix colours and the chart plots")
        self.metric_box.currentIndexChanged.connect(self.redraw)
        self.matrix = SweepMatrix(self)
        self.matrix.currentCellChanged.connect(lambda row, col, *_: self.show_cell(row, col))
        self.detail = QPlainTextEdit(self)
        self.detail.setReadOnly(True)
        self.detail.setAccessibleName("The picked cell's answers")
        self.detail.setFont(theming.monospace_font())
        self.detail.setPlaceholderText("Click a cell to read its answers whole.")
        self.chart = MetricChart(self)
        self.legend = QLabel(self)
        self.legend.setAccessibleName("Colour scale")
        self.legend.setTextFormat(Qt.TextFormat.RichText)

        results_bar = QHBoxLayout()
        results_bar.addWidget(QLabel("Metric", self))
        results_bar.addWidget(self.metric_box)
        results_bar.addSpacing(8)
        results_bar.addWidget(self.legend, 1)
        left = QSplitter(Qt.Orientation.Vertical, self)
        left.addWidget(self.matrix)
        left.addWidget(self.detail)
        left.setChildrenCollapsible(False)
        left.setSizes([600, 400])
        splitter = QSplitter(Qt.Orientation.Horizontal, self)
        splitter.addWidget(left)
        splitter.addWidget(self.chart)
        splitter.setChildrenCollapsible(False)
        splitter.setStretchFactor(0, 1)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([1000, 1000])  # half each, whatever the table would like
        # Until a sweep has results, say what to do instead of showing an empty matrix and chart.
        self.empty_state = QLabel(EMPTY_STATE, self)
        self.empty_state.setAccessibleName("What to do")
        self.empty_state.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty_state.setWordWrap(True)
        self.empty_state.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        self.results_stack = QStackedWidget(self)
        self.results_stack.addWidget(self.empty_state)
        self.results_stack.addWidget(splitter)
        column = QVBoxLayout(self)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(8)
        column.addLayout(results_bar)
        column.addWidget(self.results_stack, 1)

    def show_grid(self, grid: SweepLayout) -> None:
        """Show the matrix of ``grid`` (the layout ``cells`` was just given) and draw it."""
        self.detail.clear()
        self.results_stack.setCurrentIndex(1)
        self.matrix.set_axes(grid.rows, grid.cols, grid.row_name, grid.col_name)
        self.redraw()

    def show_nothing(self) -> None:
        """No sweep: what to do instead of a matrix."""
        self.cells.clear()
        self.detail.clear()
        self.results_stack.setCurrentIndex(0)

    def current_metric_key(self) -> str:
        return str(self.metric_box.currentData())

    def summaries(self) -> dict[tuple[int, int], CellSummary]:
        """Each matrix cell's answers, agreement and assertion score."""
        return self.cells.summaries()

    def values(self) -> dict[tuple[int, int], float | None]:
        """The metric the metric box picks, per matrix cell (``SweepResults.values``)."""
        return self.cells.values(self.current_metric_key())

    def redraw(self) -> None:
        grid = self.cells.grid
        if grid is None:
            return
        metric = METRIC_BY_KEY[self.current_metric_key()]
        values = self.values()
        texts = self.cells.texts(metric.label, answers=metric.key == "answer",
                                 running=self.running())
        texts = {pos: text for pos, text in texts.items()
                 if values.get(pos) is None or metric.key == "answer"}
        if grid.cols == [""]:  # one column: it holds what the metric box picks
            self.matrix.setHorizontalHeaderLabels([metric.label])
        self.matrix.show_values(values, metric.show, notes=self.cells.notes(), texts=texts)
        self.show_cell(self.matrix.currentRow(), self.matrix.currentColumn())
        known = [v for v in values.values() if v is not None]
        if known:
            self.legend.setText(legend_html(metric.show(min(known)), metric.show(max(known)),
                                            theming.is_dark(self.palette())))
        else:  # no figure: no scale (the last sweep's would read as this one's)
            self.legend.clear()
        if metric.key == "answer":  # the chart plots what colours the answers, else length
            found = self.summaries().values()
            key = ("score" if any(v.score is not None for v in found) else
                   "agreement" if any(v.agreement is not None for v in found) else
                   "output_chars")
            metric, values = METRIC_BY_KEY[key], self.cells.values(key)
        self.chart.plot(grid.row_name, grid.row_values, grid.rows, grid.cols, values, metric)

    def show_cell(self, row: int, col: int) -> None:
        """The picked cell's answers, whole: each distinct one with how many runs gave it,
        then the score and why answers failed."""
        summary = self.summaries().get((row, col))
        grid = self.cells.grid
        if summary is None or grid is None:
            self.detail.clear()
            return
        name = " × ".join(t for t in (grid.rows[row], grid.cols[col]) if t)
        parts = [f"{name}: {summary.ended} run{'s' if summary.ended != 1 else ''}"
                 + (f" · {summary.label()}" if summary.label() else "")]
        for group in summary.groups:
            parts.append(f"── ×{group.count} ──\n{group.text}")
        parts += [f"not passed: {reason}" for reason in summary.reasons]
        self.detail.setPlainText("\n\n".join(parts))
