"""The pieces a sweep's results are drawn with: metrics read from runs, a colour scale readable in
both palettes, the matrix and the QtCharts chart of a metric against the row setting (a line per
column for a parameter, groups of bars for models, template versions or variable sets).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape
from statistics import mean
from typing import Any

from PySide6.QtCharts import (
    QAbstractAxis,
    QBarCategoryAxis,
    QBarSeries,
    QBarSet,
    QChart,
    QChartView,
    QLineSeries,
    QScatterSeries,
    QValueAxis,
)
from PySide6.QtCore import QMargins, Qt
from PySide6.QtGui import QColor, QPainter, QPalette, QPen
from PySide6.QtWidgets import QHeaderView, QTableWidget, QTableWidgetItem, QWidget

from workbench.core.models import RunResult
from workbench.core.outcome import status_of
from workbench.ui import theming
from workbench.ui.run_text import format_cost, format_duration, output_rate


@dataclass(frozen=True)
class Metric:
    """A figure read from a finished run, with how to show it."""

    key: str
    label: str
    read: Callable[[RunResult], float | None]
    show: Callable[[float], str]
    unit: str = ""  # of the raw values, for the chart's axis

    @property
    def axis_title(self) -> str:
        return f"{self.label} ({self.unit})" if self.unit else self.label


def _share(value: float) -> str:
    return f"{value:.0%}"


def _no_run_value(_result: RunResult) -> float | None:
    return None


#: Figures of a whole cell rather than of one run (``core.sweep_cells``), read by the view:
#: its answers (coloured by score, else agreement), the repeats' agreement, the assertion score.
CELL_METRICS: tuple[Metric, ...] = (
    Metric("answer", "answers", _no_run_value, _share),
    Metric("agreement", "agreement of the repeats", _no_run_value, _share),
    Metric("score", "assertion score", _no_run_value, _share),
)

METRICS: tuple[Metric, ...] = (
    *CELL_METRICS,
    Metric("tokens_per_s", "tokens/s", output_rate, lambda v: f"{v:,.0f} tok/s"),
    Metric("total_s", "total time", lambda r: r.timings.total_s, format_duration, "s"),
    Metric("ttft_s", "time to first token", lambda r: r.timings.ttft_s, format_duration, "s"),
    Metric("output_tokens", "output tokens",
           lambda r: None if r.usage.output_tokens is None else float(r.usage.output_tokens),
           lambda v: f"{v:,.1f} tok" if v % 1 else f"{v:,.0f} tok"),
    Metric("input_tokens", "input tokens",
           lambda r: None if r.usage.input_tokens is None else float(r.usage.input_tokens),
           lambda v: f"{v:,.0f} tok"),
    Metric("output_chars", "answer length",
           lambda r: float(len(r.text)), lambda v: f"{v:,.0f} chars"),
    Metric("cost", "cost", lambda r: r.cost, lambda v: format_cost(v), "USD"),
)
METRIC_BY_KEY = {m.key: m for m in METRICS}


def metric_value(metric: Metric, results: Sequence[RunResult]) -> float | None:
    """The mean of the metric over a cell's successful runs (None when none has it)."""
    values = [v for r in results if status_of(r) == "ok"
              if (v := metric.read(r)) is not None]
    return mean(values) if values else None


# --- colour scale --------------------------------------------------------------------------------

#: (low, high) ends of the scale per theme: pale to the accent, both readable under their text.
SCALE = {False: ("#eaf1fe", "#1d4ed8"), True: ("#1c2738", "#7aa7f7")}


def scale_colour(fraction: float, dark: bool) -> QColor:
    low, high = (QColor(c) for c in SCALE[dark])
    f = min(1.0, max(0.0, fraction))
    return QColor.fromRgbF(
        low.redF() + (high.redF() - low.redF()) * f,
        low.greenF() + (high.greenF() - low.greenF()) * f,
        low.blueF() + (high.blueF() - low.blueF()) * f,
    )


def legend_html(low: str, high: str, dark: bool, steps: int = 6) -> str:
    """"low ▮▮▮▮▮▮ high": the scale's colours between the smallest and largest value."""
    swatches = "".join(
        f"<span style='background-color:{scale_colour(i / (steps - 1), dark).name()}'>"
        "&nbsp;&nbsp;&nbsp;</span>" for i in range(steps))
    return f"{escape(low)} {swatches} {escape(high)}"


def _luminance(colour: QColor) -> float:
    def channel(c: float) -> float:
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    return (0.2126 * channel(colour.redF()) + 0.7152 * channel(colour.greenF())
            + 0.0722 * channel(colour.blueF()))


def text_on(background: QColor) -> QColor:
    """Black or white, whichever contrasts more with ``background``: pure black and white, so
    even the middle of the scale (the worst case) keeps a 4.5:1 contrast."""
    lum = _luminance(background)
    return QColor("#000000") if (lum + 0.05) / 0.05 >= 1.05 / (lum + 0.05) else QColor("#ffffff")


def contrast(a: QColor, b: QColor) -> float:
    la, lb = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


# --- the matrix ----------------------------------------------------------------------------------


