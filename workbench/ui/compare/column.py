"""One column of the compare view: a variant's header, its live output, its metrics and ratings.

The output is the app's ``OutputView`` in a compact form (plain monospace text, the status line,
copy and cancel), so a column streams with the same coalesced, frame-budgeted painting as the
editor's output. Figures sit in a strip of their own under the text, right-aligned with units,
because eight columns side by side have no room for them on one line.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtGui import QFont, QPalette
from PySide6.QtWidgets import (
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from workbench.core.experiments import Variant
from workbench.core.models import RunResult
from workbench.storage.repositories import Rating
from workbench.ui import theming
from workbench.ui.compare.rating import RatingBar
from workbench.ui.run_text import format_cost, format_duration, format_rate, output_rate
from workbench.ui.widgets.figure_labels import ElidedLabel, MetricLabel
from workbench.ui.widgets.output_view import OutputView
from workbench.ui.workers import ChunkBatch, RunWorker

#: Narrowest a column gets: eight fit side by side in a 1366-px-wide window.
MIN_WIDTH = 150
#: How often the figures of a running column are refreshed (ms).
METRICS_MS = 200


@dataclass
class ColumnRun:
    """One run of a column (one repeat): its worker while it runs, its result and stored id."""

    repeat: int
    worker: RunWorker | None = None
    result: RunResult | None = None
    run_id: str | None = None
    last_batch: ChunkBatch | None = None
    started_at: float = 0.0

    @property
    def running(self) -> bool:
        return self.result is None and self.worker is not None


class MetricsStrip(QWidget):
    """TTFT, total time, tok/s, input/output tokens, cost and finish reason; a local model's
    load time on a line of its own, because it is paid once, not per answer."""

    ROWS = (
        ("ttft", "TTFT", "Time to first token: from sending the request to the first text"),
        ("total", "Total", "Time from sending the request to the end of the answer"),
        ("rate", "Speed", "Output tokens per second after the first token"),
        ("tokens", "In / out", "Prompt tokens / answer tokens"),
        ("cost", "Cost", "What the run cost at list price (– when unknown or free)"),
        ("finish", "Finish", "Why the answer ended: stop (the model ended it), length (max "
         "tokens), error or cancelled"),
        ("load", "Model load", "Loading the model before this run; paid once, not per answer"),
    )

    def __init__(self, parent: QWidget | None = None, *, currency: str = "USD") -> None:
        super().__init__(parent)
        self.currency = currency
        grid = QGridLayout(self)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.setHorizontalSpacing(8)
        grid.setVerticalSpacing(0)
        self.values: dict[str, MetricLabel] = {}
        self.names: dict[str, QLabel] = {}
        for row, (key, name, tip) in enumerate(self.ROWS):
            label = QLabel(name, self)
            label.setToolTip(tip)
            value = MetricLabel("", self)
            value.setAccessibleName(name)
            value.setToolTip(tip)
            grid.addWidget(label, row, 0)
            grid.addWidget(value, row, 1, Qt.AlignmentFlag.AlignRight)
            self.names[key], self.values[key] = label, value
        grid.setColumnStretch(1, 1)
        self._recolor()
        self.clear()

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.PaletteChange:
            self._recolor()
        super().changeEvent(event)

    def _recolor(self) -> None:
        for label in self.names.values():
            palette = label.palette()
            palette.setColor(QPalette.ColorRole.WindowText, theming.status_color("muted"))
            label.setPalette(palette)

    def text(self, key: str) -> str:
        return self.values[key].text()

    def clear(self) -> None:
        for value in self.values.values():
            value.setText("–")
        self._show_load(None)

    def _show_load(self, load_s: float | None) -> None:
        visible = load_s is not None
        self.names["load"].setVisible(visible)
        self.values["load"].setVisible(visible)
        if visible:
            self.values["load"].setText(format_duration(load_s))

    def show_live(self, batch: ChunkBatch | None, elapsed_s: float) -> None:
        """Figures of a run still streaming: measured in the worker, tokens ≈ text events."""
        self.values["total"].setText(format_duration(elapsed_s))
        if batch is None:
            return
        self.values["ttft"].setText(format_duration(batch.ttft_s))
        self.values["rate"].setText(format_rate(batch.deltas_per_s, estimate=True))
        self.values["tokens"].setText(f"– / ≈ {batch.total_deltas:,}")

    def show_result(self, result: RunResult) -> None:
        timings, usage = result.timings, result.usage
        self.values["ttft"].setText(format_duration(timings.ttft_s))
        self.values["total"].setText(format_duration(timings.total_s))
        self.values["rate"].setText(format_rate(output_rate(result)))
        tokens_in = f"{usage.input_tokens:,}" if usage.input_tokens is not None else "–"
        tokens_out = f"{usage.output_tokens:,}" if usage.output_tokens is not None else "–"
        self.values["tokens"].setText(f"{tokens_in} / {tokens_out} tok")
        self.values["cost"].setText(format_cost(result.cost, self.currency) or "–")
        self.values["finish"].setText(result.finish_reason)
        self._show_load(timings.load_s or None)  # 0: the model was already loaded


class CompareColumn(QWidget):
    """A variant's column. The view owns the runs; the column shows them."""

    removeRequested = Signal()
    cancelRequested = Signal()
    ratingGiven = Signal(object, object, object, object)  # run_id, thumbs, stars, comment
    shownRunChanged = Signal()
    repeatsChanged = Signal()

    def __init__(self, variant: Variant, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.variant = variant
        self.runs: list[ColumnRun] = []
        self.shown: ColumnRun | None = None  # the run whose text and figures are on screen
        # Width comes from the view alone (equal shares, at least MIN_WIDTH), never from the
        # content: a figure growing by a digit must not re-wrap eight streaming texts.
        self.setMinimumWidth(MIN_WIDTH)
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Expanding)

        self.badge = QLabel(self)
        self.badge.setAccessibleName("Column letter")
        bold = QFont(self.font())
        bold.setBold(True)
        self.badge.setFont(bold)
        self.title = ElidedLabel(self)
        self.title.setAccessibleName("What this column changes")
        self.title.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.remove_button = QToolButton(self)
        self.remove_button.setAutoRaise(True)
        self.remove_button.setToolTip("Remove this column")
        self.remove_button.setAccessibleName("Remove column")
        self.remove_button.clicked.connect(self.removeRequested)
        head = QHBoxLayout()
        head.setContentsMargins(4, 0, 0, 0)
        head.setSpacing(4)
        head.addWidget(self.badge)
        head.addWidget(self.title, 1)
        head.addWidget(self.remove_button)

        self.output = OutputView(self)
        self.output.set_mode("plain")
        for hidden in (self.output.ttft_label, self.output.rate_label, self.output.tokens_label,
                       self.output.total_label, self.output.cost_label,
                       self.output.markdown_button, self.output.plain_button,
                       self.output.rerun_button):
            hidden.hide()
        self.output.cancelRequested.connect(self.cancelRequested)

        self.repeats = QListWidget(self)
        self.repeats.setAccessibleName("Distinct answers of the repeats")
        self.repeats.setToolTip(
            "Identical answers collapsed with their count; click one to read it")
        self.repeats.setFrameShape(QFrame.Shape.NoFrame)
        self.repeats.setMaximumHeight(self.fontMetrics().height() * 5 + 8)
        self.repeats.itemClicked.connect(self._repeat_clicked)
        self.agreement = QLabel(self)
        self.agreement.setAccessibleName("Agreement of the repeats")
        self.agreement.setWordWrap(True)
        for widget in (self.repeats, self.agreement):
            widget.hide()

        self.metrics = MetricsStrip(self)
        self.rating = RatingBar(self)
        self.rating.rated.connect(self._rated)
        self.rating.setEnabled(False)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(8)
        layout.addLayout(head)
        layout.addWidget(self.output, 1)
        layout.addWidget(self.agreement)
        layout.addWidget(self.repeats)
        layout.addWidget(self.metrics)
        layout.addWidget(self.rating)

        self.blind = False
        self.output.status.installEventFilter(self)
        self._clock = QTimer(self)
        self._clock.setInterval(METRICS_MS)
        self._clock.timeout.connect(self._tick)
        self._refresh_icons()

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.PaletteChange:
            self._refresh_icons()
        super().changeEvent(event)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if self.blind and watched is self.output.status and event.type() == QEvent.Type.ToolTip:
            return True  # "backend · model" would reveal the column
        return super().eventFilter(watched, event)

    def _refresh_icons(self) -> None:
        self.remove_button.setIcon(theming.icon("remove"))
        palette = self.badge.palette()
        palette.setColor(QPalette.ColorRole.WindowText, theming.accent())
        self.badge.setPalette(palette)

    # --- naming -------------------------------------------------------------------------------

    def set_header(self, badge: str, title: str, tooltip: str = "") -> None:
        self.badge.setText(badge)
        self.title.setText(title)
        self.title.setToolTip(tooltip or title)

    def set_blind(self, blind: bool) -> None:
        """Hide what could give the variant away: its header, model figures and cost, and
        the status line's tooltip (it names the backend and model)."""
        self.blind = blind
        self.title.setVisible(not blind)
        self.metrics.setVisible(not blind)
        self.remove_button.setVisible(not blind)

    # --- runs ---------------------------------------------------------------------------------

    @property
    def busy(self) -> bool:
        return any(run.running for run in self.runs)

    def begin(self, runs: list[ColumnRun]) -> None:
        """New runs (one per repeat) were submitted; follow the first one live."""
        self.runs = runs
        self.shown = None
        self.metrics.clear()
        self.repeats.clear()
        self.repeats.setVisible(len(runs) > 1)
        self.agreement.setVisible(len(runs) > 1)
        self.agreement.setText(f"0 of {len(runs)} repeats done" if len(runs) > 1 else "")
        self.rating.show_rating(None)
        self.rating.setEnabled(False)
        for run in runs:
            assert run.worker is not None
            run.worker.signals.started.connect(lambda _sent, r=run: self._started(r))
            run.worker.signals.chunk.connect(lambda batch, r=run: self._chunk(r, batch))
            run.worker.signals.ended.connect(lambda result, r=run: self._ended(r, result))
        self._follow(runs[0])
        self._clock.start()

    def _follow(self, run: ColumnRun) -> None:
        assert run.worker is not None
        self.shown = run
        self.output.attach(run.worker)
        self.metrics.clear()

    def _started(self, run: ColumnRun) -> None:
        run.started_at = time.perf_counter()
        if self.output.state not in ("running", "streaming", "cancelling") and run.running:
            self._follow(run)

    def _chunk(self, run: ColumnRun, batch: ChunkBatch) -> None:
        run.last_batch = batch

    def _tick(self) -> None:
        run = self.shown
        if run is not None and run.running and run.started_at:  # not while queued
            self.metrics.show_live(run.last_batch, time.perf_counter() - run.started_at)

    def _ended(self, run: ColumnRun, result: RunResult) -> None:
        run.result = result
        run.worker = None
        if run is self.shown:
            self._show(run)
        if not self.busy:
            self._clock.stop()
        self.refresh_repeats()

    def show_runs(self, runs: list[ColumnRun]) -> None:
        """Show finished runs (a reopened comparison)."""
        self.runs = runs
        self.repeats.setVisible(len(runs) > 1)
        self.agreement.setVisible(len(runs) > 1)
        if runs:
            self._show(runs[0])
        self.refresh_repeats()

    def _show(self, run: ColumnRun) -> None:
        self.shown = run
        if run.result is None:
            return
        if self.output.text() != run.result.text or self.output.state in ("idle", "running"):
            self.output.show_result(run.result)
        self.metrics.show_result(run.result)
        self.rating.setEnabled(run.run_id is not None)
        self.rating.setToolTip("" if run.run_id is not None
                               else "Runs are rated once they are saved in the history")
        self.shownRunChanged.emit()

    def show_rating(self, rating: Rating | None) -> None:
        self.rating.show_rating(rating)

    def _rated(self, thumbs: int | None, stars: int | None, comment: str | None) -> None:
        if self.shown is not None and self.shown.run_id is not None:
            self.ratingGiven.emit(self.shown.run_id, thumbs, stars, comment)

    def cancel(self) -> None:
        for run in self.runs:
            if run.worker is not None:
                run.worker.cancel()
        if self.output.state in ("running", "streaming"):
            self.output.cancel()

    # --- repeats ------------------------------------------------------------------------------

    def refresh_repeats(self) -> None:
        """Ask the view, which computes the stability figures, to call ``show_groups``."""
        if len(self.runs) > 1:
            self.repeatsChanged.emit()

    def show_groups(self, groups: list[tuple[int, str, int]], agreement: str) -> None:
        """``groups``: (count, text, index of a run with that text), most common first."""
        self.repeats.clear()
        for count, text, index in groups:
            line = " ".join(text.split()) or "(empty)"
            item = QListWidgetItem(f"×{count}  {line}")
            item.setData(Qt.ItemDataRole.UserRole, index)
            item.setToolTip(text[:2000])
            self.repeats.addItem(item)
        self.agreement.setText(agreement)

    def _repeat_clicked(self, item: QListWidgetItem) -> None:
        index = item.data(Qt.ItemDataRole.UserRole)
        if isinstance(index, int) and 0 <= index < len(self.runs):
            run = self.runs[index]
            if run.result is not None:
                self.output.show_result(run.result)
                self._show(run)

    def result(self) -> RunResult | None:
        return self.shown.result if self.shown is not None else None
