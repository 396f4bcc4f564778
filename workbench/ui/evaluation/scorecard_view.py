"""The scorecard of an evaluation: criteria badges, a per-variant table with per-assertion rows
and 95% intervals, bars per variant and the score distribution, the grid of cells (row × variant)
and a drill-down into any cell: its output, the word diff against the expected output and every
assertion's verdict with its reason.

The view shows a ``services.scorecard.Scorecard``; the drill-down asks a ``details`` callable
(``Evaluation.detail``) for the one cell opened, so outputs are read only when a person looks.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence

from PySide6.QtCharts import (
    QBarCategoryAxis,
    QBarSeries,
    QBarSet,
    QChart,
    QChartView,
    QValueAxis,
)
from PySide6.QtCore import QMargins, Qt, Signal
from PySide6.QtGui import QColor, QFontMetrics, QPainter, QPalette, QResizeEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPlainTextEdit,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from workbench.core.wording import one_line, plural
from workbench.services.evaluation import CellDetail
from workbench.services.scorecard import (
    CellResult,
    GroupStats,
    RegressionReport,
    Scorecard,
)
from workbench.ui import theming
from workbench.ui.compare.diff_view import DiffView
from workbench.ui.evaluation.badges import CriteriaBar, RepeatsBar

Details = Callable[[CellResult], CellDetail]
MARKS = {"pass": "✓", "fail": "✗", "error": "⚠"}
KIND = {"pass": "ok", "fail": "error", "error": "warning"}
BINS = 10
#: Assertions whose value is text the output should hold: a diff against it shows what is off.
TEXT_CHECKS = ("equals", "contains", "icontains", "starts-with")


def pct(value: float | None) -> str:
    return "–" if value is None else f"{value:.0%}"


def rate_text(stats: GroupStats) -> str:
    cases = stats.cases
    if cases.rate is None or cases.ci is None:
        return "–"
    return f"{pct(cases.rate)}  [{pct(cases.ci[0])}–{pct(cases.ci[1])}]"


def score_text(stats: GroupStats) -> str:
    scores = stats.scores
    if scores.mean is None or scores.ci is None:
        return "–"
    if scores.n < 2:
        return f"{scores.mean:.2f}"
    return f"{scores.mean:.2f}  [{scores.ci[0]:.2f}–{scores.ci[1]:.2f}]"


def chart_view(title: str) -> QChartView:
    chart = QChart()
    chart.setTitle(title)
    chart.setMargins(QMargins(4, 4, 4, 4))
    chart.legend().setAlignment(Qt.AlignmentFlag.AlignBottom)
    view = QChartView(chart)
    view.setRenderHint(QPainter.RenderHint.Antialiasing)
    view.setMinimumHeight(170)
    return view


def style_chart(chart: QChart, palette: QPalette) -> None:
    """Colours from the widget palette, so the charts read in both themes."""
    text = palette.color(QPalette.ColorRole.WindowText)
    chart.setBackgroundBrush(palette.color(QPalette.ColorRole.Base))
    chart.setTitleBrush(text)
    chart.legend().setLabelColor(text)
    for axis in chart.axes():
        axis.setLabelsColor(text)
        axis.setTitleBrush(text)
        axis.setGridLineColor(palette.color(QPalette.ColorRole.Mid))


class ScorecardView(QWidget):
    """Criteria, summary table, charts and the cell grid; a clicked cell opens its drill-down."""

    cellOpened = Signal(int, int, int)  # variant, test, repeat

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.card: Scorecard | None = None
        self._details: Details | None = None
        self._row_keys: list[tuple[int, int]] = []  # grid row -> (test, repeat)
        self._labels: list[str] = []  # the variants' names, fitted to the charts on resize

        self.title = QLabel(self)
        self.title.setAccessibleName("Evaluation summary")
        self.title.setWordWrap(True)
        self.errors = QLabel(self)
        self.errors.setAccessibleName("Why cells failed")
        self.errors.setWordWrap(True)
        self.errors.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.errors.setVisible(False)
        self.regression = QLabel(self)
        self.regression.setAccessibleName("Regression check")
        self.regression.setVisible(False)
        self.criteria = CriteriaBar(self)
        self.repeats = RepeatsBar(self)

        self.summary = QTreeWidget(self)
        self.summary.setAccessibleName("Scorecard per variant and assertion")
        self.summary.setHeaderLabels(
            [
                "Variant / assertion",
                "Pass rate [95% CI]",
                "Mean score [95% CI]",
                "Passed",
                "Failed",
                "Errors",
            ]
        )
        self.summary.setRootIsDecorated(True)
        self.summary.setUniformRowHeights(True)
        header = self.summary.header()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for column in range(1, 6):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)

        self.bars = chart_view("Pass rate per variant")
        self.histogram = chart_view("Score distribution")
        charts = QWidget(self)
        charts_layout = QHBoxLayout(charts)
        charts_layout.setContentsMargins(0, 0, 0, 0)
        charts_layout.addWidget(self.bars, 1)
        charts_layout.addWidget(self.histogram, 1)

        self.grid = QTableWidget(self)
        self.grid.setAccessibleName("Cells: dataset rows by variant")
        self.grid.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.grid.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        columns = self.grid.horizontalHeader()
        columns.setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        # Long variant labels are cut in the middle: their start (the prompt) and their end
        # (the model: ' · openai:o4-mini') tell them apart; the whole label is in a tooltip.
        columns.setDefaultAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        columns.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.grid.verticalHeader().setDefaultSectionSize(24)
        self.grid.currentCellChanged.connect(lambda row, col, *_: self._open(row, col))

        self.drill = DrillDown(self)

        top = QWidget(self)
        top_layout = QVBoxLayout(top)
        top_layout.setContentsMargins(0, 0, 0, 0)
        top_layout.addWidget(self.summary, 3)  # a variant and its assertions stay readable
        top_layout.addWidget(charts, 2)
        bottom = QSplitter(Qt.Orientation.Horizontal, self)
        bottom.addWidget(self.grid)
        bottom.addWidget(self.drill)
        bottom.setStretchFactor(0, 2)
        bottom.setStretchFactor(1, 3)
        bottom.setSizes([480, 720])  # the grid wide enough for a verdict, its score and an arrow
        split = QSplitter(Qt.Orientation.Vertical, self)
        split.addWidget(top)
        split.addWidget(bottom)
        split.setChildrenCollapsible(False)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 8)
        layout.setSpacing(8)
        layout.addWidget(self.title)
        layout.addWidget(self.errors)
        layout.addWidget(self.regression)
        layout.addWidget(self.criteria)
        layout.addWidget(self.repeats)
        layout.addWidget(split, 1)

    # --- showing a scorecard -------------------------------------------------------------------

    def set_scorecard(
        self,
        card: Scorecard,
        *,
        rows: Sequence[str],
        repeats: int = 1,
        details: Details,
        errors: Sequence[tuple[str, int]] = (),
    ) -> None:
        """Show ``card``; ``rows`` names the dataset rows (the grid's row headers), ``errors``
        says why cells errored (``eval_reports.error_reasons``)."""
        self.card = card
        self._details = details
        total = sum(v.overall.cases.total for v in card.variants)
        errored = sum(v.overall.cases.errors for v in card.variants)
        state = (
            "criteria met"
            if card.criteria and card.met
            else ("criteria NOT met" if card.criteria else "no criteria")
        )
        self.title.setText(
            f"<b>{plural(len(rows), 'row')} × {plural(len(card.variants), 'variant')}</b> · "
            f"{plural(total, 'cell')} judged or errored · {plural(errored, 'error')} (counted "
            f"apart from failures) · {state}"
        )
        self.criteria.set_results(card.criteria)
        self._show_errors(errors)
        self._fill_summary(card)
        self._fill_charts(card)
        self._fill_grid(card, rows, repeats)
        self.repeats.set_card(card, rows, repeats)
        self.regression.setVisible(False)
        self.drill.clear()

    def _show_errors(self, errors: Sequence[tuple[str, int]]) -> None:
        """One line per distinct reason, so '⚠' in the cells is never all a person sees."""
        color = theming.status_color("warning").name()
        lines = [
            f"⚠ {count} {'cell' if count == 1 else 'cells'} failed: {html.escape(reason)}"
            for reason, count in errors
        ]
        self.errors.setText(f"<span style='color:{color}'>{'<br>'.join(lines)}</span>")
        self.errors.setVisible(bool(lines))

    def show_regression(self, report: RegressionReport, baseline: str) -> None:
        """Mark each cell that got better (▲) or worse (▼) than in ``baseline``."""
        worse = theming.status_color("error").name()
        better = theming.status_color("ok").name()
        self.regression.setText(
            f"Against {baseline}: <span style='color:{better}'>▲ {len(report.improved)} better"
            f"</span> · <span style='color:{worse}'>▼ {len(report.regressed)} worse</span>"
            f" · {len(report.unchanged)} unchanged"
        )
        self.regression.setVisible(True)
        rows = {key: row for row, key in enumerate(self._row_keys)}
        for change in (*report.improved, *report.regressed):
            v, t, r = change.key
            item = self.grid.item(rows.get((t, r), -1), v)
            if item is None or change.before is None:
                continue
            arrow = "▲" if change.change == "improved" else "▼"
            item.setText(f"{arrow} {item.text()}")
            was = _cell_text(change.before)
            item.setToolTip(f"{item.toolTip()}\nbefore ({baseline}): {was}")

    def _fill_summary(self, card: Scorecard) -> None:
        self.summary.clear()
        for v in card.variants:
            item = self._summary_item(v.label, v.overall)
            font = item.font(0)
            font.setBold(True)
            item.setFont(0, font)
            for name, group in v.assertions.items():
                item.addChild(self._summary_item(name, group))
            self.summary.addTopLevelItem(item)
            item.setExpanded(True)

    @staticmethod
    def _summary_item(name: str, stats: GroupStats) -> QTreeWidgetItem:
        cases = stats.cases
        item = QTreeWidgetItem(
            [
                name,
                rate_text(stats),
                score_text(stats),
                str(cases.passed),
                str(cases.failed),
                str(cases.errors),
            ]
        )
        for column in range(1, 6):
            item.setTextAlignment(
                column, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
            )
        if cases.errors:
            item.setForeground(5, theming.status_color("warning"))
        return item

    def _fill_charts(self, card: Scorecard) -> None:
        bars = self.bars.chart()
        bars.removeAllSeries()
        for axis in bars.axes():
            bars.removeAxis(axis)
        rates = QBarSet("pass rate (%)")
        rates.setColor(theming.accent())
        rates.append([100 * (v.overall.cases.rate or 0.0) for v in card.variants])
        series = QBarSeries()
        series.append(rates)
        series.setLabelsVisible(True)
        series.setLabelsFormat("@value %")
        bars.addSeries(series)
        self._labels = [v.label for v in card.variants]
        full = [
            v.label + (f" ({plural(v.overall.cases.errors, 'error')})"
                       if v.overall.cases.errors else "")
            for v in card.variants
        ]
        series.hovered.connect(lambda status, index, _set: self.bars.setToolTip(
            full[index] if status and index < len(full) else ""))
        self._axes(bars, series, [str(i) for i in range(len(full))], 100, "%")
        bars.legend().setVisible(False)

        hist = self.histogram.chart()
        hist.removeAllSeries()
        for axis in hist.axes():
            hist.removeAxis(axis)
        series = QBarSeries()
        top = 1
        for i, v in enumerate(card.variants):
            counts = v.overall.scores.histogram(BINS)
            top = max(top, *counts)
            bar_set = QBarSet(v.label)
            bar_set.setColor(series_color(i))
            bar_set.append([float(c) for c in counts])
            series.append(bar_set)
        hist.addSeries(series)
        # A bar per tenth, labelled by its lower edge, and one for exactly 1.00 (a perfect score
        # stood over "0.9" when it shared the last tenth).
        edges = [f"{b / BINS:.1f}" for b in range(BINS + 1)]
        self._axes(hist, series, edges, top, "cells")
        style_chart(bars, self.palette())
        style_chart(hist, self.palette())
        self._fit_chart_labels()

    def _fit_chart_labels(self) -> None:
        """Name each variant's bar and legend entry in the room it has, cut in the middle
        (the prompt's start and the model tell variants apart): an axis shows a label too long
        for its bar as "…" and merges equal ones."""
        count = len(self._labels)
        if not count:
            return
        for axis in self.bars.chart().axes(Qt.Orientation.Horizontal):
            if not isinstance(axis, QBarCategoryAxis):
                continue
            room = max(60, (self.bars.width() - 80) // count * 3 // 5)  # Qt keeps a margin
            names = _distinct(self._labels, QFontMetrics(axis.labelsFont()), room)
            if names != axis.categories():
                axis.setCategories(names)
        legend = self.histogram.chart().legend()
        room = max(60, (self.histogram.width() - 40) // count - 30)
        names = _distinct(self._labels, QFontMetrics(legend.font()), room)
        for marker, name in zip(legend.markers(), names, strict=False):
            marker.setLabel(name)

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._fit_chart_labels()

    @staticmethod
    def _axes(
        chart: QChart, series: QBarSeries, categories: list[str], top: float, unit: str
    ) -> None:
        x = QBarCategoryAxis()
        x.append(categories)
        y = QValueAxis()
        y.setRange(0, top)
        y.setLabelFormat("%d")
        if top <= 5:  # whole numbers only: one tick per count
            y.setTickCount(int(top) + 1)
        else:
            y.applyNiceNumbers()
        y.setTitleText(unit)
        chart.addAxis(x, Qt.AlignmentFlag.AlignBottom)
        chart.addAxis(y, Qt.AlignmentFlag.AlignLeft)
        series.attachAxis(x)
        series.attachAxis(y)

    def _fill_grid(self, card: Scorecard, rows: Sequence[str], repeats: int) -> None:
        self._row_keys = [(t, r) for t in range(len(rows)) for r in range(repeats)]
        self.grid.blockSignals(True)
        self.grid.clear()
        self.grid.setRowCount(len(self._row_keys))
        self.grid.setColumnCount(len(card.variants))
        for v, variant in enumerate(card.variants):
            header = QTableWidgetItem(variant.label)
            header.setToolTip(variant.label)
            self.grid.setHorizontalHeaderItem(v, header)
        self.grid.setVerticalHeaderLabels(
            [
                f"{t + 1}{f'.{r + 1}' if repeats > 1 else ''} {one_line(rows[t], 28)}"
                for t, r in self._row_keys
            ]
        )
        for row, (t, r) in enumerate(self._row_keys):
            for v in range(len(card.variants)):
                cell = card.cells.get((v, t, r))
                item = QTableWidgetItem(_cell_text(cell))
                item.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
                if cell is not None:
                    item.setForeground(theming.status_color(KIND[cell.status]))  # type: ignore[arg-type]
                    item.setToolTip(f"{cell.status}; click to see the output and the reasons")
                self.grid.setItem(row, v, item)
        self.grid.blockSignals(False)

    # --- drill-down ------------------------------------------------------------------------------

    def open_cell(self, variant: int, test: int, repeat: int = 0) -> None:
        """Select a cell in the grid (and so open it), as a click does."""
        row = self._row_keys.index((test, repeat))
        self.grid.setCurrentCell(row, variant)

    def _open(self, row: int, column: int) -> None:
        if self.card is None or self._details is None or not 0 <= row < len(self._row_keys):
            return
        test, repeat = self._row_keys[row]
        cell = self.card.cells.get((column, test, repeat))
        if cell is None:
            self.drill.show_missing(self.card.variants[column].label, test)
            return
        self.drill.show_detail(self._details(cell), self.card.variants[column].label)
        self.cellOpened.emit(column, test, repeat)


class DrillDown(QWidget):
    """One cell: its values, the output, the diff against the expected output, the verdicts."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.heading = QLabel("Click a cell to see its output, the diff and the reasons", self)
        self.heading.setWordWrap(True)
        self.heading.setAccessibleName("Drill-down heading")
        self.output = QPlainTextEdit(self)
        self.output.setReadOnly(True)
        self.output.setFont(theming.monospace_font())
        self.output.setAccessibleName("Output")
        self.output.setFrameShape(QFrame.Shape.NoFrame)
        self.diff = DiffView(self)
        self.reasons = QTreeWidget(self)
        self.reasons.setAccessibleName("Assertions and reasons")
        self.reasons.setHeaderLabels(["Assertion", "Verdict", "Score", "Reason"])
        self.reasons.setRootIsDecorated(False)
        self.reasons.setWordWrap(True)
        header = self.reasons.header()
        header.setStretchLastSection(True)
        for column in range(3):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        self.tabs = QTabWidget(self)
        self.tabs.setDocumentMode(True)
        self.tabs.addTab(self.output, "Output")
        self.tabs.addTab(self.diff, "Diff vs expected")
        # A conversation's or a thread's messages, shown as a tab only for multi-turn cells.
        self.transcript = QPlainTextEdit(self)
        self.transcript.setReadOnly(True)
        self.transcript.setAccessibleName("Transcript")
        self.transcript.setFrameShape(QFrame.Shape.NoFrame)
        # Hidden until it is a tab: a child outside the layout is drawn at (0, 0), a white box
        # over the start of the heading.
        self.transcript.hide()
        split = QSplitter(Qt.Orientation.Vertical, self)
        split.addWidget(self.tabs)
        split.addWidget(self.reasons)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        layout.addWidget(self.heading)
        layout.addWidget(split, 1)
        self.detail: CellDetail | None = None

    def clear(self) -> None:
        self.detail = None
        self.heading.setText("Click a cell to see its output, the diff and the reasons")
        self.output.clear()
        self.reasons.clear()
        self.diff.set_sources([], [])
        self._show_transcript("")

    def show_missing(self, variant: str, test: int) -> None:
        self.clear()
        self.heading.setText(f"Row {test + 1} · {variant}: not run (cancelled or interrupted)")

    def show_detail(self, detail: CellDetail, variant: str) -> None:
        self.detail = detail
        cell = detail.cell
        values = ", ".join(f"{k} = {one_line(v, 40)}" for k, v in detail.variables.items())
        score = "" if cell.score is None else f", score {cell.score:.2f}"
        self.heading.setText(
            f"<b>Row {cell.test + 1} · {variant}</b> · {MARKS[cell.status]} {cell.status}{score}"
            f"<br>{values}"
        )
        self.output.setPlainText(
            detail.output
            if not detail.error
            else f"{detail.output}\n\n[backend error] {detail.error}".strip()
        )
        self._show_transcript(
            "\n\n".join(f"── {m.role} ──\n{m.content}" for m in detail.transcript)
        )
        expected, label = (
            (detail.expected, "expected") if detail.expected is not None else _asserted(detail)
        )
        if expected is None:
            self.diff.set_sources(["(no expected output)", "output"], ["", detail.output])
        else:
            self.diff.set_sources([label, "output"], [expected, detail.output])
        self.reasons.clear()
        for spec, outcome in detail.outcomes:
            item = QTreeWidgetItem(
                [
                    outcome.type + (f" ({spec.metric})" if spec.metric else ""),
                    f"{MARKS[outcome.status]} {outcome.status}",
                    "" if outcome.score is None else f"{outcome.score:.2f}",
                    outcome.reason,
                ]
            )
            item.setForeground(1, theming.status_color(KIND[outcome.status]))  # type: ignore[arg-type]
            item.setToolTip(3, outcome.reason)
            self.reasons.addTopLevelItem(item)


    def _show_transcript(self, text: str) -> None:
        self.transcript.setPlainText(text)
        index = self.tabs.indexOf(self.transcript)
        if text and index < 0:
            self.tabs.addTab(self.transcript, "Transcript")
        elif not text and index >= 0:
            self.tabs.removeTab(index)


def _asserted(detail: CellDetail) -> tuple[str | None, str]:
    """Without an expected output (promptfoo tests have only assertions), the text the first
    assertion that names one asks for, and which assertion: the diff still shows what was
    wanted."""
    for spec, _outcome in detail.outcomes:
        if spec.type in TEXT_CHECKS and not spec.negate and isinstance(spec.value, str):
            return spec.value, f"expected ({spec.type})"
    return None, ""


def _cell_text(cell: CellResult | None) -> str:
    if cell is None:
        return "–"
    score = "" if cell.score is None else f" {cell.score:.2f}"
    return f"{MARKS[cell.status]}{score}"


def _distinct(labels: Sequence[str], metrics: QFontMetrics, room: int) -> list[str]:
    """``labels`` cut in the middle to ``room`` pixels, numbered when two would read the same
    (an axis would merge them)."""
    cut = [metrics.elidedText(" ".join(label.split()), Qt.TextElideMode.ElideMiddle, room)
           for label in labels]
    if len(set(cut)) < len(cut):
        cut = [f"{i + 1}. " + metrics.elidedText(" ".join(label.split()),
                                                Qt.TextElideMode.ElideMiddle, room - 20)
               for i, label in enumerate(labels)]
    return cut




def series_color(index: int) -> QColor:
    """The accent for the first variant, then hues spaced around the wheel."""
    if index == 0:
        return theming.accent()
    base = theming.accent()
    return QColor.fromHsv((base.hue() + 67 * index) % 360, base.saturation(), base.value())