class SweepMatrix(QTableWidget):
    """Rows × columns of two swept settings; each cell shows the metric on its colour."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAccessibleName("Sweep matrix")
        self.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.setSelectionMode(QTableWidget.SelectionMode.SingleSelection)
        self.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        self.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() * 2 + 8)
        # a cell's lines (an answer, then its agreement and score) are cut with "…", never
        # wrapped: a wrapped answer would push the figures under it out of the cell
        self.setWordWrap(False)
        self.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.values: dict[tuple[int, int], float | None] = {}

    def set_axes(self, rows: Sequence[str], cols: Sequence[str], row_name: str = "",
                 col_name: str = "") -> None:
        """Header labels of the rows and columns; the axis names are their tooltips."""
        self.clear()
        self.values = {}
        self.setRowCount(len(rows))
        self.setColumnCount(len(cols))
        self.setVerticalHeaderLabels(list(rows))
        self.setHorizontalHeaderLabels([c or "all cells" for c in cols])
        for count, header, name in ((len(rows), self.verticalHeaderItem, row_name),
                                    (len(cols), self.horizontalHeaderItem, col_name)):
            for i in range(count):
                item = header(i)
                if item is not None and name:
                    item.setToolTip(name)

    def show_values(self, values: dict[tuple[int, int], float | None],
                    show: Callable[[float], str], pending: str = "…",
                    notes: dict[tuple[int, int], tuple[str, str]] | None = None,
                    texts: dict[tuple[int, int], tuple[str, str]] | None = None) -> None:
        """Paint every cell: its value on the scale between the smallest and largest value;
        its text (and tooltip) from ``texts`` when given there, else the value shown; a cell
        without either reads its note (text, tooltip: why it has none), else ``pending``."""
        self.values = dict(values)
        notes = notes or {}
        texts = texts or {}
        known = [v for v in values.values() if v is not None]
        low, high = (min(known), max(known)) if known else (0.0, 0.0)
        dark = theming.is_dark(self.palette())
        for row in range(self.rowCount()):
            for col in range(self.columnCount()):
                value = values.get((row, col))
                text, tip = notes.get((row, col), (pending, ""))
                if (row, col) in texts:
                    text, tip = texts[(row, col)]
                elif value is not None:
                    text = show(value)
                item = QTableWidgetItem(text)
                item.setToolTip(tip)
                item.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
                if value is not None:
                    fraction = (value - low) / (high - low) if high > low else 0.5
                    background = scale_colour(fraction, dark)
                    item.setBackground(background)
                    item.setForeground(text_on(background))
                self.setItem(row, col, item)


# --- the chart -----------------------------------------------------------------------------------

#: Series colours after the accent, chosen to stay apart in both themes.
SERIES = ("#e8590c", "#2f9e44", "#ae3ec9", "#0c8599", "#c2255c", "#5c940d")


class MetricChart(QChartView):
    """A metric against the row setting. Numbers (a parameter) get a value axis and one line,
    with its points, per column; categories (models, template versions, variable sets) get a
    group of bars per row, one bar per column (a cell without a value yet has no bar)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        self.chart_ = QChart()
        super().__init__(self.chart_, parent)
        self.setRenderHint(QPainter.RenderHint.Antialiasing)
        self.setAccessibleName("Metric chart")
        self.chart_.legend().setAlignment(Qt.AlignmentFlag.AlignBottom)
        self.chart_.setMargins(QMargins(4, 4, 4, 4))
        self.setMinimumSize(360, 240)
        self.series: list[QLineSeries] = []  # a numeric x axis: one line per column
        self.bars: list[QBarSet] = []  # a categorical one: one bar set per column
        # the axes live as long as the chart: series come and go, the axes are re-labelled
        self.x_axis, self.y_axis = QValueAxis(), QValueAxis()
        self.category_axis = QBarCategoryAxis()
        self.chart_.addAxis(self.y_axis, Qt.AlignmentFlag.AlignLeft)
        self._x: QAbstractAxis | None = None

    def _use_x(self, axis: QAbstractAxis) -> None:
        if self._x is axis:
            return
        if self._x is not None:
            self.chart_.removeAxis(self._x)
        self.chart_.addAxis(axis, Qt.AlignmentFlag.AlignBottom)
        self._x = axis

    def plot(self, x_name: str, xs: Sequence[Any], x_labels: Sequence[str],
             cols: Sequence[str], values: dict[tuple[int, int], float | None],
             metric: Metric) -> None:
        """``values[(row, col)]`` against the rows (raw values ``xs``, shown as ``x_labels``),
        one series per column named by ``cols`` ("" for a single unnamed column)."""
        chart = self.chart_
        chart.removeAllSeries()
        self.series, self.bars = [], []
        numbers = [_axis_number(x) for x in xs]
        numeric = bool(numbers) and all(n is not None for n in numbers)
        x_axis: QAbstractAxis = self.x_axis if numeric else self.category_axis
        self._use_x(x_axis)
        palette = self.palette()
        text = palette.color(QPalette.ColorRole.Text)
        grid = palette.color(QPalette.ColorRole.Mid)
        chart.setBackgroundBrush(palette.color(QPalette.ColorRole.Base))
        chart.setBackgroundRoundness(0)
        chart.setTitle(f"{metric.label} against {x_name}" if x_name else metric.label)
        chart.setTitleBrush(text)
        chart.legend().setLabelColor(text)
        chart.legend().setVisible(len(cols) > 1)
        for axis, title in ((x_axis, x_name), (self.y_axis, metric.axis_title)):
            axis.setTitleText(title)
            axis.setTitleBrush(text)
            axis.setLabelsColor(text)
            axis.setGridLineColor(grid)
            axis.setLinePenColor(grid)
        colours = [theming.accent().name(), *SERIES]
        names = [col or metric.label for col in cols]
        if numeric:
            known = self._lines([n or 0.0 for n in numbers], names, values, colours)
        else:
            known = self._bar_groups(list(x_labels), names, values, colours)
        if known and numeric:
            _round_ticks(self.y_axis, min(known), max(known))
        elif known:  # bars start at zero, with round ticks above the tallest
            _round_ticks(self.y_axis, min(0.0, min(known)), max(known))
        else:  # no value yet: no scale (the last plot's would read as this one's)
            _round_ticks(self.y_axis, 0.0, 1.0)

    def _lines(self, positions: list[float], names: list[str],
               values: dict[tuple[int, int], float | None], colours: list[str]) -> list[float]:
        chart, known = self.chart_, []
        for c, name in enumerate(names):
            line, dots = QLineSeries(), QScatterSeries()
            line.setName(name)
            colour = QColor(colours[c % len(colours)])
            line.setPen(QPen(colour, 2))
            dots.setColor(colour)
            dots.setBorderColor(colour)
            dots.setMarkerSize(8)
            for r, x in enumerate(positions):
                value = values.get((r, c))
                if value is not None:
                    line.append(x, value)
                    dots.append(x, value)
                    known.append(value)
            for series in (line, dots):
                chart.addSeries(series)
                series.attachAxis(self.x_axis)
                series.attachAxis(self.y_axis)
            chart.legend().markers(dots)[0].setVisible(False)
            self.series.append(line)
        if positions:
            _round_ticks(self.x_axis, min(positions), max(positions))
        return known

    def _bar_groups(self, labels: list[str], names: list[str],
                    values: dict[tuple[int, int], float | None],
                    colours: list[str]) -> list[float]:
        known = []
        bars = QBarSeries()
        for c, name in enumerate(names):
            bar_set = QBarSet(name)
            colour = QColor(colours[c % len(colours)])
            bar_set.setColor(colour)
            bar_set.setBorderColor(colour)
            for r in range(len(labels)):
                value = values.get((r, c))
                bar_set.append(0.0 if value is None else value)
                if value is not None:
                    known.append(value)
            bars.append(bar_set)
            self.bars.append(bar_set)
        self.chart_.addSeries(bars)
        self.category_axis.clear()
        self.category_axis.append(labels)
        bars.attachAxis(self.category_axis)
        bars.attachAxis(self.y_axis)
        return known


