"""Work off the GUI thread: the one mechanism every view uses, with one error policy.

In the spirit of Anki's ``QueryOp`` and napari's ``create_worker``: a function runs in a pool
thread, and what it ends with reaches the GUI thread as a message: its result, or a
``KnownError`` (something the user can fix, shown where it happened). Anything else is a bug: it
is logged and handed to the application's excepthook (the crash dialog), never dressed up as a
message the user is asked to act on.

- ``TaskWorker``/``TaskRunner``: any function with progress and cancel (listing models, imports,
  evaluation suites, estimates).
- ``LatestJob``: recomputations of which only the newest result matters (previews, searches).
- ``on_gui``: a writer-thread future whose outcome is delivered on the GUI thread.
- ``watch_writes``: a list kept current when anything (a terminal, a writer thread) commits to
  the database.
- ``RunWorker`` (``ui.workers``) streams a model run; every end (failures included) is a
  ``RunOutcome``, and its bugs go through ``report_bug`` too.

Every public signal is emitted in the GUI thread, so receivers may be plain functions.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import shiboken6
from PySide6.QtCore import (
    QCoreApplication,
    QEvent,
    QObject,
    QRunnable,
    Qt,
    QThreadPool,
    QTimer,
    Signal,
    Slot,
)

from workbench.backends.base import CancelToken
from workbench.core.errors import ErrorCode, KnownError
from workbench.storage.db import ChangeProbe, Database

log = logging.getLogger(__name__)

T = TypeVar("T")

WATCH_INTERVAL_MS = 1000  # how soon a list shows what another connection wrote

#: RunResult.error_kind of a run that ended because of a bug, not because of the user.
INTERNAL_ERROR: str = ErrorCode.INTERNAL


def report_bug(error: BaseException) -> None:
    """On the GUI thread: a bug goes to the excepthook (the app's crash dialog; a failing test
    under pytest-qt), with the traceback of the thread it happened in."""
    sys.excepthook(type(error), error, error.__traceback__)


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


class TaskSignals(QObject):
    """A task's messages. Exactly one of ``finished``, ``failed``, ``cancelled`` is emitted
    (none when a bug ended it: that went to the crash dialog), then ``ended`` in every case."""

    progress = Signal(object)  # Progress
    finished = Signal(object)  # the function's return value
    failed = Signal(object)  # the KnownError it raised
    cancelled = Signal()
    ended = Signal()

    _posted = Signal(str, object)

    def __init__(self) -> None:
        super().__init__()
        self._posted.connect(self._dispatch, Qt.ConnectionType.QueuedConnection)

    def post(self, kind: str, payload: object = None) -> None:
        """Called from the worker thread."""
        try:
            self._posted.emit(kind, payload)
        except RuntimeError:  # the receiver is gone: the application is shutting down
            log.debug("a task's %s message was dropped at shutdown", kind)

    @Slot(str, object)
    def _dispatch(self, kind: str, payload: object) -> None:
        if kind == "progress":
            self.progress.emit(payload)
            return
        if kind == "finished":
            self.finished.emit(payload)
        elif kind == "failed":
            self.failed.emit(payload)
        elif kind == "cancelled":
            self.cancelled.emit()
        self.ended.emit()
        if kind == "bug":
            assert isinstance(payload, BaseException)
            report_bug(payload)


Reporter = Callable[[float, float], None]


class TaskWorker(QRunnable, Generic[T]):
    """Runs ``fn(report, cancel)`` in a pool thread. ``report(done, total)`` may be called at any
    rate; it reaches the GUI at most every ``report_interval_s`` (and always at completion).
    A task cancelled before it started never runs. Create it in the GUI thread."""

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
        if self.cancel_token.cancelled:
            self.signals.post("cancelled")
            return
        try:
            value = self.fn(self._report, self.cancel_token)
        except KnownError as err:
            self.signals.post("failed", err)
            return
        except Exception as err:
            log.exception("background task failed")
            self.signals.post("bug", err)
            return
        self.signals.post("cancelled" if self.cancel_token.cancelled else "finished", value)


class TaskRunner(QObject):
    """Starts tasks in its own pool and keeps each alive until its end reached the GUI thread (a
    QRunnable that Python collects mid-run takes its signals with it)."""

    def __init__(self, parent: QObject | None = None, *, max_threads: int = 2) -> None:
        super().__init__(parent)
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(max_threads)
        self._running: list[TaskWorker[Any]] = []

    def start(self, worker: TaskWorker[T]) -> TaskWorker[T]:
        self._running.append(worker)

        def release() -> None:
            if worker in self._running:
                self._running.remove(worker)

        worker.signals.ended.connect(release)
        self.pool.start(worker)
        return worker

    def running(self) -> list[TaskWorker[Any]]:
        return list(self._running)

    def cancel_all(self) -> None:
        for worker in self._running:
            worker.cancel()

    def wait(self, msecs: int) -> bool:
        """Block until every started task returned (its messages may still be queued)."""
        return self.pool.waitForDone(msecs)

    def flush(self, msecs: int) -> bool:
        """Wait, then hand the queued messages over now rather than at the next turn of the
        event loop (a decision, such as quitting, depends on them)."""
        done = self.wait(msecs)
        for worker in list(self._running):
            QCoreApplication.sendPostedEvents(worker.signals, QEvent.Type.MetaCall)
        return done

    def shutdown(self, timeout_s: float = 5.0) -> bool:
        """Cancel everything and wait; False if a task is still busy at the timeout. Call when
        the owner goes away: what the tasks still report is dropped, never delivered to it."""
        self.cancel_all()
        done = self.wait(round(timeout_s * 1000))
        for worker in self._running:
            worker.signals.blockSignals(True)
        self._running.clear()
        return done


class LatestJob(QObject):
    """Runs ``fn(*args)`` on a private one-thread pool (so a computation that keeps state, such
    as an incremental token counter, never runs twice at once); ``deliver`` gets the newest
    result only. Submitting a job makes every earlier one stale: one not started yet is skipped,
    and the result of one already running is dropped instead of overwriting newer state.

    A ``KnownError`` goes to ``failed`` (to the excepthook when there is none); a bug always goes
    to the crash dialog.
    """

    def __init__(
        self,
        deliver: Callable[[Any], None],
        failed: Callable[[KnownError], None] | None = None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._deliver = deliver
        self._failed = failed
        self._generation = 0
        self._tasks = TaskRunner(self, max_threads=1)
        self._newest: TaskWorker[Any] | None = None

    @property
    def generation(self) -> int:
        return self._generation

    @property
    def running(self) -> bool:
        """The newest job has not delivered yet."""
        return self._newest is not None

    def submit(self, fn: Callable[..., Any], *args: Any) -> int:
        """Queue ``fn(*args)``; earlier jobs become stale. Returns the job's generation."""
        if self._newest is not None:
            self._newest.cancel()
        self._generation += 1
        worker: TaskWorker[Any] = TaskWorker(lambda _report, _cancel: fn(*args))
        worker.signals.finished.connect(lambda value, w=worker: self._done(w, value))
        worker.signals.failed.connect(lambda error, w=worker: self._error(w, error))
        worker.signals.ended.connect(lambda w=worker: self._ended(w))
        self._newest = worker
        self._tasks.start(worker)
        return self._generation

    def discard(self) -> None:
        """Make every earlier job stale without a new one: nothing they return is delivered
        (what they were computed for is gone, e.g. the document was replaced)."""
        if self._newest is not None:
            self._newest.cancel()
        self._newest = None
        self._generation += 1

    def _current(self, worker: TaskWorker[Any]) -> bool:
        return worker is self._newest and shiboken6.isValid(self)

    def _done(self, worker: TaskWorker[Any], value: object) -> None:
        if self._current(worker):
            self._newest = None
            self._deliver(value)

    def _error(self, worker: TaskWorker[Any], error: KnownError) -> None:
        if not self._current(worker):
            return
        self._newest = None
        if self._failed is not None:
            self._failed(error)
        else:
            report_bug(error)

    def _ended(self, worker: TaskWorker[Any]) -> None:
        if worker is self._newest:  # ended by a bug (already reported): nothing to deliver
            self._newest = None

    def wait(self, msecs: int = 5000) -> bool:
        """Block until queued jobs are done (for shutdown and benchmarks)."""
        return self._tasks.wait(msecs)

    def flush(self, msecs: int = 5000) -> bool:
        """Block until queued jobs are done and hand their result to ``deliver``/``failed`` now,
        not at the next turn of the event loop (a decision, such as quitting, depends on it)."""
        return self._tasks.flush(msecs)


