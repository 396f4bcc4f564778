"""Group commit for runs: many finished runs stored in one transaction, each still durable before
its caller hears it is done.

The store commits with ``synchronous=FULL``, so every commit waits for the disk (about 3 ms here);
one commit per run caps a sweep at a few hundred runs per second no matter how fast the server
is, and every worker waits its turn. This writer queues runs and lets a single writer job store
everything queued by the time it runs, so one disk flush covers all the runs that finished
meanwhile. A run's future resolves only after the transaction holding it has committed, exactly
as with ``StoreWriter.add_run``.
"""

from __future__ import annotations

import threading
from concurrent.futures import Future

from workbench.core.models import RunResult
from workbench.storage.repositories import RunRef, Store
from workbench.storage.writer import StoreWriter

#: Most runs stored by one transaction.
MAX_BATCH = 256

_Pending = tuple[RunResult, RunRef, "Future[str]"]


class GroupCommitWriter(StoreWriter):
    """A ``StoreWriter`` whose ``add_run`` shares commits between runs that finish together."""

    def __init__(self, store: Store, *, name: str = "store-writer") -> None:
        super().__init__(store, name=name)
        self._pending: list[_Pending] = []
        self._pending_lock = threading.Lock()
        self._scheduled = False  # a drain job is queued and has not started yet

    def add_run(self, result: RunResult, ref: RunRef | None = None) -> Future[str]:
        future: Future[str] = Future()
        with self._pending_lock:
            self._pending.append((result, ref or RunRef(), future))
            schedule = not self._scheduled
            self._scheduled = True
        if schedule:
            try:
                self.submit(self._drain)
            except BaseException:  # the writer is closed: nothing will store this run
                with self._pending_lock:
                    self._pending.clear()  # only this run: the list was empty when unscheduled
                    self._scheduled = False
                raise
        return future

    def _drain(self, store: Store) -> None:
        """On the writer thread: store what is queued, in batches, and resolve the futures."""
        while True:
            with self._pending_lock:
                batch, self._pending = self._pending[:MAX_BATCH], self._pending[MAX_BATCH:]
                if not batch:
                    self._scheduled = False
                    return
            self._store_batch(store, batch)

    @staticmethod
    def _store_batch(store: Store, batch: list[_Pending]) -> None:
        live = [item for item in batch if item[2].set_running_or_notify_cancel()]
        try:
            ids = store.runs.add_many([(result, ref) for result, ref, _ in live])
        except Exception:
            # One bad run (say, its experiment was deleted) must not lose the others: store
            # them one by one so each gets its own answer.
            for result, ref, future in live:
                try:
                    future.set_result(store.runs.add(result, ref))
                except Exception as err:
                    future.set_exception(err)
            return
        for (_, _, future), run_id in zip(live, ids, strict=True):
            future.set_result(run_id)
