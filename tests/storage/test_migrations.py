"""Schema migrations: from a blank file, from every earlier schema with data in it, the guard
against newer databases, and atomicity."""

from __future__ import annotations

import hashlib
import sqlite3
import threading
from pathlib import Path
from typing import Any

import pytest

from tests.storage.factories import (
    completion_result,
    image_result,
    image_spec,
    make_result,
    make_spec,
    make_template,
    picture,
)
from workbench.core.experiments import AssertionSpec, ExperimentSpec
from workbench.core.images import ImagePart
from workbench.core.models import RunResult
from workbench.core.template_files import dumps
from workbench.storage import image_blobs, migrations
from workbench.storage.db import Database, StorageError
from workbench.storage.ids import new_id, now_iso
from workbench.storage.library import Library
from workbench.storage.library_records import content_hash
from workbench.storage.migrations import MIGRATIONS, Migration, NewerDatabaseError
from workbench.storage.repositories import EvaluationRecord, RunRef, Store
from workbench.storage.repositories import experiments as experiments_module
from workbench.storage.repositories import runs as runs_module
from workbench.storage.repositories.batch_jobs import NewBatchCell

NAMES = [m.name for m in MIGRATIONS]


def schema(path: Path) -> list[tuple[str, str, str]]:
    conn = sqlite3.connect(path)
    try:
        return conn.execute(
            "SELECT type, name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY name"
        ).fetchall()
    finally:
        conn.close()


def applied_names(path: Path) -> list[str]:
    conn = sqlite3.connect(path)
    try:
        return [r[0] for r in conn.execute("SELECT name FROM schema_migrations ORDER BY rowid")]
    finally:
        conn.close()


def test_blank_database_gets_every_migration_in_order(tmp_path: Path) -> None:
    path = tmp_path / "new.db"
    Database(path).close()
    assert applied_names(path) == NAMES
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    conn.close()
    assert {
        "experiments",
        "variants",
        "test_cases",
        "runs",
        "ratings",
        "preferences",
        "evaluations",
        "library_templates",
        "template_versions",
        "template_labels",
        "template_tags",
        "runs_fts",
        "library_fts",
        "schema_migrations",
    } <= tables


def test_connections_enforce_foreign_keys(tmp_path: Path) -> None:
    db = Database(tmp_path / "fk.db")
    with pytest.raises(sqlite3.IntegrityError), db.transaction() as conn:
        conn.execute(
            "INSERT INTO ratings (run_id, thumbs, updated_at) VALUES ('no-such-run', 1, 'now')"
        )
    assert db.connection().execute("PRAGMA foreign_keys").fetchone()[0] == 1
    db.close()


_ORIGIN_COLUMNS = ("template_key", "template_version", "variables_json")
_SOURCE_COLUMNS = ("source", "backend_name")
_REASONING_COLUMNS = ("reasoning", "reasoning_tokens")
_TOOL_CALL_COLUMNS: tuple[str, ...] = ("tool_calls_json",)
_BRANCH_COLUMNS = ("parent_run_id", "branch_token")
_TEMPLATE_COLUMNS: tuple[str, ...] = ("template_json",)


