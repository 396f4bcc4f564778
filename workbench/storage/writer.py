"""One writer thread for the database.

The GUI and the grid runner never write SQLite from their own threads: they hand a function to
``StoreWriter.submit`` and get a ``Future``. The writer thread owns its connection, runs the jobs
in order and commits each one, so a run is durable as soon as its future is done and the GUI
thread never waits on disk.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, TypeVar

from workbench.core.models import RunResult
from workbench.storage.repositories import RunRef, Store

T = TypeVar("T")

_STOP = object()


class StoreWriter:
    """Serialises writes to one ``Store`` on a dedicated thread."""

    def __init__(self, store: Store, *, name: str = "store-writer") -> None:
        self.store = store
        self._jobs: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._closed = False
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)
        self._thread.start()

    def submit(self, job: Callable[[Store], T]) -> Future[T]:
        """Run ``job(store)`` on the writer thread; its result or exception lands in the future."""
        future: Future[T] = Future()
        with self._lock:
            if self._closed:
                raise RuntimeError("the store writer is closed")
            self._jobs.put((job, future))
        return future

    def add_run(self, result: RunResult, ref: RunRef | None = None) -> Future[str]:
        """Store a finished run; the future gives its id once it is committed."""
        return self.submit(lambda store: store.runs.add(result, ref or RunRef()))

    def _loop(self) -> None:
        try:
            while True:
                item = self._jobs.get()
                if item is _STOP:
                    return
                job, future = item
                if not future.set_running_or_notify_cancel():
                    continue
                try:
                    future.set_result(job(self.store))
                except BaseException as err:  # delivered to whoever waits on the future
                    future.set_exception(err)
        finally:
            self.store.db.release()

    def close(self, timeout: float | None = 10.0) -> bool:
        """Finish the queued jobs and stop; returns False if the thread did not end in time."""
        with self._lock:
            if not self._closed:
                self._closed = True
                self._jobs.put(_STOP)
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def __enter__(self) -> StoreWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
