"""Evaluation results: for each run, each assertion's outcome (pass, fail or error), score, reason.

"error" means the check could not be made (the backend failed, a grader crashed) and is kept apart
from "fail" (the assertion was false), so a flaky backend never looks like a bad prompt.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from workbench.core.experiments import AssertionSpec
from workbench.storage.db import Database, NotFoundError
from workbench.storage.ids import new_id, now_iso

Outcome = Literal["pass", "fail", "error"]


@dataclass(frozen=True)
class EvaluationRecord:
    assertion: AssertionSpec
    outcome: Outcome
    score: float | None = None
    reason: str = ""


class EvaluationRepository:
    def __init__(self, db: Database) -> None:
        self.db = db

    def record(self, run_id: str, results: Sequence[EvaluationRecord]) -> None:
        """Replace a run's evaluation results (re-evaluating a run overwrites the last one)."""
        self.record_many([(run_id, results)])

    def record_many(self, items: Sequence[tuple[str, Sequence[EvaluationRecord]]]) -> None:
        """Replace the results of several runs in one transaction: one DELETE and one INSERT
        statement for all of them, each distinct assertion serialised once (an evaluation writes
        its outcomes in batches; one ``record`` per run cost the writer thread ~3x as much)."""
        if not items:
            return
        now = now_iso()
        texts: dict[int, str] = {}  # id(spec) -> its JSON; the specs outlive this call

        def as_json(spec: AssertionSpec) -> str:
            text = texts.get(id(spec))
            if text is None:
                text = texts[id(spec)] = spec.model_dump_json(exclude_defaults=True)
            return text

        latest = dict(items)  # a run given twice keeps its last results, as two records would
        rows = [
            (new_id(), run_id, i, as_json(r.assertion), r.outcome, r.score, r.reason, now)
            for run_id, results in latest.items()
            for i, r in enumerate(results)
        ]
        run_ids = list(latest)
        try:
            with self.db.transaction() as conn:
                for start in range(0, len(run_ids), 500):  # under SQLite's parameter limit
                    chunk = run_ids[start : start + 500]
                    marks = ", ".join("?" for _ in chunk)
                    conn.execute(f"DELETE FROM evaluations WHERE run_id IN ({marks})", chunk)
                conn.executemany(
                    "INSERT INTO evaluations (id, run_id, position, assertion_json, outcome, score,"
                    " reason, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    rows,
                )
        except sqlite3.IntegrityError as err:
            if "FOREIGN KEY" in str(err):
                missing = run_ids[0] if len(run_ids) == 1 else "among " + ", ".join(run_ids[:5])
                raise NotFoundError(f"no run with id {missing}") from None
            raise

    def for_run(self, run_id: str) -> list[EvaluationRecord]:
        return self.for_runs([run_id]).get(run_id, [])

    def for_runs(self, run_ids: Sequence[str]) -> dict[str, list[EvaluationRecord]]:
        """Results of several runs at once (a grid's scorecard), keyed by run id."""
        found: dict[str, list[EvaluationRecord]] = {}
        conn = self.db.connection()
        for start in range(0, len(run_ids), 500):  # stay under SQLite's bound-parameter limit
            chunk = list(run_ids[start : start + 500])
            marks = ", ".join("?" for _ in chunk)
            rows = conn.execute(
                "SELECT run_id, assertion_json, outcome, score, reason FROM evaluations"
                f" WHERE run_id IN ({marks}) ORDER BY run_id, position",
                chunk,
            ).fetchall()
            for run_id, assertion, outcome, score, reason in rows:
                found.setdefault(run_id, []).append(
                    EvaluationRecord(
                        AssertionSpec.model_validate_json(assertion), outcome, score, reason
                    )
                )
        return found

    def for_experiment(self, experiment_id: str) -> dict[str, list[EvaluationRecord]]:
        ids = [
            row[0]
            for row in self.db.connection().execute(
                "SELECT id FROM runs WHERE experiment_id = ?", (experiment_id,)
            )
        ]
        return self.for_runs(ids)
