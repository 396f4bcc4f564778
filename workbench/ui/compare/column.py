"""One column of the compare view: a variant's header, its live output, its metrics and ratings.

The output is the app's ``OutputView`` in a compact form (plain monospace text, the status line,
copy and cancel), so a column streams with the same coalesced, frame-budgeted painting as the
editor's output. Figures sit in a strip of their own under the text, right-aligned with units,
because eight columns side by side have no room for them on one line.

A run that called tools lists its calls above the answer (``ToolSequence``). Only the output
text flexes: the header, the tool calls, the repeats panel, the figures and the rating controls
each keep a height of their own, so however many repeats a column runs, the text scrolls inside
the column while everything else stays in view.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from PySide6.QtCore import QEvent, QObject, QTimer, Signal
from PySide6.QtGui import QFont, QPalette
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from workbench.core.assertions.structured import schema_valid
from workbench.core.evaluation import EvaluationError
from workbench.core.experiments import Variant
from workbench.core.models import RunResult
from workbench.core.outcome import RunOutcome, status_of
from workbench.storage.repositories import Rating
from workbench.ui import theming
from workbench.ui.compare.figures import MetricsStrip
from workbench.ui.compare.rating import RatingBar
from workbench.ui.compare.repeats_panel import RepeatsPanel
from workbench.ui.compare.tool_sequence import ToolSequence, show_run_steps
from workbench.ui.widgets.figure_labels import ElidedLabel
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


class CompareColumn(QWidget):
    """A variant's column. The view owns the runs; the column shows them."""

    removeRequested = Signal()
    cancelRequested = Signal()
    ratingGiven = Signal(object, object, object, object)  # run_id, thumbs, stars, comment
    shownRunChanged = Signal()
    ratingWanted = Signal(str)  # run id: the person picked a repeat, show its saved rating
    restoreRequested = Signal(str)  # run id: open the shown run in the main window's editor

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
        self.restore_button = QToolButton(self)
        self.restore_button.setAutoRaise(True)
        self.restore_button.setToolTip("Open this run in the editor: its template version, "
                                       "variables and parameters")
        self.restore_button.setAccessibleName("Open in editor")
        self.restore_button.setEnabled(False)
        self.restore_button.clicked.connect(self._restore)
        head = QHBoxLayout()
        head.setContentsMargins(4, 0, 0, 0)
        head.setSpacing(4)
        head.addWidget(self.badge)
        head.addWidget(self.title, 1)
        head.addWidget(self.restore_button)
        head.addWidget(self.remove_button)

        self.tools = ToolSequence(self)  # the shown run's tool calls, above its answer

        self.output = OutputView(self)
        self.output.set_mode("plain")
        for hidden in (self.output.ttft_label, self.output.rate_label, self.output.tokens_label,
                       self.output.total_label, self.output.cost_label,
                       self.output.confidence_label,  # the metrics strip has it
                       self.output.markdown_button, self.output.plain_button,
                       self.output.rerun_button):
            hidden.hide()
        self.output.cancelRequested.connect(self.cancelRequested)
        self.output.schema_label.set_schema(variant.template.output_schema)

        self.repeats = RepeatsPanel(self)
        self.repeats.picked.connect(self._repeat_picked)
        self.repeats.hide()
        self._picked = False  # the person chose an answer: new repeats do not take the view

        self.metrics = MetricsStrip(self)
        self.rating = RatingBar(self)
        self.rating.rated.connect(self._rated)
        self.set_saved(False)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(8)
        layout.addLayout(head)
        layout.addWidget(self.tools)
        layout.addWidget(self.output, 1)
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
        self.restore_button.setIcon(theming.icon("history"))
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
        self.restore_button.setVisible(not blind)  # the editor would show what the column is

    def set_saved(self, saved: bool) -> None:
        """The shown run is in the store (or not): it can be rated and opened in the editor."""
        self.rating.setEnabled(saved)
        self.restore_button.setEnabled(saved)

    def _restore(self) -> None:
        if self.shown is not None and self.shown.run_id is not None:
            self.restoreRequested.emit(self.shown.run_id)

    # --- runs ---------------------------------------------------------------------------------

    @property
    def busy(self) -> bool:
        return any(run.running for run in self.runs)

    def begin(self, runs: list[ColumnRun]) -> None:
        """New runs (one per repeat) were submitted; follow the first one live."""
        self.runs = runs
        self.shown = None
        self._picked = False
        self.repeats.setVisible(len(runs) > 1)
        self.repeats.begin(len(runs))
        for run in runs:
            assert run.worker is not None
            run.worker.signals.started.connect(lambda _sent, r=run: self._started(r))
            run.worker.signals.chunk.connect(lambda batch, r=run: self._chunk(r, batch))
            run.worker.signals.ended.connect(lambda outcome, r=run: self._ended(r, outcome))
        self._follow(runs[0])
        self._clock.start()

    def _follow(self, run: ColumnRun) -> None:
        """Show a repeat as it streams; it is rated once it has ended and is saved."""
        assert run.worker is not None
        self.shown = run
        self.output.attach(run.worker)
        self.tools.show_steps([], answered=False)
        self.metrics.clear()
        self.rating.show_rating(None)
        self.set_saved(False)

    def _started(self, run: ColumnRun) -> None:
        run.started_at = time.perf_counter()
        live = self.output.state in ("running", "streaming", "cancelling")
        if not live and not self._picked and run.running:
            self._follow(run)

    def _chunk(self, run: ColumnRun, batch: ChunkBatch) -> None:
        run.last_batch = batch

    def _tick(self) -> None:
        run = self.shown
        if run is not None and run.running and run.started_at:  # not while queued
            self.metrics.show_live(run.last_batch, time.perf_counter() - run.started_at)

    def _ended(self, run: ColumnRun, outcome: RunOutcome) -> None:
        run.result, run.run_id = outcome.result, outcome.run_id
        run.worker = None
        if run is self.shown:
            self._show(run)
        self._count_schema_valid()
        if not self.busy:
            self._clock.stop()
        self.refresh_repeats()

    def show_runs(self, runs: list[ColumnRun]) -> None:
        """Show finished runs (a reopened comparison)."""
        self.runs = runs
        self.repeats.setVisible(len(runs) > 1)
        if runs:
            self._show(runs[0])
        self.refresh_repeats()

    def _show(self, run: ColumnRun) -> None:
        self.shown = run
        if run.result is None:
            return
        output = self.output
        if (output.text() != run.result.text or output.thinking.text != run.result.reasoning
                or output.state in ("idle", "running")):
            output.show_result(run.result)
        show_run_steps(self)
        self.metrics.show_result(run.result)
        self._count_schema_valid()
        self.repeats.select_run(self.runs.index(run))
        self.set_saved(run.run_id is not None)
        self.rating.setToolTip("" if run.run_id is not None
                               else "Runs are rated once they are saved in the history")
        self.shownRunChanged.emit()

    def _count_schema_valid(self) -> None:
        """Beside the shown answer's schema check: how many of the column's answers pass it."""
        schema = self.variant.template.output_schema
        answers = [r.result.text for r in self.runs if r.result is not None
                   and status_of(r.result) == "ok"]
        if schema is None or len(answers) < 2:
            return
        try:
            valid = sum(bool(schema_valid(text, schema).passed) for text in answers)
        except EvaluationError:  # the schema itself is invalid: the check says so
            return
        self.output.schema_label.show_count(valid, len(answers))

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
        """Collapse the finished repeats' answers and show how much they agree."""
        if len(self.runs) < 2:
            return
        self.repeats.show_results([run.result for run in self.runs],
                                  answer_pattern=self.variant.template.answer_pattern or None)
        if self.shown is not None:
            self.repeats.select_run(self.runs.index(self.shown))

    def _repeat_picked(self, index: int) -> None:
        """Show the answer the person picked in the repeats list (and rate that run)."""
        if not 0 <= index < len(self.runs) or self.runs[index].result is None:
            return
        self._picked = True
        # a live repeat the output was following must not stream into the picked answer
        self.output.detach()
        run = self.runs[index]
        self._show(run)
        self.rating.show_rating(None)
        if run.run_id is not None:
            self.ratingWanted.emit(run.run_id)

    def result(self) -> RunResult | None:
        return self.shown.result if self.shown is not None else None