class _Relay(QObject):
    """Carries a future's outcome into the GUI thread (a queued connection). Parentless, so an
    outcome that arrives while its view is closing lands in a live object."""

    done = Signal(object)  # the Future


#: Relays whose future has not landed yet: a parentless QObject that Python collects takes its
#: queued events with it.
_waiting: set[_Relay] = set()


def on_gui(
    future: Future[T],
    owner: QObject,
    deliver: Callable[[T], None],
    failed: Callable[[KnownError], None] | None = None,
) -> None:
    """When ``future`` (a writer-thread job) is done, call ``deliver(result)`` on the GUI thread,
    or ``failed(error)`` for a ``KnownError``; a bug goes to the crash dialog. Never blocks.
    Nothing is delivered once ``owner`` (the view that asked) was deleted."""
    relay = _Relay()
    _waiting.add(relay)

    def land(done: Future[T]) -> None:
        _waiting.discard(relay)
        error = done.exception()
        if not shiboken6.isValid(owner):
            if error is not None and not isinstance(error, KnownError):
                report_bug(error)
            return
        if error is None:
            deliver(done.result())
        elif isinstance(error, KnownError) and failed is not None:
            failed(error)
        else:
            report_bug(error)

    relay.done.connect(land, Qt.ConnectionType.QueuedConnection)

    def posted(done: Future[T]) -> None:
        try:
            relay.done.emit(done)
        except RuntimeError:  # the application is shutting down
            log.debug("a writer result was dropped at shutdown")

    future.add_done_callback(posted)


def watch_writes(
    owner: QObject, db: Database, on_change: Callable[[], None],
    interval_ms: int = WATCH_INTERVAL_MS,
) -> None:
    """Call ``on_change`` (on the GUI thread) within ``interval_ms`` of any commit to ``db`` by
    another connection: another process, or one of this app's writer threads. Polls the cheap
    ``PRAGMA data_version`` counter; the timer and its connection go with ``owner``."""
    probe = ChangeProbe(db)
    timer = QTimer(owner)
    timer.setInterval(interval_ms)

    def look() -> None:
        if probe.changed():
            on_change()

    timer.timeout.connect(look)
    owner.destroyed.connect(lambda *_: probe.close())
    timer.start()
