"""Run expensive recomputations off the GUI thread, delivering only the newest result.

Previews, token counts and variable discovery are recomputed after every pause in typing. Each
widget owns one ``LatestJob``: a private one-thread pool (so a computation that keeps state, such
as an incremental token counter, never runs twice at once) and a generation counter. Submitting
a job makes every earlier one stale: a stale job that has not started yet is skipped, and the
result of one that was already running is dropped instead of overwriting newer state.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QCoreApplication, QEvent, QObject, QThreadPool, Signal

log = logging.getLogger(__name__)


class _Relay(QObject):
    """Carries results from the worker thread to the GUI thread (a queued connection).

    It has no parent and is kept alive by its ``LatestJob``'s Python object, so a job that
    finishes while its widget is being destroyed emits into a live object with no receiver.
    """

    done = Signal(int, bool, object)  # generation, ok, result or exception


class LatestJob(QObject):
    """Runs ``fn(*args)`` on a private worker thread; ``deliver`` gets the newest result.

    ``deliver`` and ``failed`` run on the GUI thread. A ``KnownError`` or any other exception
    raised by the job goes to ``failed``; without one, the exception is re-raised on the GUI
    thread so the application's excepthook reports it as the bug it is.
    """

    def __init__(
        self,
        deliver: Callable[[Any], None],
        failed: Callable[[BaseException], None] | None = None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._deliver = deliver
        self._failed = failed
        self._generation = 0
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(1)
        self._relay = _Relay()
        self._relay.done.connect(self._on_done)
        self.running = False

    @property
    def generation(self) -> int:
        return self._generation

    def submit(self, fn: Callable[..., Any], *args: Any) -> int:
        """Queue ``fn(*args)``; earlier jobs become stale. Returns the job's generation."""
        self._generation += 1
        generation = self._generation
        relay = self._relay
        self.running = True

        def run() -> None:
            if generation != self._generation:
                return  # a newer job is queued: skip the work entirely
            try:
                result = fn(*args)
            except Exception as err:  # delivered to the GUI thread, never swallowed
                self._emit(relay, generation, False, err)
            else:
                self._emit(relay, generation, True, result)

        self._pool.start(run)
        return generation

    @staticmethod
    def _emit(relay: _Relay, generation: int, ok: bool, payload: object) -> None:
        try:
            relay.done.emit(generation, ok, payload)
        except RuntimeError:  # the application is shutting down
            log.debug("result of job %d dropped at shutdown", generation)

    def _on_done(self, generation: int, ok: bool, payload: object) -> None:
        if generation != self._generation:
            return
        self.running = False
        if ok:
            self._deliver(payload)
        elif self._failed is not None and isinstance(payload, BaseException):
            self._failed(payload)
        elif isinstance(payload, BaseException):
            raise payload

    def wait(self, msecs: int = 5000) -> bool:
        """Block until queued jobs are done (for shutdown and benchmarks)."""
        return self._pool.waitForDone(msecs)

    def flush(self, msecs: int = 5000) -> bool:
        """Block until queued jobs are done and hand their result to ``deliver``/``failed`` now,
        not at the next turn of the event loop (a decision, such as quitting, depends on it)."""
        done = self.wait(msecs)
        QCoreApplication.sendPostedEvents(self, QEvent.Type.MetaCall)
        return done
