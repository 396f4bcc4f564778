"""Experiments: name, notes, variants (the columns) and test cases (the dataset rows).

Variants and test cases keep their ids across edits (matched by position), so runs keep pointing
at the cell they were run for after the user renames a variant or fixes a typo in a test.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import TypeAdapter

from workbench.core.experiments import AssertionSpec, ExperimentSpec, TestCase, Transform, Variant
from workbench.core.models import Params, PromptTemplate
from workbench.storage import image_blobs
from workbench.storage.db import Database, NotFoundError
from workbench.storage.ids import new_id, now_iso

_assertions = TypeAdapter(list[AssertionSpec])
_transform = TypeAdapter(Transform | None)
#: What an experiment was made as: its runs take this as their history source.
Kind = Literal["compare", "sweep", "eval"]


def kind_of(spec: ExperimentSpec) -> Kind:
    """The kind of an experiment saved without one: with test cases an evaluation, else a
    comparison."""
    return "eval" if spec.tests else "compare"


@dataclass(frozen=True)
class StoredExperiment:
    id: str
    spec: ExperimentSpec
    variant_ids: list[str]
    test_ids: list[str]
    created_at: str
    updated_at: str


@dataclass(frozen=True)
class ExperimentSummary:
    id: str
    name: str
    notes: str
    created_at: str
    updated_at: str
    variants: int
    tests: int
    runs: int
    kind: Kind = "compare"
    repeats: int = 1
    template: str = ""  # the first variant's template name

    @property
    def cells(self) -> int:
        """Calls one full run makes: variants × test cases (at least one) × repeats."""
        return self.variants * max(self.tests, 1) * self.repeats


def _dump(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


#: The columns ``_variant_row`` fills, in its order.
VARIANT_COLUMNS = (
    "label, template_json, template_version, template_key, params_json, backend, model,"
    " variables_json, template_file"
)


def _variant_row(variant: Variant, template_json: str) -> tuple[object, ...]:
    """The columns of ``VARIANT_COLUMNS``; ``template_json`` is the template as stored (its
    images as references, ``image_blobs.dump``)."""
    return (
        variant.label,
        template_json,
        variant.template_version,
        variant.template_key,
        variant.params.model_dump_json(exclude_defaults=True),
        variant.backend,
        variant.model,
        _dump(variant.variables),
        variant.template_file,
    )


def _variant(conn: sqlite3.Connection, row: dict[str, Any]) -> Variant:
    """A variant from its row (``VARIANT_COLUMNS`` by name)."""
    return Variant(
        label=row["label"],
        template=image_blobs.load(conn, row["template_json"], PromptTemplate),
        template_version=row["template_version"],
        template_key=row["template_key"],
        template_file=row.get("template_file"),
        params=Params.model_validate_json(row["params_json"]),
        backend=row["backend"],
        model=row["model"],
        variables=json.loads(row["variables_json"]),
    )


#: The columns ``_test_row`` fills, in its order.
TEST_COLUMNS = "description, vars_json, expected, assertions_json, metadata_json, transform_json"


def _test_row(test: TestCase) -> tuple[object, ...]:
    return (
        test.description,
        _dump(test.vars),
        test.expected,
        _assertions.dump_json(test.assertions, exclude_defaults=True).decode(),
        _dump(test.metadata),
        None if test.transform is None else _transform.dump_json(test.transform).decode(),
    )


class ExperimentRepository:
    def __init__(self, db: Database) -> None:
        self.db = db

    def create(self, spec: ExperimentSpec, kind: Kind | None = None) -> StoredExperiment:
        """Save ``spec`` as a new experiment of ``kind`` (default: ``kind_of(spec)``)."""
        experiment_id = new_id()
        now = now_iso()
        with self.db.transaction() as conn:
            conn.execute(
                "INSERT INTO experiments (id, name, notes, repeats, default_assertions_json,"
                " created_at, updated_at, kind) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    experiment_id,
                    spec.name,
                    spec.notes,
                    spec.repeats,
                    _assertions.dump_json(spec.default_assertions, exclude_defaults=True).decode(),
                    now,
                    now,
                    kind or kind_of(spec),
                ),
            )
            self._sync_children(conn, experiment_id, spec)
        return self.get(experiment_id)

    def update(self, experiment_id: str, spec: ExperimentSpec) -> StoredExperiment:
        """Replace the experiment's contents; variants and tests keep their ids by position."""
        with self.db.transaction() as conn:
            changed = conn.execute(
                "UPDATE experiments SET name = ?, notes = ?, repeats = ?,"
                " default_assertions_json = ?, updated_at = ? WHERE id = ?",
                (
                    spec.name,
                    spec.notes,
                    spec.repeats,
                    _assertions.dump_json(spec.default_assertions, exclude_defaults=True).decode(),
                    now_iso(),
                    experiment_id,
                ),
            ).rowcount
            if not changed:
                raise NotFoundError(f"no experiment with id {experiment_id}")
            self._sync_children(conn, experiment_id, spec)
        return self.get(experiment_id)

    def _sync_children(
        self, conn: sqlite3.Connection, experiment_id: str, spec: ExperimentSpec
    ) -> None:
        templates = [
            image_blobs.dump(conn, v.template, exclude_defaults=True) for v in spec.variants
        ]
        variant_ids = self._sync(
            conn,
            "variants",
            experiment_id,
            VARIANT_COLUMNS,
            [_variant_row(v, text) for v, (text, _h) in zip(spec.variants, templates, strict=True)],
        )
        for variant_id, (_text, hashes) in zip(variant_ids, templates, strict=True):
            image_blobs.relink(conn, "variant_images", variant_id, hashes)
        self._sync(
            conn,
            "test_cases",
            experiment_id,
            TEST_COLUMNS,
            [_test_row(t) for t in spec.tests],
        )

    @staticmethod
    def _sync(
        conn: sqlite3.Connection,
        table: str,
        experiment_id: str,
        columns: str,
        rows: Sequence[tuple[object, ...]],
    ) -> list[str]:
        """Write ``rows`` at positions 0..n-1 (updating the rows there, so they keep their ids)
        and delete the rest; returns the rows' ids by position."""
        names = [c.strip() for c in columns.split(",")]
        have = dict(
            conn.execute(
                f"SELECT position, id FROM {table} WHERE experiment_id = ?", (experiment_id,)
            ).fetchall()
        )
        assignments = ", ".join(f"{n} = ?" for n in names)
        marks = ", ".join("?" for _ in names)
        ids: list[str] = []
        for position, row in enumerate(rows):
            if position in have:
                conn.execute(
                    f"UPDATE {table} SET {assignments} WHERE experiment_id = ? AND position = ?",
                    (*row, experiment_id, position),
                )
                ids.append(have[position])
            else:
                ids.append(new_id())
                conn.execute(
                    f"INSERT INTO {table} (id, experiment_id, position, {columns})"
                    f" VALUES (?, ?, ?, {marks})",
                    (ids[-1], experiment_id, position, *row),
                )
        conn.execute(
            f"DELETE FROM {table} WHERE experiment_id = ? AND position >= ?",
            (experiment_id, len(rows)),
        )
        return ids

    def add_tests(self, experiment_id: str, tests: Sequence[TestCase]) -> list[str]:
        """Append dataset rows; returns their ids."""
        with self.db.transaction() as conn:
            if (
                conn.execute("SELECT 1 FROM experiments WHERE id = ?", (experiment_id,)).fetchone()
                is None
            ):
                raise NotFoundError(f"no experiment with id {experiment_id}")
            start = conn.execute(
                "SELECT coalesce(max(position) + 1, 0) FROM test_cases WHERE experiment_id = ?",
                (experiment_id,),
            ).fetchone()[0]
            ids = [new_id() for _ in tests]
            conn.executemany(
                f"INSERT INTO test_cases (id, experiment_id, position, {TEST_COLUMNS})"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (i, experiment_id, start + n, *_test_row(t))
                    for n, (i, t) in enumerate(zip(ids, tests, strict=True))
                ],
            )
            conn.execute(
                "UPDATE experiments SET updated_at = ? WHERE id = ?", (now_iso(), experiment_id)
            )
        return ids

    def get(self, experiment_id: str) -> StoredExperiment:
        conn = self.db.connection()
        row = conn.execute(
            "SELECT name, notes, repeats, default_assertions_json, created_at, updated_at"
            " FROM experiments WHERE id = ?",
            (experiment_id,),
        ).fetchone()
        if row is None:
            raise NotFoundError(f"no experiment with id {experiment_id}")
        names = ["id", *(c.strip() for c in VARIANT_COLUMNS.split(","))]
        variants = conn.execute(
            f"SELECT id, {VARIANT_COLUMNS} FROM variants WHERE experiment_id = ?"
            " ORDER BY position",
            (experiment_id,),
        ).fetchall()
        tests = conn.execute(
            f"SELECT id, {TEST_COLUMNS} FROM test_cases WHERE experiment_id = ? ORDER BY position",
            (experiment_id,),
        ).fetchall()
        spec = ExperimentSpec(
            name=row[0],
            notes=row[1],
            repeats=row[2],
            default_assertions=_assertions.validate_json(row[3]),
            variants=[_variant(conn, dict(zip(names, v, strict=True))) for v in variants],
            tests=[
                TestCase(
                    description=t[1],
                    vars=json.loads(t[2]),
                    expected=t[3],
                    assertions=_assertions.validate_json(t[4]),
                    metadata=json.loads(t[5]),
                    transform=None if t[6] is None else _transform.validate_json(t[6]),
                )
                for t in tests
            ],
        )
        return StoredExperiment(
            experiment_id, spec, [v[0] for v in variants], [t[0] for t in tests], row[4], row[5]
        )

    def summaries(self) -> list[ExperimentSummary]:
        """Every experiment, most recently changed first."""
        rows = (
            self.db.connection()
            .execute(
                "SELECT e.id, e.name, e.notes, e.created_at, e.updated_at,"
                " (SELECT count(*) FROM variants WHERE experiment_id = e.id),"
                " (SELECT count(*) FROM test_cases WHERE experiment_id = e.id),"
                " (SELECT count(*) FROM runs WHERE experiment_id = e.id),"
                " e.kind, e.repeats,"
                " (SELECT coalesce(json_extract(template_json, '$.name'), '') FROM variants"
                "  WHERE experiment_id = e.id ORDER BY position LIMIT 1)"
                " FROM experiments e ORDER BY e.updated_at DESC, e.id DESC"
            )
            .fetchall()
        )
        return [
            ExperimentSummary(
                id=row[0], name=row[1], notes=row[2], created_at=row[3], updated_at=row[4],
                variants=row[5], tests=row[6], runs=row[7], kind=row[8], repeats=row[9],
                template=row[10] or "",
            )
            for row in rows
        ]

    def delete(self, experiment_id: str) -> None:
        """Delete an experiment with its variants, tests and runs."""
        with self.db.transaction() as conn:
            if conn.execute("DELETE FROM experiments WHERE id = ?", (experiment_id,)).rowcount == 0:
                raise NotFoundError(f"no experiment with id {experiment_id}")
