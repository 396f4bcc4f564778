"""Polling provider batch jobs while the app runs, from its start.

A job lives in the store, so polling resumes wherever the app starts: the main window starts a
``BatchPoller`` that polls the unfinished jobs once at start and then every ``poll_ms`` while
any is unfinished, and stops when none is. A job that cannot be polled (its backend removed,
its provider down) is said and tried again at the next tick; the others are polled regardless.
The timer is a ``QTimer`` on the GUI thread; each round (network and store) runs on a pool
thread (``ui.background``), one round at a time. The Batch jobs window shows what the rounds
found and asks for a round now (Refresh); the main window's status bar says which jobs have a
batch of unknown outcome (``unconfirmed``), from the start's round on.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, QTimer, Signal

from workbench.backends.base import CancelToken
from workbench.backends.batch import BatchUnconfirmed
from workbench.core.errors import KnownError
from workbench.ui.background import Reporter, TaskRunner, TaskWorker
from workbench.ui.batch_rows import JobRow, JobsOfStore

#: What a round found: jobs still unfinished, why some could not be polled, the rows of those
#: with a batch of unknown outcome.
_Round = tuple[int, list[str], list[JobRow]]
#: How often unfinished jobs are polled (ms): a provider answers within hours, and each poll is
#: a request per remote batch.
POLL_MS = 60_000


class BatchPoller(QObject):
    """Polls the unfinished jobs of ``jobs`` every ``poll_ms`` while there are any."""

    polled = Signal(int, list)  # a round ended: jobs still unfinished, why some could not be
    failed = Signal(object)  # the KnownError a round ended with (the next round tries again)
    unconfirmed = Signal(list)  # a round ended: the JobRows with a batch of unknown outcome

    def __init__(
        self, jobs: JobsOfStore, *, poll_ms: int = POLL_MS, parent: QObject | None = None
    ) -> None:
        super().__init__(parent)
        self.jobs = jobs
        self.timer = QTimer(self)
        self.timer.setInterval(poll_ms)
        self.timer.timeout.connect(self.poll)
        self._tasks = TaskRunner(self, max_threads=1)
        self._round: TaskWorker[_Round] | None = None
        self._again = False  # asked while a round was under way
        self._stopped = False

    @property
    def active(self) -> bool:
        """A round is under way or the timer will start the next one."""
        return self._round is not None or self.timer.isActive()

    @property
    def busy(self) -> bool:
        return self._round is not None

    def poll(self) -> None:
        """Start a round now: poll every unfinished job. Asked during a round, another starts
        when it ends (that round may have read the jobs before one was just submitted)."""
        if self._stopped:
            return
        if self._round is not None:
            self._again = True
            return
        self._again = False
        jobs = self.jobs

        def work(_report: Reporter, cancel: CancelToken) -> _Round:
            problems = []
            for row in jobs.rows():
                if row.ended or cancel.cancelled:
                    continue
                try:
                    jobs.poll(row.id, cancel)
                except BatchUnconfirmed:
                    pass  # said with the job's row (``unconfirmed``)
                except KnownError as err:  # this job's provider or backend: the others go on
                    problems.append(f"Cannot poll “{row.experiment}”: {err}")
            rows = jobs.rows()
            return (sum(not row.ended for row in rows), problems,
                    [row for row in rows if row.unconfirmed])

        job: TaskWorker[_Round] = TaskWorker(work)
        job.signals.finished.connect(lambda found: self._done(*found))
        job.signals.failed.connect(self._failed)
        job.signals.ended.connect(self._ended)
        self._round = job
        self._tasks.start(job)

    def _done(self, unfinished: int, problems: list[str], unconfirmed: list[JobRow]) -> None:
        if self._stopped:
            return
        if unfinished and not self.timer.isActive():
            self.timer.start()
        elif not unfinished:
            self.timer.stop()
        self.polled.emit(unfinished, problems)
        self.unconfirmed.emit(unconfirmed)

    def _failed(self, error: KnownError) -> None:
        if not self._stopped:
            self.timer.start()  # a provider or network down now: try again at the next tick
            self.failed.emit(error)

    def _ended(self) -> None:
        self._round = None
        if self._again:
            self.poll()

    def shutdown(self, timeout_s: float = 10.0) -> bool:
        """Stop polling and wait for a round under way (the jobs go on at the provider)."""
        self._stopped = True
        self.timer.stop()
        return self._tasks.shutdown(timeout_s)
