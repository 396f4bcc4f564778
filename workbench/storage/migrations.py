"""The database schema as an ordered list of named migrations.

Tables that full-text indexes point at have an explicit ``seq INTEGER PRIMARY KEY``: VACUUM may
renumber implicit rowids, which would silently detach an index from its rows.

Each migration runs in its own transaction together with the row that records it in
``schema_migrations``, so a crash leaves the database at one migration or the next, never between.
A released migration is frozen: never edit one, append a new one. That keeps every earlier schema
reproducible (tests build each of them and migrate forward with data in place) and lets
``check_known`` tell an older app that the database was written by a newer one.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass

from workbench.core.errors import KnownError, TemplateFileError
from workbench.core.models import PromptTemplate
from workbench.core.template_files import loads
from workbench.storage.ids import now_iso
from workbench.storage.image_blobs import move_inline_batch_images, move_inline_images


class NewerDatabaseError(KnownError):
    """The database was written by a newer Prompt Workbench; it is left untouched."""


@dataclass(frozen=True)
class Migration:
    name: str
    sql: str = ""
    python: Callable[[sqlite3.Connection], None] | None = None


def statements(script: str) -> list[str]:
    """Split a script into complete statements (triggers contain ';' inside BEGIN ... END)."""
    result: list[str] = []
    pending = ""
    for line in script.splitlines(keepends=True):
        pending += line
        if sqlite3.complete_statement(pending):
            result.append(pending.strip())
            pending = ""
    if pending.strip():
        raise ValueError(f"incomplete SQL statement: {pending.strip()[:80]}")
    return result


_EXPERIMENTS_AND_RUNS = """
CREATE TABLE experiments (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    notes TEXT NOT NULL DEFAULT '',
    repeats INTEGER NOT NULL DEFAULT 1 CHECK (repeats >= 1),
    default_assertions_json TEXT NOT NULL DEFAULT '[]',
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE TABLE variants (
    id TEXT PRIMARY KEY,
    experiment_id TEXT NOT NULL REFERENCES experiments(id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    label TEXT NOT NULL DEFAULT '',
    template_json TEXT NOT NULL,
    template_version TEXT,
    params_json TEXT NOT NULL DEFAULT '{}',
    backend TEXT NOT NULL,
    model TEXT NOT NULL DEFAULT '',
    variables_json TEXT NOT NULL DEFAULT '{}',
    UNIQUE (experiment_id, position)
);
CREATE TABLE test_cases (
    id TEXT PRIMARY KEY,
    experiment_id TEXT NOT NULL REFERENCES experiments(id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    vars_json TEXT NOT NULL DEFAULT '{}',
    expected TEXT,
    assertions_json TEXT NOT NULL DEFAULT '[]',
    metadata_json TEXT NOT NULL DEFAULT '{}',
    UNIQUE (experiment_id, position)
);
CREATE TABLE runs (
    seq INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL,
    experiment_id TEXT REFERENCES experiments(id) ON DELETE CASCADE,
    variant_id TEXT REFERENCES variants(id) ON DELETE SET NULL,
    test_case_id TEXT REFERENCES test_cases(id) ON DELETE SET NULL,
    repeat_index INTEGER NOT NULL DEFAULT 0 CHECK (repeat_index >= 0),
    status TEXT NOT NULL CHECK (status IN ('ok', 'error', 'cancelled')),
    backend TEXT NOT NULL,
    model TEXT NOT NULL,
    seed INTEGER,
    request_json TEXT NOT NULL,
    prompt_text TEXT NOT NULL,
    preview TEXT NOT NULL DEFAULT '',
    raw_prompt TEXT,
    response TEXT NOT NULL,
    finish_reason TEXT NOT NULL,
    input_tokens INTEGER,
    output_tokens INTEGER,
    load_s REAL,
    ttft_s REAL,
    total_s REAL,
    tokens_per_s REAL,
    cost REAL,
    error TEXT,
    error_kind TEXT
);
CREATE INDEX runs_by_experiment ON runs (experiment_id, variant_id, test_case_id, repeat_index);
CREATE INDEX variants_by_experiment ON variants (experiment_id);
CREATE INDEX test_cases_by_experiment ON test_cases (experiment_id);
"""

_RATINGS_AND_EVALUATIONS = """
CREATE TABLE ratings (
    run_id TEXT PRIMARY KEY REFERENCES runs(id) ON DELETE CASCADE,
    thumbs INTEGER CHECK (thumbs IN (-1, 1)),
    stars INTEGER CHECK (stars BETWEEN 1 AND 5),
    comment TEXT NOT NULL DEFAULT '',
    updated_at TEXT NOT NULL
);
CREATE TABLE preferences (
    id TEXT PRIMARY KEY,
    run_a TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    run_b TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    choice TEXT NOT NULL CHECK (choice IN ('a', 'b', 'tie', 'both_bad')),
    comment TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL,
    CHECK (run_a <> run_b)
);
CREATE INDEX preferences_by_a ON preferences (run_a);
CREATE INDEX preferences_by_b ON preferences (run_b);
CREATE TABLE evaluations (
    id TEXT PRIMARY KEY,
    run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    assertion_json TEXT NOT NULL,
    outcome TEXT NOT NULL CHECK (outcome IN ('pass', 'fail', 'error')),
    score REAL,
    reason TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL,
    UNIQUE (run_id, position)
);
"""

_PROMPT_LIBRARY = """
CREATE TABLE library_templates (
    seq INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    key TEXT NOT NULL UNIQUE,
    collection TEXT NOT NULL DEFAULT '',
    name TEXT NOT NULL,
    created_at TEXT NOT NULL,
    deleted_at TEXT,
    file_mtime_ns INTEGER,
    file_size INTEGER,
    file_hash TEXT
);
CREATE TABLE template_versions (
    id TEXT PRIMARY KEY,
    template_id TEXT NOT NULL REFERENCES library_templates(id) ON DELETE CASCADE,
    number INTEGER NOT NULL CHECK (number >= 1),
    created_at TEXT NOT NULL,
    message TEXT NOT NULL DEFAULT '',
    origin TEXT NOT NULL CHECK (origin IN ('save', 'disk', 'import', 'restore')),
    content_hash TEXT NOT NULL,
    text TEXT NOT NULL,
    UNIQUE (template_id, number)
);
CREATE TRIGGER template_versions_are_immutable BEFORE UPDATE ON template_versions
BEGIN
    SELECT RAISE(ABORT, 'template versions are immutable');
END;
CREATE TABLE template_labels (
    template_id TEXT NOT NULL REFERENCES library_templates(id) ON DELETE CASCADE,
    label TEXT NOT NULL,
    version_id TEXT NOT NULL REFERENCES template_versions(id) ON DELETE CASCADE,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (template_id, label)
);
CREATE TABLE template_tags (
    template_id TEXT NOT NULL REFERENCES library_templates(id) ON DELETE CASCADE,
    tag TEXT NOT NULL,
    PRIMARY KEY (template_id, tag)
) WITHOUT ROWID;
CREATE INDEX template_tags_by_tag ON template_tags (tag);
"""

_FULL_TEXT_SEARCH = """
CREATE VIRTUAL TABLE runs_fts USING fts5(
    prompt_text, response,
    content='runs', content_rowid='seq',
    tokenize='unicode61 remove_diacritics 2'
);
CREATE TRIGGER runs_fts_after_insert AFTER INSERT ON runs
BEGIN
    INSERT INTO runs_fts (rowid, prompt_text, response)
    VALUES (new.seq, new.prompt_text, new.response);
END;
CREATE TRIGGER runs_fts_after_delete AFTER DELETE ON runs
BEGIN
    INSERT INTO runs_fts (runs_fts, rowid, prompt_text, response)
    VALUES ('delete', old.seq, old.prompt_text, old.response);
END;
CREATE TRIGGER runs_fts_after_update AFTER UPDATE OF prompt_text, response ON runs
BEGIN
    INSERT INTO runs_fts (runs_fts, rowid, prompt_text, response)
    VALUES ('delete', old.seq, old.prompt_text, old.response);
    INSERT INTO runs_fts (rowid, prompt_text, response)
    VALUES (new.seq, new.prompt_text, new.response);
END;
INSERT INTO runs_fts (runs_fts) VALUES ('rebuild');
CREATE VIRTUAL TABLE library_fts USING fts5(
    name, description, tags, body,
    tokenize='unicode61 remove_diacritics 2'
);
"""


_RUN_ORIGIN = """
ALTER TABLE runs ADD COLUMN template_key TEXT;
ALTER TABLE runs ADD COLUMN template_version INTEGER;
ALTER TABLE runs ADD COLUMN variables_json TEXT;
"""

# A variant's library key: with its version number, which saved template a column ran, so its
# runs (and a reopened comparison or sweep) point back at the library.
_VARIANT_TEMPLATE_KEY = """
ALTER TABLE variants ADD COLUMN template_key TEXT;
"""

# Where a run came from (typed by hand, a compare column, a sweep cell, an evaluation case) and
# which configured backend it went to, as columns history filters on with an index each. Earlier
# experiments with test cases were evaluations, the rest comparisons (a sweep saved before this
# cannot be told from a comparison).
_RUN_SOURCE = """
ALTER TABLE experiments ADD COLUMN kind TEXT NOT NULL DEFAULT 'compare'
    CHECK (kind IN ('compare', 'sweep', 'eval'));
ALTER TABLE runs ADD COLUMN source TEXT NOT NULL DEFAULT 'hand'
    CHECK (source IN ('hand', 'compare', 'sweep', 'eval'));
ALTER TABLE runs ADD COLUMN backend_name TEXT NOT NULL DEFAULT '';
UPDATE experiments SET kind = 'eval'
    WHERE EXISTS (SELECT 1 FROM test_cases WHERE test_cases.experiment_id = experiments.id);
UPDATE runs SET
    source = coalesce((SELECT kind FROM experiments WHERE experiments.id = runs.experiment_id),
                      'hand'),
    backend_name = coalesce(nullif(json_extract(request_json, '$.backend_name'), ''), backend);
CREATE INDEX runs_by_source ON runs (source, id);
CREATE INDEX runs_by_template ON runs (template_key, id);
CREATE INDEX runs_by_backend ON runs (backend_name, id);
"""

# A test case's own output transform (promptfoo's options.transform): JSON, NULL for none.
_TEST_TRANSFORM = """
ALTER TABLE test_cases ADD COLUMN transform_json TEXT;
"""

# The evaluations of one suite (a history: trend, per-case matrix) and the one pinned as its
# baseline. In tables of their own, keyed by the suite's identity (``services.eval_history``),
# so an experiment row is written the same way with or without a suite.
_SUITE_HISTORY = """
CREATE TABLE suite_evaluations (
    experiment_id TEXT PRIMARY KEY REFERENCES experiments(id) ON DELETE CASCADE,
    suite_key TEXT NOT NULL
);
CREATE INDEX suite_evaluations_by_suite ON suite_evaluations (suite_key);
CREATE TABLE suite_baselines (
    suite_key TEXT PRIMARY KEY,
    experiment_id TEXT NOT NULL REFERENCES experiments(id) ON DELETE CASCADE,
    pinned_at TEXT NOT NULL
);
"""

# The model-graded assertions of a run graded again on the same output (``services.regrade``):
# grading 0 is the run's row in ``evaluations``, gradings 1.. are here, one row per graded
# assertion (position as in ``evaluations``).
_GRADE_REPEATS = """
CREATE TABLE grade_repeats (
    run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    repeat INTEGER NOT NULL CHECK (repeat >= 1),
    position INTEGER NOT NULL,
    outcome TEXT NOT NULL CHECK (outcome IN ('pass', 'fail', 'error')),
    score REAL,
    reason TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (run_id, repeat, position)
);
"""

# What a reasoning model thought before answering, apart from the answer (``RunResult.reasoning``)
# and the part of the output tokens it spent doing so.
_RUN_REASONING = """
ALTER TABLE runs ADD COLUMN reasoning TEXT NOT NULL DEFAULT '';
ALTER TABLE runs ADD COLUMN reasoning_tokens INTEGER;
"""

# Token log-probabilities of a run (``core.logprobs.pack``: one compressed blob per run, only for
# runs that asked for them), apart from ``runs`` so history lists never read them.
_RUN_TOKENS = """
CREATE TABLE run_tokens (
    run_id TEXT PRIMARY KEY REFERENCES runs(id) ON DELETE CASCADE,
    data BLOB NOT NULL
);
"""

# A run branched from another at a token (the token inspector's "Branch with"): its parent and
# the index of the token replaced by the chosen alternative.
_RUN_BRANCHES = """
ALTER TABLE runs ADD COLUMN parent_run_id TEXT REFERENCES runs(id) ON DELETE SET NULL;
ALTER TABLE runs ADD COLUMN branch_token INTEGER;
"""

#: The tool calls a run's model made (JSON list of ToolCall; NULL: none).
_RUN_TOOL_CALLS = """
ALTER TABLE runs ADD COLUMN tool_calls_json TEXT;
"""

# The template a hand run was made from when it is no library version (an untitled draft, an
# unsaved edit): restoring the run gives back its ``{{ variables }}``, not just what it sent.
_RUN_TEMPLATE = """
ALTER TABLE runs ADD COLUMN template_json TEXT;
"""

# The template file a hand run's document was bound to: restoring the run binds it again, so
# Ctrl+S writes there rather than asking to save into the library.
_RUN_TEMPLATE_FILE = """
ALTER TABLE runs ADD COLUMN template_file TEXT;
"""

# The same for a compare column's or sweep cell's variant: its runs reopen bound to the file.
_VARIANT_TEMPLATE_FILE = """
ALTER TABLE variants ADD COLUMN template_file TEXT;
"""

# Provider batch jobs (``services.batch``): a job sends an experiment's cells of one backend
# through its provider's batch API, as one remote batch per part (a provider caps the lines of
# one batch, and OpenAI takes one model per batch); each cell's custom_id maps back to its cell
# and to the run its answer became.
_BATCH_JOBS = """
CREATE TABLE batch_jobs (
    id TEXT PRIMARY KEY,
    experiment_id TEXT NOT NULL REFERENCES experiments(id) ON DELETE CASCADE,
    backend_name TEXT NOT NULL,
    provider TEXT NOT NULL,
    completion_window TEXT NOT NULL DEFAULT '',
    status TEXT NOT NULL CHECK (status IN ('submitting', 'running', 'cancelling', 'ended')),
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX batch_jobs_by_experiment ON batch_jobs (experiment_id, created_at);
CREATE TABLE batch_parts (
    job_id TEXT NOT NULL REFERENCES batch_jobs(id) ON DELETE CASCADE,
    part INTEGER NOT NULL,
    model TEXT NOT NULL DEFAULT '',
    remote_id TEXT,
    input_file_id TEXT NOT NULL DEFAULT '',
    extra_json TEXT NOT NULL DEFAULT '{}',
    state TEXT NOT NULL DEFAULT 'pending',
    total INTEGER NOT NULL DEFAULT 0,
    succeeded INTEGER NOT NULL DEFAULT 0,
    failed INTEGER NOT NULL DEFAULT 0,
    message TEXT NOT NULL DEFAULT '',
    fetched INTEGER NOT NULL DEFAULT 0,
    submitted_at TEXT,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (job_id, part)
);
CREATE TABLE batch_cells (
    job_id TEXT NOT NULL REFERENCES batch_jobs(id) ON DELETE CASCADE,
    custom_id TEXT NOT NULL,
    part INTEGER NOT NULL,
    variant_position INTEGER NOT NULL,
    test_position INTEGER,
    repeat_index INTEGER NOT NULL,
    sent_json TEXT NOT NULL,
    run_id TEXT REFERENCES runs(id) ON DELETE SET NULL,
    outcome TEXT CHECK (outcome IN ('ok', 'error', 'missing')),
    PRIMARY KEY (job_id, custom_id)
);
"""

# Images once per database (``storage.image_blobs``): the bytes keyed by their SHA-256, and which
# runs and variants use each; a blob no row uses any more is dropped with its last reference
# (also when runs or variants go by cascade). Earlier inline images move in (``python``).
_IMAGE_BLOBS = """
CREATE TABLE image_blobs (
    sha256 TEXT PRIMARY KEY,
    media_type TEXT NOT NULL,
    size INTEGER NOT NULL,
    data BLOB NOT NULL
);
CREATE TABLE run_images (
    run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    sha256 TEXT NOT NULL REFERENCES image_blobs(sha256),
    PRIMARY KEY (run_id, sha256)
) WITHOUT ROWID;
CREATE INDEX run_images_by_blob ON run_images (sha256);
CREATE TABLE variant_images (
    variant_id TEXT NOT NULL REFERENCES variants(id) ON DELETE CASCADE,
    sha256 TEXT NOT NULL REFERENCES image_blobs(sha256),
    PRIMARY KEY (variant_id, sha256)
) WITHOUT ROWID;
CREATE INDEX variant_images_by_blob ON variant_images (sha256);
CREATE TRIGGER run_images_release AFTER DELETE ON run_images
BEGIN
    DELETE FROM image_blobs WHERE sha256 = old.sha256
        AND NOT EXISTS (SELECT 1 FROM run_images WHERE sha256 = old.sha256)
        AND NOT EXISTS (SELECT 1 FROM variant_images WHERE sha256 = old.sha256);
END;
CREATE TRIGGER variant_images_release AFTER DELETE ON variant_images
BEGIN
    DELETE FROM image_blobs WHERE sha256 = old.sha256
        AND NOT EXISTS (SELECT 1 FROM run_images WHERE sha256 = old.sha256)
        AND NOT EXISTS (SELECT 1 FROM variant_images WHERE sha256 = old.sha256);
END;
"""

# A batch cell's request names its images too (``storage.image_blobs``); a blob is kept while a
# run, a variant or a batch cell uses it. Earlier inline images move in (``python``).
_BATCH_CELL_IMAGES = """
CREATE TABLE batch_cell_images (
    job_id TEXT NOT NULL,
    custom_id TEXT NOT NULL,
    sha256 TEXT NOT NULL REFERENCES image_blobs(sha256),
    PRIMARY KEY (job_id, custom_id, sha256),
    FOREIGN KEY (job_id, custom_id) REFERENCES batch_cells(job_id, custom_id) ON DELETE CASCADE
) WITHOUT ROWID;
CREATE INDEX batch_cell_images_by_blob ON batch_cell_images (sha256);
DROP TRIGGER run_images_release;
DROP TRIGGER variant_images_release;
""" + "".join(
    f"""CREATE TRIGGER {table}_release AFTER DELETE ON {table}
BEGIN
    DELETE FROM image_blobs WHERE sha256 = old.sha256
        AND NOT EXISTS (SELECT 1 FROM run_images WHERE sha256 = old.sha256)
        AND NOT EXISTS (SELECT 1 FROM variant_images WHERE sha256 = old.sha256)
        AND NOT EXISTS (SELECT 1 FROM batch_cell_images WHERE sha256 = old.sha256);
END;
"""
    for table in ("run_images", "variant_images", "batch_cell_images")
)


def library_search_row(text: str) -> tuple[str, str, str, str]:
    """``(name, description, tags, body)`` indexed for a template version's file text."""
    try:
        template = loads(text)
    except TemplateFileError:
        return "", "", "", text  # still findable by its words
    return template_search_row(template)


def template_search_row(template: PromptTemplate) -> tuple[str, str, str, str]:
    """``(name, description, tags, body)`` indexed for a template (the one its text reads as:
    a caller that just wrote the text passes the template instead of parsing it again)."""
    body = [m.content for m in template.messages]
    body.append(template.text)
    body.extend(f"{e.input}\n{e.output}\n{e.rationale}" for e in template.examples)
    components = template.components
    body.extend(
        [
            components.instruction,
            components.context,
            components.input_data,
            components.output_indicator,
        ]
    )
    return (
        template.name,
        template.description,
        " ".join(template.tags),
        "\n".join(part for part in body if part),
    )


def _index_existing_library(conn: sqlite3.Connection) -> None:
    """Index the head version of every template a library-only database already holds."""
    rows = conn.execute(
        "SELECT t.seq, v.text FROM library_templates t"
        " JOIN template_versions v ON v.template_id = t.id"
        " WHERE t.deleted_at IS NULL AND v.number ="
        " (SELECT max(number) FROM template_versions WHERE template_id = t.id)"
    ).fetchall()
    for seq, text in rows:
        conn.execute(
            "INSERT INTO library_fts (rowid, name, description, tags, body) VALUES (?, ?, ?, ?, ?)",
            (seq, *library_search_row(text)),
        )


MIGRATIONS: tuple[Migration, ...] = (
    Migration("0001_experiments_and_runs", _EXPERIMENTS_AND_RUNS),
    Migration("0002_ratings_and_evaluations", _RATINGS_AND_EVALUATIONS),
    Migration("0003_prompt_library", _PROMPT_LIBRARY),
    Migration("0004_full_text_search", _FULL_TEXT_SEARCH, _index_existing_library),
    Migration("0005_run_origin", _RUN_ORIGIN),
    Migration("0006_variant_template_key", _VARIANT_TEMPLATE_KEY),
    Migration("0007_run_source", _RUN_SOURCE),
    Migration("0008_test_transform", _TEST_TRANSFORM),
    Migration("0009_suite_history", _SUITE_HISTORY),
    Migration("0010_grade_repeats", _GRADE_REPEATS),
    Migration("0011_run_reasoning", _RUN_REASONING),
    Migration("0012_run_tokens", _RUN_TOKENS),
    Migration("0013_run_branches", _RUN_BRANCHES),
    Migration("0014_run_tool_calls", _RUN_TOOL_CALLS),
    Migration("0015_batch_jobs", _BATCH_JOBS),
    Migration("0016_image_blobs", _IMAGE_BLOBS, move_inline_images),
    Migration("0017_batch_cell_images", _BATCH_CELL_IMAGES, move_inline_batch_images),
    Migration("0018_run_template", _RUN_TEMPLATE),
    Migration("0019_run_template_file", _RUN_TEMPLATE_FILE),
    Migration("0020_variant_template_file", _VARIANT_TEMPLATE_FILE),
)

_TRACKING = (
    "CREATE TABLE IF NOT EXISTS schema_migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)"
)


def applied(conn: sqlite3.Connection) -> list[str]:
    """Names of the migrations recorded in the database, in the order they were applied."""
    exists = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'"
    ).fetchone()
    if not exists:
        return []
    return [row[0] for row in conn.execute("SELECT name FROM schema_migrations ORDER BY rowid")]


def check_known(names: list[str], where: str) -> None:
    """Refuse a database that records migrations this app does not have."""
    known = {m.name for m in MIGRATIONS}
    unknown = [name for name in names if name not in known]
    if unknown:
        raise NewerDatabaseError(
            f"{where} was written by a newer Prompt Workbench (schema '{unknown[-1]}'); "
            "this version cannot read it and left it untouched",
            hint="update Prompt Workbench, or set WORKBENCH_HOME to use another data folder",
        )


def migrate(
    conn: sqlite3.Connection, *, upto: str | None = None, where: str = "the database"
) -> list[str]:
    """Apply the missing migrations in order (up to and including ``upto``); returns their names.

    ``conn`` must be in autocommit mode (``isolation_level=None``). Each migration takes the write
    lock first and re-reads what is applied, so two processes opening one database at once apply
    each migration exactly once.
    """
    if upto is not None and upto not in {m.name for m in MIGRATIONS}:
        raise ValueError(f"no migration named {upto!r}")
    done: list[str] = []
    wanted = [m.name for m in MIGRATIONS]
    if upto is not None:
        wanted = wanted[: wanted.index(upto) + 1]
    names = applied(conn)
    check_known(names, where)
    if all(name in names for name in wanted):
        return done  # the usual case: no write lock needed
    for migration in MIGRATIONS:
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.execute(_TRACKING)
            names = applied(conn)
            check_known(names, where)
            if migration.name not in names:
                for statement in statements(migration.sql):
                    conn.execute(statement)
                if migration.python is not None:
                    migration.python(conn)
                conn.execute(
                    "INSERT INTO schema_migrations (name, applied_at) VALUES (?, ?)",
                    (migration.name, now_iso()),
                )
                done.append(migration.name)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        if migration.name == upto:
            break
    return done