def _add_run(db: Database, stage: int, result: RunResult, ref: RunRef | None = None) -> str:
    """Insert a run as the app at schema ``stage`` did: without the columns added after it."""
    ref = ref or RunRef()
    if stage >= NAMES.index("0019_run_template_file"):
        return Store(db).runs.add(result, ref)
    later: tuple[str, ...] = ("template_file",)
    if stage < NAMES.index("0018_run_template"):
        later += _TEMPLATE_COLUMNS
    if stage < NAMES.index("0014_run_tool_calls"):
        later += _TOOL_CALL_COLUMNS
    if stage < NAMES.index("0013_run_branches"):
        later += _BRANCH_COLUMNS
    if stage < NAMES.index("0011_run_reasoning"):
        later += _REASONING_COLUMNS
    if stage < NAMES.index("0007_run_source"):
        later += _SOURCE_COLUMNS
    if stage < NAMES.index("0005_run_origin"):
        later += _ORIGIN_COLUMNS
    columns = [c.strip() for c in runs_module._INSERT.split("(", 1)[1].split(")", 1)[0].split(",")]
    kept = [i for i, c in enumerate(columns) if c not in later]
    run_id = new_id()
    with db.transaction() as conn:
        kinds = (
            runs_module.RunRepository._kinds(conn, {ref.experiment_id})
            if stage >= NAMES.index("0007_run_source")
            else {}
        )
        source = kinds.get(ref.experiment_id, "hand")
        options: dict[str, Any] = {"exclude": {"raw_prompt"}, "exclude_defaults": True}
        if stage >= NAMES.index("0016_image_blobs"):
            text, hashes = image_blobs.dump(conn, result.request, **options)
        else:  # images inline, as before 0016_image_blobs
            text, hashes = result.request.model_dump_json(**options), []
        row = runs_module._row(run_id, now_iso(), result, ref, source, text, None)
        conn.execute(
            f"INSERT INTO runs ({', '.join(columns[i] for i in kept)})"
            f" VALUES ({', '.join('?' for _ in kept)})",
            [row[i] for i in kept],
        )
        if hashes:
            image_blobs.link(conn, "run_images", run_id, hashes)
    return run_id


def _add_experiment(
    db: Database, stage: int, spec: ExperimentSpec | None = None
) -> tuple[str, str, str]:
    """Save ``spec`` (default ``make_spec()``) as the app at schema ``stage`` did (no kind before
    0007_run_source, variants without their library key before 0006_variant_template_key, tests
    without their transform before 0008_test_transform, templates' images inline before
    0016_image_blobs): its id, first variant's and first test's ids."""
    store = Store(db)
    spec = spec or make_spec()
    columns = [c.strip() for c in experiments_module.VARIANT_COLUMNS.split(",")]
    key = columns.index("template_key")
    row = experiments_module._variant_row
    test_row = experiments_module._test_row
    with pytest.MonkeyPatch.context() as patch:
        if stage < NAMES.index("0016_image_blobs"):
            patch.setattr(image_blobs, "dump", lambda _c, m, **o: (m.model_dump_json(**o), []))
            patch.setattr(image_blobs, "relink", lambda *_a: None)
        if stage < NAMES.index("0020_variant_template_file"):
            columns.remove("template_file")
            patch.setattr(experiments_module, "VARIANT_COLUMNS", ", ".join(columns))
            patch.setattr(experiments_module, "_variant_row", lambda v, t: row(v, t)[:-1])
        if stage >= NAMES.index("0008_test_transform"):
            made = store.experiments.create(spec)
            return made.id, made.variant_ids[0], made.test_ids[0]
        patch.setattr(experiments_module, "TEST_COLUMNS",
                      experiments_module.TEST_COLUMNS.replace(", transform_json", ""))
        patch.setattr(experiments_module, "_test_row", lambda t: test_row(t)[:-1])
        patch.setattr(experiments_module.ExperimentRepository, "get", lambda _self, i: i)
        if stage >= NAMES.index("0007_run_source"):
            experiment_id = store.experiments.create(spec)
        else:
            experiment_id = new_id()
            with db.transaction() as conn:
                conn.execute(
                    "INSERT INTO experiments (id, name, notes, repeats, created_at, updated_at)"
                    " VALUES (?, ?, ?, ?, 'then', 'then')",
                    (experiment_id, spec.name, spec.notes, spec.repeats),
                )
            if stage < NAMES.index("0006_variant_template_key"):
                patch.setattr(experiments_module, "VARIANT_COLUMNS",
                              ", ".join(c for c in columns if c != "template_key"))
                patch.setattr(experiments_module, "_variant_row",
                              lambda v, t: tuple(x for i, x in enumerate(row(v, t)[:-1])
                                                 if i != key))
            store.experiments.update(experiment_id, spec)
    assert isinstance(experiment_id, str)
    conn = db.connection()
    first = "SELECT id FROM {} WHERE experiment_id = ? AND position = 0"
    return (experiment_id,
            conn.execute(first.format("variants"), (experiment_id,)).fetchone()[0],
            conn.execute(first.format("test_cases"), (experiment_id,)).fetchone()[0])


