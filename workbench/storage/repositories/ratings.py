"""Human judgements of runs: thumbs, 1–5 stars and a comment per run; A/B preferences between two.

A/B preferences are kept as pairs (not as two independent scores) because that is what preference
fine-tuning (DPO) consumes: the same prompt, a chosen answer and a rejected one.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Literal

from workbench.core.errors import KnownError
from workbench.storage.db import Database, NotFoundError
from workbench.storage.ids import new_id, now_iso
from workbench.storage.repositories.runs import RunRepository, StoredRun

Choice = Literal["a", "b", "tie", "both_bad"]
CHOICES: tuple[Choice, ...] = ("a", "b", "tie", "both_bad")


@dataclass(frozen=True)
class Rating:
    run_id: str
    thumbs: int | None  # -1 or 1
    stars: int | None  # 1..5
    comment: str
    updated_at: str


@dataclass(frozen=True)
class Preference:
    id: str
    run_a: str
    run_b: str
    choice: Choice
    comment: str
    created_at: str


class RatingRepository:
    def __init__(self, db: Database) -> None:
        self.db = db

    def rate(
        self,
        run_id: str,
        *,
        thumbs: int | None = None,
        stars: int | None = None,
        comment: str | None = None,
    ) -> Rating:
        """Set the given parts of a run's rating, keeping the parts not given."""
        if thumbs is not None and thumbs not in (-1, 1):
            raise KnownError(f"thumbs must be -1 or 1, not {thumbs}")
        if stars is not None and not 1 <= stars <= 5:
            raise KnownError(f"stars must be between 1 and 5, not {stars}")
        current = self.get(run_id) or Rating(run_id, None, None, "", "")
        rating = Rating(
            run_id,
            thumbs if thumbs is not None else current.thumbs,
            stars if stars is not None else current.stars,
            comment if comment is not None else current.comment,
            now_iso(),
        )
        try:
            with self.db.transaction() as conn:
                conn.execute(
                    "INSERT INTO ratings (run_id, thumbs, stars, comment, updated_at)"
                    " VALUES (?, ?, ?, ?, ?) ON CONFLICT (run_id) DO UPDATE SET thumbs ="
                    " excluded.thumbs, stars = excluded.stars, comment = excluded.comment,"
                    " updated_at = excluded.updated_at",
                    (rating.run_id, rating.thumbs, rating.stars, rating.comment, rating.updated_at),
                )
        except sqlite3.IntegrityError:
            raise NotFoundError(f"no run with id {run_id}") from None
        return rating

    def get(self, run_id: str) -> Rating | None:
        row = (
            self.db.connection()
            .execute(
                "SELECT run_id, thumbs, stars, comment, updated_at FROM ratings WHERE run_id = ?",
                (run_id,),
            )
            .fetchone()
        )
        return Rating(*row) if row else None

    def clear(self, run_id: str) -> None:
        with self.db.transaction() as conn:
            conn.execute("DELETE FROM ratings WHERE run_id = ?", (run_id,))

    def rated_run_ids(
        self,
        *,
        thumbs: int | None = None,
        min_stars: int | None = None,
        experiment_id: str | None = None,
    ) -> list[str]:
        """Runs whose rating has these thumbs and at least these stars (oldest first): the runs
        a person chose, e.g. as fine-tuning examples."""
        sql = "SELECT r.run_id FROM ratings r JOIN runs ON runs.id = r.run_id WHERE 1"
        params: list[object] = []
        if thumbs is not None:
            sql += " AND r.thumbs = ?"
            params.append(thumbs)
        if min_stars is not None:
            sql += " AND r.stars >= ?"
            params.append(min_stars)
        if experiment_id is not None:
            sql += " AND runs.experiment_id = ?"
            params.append(experiment_id)
        return [row[0] for row in self.db.connection().execute(sql + " ORDER BY r.run_id", params)]

    def prefer(self, run_a: str, run_b: str, choice: Choice, comment: str = "") -> Preference:
        """Record which of two runs (of the same prompt) was better."""
        if choice not in CHOICES:
            raise KnownError(f"a preference is one of {', '.join(CHOICES)}, not '{choice}'")
        if run_a == run_b:
            raise KnownError("a preference compares two different runs")
        preference = Preference(new_id(), run_a, run_b, choice, comment, now_iso())
        try:
            with self.db.transaction() as conn:
                conn.execute(
                    "INSERT INTO preferences (id, run_a, run_b, choice, comment, created_at)"
                    " VALUES (?, ?, ?, ?, ?, ?)",
                    (preference.id, run_a, run_b, choice, comment, preference.created_at),
                )
        except sqlite3.IntegrityError:
            raise NotFoundError(f"no run with id {run_a} or {run_b}") from None
        return preference

    def preferences(self, experiment_id: str | None = None) -> list[Preference]:
        """Preferences in the order they were given, optionally of one experiment's runs."""
        sql = "SELECT p.id, p.run_a, p.run_b, p.choice, p.comment, p.created_at FROM preferences p"
        params: tuple[object, ...] = ()
        if experiment_id is not None:
            sql += " JOIN runs a ON a.id = p.run_a WHERE a.experiment_id = ?"
            params = (experiment_id,)
        rows = self.db.connection().execute(sql + " ORDER BY p.id", params).fetchall()
        return [Preference(*row) for row in rows]

    def preference_pairs(
        self, experiment_id: str | None = None
    ) -> list[tuple[StoredRun, StoredRun]]:
        """``(chosen, rejected)`` runs of every decisive preference (ties and both-bad skipped)."""
        runs = RunRepository(self.db)
        pairs = []
        for p in self.preferences(experiment_id):
            if p.choice == "a":
                pairs.append((runs.get(p.run_a), runs.get(p.run_b)))
            elif p.choice == "b":
                pairs.append((runs.get(p.run_b), runs.get(p.run_a)))
        return pairs
