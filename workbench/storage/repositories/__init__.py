"""Repositories over the database, one per aggregate, and ``Store`` that bundles them.

Every method uses the calling thread's own connection, so one ``Store`` can serve several threads;
writes from the GUI go through ``workbench.storage.writer.StoreWriter`` (one writer thread), the CLI
and tests call the methods directly.
"""

from __future__ import annotations

from pathlib import Path

from workbench.storage.db import Database
from workbench.storage.repositories.batch_jobs import BatchJobRepository
from workbench.storage.repositories.evaluations import EvaluationRecord, EvaluationRepository
from workbench.storage.repositories.experiments import (
    ExperimentRepository,
    ExperimentSummary,
    StoredExperiment,
)
from workbench.storage.repositories.grades import GradeRepository
from workbench.storage.repositories.ratings import Preference, Rating, RatingRepository
from workbench.storage.repositories.runs import RunRef, RunRepository, RunSummary, StoredRun
from workbench.storage.repositories.suites import SuiteRepository

__all__ = [
    "EvaluationRecord",
    "ExperimentSummary",
    "Preference",
    "Rating",
    "RunRef",
    "RunSummary",
    "Store",
    "StoredExperiment",
    "StoredRun",
]


class Store:
    """The experiment store: experiments, runs, ratings, evaluations, suite histories and
    provider batch jobs in one database."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.experiments = ExperimentRepository(db)
        self.runs = RunRepository(db)
        self.ratings = RatingRepository(db)
        self.evaluations = EvaluationRepository(db)
        self.suites = SuiteRepository(db)
        self.grades = GradeRepository(db)
        self.batches = BatchJobRepository(db, self.runs)

    @classmethod
    def open(cls, path: Path | None = None) -> Store:
        """The store in ``path`` (default: the data folder's database), migrated."""
        return cls(Database(path))

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