def _axis_number(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return float(value)
    return None


#: The steps of a readable axis, times a power of ten.
NICE_STEPS = (1.0, 2.0, 2.5, 5.0, 10.0)


def nice_ticks(low: float, high: float, most: int = 6) -> tuple[float, float, float]:
    """Round ticks covering ``low``..``high``: ``(first, last, step)``, the step 1, 2, 2.5 or 5
    times a power of ten, the ends multiples of it, at most ``most`` ticks (the classic nice
    numbers of a hand-drawn graph). Qt's even split of the data range read 0.13, 0.643, 1.16."""
    low, high = min(low, high), max(low, high)
    if high == low:  # one value: a range around it (from zero up for a zero)
        low, high = (low * 0.5, high * 1.5) if low > 0 else (
            (low * 1.5, high * 0.5) if low < 0 else (0.0, 1.0))
    rough = (high - low) / max(1, most - 1)
    exponent = math.floor(math.log10(rough))
    while True:
        for mantissa in NICE_STEPS:
            step = mantissa * 10.0**exponent
            if step < rough * (1 - 1e-9):
                continue
            first = math.floor(low / step + 1e-9) * step
            last = math.ceil(high / step - 1e-9) * step
            if round((last - first) / step) + 1 <= most:
                digits = max(0, 3 - exponent)  # rounding error off the ends: 0.30000000000000004
                return round(first, digits), round(last, digits), step
        exponent += 1


def step_decimals(step: float) -> int:
    """The decimals a tick label needs to show every multiple of ``step`` (0.25 → 2)."""
    for decimals in range(12):
        scaled = step * 10**decimals
        if abs(scaled - round(scaled)) < 1e-6 * max(1.0, scaled):
            return decimals
    return 12


def _round_ticks(axis: QValueAxis, low: float, high: float) -> None:
    """Put ``axis`` on the nice ticks covering ``low``..``high``, labelled to the step."""
    first, last, step = nice_ticks(low, high)
    axis.setRange(first, last)
    axis.setTickCount(round((last - first) / step) + 1)
    axis.setLabelFormat(f"%.{step_decimals(step)}f")