def _fill(db: Database, stage: int) -> dict[str, str]:
    """Write what an app at schema ``stage`` (index into MIGRATIONS) could have written."""
    store = Store(db)
    made: dict[str, str] = {}
    experiment_id, variant_id, test_id = _add_experiment(db, stage)
    made["experiment"] = experiment_id
    made["run"] = _add_run(
        db,
        stage,
        make_result("Which river flows through Vienna?", "The Danube."),
        RunRef(experiment_id, variant_id, test_id, 1),
    )
    made["completion"] = _add_run(db, stage, completion_result())
    if stage >= 1:
        store.ratings.rate(made["run"], thumbs=1, stars=4, comment="good")
        store.evaluations.record(
            made["run"],
            [EvaluationRecord(AssertionSpec(type="contains", value="Danube"), "pass", 1.0)],
        )
    if stage >= 2:
        # The library's writer needs the search index of a later migration: insert as that app did.
        text = dumps(make_template("Volcano facts"))
        with db.transaction() as conn:
            conn.execute(
                "INSERT INTO library_templates (id, key, collection, name, created_at)"
                " VALUES ('T1', 'geo/volcano-facts', 'geo', 'Volcano facts', 'then')"
            )
            conn.execute(
                "INSERT INTO template_versions (id, template_id, number, created_at,"
                " message, origin, content_hash, text) VALUES ('V1', 'T1', 1, 'then', 'm',"
                " 'save', ?, ?)",
                (content_hash(text), text),
            )
            if stage >= NAMES.index("0004_full_text_search"):
                conn.execute(
                    "INSERT INTO library_fts (rowid, name, description, tags, body)"
                    " SELECT seq, ?, ?, ?, ? FROM library_templates WHERE id = 'T1'",
                    migrations.library_search_row(text),
                )
    return made


@pytest.mark.parametrize("stage", range(len(MIGRATIONS) - 1), ids=NAMES[:-1])
def test_upgrade_from_each_earlier_schema_keeps_data(tmp_path: Path, stage: int) -> None:
    fresh = tmp_path / "fresh.db"
    Database(fresh).close()
    path = tmp_path / "old.db"
    old = Database(path, upto=NAMES[stage])
    assert applied_names(path) == NAMES[: stage + 1]
    made = _fill(old, stage)
    old.close()

    db = Database(path)
    assert applied_names(path) == NAMES
    assert schema(path) == schema(fresh)
    store = Store(db)
    run = store.runs.get(made["run"])
    assert run.result == make_result("Which river flows through Vienna?", "The Danube.")
    assert (run.ref.experiment_id, run.ref.repeat_index, run.ref.template_key) == (
        made["experiment"],
        1,
        None,
    )
    assert store.experiments.get(made["experiment"]).spec == make_spec()
    # Runs written before sources were kept take their experiment's kind (one with test cases
    # is an evaluation), or "hand"; the backend filter knows their backend.
    assert [(s.id, s.source) for s in store.runs.recent(10)] == [
        (made["completion"], "hand"),
        (made["run"], "eval"),
    ]
    assert store.experiments.summaries()[0].kind == "eval"
    assert store.runs.choices()[1] == ["llamacpp"]
    # Runs written before the search index existed are found through it.
    assert [r.id for r in store.runs.search("Danube")] == [made["run"]]
    assert [r.id for r in store.runs.search("Rome")] == [made["completion"]]
    if stage >= 1:
        rating = store.ratings.get(made["run"])
        assert rating is not None and (rating.thumbs, rating.stars) == (1, 4)
        assert store.evaluations.for_run(made["run"])[0].outcome == "pass"
    if stage >= 2:
        library = Library(db, tmp_path / "library")
        assert [e.key for e in library.search("volcano")] == ["geo/volcano-facts"]
        assert library.load("geo/volcano-facts") == make_template("Volcano facts")
    db.close()


