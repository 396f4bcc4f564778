"""The Batch jobs window: every provider batch job of the store, polled while it runs.

A row says where the job went (provider, backend, models), where it is (its status and the
provider's state of its remote batches), how many of its requests were answered or failed, how
many answers have landed as runs, and when it was submitted. Refresh polls the unfinished jobs
now; Cancel asks the provider to stop one (what finished is still delivered); Fetch results
polls the picked job and lands what its ended batches answered; Re-run failed cells live runs the
cells whose batch line failed, expired or was never answered through the ordinary runner. A
job whose batch could not be confirmed (its create failed after it may have reached the
provider) says so below the list, with where to check; Send again… sends it after asking.

A job lives in the store (``storage.repositories.batch_jobs``), not in this window: a window
opened after a restart lists the same jobs. Polling is the app's ``BatchPoller``
(``ui.batch_poller``), which goes on when this window closes; the window shows each round's
findings and asks for a round now. Its own actions run on a pool thread (``ui.background``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, Qt, Signal
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMessageBox,
    QPushButton,
    QTreeView,
    QVBoxLayout,
    QWidget,
)

from workbench.backends.base import CancelToken
from workbench.core.errors import KnownError
from workbench.core.wording import plural
from workbench.ui.background import LatestJob, Reporter, TaskRunner, TaskWorker
from workbench.ui.batch_poller import BatchPoller
from workbench.ui.batch_rows import SEND_AGAIN, JobRow, JobsOfStore
from workbench.ui.qt_models.rows_model import RowsTableModel
from workbench.ui.widgets.history_panel import format_time
from workbench.ui.window_support import ask_on


class JobsModel(RowsTableModel[JobRow]):
    COLUMNS = ("Experiment", "Provider", "Model", "Status", "Answered", "Failed", "Landed",
               "Submitted")
    TIPS = (
        "The sweep or evaluation whose cells the job sends",
        "The provider's batch API (and the backend it goes through)",
        "The model(s) the job's requests ask",
        "submitting, running, cancelling or ended, with the provider's own state",
        "Requests the provider answered, of all the job sends",
        "Requests that failed, expired or were cancelled",
        "Answers stored as runs of their cells",
        "When the job was sent",
    )

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = 0) -> Any:
        if not index.isValid():
            return None
        row, column = self.rows[index.row()], index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            status = row.status if not row.states else f"{row.status} · {row.states}"
            return (row.experiment, f"{row.provider} ({row.backend})", row.models, status,
                    f"{row.answered:,} of {row.total:,}", f"{row.failed:,}", f"{row.landed:,}",
                    format_time(row.submitted_at) if row.submitted_at else "–")[column]
        if role == Qt.ItemDataRole.TextAlignmentRole and column in (4, 5, 6):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.ToolTipRole:
            lines = [f"job {row.id} · experiment {row.experiment_id}"]
            if row.message:
                lines.append(row.message)
            if row.rerunnable:
                lines.append(f"{plural(row.rerunnable, 'cell')} to re-run live")
            return "\n".join(lines)
        if role == Qt.ItemDataRole.UserRole:
            return row
        return None


class BatchJobsWindow(QWidget):
    """The jobs of one store; ``poller`` polls the unfinished ones (the app's, which goes on
    when this window closes, or one of the window's own when none is given)."""

    rerunFinished = Signal(str, int)  # job id, cells run live
    evaluationFinished = Signal(str)  # an evaluation finished live and graded: its id

    def __init__(
        self, jobs: JobsOfStore, poller: BatchPoller | None = None, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent, Qt.WindowType.Window)
        self.setWindowTitle("Batch jobs")
        self.jobs = jobs
        self.poller = poller if poller is not None else BatchPoller(jobs, parent=self)
        self._own_poller = poller is None
        self.model = JobsModel(self)
        self.view = QTreeView(self)
        self.view.setModel(self.model)
        self.view.setRootIsDecorated(False)
        self.view.setUniformRowHeights(True)
        self.view.setAlternatingRowColors(True)
        self.view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.view.setAccessibleName("Batch jobs")
        header = self.view.header()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setStretchLastSection(False)
        self.refresh_button = self._button("Refresh", "Poll the unfinished jobs now", self.refresh)
        self.cancel_button = self._button(
            "Cancel job", "Ask the provider to stop this job; answers so far still arrive",
            self.cancel_job)
        self.fetch_button = self._button(
            "Fetch results", "Poll this job and store what its ended batches answered",
            self.fetch_results)
        self.rerun_button = self._button("Re-run failed cells live", "", self.rerun_failed)
        self.resend_button = self._button(
            "Send again…", "Send a batch whose create could not be confirmed again, once the "
            "provider's console shows it has none (else it is paid for twice)", self.resend)
        self.status = QLabel(self)
        self.status.setAccessibleName("Batch jobs status")
        self.status.setWordWrap(True)
        bar = QHBoxLayout()
        bar.setSpacing(6)
        for button in (self.refresh_button, self.fetch_button, self.cancel_button,
                       self.rerun_button, self.resend_button):
            bar.addWidget(button)
        bar.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 8)
        layout.setSpacing(8)
        layout.addLayout(bar)
        layout.addWidget(self.view, 1)
        layout.addWidget(self.status)

        self._reader = LatestJob(self._show, self._failed, self)
        self._tasks = TaskRunner(self, max_threads=1)
        self._busy: set[str] = set()  # jobs with an action under way
        self._problems: list[str] = []  # jobs the last poll could not reach, and why
        self._closed = False
        self.poller.polled.connect(self._polled)
        # methods, not lambdas: the app's poller outlives this window, and a slot of a deleted
        # window is disconnected with it
        self.poller.failed.connect(self._poll_failed)
        self.view.selectionModel().currentRowChanged.connect(lambda *_: self._enable())
        self._enable()
        self.reload()
        self.poller.poll()  # what the provider has now, not at the next tick

    def _button(self, text: str, tip: str, slot: Callable[[], None]) -> QPushButton:
        button = QPushButton(text, self)
        button.setToolTip(tip)
        button.clicked.connect(slot)
        return button

    # --- reading -------------------------------------------------------------------------

    def shown(self) -> list[JobRow]:
        return list(self.model.rows)

    def current(self) -> JobRow | None:
        index = self.view.currentIndex()
        return index.siblingAtColumn(0).data(Qt.ItemDataRole.UserRole) if index.isValid() else None

    def reload(self) -> None:
        """Read the jobs again (no provider is asked)."""
        self._reader.submit(self.jobs.rows)

    def _show(self, rows: Sequence[JobRow]) -> None:
        picked = self.current()
        self.model.set_rows(rows)
        ids = [r.id for r in rows]
        if rows:
            at = ids.index(picked.id) if picked is not None and picked.id in ids else 0
            self.view.setCurrentIndex(self.model.index(at, 0))
        unfinished = sum(not r.ended for r in rows)
        unconfirmed = [f"“{r.experiment}”: {r.message} ({SEND_AGAIN})"
                       for r in rows if r.unconfirmed]
        if not rows:
            self.status.setText("No batch jobs yet: a sweep on an OpenAI or Anthropic backend "
                                "offers Submit as batch under Run sweep (an evaluation suite, "
                                "beside Run again).")
        elif self._problems or unconfirmed:
            self.status.setText("\n".join(self._problems + unconfirmed))
        elif unfinished and not self.status.text().startswith(("Cannot", "Not ")):
            every = self.poller.timer.interval() // 1000
            self.status.setText(f"{plural(unfinished, 'job')} waiting for the provider; polled "
                                f"every {every} s.")
        elif not unfinished:
            self.status.setText(f"{plural(len(rows), 'job')}, all ended.")
        self._enable()

    def _failed(self, error: KnownError) -> None:
        self.status.setText(f"Cannot read the batch jobs: {error}")

    def _enable(self) -> None:
        waiting = any(not r.ended for r in self.model.rows)
        self.refresh_button.setEnabled(waiting)
        self.refresh_button.setToolTip("Poll the unfinished jobs now" if waiting
                                       else "Nothing to poll: no job is waiting for its provider")
        row = self.current()
        free = row is not None and row.id not in self._busy
        self.cancel_button.setEnabled(free and row is not None and row.status in
                                      ("submitting", "running"))
        self.fetch_button.setEnabled(free and row is not None and not row.ended)
        self.rerun_button.setEnabled(free and row is not None and row.ended
                                     and (row.rerunnable > 0 or bool(row.suite)))
        self.resend_button.setEnabled(free and row is not None and row.unconfirmed
                                      and row.status in ("submitting", "running"))
        self.rerun_button.setToolTip(
            "Once the job ended, run the cells whose batch request failed, expired or was never "
            "answered, now, through the backend as an ordinary run"
            + (", and grade every answer (as workbench eval --resume does)"
               if row is not None and row.suite else ""))

    # --- polling -------------------------------------------------------------------------

    def refresh(self) -> None:
        """Poll every unfinished job now."""
        self.status.setText("Asking the providers…")
        self.poller.poll()

    def _polled(self, _unfinished: int, problems: list[str]) -> None:
        if not self._closed:
            self._problems = problems
            self.reload()

    def _poll_failed(self, error: KnownError) -> None:
        self.status.setText(f"Cannot poll the batch jobs: {error}")

    def _start(
        self, work: Callable[[Reporter, CancelToken], Any], what: str,
        then: Callable[[], None], finished: Callable[[Any], None] | None = None,
    ) -> TaskWorker[Any]:
        job: TaskWorker[Any] = TaskWorker(work)
        if finished is not None:
            job.signals.finished.connect(finished)
        job.signals.failed.connect(lambda error: self.status.setText(f"{what}: {error}"))
        job.signals.ended.connect(then)
        self._tasks.start(job)
        return job

    # --- actions on the picked job -------------------------------------------------------

    def _act(self, verb: str, work: Callable[[Reporter, CancelToken], Any],
             finished: Callable[[Any], None] | None = None) -> None:
        row = self.current()
        if row is None or row.id in self._busy:
            return
        self._busy.add(row.id)
        self._enable()
        job_id = row.id

        def then() -> None:
            self._busy.discard(job_id)
            self.reload()

        self.status.setText(f"{verb} “{row.experiment}”…")
        self._start(work, f"Not done ({verb.lower()})", then, finished)

    def cancel_job(self) -> None:
        row = self.current()
        if row is not None:
            jobs, job_id = self.jobs, row.id
            self._act("Cancelling", lambda _r, _c: jobs.cancel(job_id),
                      lambda _none: self.status.setText(
                          "Cancel asked: what the provider finished still arrives."))

    def fetch_results(self) -> None:
        row = self.current()
        if row is not None:
            jobs, job_id = self.jobs, row.id
            self._act("Fetching results of", lambda _r, cancel: jobs.poll(job_id, cancel),
                      lambda _none: self.status.setText("Fetched what the provider has."))

    def ask_resend(self, row: JobRow) -> bool:
        """Whether the person checked the provider and wants the batch sent again."""
        return ask_on(
            self, "Send the batch again?",
            f"{row.message}\n\nSend it again? A batch already at the provider would be paid "
            "for twice.",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
            icon=QMessageBox.Icon.Warning, default=QMessageBox.StandardButton.Cancel,
            names={QMessageBox.StandardButton.Yes: "Send again"},
        ) == QMessageBox.StandardButton.Yes

    def resend(self) -> None:
        row = self.current()
        if row is not None and row.unconfirmed and self.ask_resend(row):
            jobs, job_id = self.jobs, row.id
            self._act("Sending again", lambda _r, _c: jobs.resend(job_id),
                      lambda _none: self.status.setText("Sent again."))

    def rerun_failed(self) -> None:
        row = self.current()
        if row is None:
            return
        jobs, job_id = self.jobs, row.id

        def ran(count: int) -> None:
            graded = " and graded every answer" if row.suite else ""
            self.status.setText(f"Ran {plural(count, 'cell')} live{graded}.")
            self.rerunFinished.emit(job_id, count)
            if row.suite:
                self.evaluationFinished.emit(row.experiment_id)

        self._act("Re-running the failed cells of",
                  lambda _r, cancel: jobs.rerun_failed(job_id, cancel), ran)

    # --- closing -------------------------------------------------------------------------

    def shutdown(self, timeout_s: float = 10.0) -> bool:
        """Stop this window's work (and its own poller; the app's goes on)."""
        self._closed = True
        polled = self.poller.shutdown(timeout_s) if self._own_poller else True
        read = self._reader.wait(int(timeout_s * 1000))
        return self._tasks.shutdown(timeout_s) and read and polled

    def closeEvent(self, event: QCloseEvent) -> None:
        self.shutdown(timeout_s=5.0)
        super().closeEvent(event)
