"""The answers of Run ×N in the main window: all N, with how much they agree.

The output view follows the first run as it streams; this panel (the compare view's
``RepeatsPanel``: agreement, similarity, majority, best of N, one row per distinct answer) fills
in as the others end, and picking a row shows that answer in the output view. It hides for a
single run and when the output view is cleared (another document).
"""

from __future__ import annotations

from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from workbench.core.models import RunResult
from workbench.core.outcome import RunOutcome
from workbench.ui.compare.repeats_panel import RepeatsPanel
from workbench.ui.widgets.output_view import OutputView
from workbench.ui.workers import RunWorker


class RepeatRuns(QWidget):
    """Follows the runs of one Run ×N; ``results`` holds each one's end (None while running)."""

    def __init__(self, output: OutputView, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.output = output
        self.results: list[RunResult | None] = []
        self._pattern: str | None = None
        self._batch = 0  # the Run ×N being followed: ends of an earlier one are ignored
        self.title = QLabel("Answers of the repeats", self)
        self.panel = RepeatsPanel(self)
        self.panel.picked.connect(self._picked)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        layout.addWidget(self.title)
        layout.addWidget(self.panel)
        output.stateChanged.connect(self._output_state)
        self.hide()

    def begin(self, workers: list[RunWorker], answer_pattern: str | None = None) -> None:
        """Runs were just started, one per repeat (the output view follows the first)."""
        self._batch += 1
        batch = self._batch
        self.results = [None] * len(workers)
        self._pattern = answer_pattern
        self.panel.begin(len(workers))
        self.setVisible(len(workers) > 1)
        for index, worker in enumerate(workers):
            worker.signals.ended.connect(
                lambda outcome, i=index, b=batch: self._ended(b, i, outcome))

    def _ended(self, batch: int, index: int, outcome: RunOutcome) -> None:
        if batch != self._batch:
            return
        self.results[index] = outcome.result
        self.panel.show_results(self.results, answer_pattern=self._pattern)

    def _picked(self, index: int) -> None:
        result = self.results[index] if 0 <= index < len(self.results) else None
        if result is not None:
            self.output.detach()  # a repeat still streaming must not write into this answer
            self.output.show_result(result)

    def _output_state(self, state: str) -> None:
        if state == "idle":  # another document: its runs are not these
            self._batch += 1
            self.hide()
