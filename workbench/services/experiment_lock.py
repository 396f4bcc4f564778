"""One run of an experiment at a time, across processes.

A sweep, a comparison or an evaluation started twice on the same experiment (two terminals, the
app and a script, a double click) would run every pending cell twice: both see the same cells as
not done. Whatever starts one (``GridRunner.start``, ``Evaluation.run``) takes the experiment's
lock first, a file lock beside the database (see :mod:`workbench.storage.locks` for why a file
lock), and holds it until its last cell ended. A second start is refused with who holds the
lock, or waits for it when asked to.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from workbench.core.errors import KnownError
from workbench.storage.locks import FileLock, Holder
from workbench.storage.repositories import Store, StoredExperiment


class ExperimentBusy(KnownError):
    """The experiment is being run by another process (or another part of this one)."""

    def __init__(self, experiment: StoredExperiment, holder: Holder) -> None:
        self.experiment_id = experiment.id
        self.holder = holder
        super().__init__(
            f"experiment '{experiment.spec.name}' ({experiment.id}) is already running in "
            f"{holder.describe()}",
            hint="let that run finish or stop it; with --wait the command starts when it ends "
            "and runs only the cells still missing",
        )


def lock_path(store: Store, experiment_id: str) -> Path:
    """The experiment's lock file: beside the database, as experiment ids are per database."""
    return store.db.path.parent / "locks" / f"experiment-{experiment_id}.lock"


def lock_experiment(
    store: Store, experiment: StoredExperiment, *, wait: Callable[[float], bool] | None = None
) -> FileLock:
    """The experiment's lock, taken; release it when the run ended. Raises ``ExperimentBusy``
    when another run holds it (with ``wait``, a cancel token's ``wait``: once that gives up)."""
    lock = FileLock(lock_path(store, experiment.id))
    holder = lock.acquire(wait)
    if holder is not None:
        raise ExperimentBusy(experiment, holder)
    return lock