def test_inline_images_of_an_earlier_schema_move_into_blobs(tmp_path: Path) -> None:
    path = tmp_path / "inline.db"
    stage = NAMES.index("0016_image_blobs") - 1
    old = Database(path, upto=NAMES[stage])
    experiment_id, variant_id, _test = _add_experiment(old, stage, image_spec())
    ref = RunRef(experiment_id, variant_id)
    runs = [_add_run(old, stage, image_result(), ref) for _ in range(3)]
    plain = _add_run(old, stage, make_result())
    inline = ImagePart.from_bytes(picture()).data
    stored = old.connection().execute("SELECT request_json FROM runs").fetchall()
    assert sum(inline in row[0] for row in stored) == 3  # the old app's copy per run
    old.close()

    db = Database(path)
    conn = db.connection()
    assert conn.execute("SELECT sha256, size FROM image_blobs").fetchall() == [
        (hashlib.sha256(picture()).hexdigest(), len(picture()))
    ]
    assert not any(inline in row[0] for row in conn.execute(
        "SELECT request_json FROM runs UNION ALL SELECT template_json FROM variants"))
    store = Store(db)
    assert all(store.runs.get(r).result == image_result() for r in runs)
    assert store.runs.get(plain).result == make_result()
    assert store.experiments.get(experiment_id).spec == image_spec()
    store.experiments.delete(experiment_id)  # its runs and variants reference the blob
    assert conn.execute("SELECT count(*) FROM image_blobs").fetchone()[0] == 0
    db.close()


def test_inline_images_of_batch_cells_move_into_blobs(tmp_path: Path) -> None:
    path = tmp_path / "batch.db"
    old = Database(path, upto="0016_image_blobs")
    store = Store(old)
    experiment_id = _add_experiment(old, NAMES.index("0016_image_blobs"))[0]  # no image
    sent = image_result().request
    cells = [NewBatchCell(f"c{i}", 0, (0, None, i), sent) for i in range(3)]
    with pytest.MonkeyPatch.context() as patch:  # written as before 0017: the cells inline
        patch.setattr(image_blobs, "dump", lambda _c, m, **o: (m.model_dump_json(**o), []))
        patch.setattr(image_blobs, "link", lambda *_a: None)
        job = store.batches.create(experiment_id, backend_name="openai", provider="openai",
                                   completion_window="24h", cells=cells)
    inline = ImagePart.from_bytes(picture()).data
    stored = old.connection().execute("SELECT sent_json FROM batch_cells").fetchall()
    assert all(inline in row[0] for row in stored)
    old.close()

    db = Database(path)
    conn = db.connection()
    assert conn.execute("SELECT count(*) FROM image_blobs").fetchone()[0] == 1
    assert not any(inline in r[0] for r in conn.execute("SELECT sent_json FROM batch_cells"))
    store = Store(db)
    assert [c.sent for c in store.batches.cells(job)] == [sent] * 3
    store.experiments.delete(experiment_id)  # the job and its cells go by cascade
    assert conn.execute("SELECT count(*) FROM image_blobs").fetchone()[0] == 0
    db.close()


def test_reopening_applies_nothing(tmp_path: Path) -> None:
    path = tmp_path / "w.db"
    Database(path).close()
    db = Database(path)
    assert migrations.migrate(db.connection()) == []
    db.close()


def _stamp_newer(path: Path) -> bytes:
    Database(path).close()
    conn = sqlite3.connect(path)
    conn.execute("INSERT INTO schema_migrations VALUES ('0099_from_a_newer_app', 'later')")
    conn.commit()
    conn.close()
    assert not Path(f"{path}-wal").exists() or Path(f"{path}-wal").stat().st_size == 0
    return path.read_bytes()


def test_newer_database_is_refused_and_left_untouched(tmp_path: Path) -> None:
    path = tmp_path / "newer.db"
    before = _stamp_newer(path)
    with pytest.raises(NewerDatabaseError) as caught:
        Database(path)
    assert "newer Prompt Workbench" in str(caught.value)
    assert "0099_from_a_newer_app" in str(caught.value)
    assert caught.value.hint
    assert path.read_bytes() == before
    assert applied_names(path)[-1] == "0099_from_a_newer_app"


