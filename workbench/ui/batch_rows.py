"""What the Batch jobs window shows of each job, read from the store, and what it asks of the
batch service. No Qt: all of it runs on pool threads.

The services are imported when a job needs them, on those threads: the app makes its poller
at every start, right after its window shows, and most starts have no job to poll."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from workbench.backends.base import CancelToken
from workbench.backends.batch import BatchUnconfirmed
from workbench.core.errors import KnownError
from workbench.core.grid import CellKey
from workbench.storage.repositories import Store, StoredExperiment
from workbench.storage.repositories.batch_jobs import UNKNOWN, BatchJob

if TYPE_CHECKING:
    from workbench.services.batch import BatchJobs
    from workbench.services.runner import Runner


@dataclass(frozen=True)
class JobRow:
    """What the window shows of one job (read off the GUI thread)."""

    id: str
    experiment_id: str
    experiment: str
    provider: str
    backend: str
    models: str
    status: str
    states: str  # the remote batches' states, as the provider last said them
    total: int
    answered: int
    failed: int
    landed: int
    rerunnable: int  # cells whose line failed, expired or was never answered
    submitted_at: str
    message: str = ""
    suite: str = ""  # an evaluation's suite file: finishing it live also grades the answers
    unconfirmed: bool = False  # a batch may be at the provider without its id here

    @property
    def ended(self) -> bool:
        return self.status == "ended"


def job_row(store: Store, job: BatchJob) -> JobRow:
    """What the window shows of ``job``: the provider's counts summed over its batches, the
    landed cells and those a live re-run would take (failed or never answered)."""
    outcomes = Counter(cell.outcome for cell in store.batches.cells(job.id))
    try:
        stored = store.experiments.get(job.experiment_id)
    except KnownError:
        experiment, rerunnable = job.experiment_id[:8], 0
    else:
        experiment, rerunnable = stored.spec.name, len(_rerunnable(store, job, stored))
    states = ", ".join(dict.fromkeys(p.state for p in job.parts if p.state != "pending"))
    submitted = [p.submitted_at for p in job.parts if p.submitted_at]
    return JobRow(
        id=job.id,
        experiment_id=job.experiment_id,
        experiment=experiment,
        provider=job.provider,
        backend=job.backend_name,
        models=", ".join(job.models),
        status=job.status,
        states=states,
        total=sum(p.total for p in job.parts) or sum(outcomes.values()),
        answered=sum(p.succeeded for p in job.parts),
        failed=sum(p.failed for p in job.parts),
        landed=outcomes["ok"] + outcomes["error"],
        rerunnable=rerunnable,
        submitted_at=min(submitted) if submitted else "",
        message="; ".join(p.message for p in job.parts if p.message),
        suite=_suite_file(store, job.experiment_id),
        unconfirmed=any(p.state == UNKNOWN and not p.fetched for p in job.parts),
    )


#: What to do about a batch of unknown outcome, in the app (a terminal names ``workbench batch
#: resend``: ``backends.batch.resend_hint``).
SEND_AGAIN = "once checked, Send again… in Batch jobs sends it again; Cancel job gives it up"


def said(error: KnownError) -> str:
    """``error`` as the app says it: a batch of unknown outcome points to Send again…"""
    return f"{error.message} ({SEND_AGAIN})" if isinstance(error, BatchUnconfirmed) else str(error)


def unconfirmed_notice(rows: Sequence[JobRow]) -> str:
    """The main window's word on jobs with a batch of unknown outcome (``rows``, at least one):
    which, and what to do."""
    names = ", ".join(f"“{row.experiment}”" for row in rows)
    which = f"The batch job of {names}" if len(rows) == 1 else (
        f"{len(rows)} batch jobs ({names})")
    providers = " or ".join(dict.fromkeys(row.provider for row in rows))
    return (f"{which} may have a batch at {providers} that could not be confirmed: check the "
            "provider's console, then Tools ▸ Batch jobs: Send again… sends it, Cancel job "
            "gives it up.")


class JobsOfStore:
    """What the Batch jobs window asks of the batch service (``services.batch``), for one
    store and runner. Every method blocks: the window calls them on pool threads."""

    def __init__(self, store: Store, runner: Runner) -> None:
        self.store = store
        self.runner = runner

    @cached_property
    def service(self) -> BatchJobs:
        from workbench.services.batch import BatchJobs

        return BatchJobs(self.store, self.runner)

    def rows(self) -> list[JobRow]:
        """Every job, newest first."""
        return [job_row(self.store, job) for job in self.store.batches.jobs()]

    def poll(self, job_id: str, _cancel: CancelToken) -> None:
        """Poll the job's remote batches and land the results of those that ended."""
        self.service.refresh(job_id)

    def cancel(self, job_id: str) -> None:
        """Ask the provider to stop the job's batches (what finished still lands)."""
        self.service.cancel(job_id)

    def resend(self, job_id: str) -> None:
        """Send again the job's batches whose create could not be confirmed (the person
        checked the provider has none)."""
        self.service.resend(job_id)

    def rerun_failed(self, job_id: str, cancel: CancelToken) -> int:
        """Run the job's cells that failed or were never answered live, through the runner as
        a sweep runs them (stored as runs of their cells); how many ran. An evaluation is
        finished as ``workbench eval SUITE --resume ID`` does: its pending cells run and every
        answer, landed ones included, is graded."""
        job = self.store.batches.get(job_id)
        experiment = self.store.experiments.get(job.experiment_id)
        suite = _suite_file(self.store, experiment.id)
        if suite:
            return self._finish_evaluation(Path(suite), experiment, cancel)
        from workbench.services.grid_runner import GridRunner, plan

        keys = _rerunnable(self.store, job, experiment)
        planned = [item for item in plan(experiment.spec) if item.cell.key in keys]
        if not planned:
            return 0
        handle = GridRunner(self.runner, self.store).start(experiment, planned=planned)
        while not handle.done:
            if cancel.wait(0.1):
                handle.cancel_all()
        return len(handle.wait().outcomes)


    def _finish_evaluation(
        self, path: Path, experiment: StoredExperiment, cancel: CancelToken
    ) -> int:
        from workbench.services.evaluation import Evaluation
        from workbench.services.suites import load_suite, suite_tools

        suite = load_suite(path, local_fallback=False)  # its judge; its cases are stored
        tools = suite_tools(experiment.spec, self.runner, suite.judge)
        try:
            evaluation = Evaluation.open(self.store, experiment.id, self.runner, **tools)
            pending = len(evaluation.pending())
            evaluation.run(cancel)
            return pending
        finally:
            for tool in tools.values():
                close = getattr(tool, "close", None)
                if close is not None:
                    close()


def _suite_file(store: Store, experiment_id: str) -> str:
    """The suite file an evaluation was run from ("" for a sweep)."""
    key = store.suites.key_of(experiment_id) or ""
    return key.removeprefix("file:") if key.startswith("file:") else ""


def _rerunnable(store: Store, job: BatchJob, experiment: StoredExperiment) -> set[CellKey]:
    """The job's cells whose line failed or was not answered, and that have no successful run
    since (one re-run live already has)."""
    from workbench.services.grid_runner import completed_keys

    done = completed_keys(store, experiment)
    return {
        key
        for cell in store.batches.cells(job.id)
        if cell.outcome in ("error", "missing") and (key := CellKey(*cell.key)) not in done
    }
