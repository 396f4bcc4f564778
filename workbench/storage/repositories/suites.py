"""Suite histories: which saved evaluations ran one suite, and the one pinned as its baseline.

A suite is known by a key (``services.eval_history.suite_key``); its evaluations are ordinary
experiments, listed here oldest first.
"""

from __future__ import annotations

from dataclasses import dataclass

from workbench.storage.db import Database, NotFoundError
from workbench.storage.ids import now_iso


@dataclass(frozen=True)
class SuiteEvaluation:
    experiment_id: str
    created_at: str


class SuiteRepository:
    def __init__(self, db: Database) -> None:
        self.db = db

    def add(self, experiment_id: str, suite_key: str) -> None:
        """Record that ``experiment_id`` is an evaluation of the suite ``suite_key``."""
        with self.db.transaction() as conn:
            if conn.execute(
                "SELECT 1 FROM experiments WHERE id = ?", (experiment_id,)
            ).fetchone() is None:
                raise NotFoundError(f"no experiment with id {experiment_id}")
            conn.execute(
                "INSERT OR REPLACE INTO suite_evaluations (experiment_id, suite_key)"
                " VALUES (?, ?)",
                (experiment_id, suite_key),
            )

    def key_of(self, experiment_id: str) -> str | None:
        row = self.db.connection().execute(
            "SELECT suite_key FROM suite_evaluations WHERE experiment_id = ?", (experiment_id,)
        ).fetchone()
        return None if row is None else str(row[0])

    def evaluations(self, suite_key: str) -> list[SuiteEvaluation]:
        """The suite's evaluations, oldest first."""
        return [
            SuiteEvaluation(row[0], row[1])
            for row in self.db.connection().execute(
                "SELECT e.id, e.created_at FROM suite_evaluations s"
                " JOIN experiments e ON e.id = s.experiment_id"
                " WHERE s.suite_key = ? ORDER BY e.created_at, e.id",
                (suite_key,),
            )
        ]

    def pin(self, suite_key: str, experiment_id: str) -> None:
        """Make ``experiment_id`` (an evaluation of this suite) the suite's baseline."""
        if self.key_of(experiment_id) != suite_key:
            raise NotFoundError(f"evaluation {experiment_id} is not an evaluation of this suite")
        with self.db.transaction() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO suite_baselines (suite_key, experiment_id, pinned_at)"
                " VALUES (?, ?, ?)",
                (suite_key, experiment_id, now_iso()),
            )

    def baseline(self, suite_key: str) -> str | None:
        """The pinned baseline's experiment id, if one is pinned."""
        row = self.db.connection().execute(
            "SELECT experiment_id FROM suite_baselines WHERE suite_key = ?", (suite_key,)
        ).fetchone()
        return None if row is None else str(row[0])
