"""Long work off the GUI thread with progress and an estimate of the time left.

``TaskWorker`` runs any function (loading a model, listing a server's models, testing a
connection) in a pool thread; ``estimate`` turns "done of total after this long" into a time left,
falling back to an expected duration while nothing was reported yet. Like the run workers, every
public signal is emitted in the GUI thread, so receivers may be plain functions.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from PySide6.QtCore import QObject, QRunnable, Qt, QThreadPool, Signal, Slot

from workbench.backends.base import CancelToken
from workbench.core.errors import KnownError

log = logging.getLogger(__name__)

T = TypeVar("T")

#: TaskError.kind (and RunResult.error_kind) of a failure caused by a bug, not by the user.
INTERNAL_ERROR = "InternalError"


@dataclass(frozen=True)
class Progress:
    """How far some long work is, with the time left (None while it cannot be estimated)."""

    done: float
    total: float
    elapsed_s: float
    eta_s: float | None

    @property
    def fraction(self) -> float:
        return min(1.0, self.done / self.total) if self.total > 0 else 0.0


def estimate(
    done: float, total: float, elapsed_s: float, expected_s: float | None = None
) -> Progress:
    """Time left from the rate so far; before any progress, from an expected duration (the last
    load of this model took 0.2 s…) so a bar can still say something honest."""
    eta: float | None = None
    if total > 0 and done > 0:
        eta = elapsed_s / done * max(0.0, total - done)
    elif expected_s is not None:
        eta = max(0.0, expected_s - elapsed_s)
    return Progress(done, total, elapsed_s, eta)


def format_eta(progress: Progress) -> str:
    """"about 12 s left" / "about 3 min left" / "" when unknown."""
    eta = progress.eta_s
    if eta is None or progress.fraction >= 1.0:
        return ""
    if eta < 1:
        return "less than a second left"
    if eta < 90:
        return f"about {eta:.0f} s left"
    return f"about {eta / 60:.0f} min left"


class TaskError(KnownError):
    """Why a background task failed; ``message`` and ``hint`` are shown inline."""

    def __init__(self, message: str, *, hint: str = "", kind: str = "") -> None:
        super().__init__(message, hint=hint)
        self.kind = kind


class TaskSignals(QObject):
    progress = Signal(object)  # Progress
    finished = Signal(object)  # the function's return value
    failed = Signal(object)  # TaskError
    cancelled = Signal()

    _posted = Signal(str, object)

    def __init__(self) -> None:
        super().__init__()
        self._posted.connect(self._dispatch, Qt.ConnectionType.QueuedConnection)

    def post(self, kind: str, payload: object = None) -> None:
        """Called from the worker thread."""
        self._posted.emit(kind, payload)

    @Slot(str, object)
    def _dispatch(self, kind: str, payload: object) -> None:
        if kind == "progress":
            self.progress.emit(payload)
        elif kind == "finished":
            self.finished.emit(payload)
        elif kind == "failed":
            self.failed.emit(payload)
        else:
            self.cancelled.emit()


Reporter = Callable[[float, float], None]


class TaskWorker(QRunnable, Generic[T]):
    """Runs ``fn(report, cancel)`` in a pool thread. ``report(done, total)`` may be called at any
    rate; it reaches the GUI at most every ``report_interval_s`` (and always at completion).
    A ``KnownError`` becomes ``failed`` with its hint; any other exception is logged as a bug.
    Create it in the GUI thread."""

    def __init__(
        self,
        fn: Callable[[Reporter, CancelToken], T],
        *,
        expected_s: float | None = None,
        report_interval_s: float = 0.1,
    ) -> None:
        super().__init__()
        self.setAutoDelete(False)
        self.fn = fn
        self.expected_s = expected_s
        self.report_interval_s = report_interval_s
        self.cancel_token = CancelToken()
        self.signals = TaskSignals()
        self._start = 0.0
        self._last_report = float("-inf")

    def cancel(self) -> None:
        self.cancel_token.cancel()

    def _report(self, done: float, total: float) -> None:
        now = time.perf_counter()
        if now - self._last_report < self.report_interval_s and done < total:
            return
        self._last_report = now
        self.signals.post("progress", estimate(done, total, now - self._start, self.expected_s))

    def run(self) -> None:
        self._start = time.perf_counter()
        try:
            value = self.fn(self._report, self.cancel_token)
        except KnownError as err:
            error = TaskError(err.message, hint=err.hint, kind=type(err).__name__)
            self.signals.post("failed", error)
            return
        except Exception as err:
            log.exception("background task failed")
            self.signals.post("failed", TaskError(
                f"internal error: {type(err).__name__}: {err}",
                hint="this is a bug; the log has the details", kind=INTERNAL_ERROR))
            return
        self.signals.post("cancelled" if self.cancel_token.cancelled else "finished", value)


class TaskRunner(QObject):
    """Starts tasks in its own pool and keeps each alive until it has reported its end (a
    QRunnable that Python collects mid-run takes its signals with it)."""

    def __init__(self, parent: QObject | None = None, *, max_threads: int = 2) -> None:
        super().__init__(parent)
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(max_threads)
        self._running: list[TaskWorker[Any]] = []

    def start(self, worker: TaskWorker[T]) -> TaskWorker[T]:
        self._running.append(worker)

        def release(*_: object) -> None:
            if worker in self._running:
                self._running.remove(worker)

        for signal in (worker.signals.finished, worker.signals.failed, worker.signals.cancelled):
            signal.connect(release)
        self.pool.start(worker)
        return worker

    def running(self) -> list[TaskWorker[Any]]:
        return list(self._running)

    def shutdown(self, timeout_s: float = 5.0) -> bool:
        for worker in self._running:
            worker.cancel()
        return self.pool.waitForDone(round(timeout_s * 1000))