def test_newer_database_in_rollback_journal_mode_is_not_switched_to_wal(tmp_path: Path) -> None:
    path = tmp_path / "newer-delete-mode.db"
    _stamp_newer(path)
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode = DELETE")
    conn.close()
    before = path.read_bytes()
    with pytest.raises(NewerDatabaseError):
        Store.open(path)
    assert path.read_bytes() == before


def test_foreign_sqlite_database_is_refused_untouched(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE contacts (name TEXT)")
    conn.commit()
    conn.close()
    before = path.read_bytes()
    with pytest.raises(StorageError, match="another program"):
        Database(path)
    assert path.read_bytes() == before


def test_file_that_is_not_a_database_is_a_known_error(tmp_path: Path) -> None:
    path = tmp_path / "junk.db"
    path.write_bytes(b"this is not sqlite at all" * 100)
    with pytest.raises(StorageError, match="not a readable"):
        Database(path)
    assert path.read_bytes() == b"this is not sqlite at all" * 100


def test_failing_migration_leaves_no_trace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "m.db"
    Database(path).close()
    broken = Migration("0005_broken", "CREATE TABLE half_done (x INTEGER);\nCREATE TABLE (;\n")
    monkeypatch.setattr(migrations, "MIGRATIONS", (*MIGRATIONS, broken))
    with pytest.raises(StorageError):
        Database(path)
    conn = sqlite3.connect(path)
    assert (
        conn.execute("SELECT name FROM sqlite_master WHERE name = 'half_done'").fetchone() is None
    )
    conn.close()
    assert applied_names(path) == NAMES


def test_two_openers_at_once_apply_each_migration_once(tmp_path: Path) -> None:
    path = tmp_path / "race.db"
    barrier = threading.Barrier(4)
    errors: list[BaseException] = []

    def open_it() -> None:
        try:
            barrier.wait(timeout=10)
            Database(path).close()
        except BaseException as err:  # reported below
            errors.append(err)

    threads = [threading.Thread(target=open_it) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert errors == []
    assert applied_names(path) == NAMES


def test_statement_splitter_keeps_trigger_bodies_whole() -> None:
    script = (
        "CREATE TABLE a (x);\n"
        "CREATE TRIGGER t AFTER INSERT ON a\nBEGIN\n  SELECT 1;\n  SELECT 2;\nEND;\n"
    )
    assert len(migrations.statements(script)) == 2
    with pytest.raises(ValueError, match="incomplete"):
        migrations.statements("CREATE TABLE b (x")


def test_schema_check_reads_one_snapshot_while_another_opener_migrates(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another process commits the first migration between the guard's two queries (the race
    that once called a half-opened database 'of another program')."""
    path = tmp_path / "race.db"
    blank = sqlite3.connect(path)
    blank.execute("PRAGMA journal_mode = WAL")
    blank.close()
    real_applied = migrations.applied
    other: list[sqlite3.Connection] = []

    def applied_then_other_opener_migrates(conn: sqlite3.Connection) -> list[str]:
        names = real_applied(conn)
        if not other:
            other.append(sqlite3.connect(path, isolation_level=None))
            real_migrate(other[0])
        return names

    real_migrate = migrations.migrate
    monkeypatch.setattr(migrations, "applied", applied_then_other_opener_migrates)
    Database(path).close()
    other[0].close()
    monkeypatch.setattr(migrations, "applied", real_applied)
    assert applied_names(path) == NAMES


def test_opening_waits_for_another_writer_before_switching_to_wal(tmp_path: Path) -> None:
    """SQLite refuses a journal-mode change at once (no busy wait) while another connection holds
    the write lock — what a second process creating the database at the same moment does."""
    path = tmp_path / "busy.db"
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")
    release = threading.Timer(0.2, other.execute, ("COMMIT",))
    release.start()
    try:
        Database(path).close()
    finally:
        release.join()
        other.close()
    assert applied_names(path) == NAMES
