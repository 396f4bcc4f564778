"""Repeated gradings of one output: the model-graded assertions of a run judged again
(``services.regrade``), so a grader's own flakiness is measured without new generations."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from workbench.storage.db import Database
from workbench.storage.repositories.evaluations import Outcome


@dataclass(frozen=True)
class Grade:
    """One assertion's verdict in one repeated grading."""

    position: int  # the assertion's position in the run's evaluation
    outcome: Outcome
    score: float | None
    reason: str = ""


class GradeRepository:
    def __init__(self, db: Database) -> None:
        self.db = db

    def record(self, run_id: str, repeat: int, grades: Sequence[Grade]) -> None:
        """Store (or replace) grading ``repeat`` (1 and up) of the run."""
        with self.db.transaction() as conn:
            conn.execute(
                "DELETE FROM grade_repeats WHERE run_id = ? AND repeat = ?", (run_id, repeat)
            )
            conn.executemany(
                "INSERT INTO grade_repeats (run_id, repeat, position, outcome, score, reason)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                [(run_id, repeat, g.position, g.outcome, g.score, g.reason) for g in grades],
            )

    def for_runs(self, run_ids: Sequence[str]) -> dict[str, dict[int, list[Grade]]]:
        """run id -> repeat -> its grades, for the runs that have any."""
        found: dict[str, dict[int, list[Grade]]] = {}
        conn = self.db.connection()
        for start in range(0, len(run_ids), 500):  # under SQLite's bound-parameter limit
            chunk = list(run_ids[start : start + 500])
            marks = ", ".join("?" for _ in chunk)
            rows = conn.execute(
                "SELECT run_id, repeat, position, outcome, score, reason FROM grade_repeats"
                f" WHERE run_id IN ({marks}) ORDER BY run_id, repeat, position",
                chunk,
            )
            for run_id, repeat, position, outcome, score, reason in rows:
                found.setdefault(run_id, {}).setdefault(repeat, []).append(
                    Grade(position, outcome, score, reason)
                )
        return found
