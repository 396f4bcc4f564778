"""An inline progress strip for long work: N runs, loading a model, a slow connection test.

A bar, what is happening ("Run 3 of 10"), an estimate of the time left and a cancel button. Work
that reports no steps but has an expected duration (the last load of this model took 1.8 s)
still gets a moving bar and a time left, from a timer; work with neither shows a busy bar.
It hides itself when the work ends: it is a strip, not a dialog.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace

from PySide6.QtCore import QEvent, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QToolButton, QWidget

from workbench.core.wording import plural
from workbench.ui import theming
from workbench.ui.background import Progress, TaskWorker, estimate, format_eta
from workbench.ui.workers import RepeatRunner

_STEPS = 1000
_SMOOTHING = 0.3  # weight of a new estimate of the time left against the one counting down


class ProgressStrip(QWidget):
    cancelRequested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.bar = QProgressBar(self)
        self.bar.setRange(0, _STEPS)
        self.bar.setTextVisible(False)
        self.bar.setMaximumHeight(self.fontMetrics().height() // 2 + 4)
        self.bar.setAccessibleName("Progress")
        self.label = QLabel(self)
        self.label.setAccessibleName("What is in progress")
        self.eta = QLabel(self)
        self.eta.setAccessibleName("Time left")
        self.eta.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.cancel_action = QAction("Cancel", self)
        self.cancel_action.setShortcut(QKeySequence(Qt.Key.Key_Escape))
        self.cancel_action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        self.cancel_action.setToolTip("Stop this work (Esc)")
        self.cancel_action.triggered.connect(self._cancel)
        self.addAction(self.cancel_action)
        self.cancel_button = QToolButton(self)
        self.cancel_button.setDefaultAction(self.cancel_action)
        self.cancel_button.setAutoRaise(True)
        self.cancel_button.setAccessibleName("Cancel")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(8)
        layout.addWidget(self.label)
        layout.addWidget(self.bar, 1)
        layout.addWidget(self.eta)
        layout.addWidget(self.cancel_button)
        self._timer = QTimer(self)
        self._timer.setInterval(200)
        self._timer.timeout.connect(self._tick)
        self._what = ""
        self._expected_s: float | None = None
        self._start = 0.0
        self._cancel_fn: Callable[[], None] | None = None
        self._reported = False
        self._eta: tuple[float, float] | None = None  # (time left, when it was estimated)
        self.cancel_action.setIcon(theming.icon("stop"))
        self.hide()

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.PaletteChange:
            self.cancel_action.setIcon(theming.icon("stop"))
        super().changeEvent(event)

    # --- generic ------------------------------------------------------------------------------

    def begin(self, what: str, *, expected_s: float | None = None,
              cancel: Callable[[], None] | None = None) -> None:
        """Show the strip for work described as ``what``."""
        self._what, self._expected_s, self._cancel_fn = what, expected_s, cancel
        self._start = time.perf_counter()
        self._reported = False
        self._eta = None
        self.cancel_action.setEnabled(cancel is not None)
        self.label.setText(what)
        self.eta.clear()
        if expected_s is None:
            self.bar.setRange(0, 0)  # busy: nothing to estimate from yet
        else:
            self.bar.setRange(0, _STEPS)
            self.bar.setValue(0)
        self._timer.start()
        self.show()

    def report(self, progress: Progress, what: str | None = None) -> None:
        """A step was done: move the bar and re-estimate the time left."""
        self._reported = True
        if what is not None:
            self.label.setText(what)
        self.bar.setRange(0, _STEPS)
        self.bar.setValue(round(progress.fraction * _STEPS))
        self.eta.setText(format_eta(replace(progress, eta_s=self._smoothed(progress.eta_s))))

    def _smoothed(self, eta_s: float | None) -> float | None:
        """The time left as an exponential moving average of the estimates, the previous one
        counted down by the time since: cells finishing in bursts no longer make it jump
        (13 s → 59 s → 26 s)."""
        now = time.perf_counter()
        if eta_s is None:
            self._eta = None
            return None
        if self._eta is not None:
            previous, at = self._eta
            eta_s = _SMOOTHING * eta_s + (1 - _SMOOTHING) * max(0.0, previous - (now - at))
        self._eta = (eta_s, now)
        return eta_s

    def end(self) -> None:
        self._timer.stop()
        self._cancel_fn = None
        self.hide()

    @property
    def active(self) -> bool:
        return self._timer.isActive()

    def _tick(self) -> None:
        if self._reported and self._eta is not None:  # count down between steps
            left, at = self._eta
            elapsed = time.perf_counter() - self._start
            self.eta.setText(format_eta(Progress(0, 1, elapsed, max(0.0, left - (
                time.perf_counter() - at)))))
            return
        if self._reported or self._expected_s is None:
            return
        elapsed = time.perf_counter() - self._start
        guess = estimate(0, 0, elapsed, self._expected_s)
        # never reach the end on a guess alone: the work says when it is done
        fraction = min(0.95, elapsed / self._expected_s) if self._expected_s > 0 else 0.0
        self.bar.setValue(round(fraction * _STEPS))
        self.eta.setText(format_eta(guess) if guess.eta_s else "any moment now")

    def _cancel(self) -> None:
        if self._cancel_fn is not None:
            self._cancel_fn()
            self.cancel_action.setEnabled(False)
            self.label.setText(f"{self._what}: cancelling…")
        self.cancelRequested.emit()

    # --- ready-made connections ---------------------------------------------------------------

    def track_repeat(self, runner: RepeatRunner, what: str = "Run") -> None:
        """Follow ``runner``: "Run 3 of 10", time left from the pace so far, cancel skips the
        rest. Call before ``runner.start()``."""
        self.begin(f"{what} 1 of {runner.count}", cancel=runner.cancel)
        runner.progress.connect(lambda p: self.report(
            p, f"{what} {min(int(p.done) + 1, runner.count)} of {runner.count}"
            if p.done < runner.count else f"{runner.count} of {runner.count} done"))
        runner.done.connect(lambda _results: self.end())

    def track_task(self, worker: TaskWorker[object], what: str, *,
                   expected_s: float | None = None, unit: str | None = None) -> None:
        """Follow a background task (loading a model…); ``expected_s`` from its last duration;
        with a ``unit`` its steps are counted: "Evaluating: 12 of 40 cells"."""
        self.begin(what, expected_s=expected_s, cancel=worker.cancel)
        if unit is None:
            worker.signals.progress.connect(self.report)
        else:
            worker.signals.progress.connect(lambda p: self.report(
                p, f"{what}: {p.done:,.0f} of {plural(round(p.total), unit)}"))
        worker.signals.ended.connect(self.end)
