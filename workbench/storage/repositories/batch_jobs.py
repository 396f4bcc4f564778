"""Provider batch jobs: what was sent where, and which cell each answer belongs to.

A job is one experiment's cells on one backend, sent through its provider's batch API as one or
more remote batches (parts). Everything a later process needs to resume the job is here, not in
memory: each part's remote batch and input file ids and last polled state, each cell's custom_id,
cell key and the ``SentRequest`` its run will record. An answer is stored as an ordinary run of
its cell and marked on the cell in the same transaction (:meth:`BatchJobRepository.land`), so a
crash between the two cannot store an answer twice or lose it.

A part is marked ``sending`` (with the time) before its create goes to the provider, and gets its
remote id after: a part found ``sending`` was being created when its process ended, and may be
at the provider without its id here. ``unknown``: the create failed after it may have reached
the provider, and no single batch could be found that it became.
"""

from __future__ import annotations

import itertools
import json
import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from workbench.core.models import RunResult, SentRequest
from workbench.core.outcome import status_of
from workbench.storage import image_blobs
from workbench.storage.db import Database, NotFoundError
from workbench.storage.ids import new_id, now_iso
from workbench.storage.repositories.runs import RunRef, RunRepository

#: submitting: parts still being uploaded; running: every part submitted, some not ended or
#: fetched; cancelling: a cancel was asked; ended: every part ended and its results fetched.
JobStatus = Literal["submitting", "running", "cancelling", "ended"]
#: ok / error: the answer (or failure) landed as a run; missing: the provider reported nothing
#: for the line; None: still waiting.
CellOutcome = Literal["ok", "error", "missing"]
#: Part states before a remote id: never sent; its create under way; the create's outcome unknown.
PENDING, SENDING, UNKNOWN = "pending", "sending", "unknown"


#: A cell's positions as ``core.grid.CellKey`` has them: variant, test case (None: the
#: experiment has none), repeat. A plain tuple here: storage does not load the planner.
CellPosition = tuple[int, int | None, int]


@dataclass(frozen=True)
class NewBatchCell:
    """A cell about to be sent: its line's id, the part (remote batch) it goes in, its cell
    and the request its run will record (whose model is the part's)."""

    custom_id: str
    part: int
    key: CellPosition
    sent: SentRequest


@dataclass(frozen=True)
class BatchPart:
    """One remote batch of a job, of one model (``remote_id`` None until submitted; ``state``
    'pending', 'sending' or 'unknown' until then, else the provider's state as last polled;
    ``submitted_at``: when its create was sent)."""

    part: int
    model: str
    remote_id: str | None
    input_file_id: str
    extra: dict[str, str]
    state: str
    total: int
    succeeded: int
    failed: int
    message: str
    fetched: bool
    submitted_at: str | None
    updated_at: str


@dataclass(frozen=True)
class BatchCell:
    """A sent cell, and the run its answer landed as (once fetched)."""

    custom_id: str
    part: int
    key: CellPosition
    sent: SentRequest
    run_id: str | None
    outcome: CellOutcome | None


@dataclass(frozen=True)
class BatchJob:
    """One experiment's cells of one backend sent through the provider's batch API."""

    id: str
    experiment_id: str
    backend_name: str
    provider: str
    completion_window: str
    status: JobStatus
    created_at: str
    updated_at: str
    parts: tuple[BatchPart, ...]

    @property
    def remote_ids(self) -> list[str]:
        return [p.remote_id for p in self.parts if p.remote_id]

    @property
    def models(self) -> list[str]:
        """The models the job's parts run, each once, in part order."""
        return list(dict.fromkeys(p.model for p in self.parts))


_JOB_COLUMNS = (
    "id, experiment_id, backend_name, provider, completion_window, status, created_at, updated_at"
)
_PART_COLUMNS = (
    "part, model, remote_id, input_file_id, extra_json, state, total, succeeded, failed, message,"
    " fetched, submitted_at, updated_at"
)


class BatchJobRepository:
    def __init__(self, db: Database, runs: RunRepository) -> None:
        self.db = db
        self.runs = runs

    # --- writing -------------------------------------------------------------------------------

    def create(
        self,
        experiment_id: str,
        *,
        backend_name: str,
        provider: str,
        completion_window: str,
        cells: Sequence[NewBatchCell],
    ) -> str:
        """Record a job about to be submitted (status ``submitting``), its parts (as numbered by
        the cells, each of one model) pending; returns its id."""
        models: dict[int, str] = {}
        for cell in cells:
            if models.setdefault(cell.part, cell.sent.model) != cell.sent.model:
                raise ValueError(f"part {cell.part} mixes models (one remote batch is one model)")
        job_id = new_id()
        now = now_iso()
        with self.db.transaction() as conn:
            if conn.execute(
                "SELECT 1 FROM experiments WHERE id = ?", (experiment_id,)
            ).fetchone() is None:
                raise NotFoundError(f"no experiment with id {experiment_id}")
            conn.execute(
                f"INSERT INTO batch_jobs ({_JOB_COLUMNS})"
                " VALUES (?, ?, ?, ?, ?, 'submitting', ?, ?)",
                (job_id, experiment_id, backend_name, provider, completion_window, now, now),
            )
            conn.executemany(
                "INSERT INTO batch_parts (job_id, part, model, updated_at) VALUES (?, ?, ?, ?)",
                [(job_id, part, model, now) for part, model in sorted(models.items())],
            )
            stored = [image_blobs.dump(conn, c.sent, exclude_defaults=True) for c in cells]
            conn.executemany(
                "INSERT INTO batch_cells (job_id, custom_id, part, variant_position,"
                " test_position, repeat_index, sent_json) VALUES (?, ?, ?, ?, ?, ?, ?)",
                [
                    (job_id, c.custom_id, c.part, *c.key, text)
                    for c, (text, _hashes) in zip(cells, stored, strict=True)
                ],
            )
            for c, (_text, hashes) in zip(cells, stored, strict=True):
                image_blobs.link(conn, "batch_cell_images", (job_id, c.custom_id), hashes)
        return job_id

    def sending(self, job_id: str, part: int, *, was: str = PENDING) -> bool:
        """Claim a part for sending: mark it ``sending`` (with the time) if it is still ``was``
        (``pending``; ``unknown`` for a resend) without a batch, and its job is still being
        sent (not cancelled). One compare-and-set, so of two senders (the submit loop and a
        poll, or two processes) exactly one gets True and sends; the other leaves the part
        alone. Done before the create goes out: a process that ends before :meth:`submitted`
        leaves the mark for the next."""
        now = now_iso()
        with self.db.transaction() as conn:
            claimed = conn.execute(
                "UPDATE batch_parts SET state = ?, message = '', submitted_at = ?, updated_at = ?"
                " WHERE job_id = ? AND part = ? AND state = ? AND remote_id IS NULL"
                " AND fetched = 0 AND EXISTS (SELECT 1 FROM batch_jobs WHERE id = ?"
                " AND status IN ('submitting', 'running'))",
                (SENDING, now, now, job_id, part, was, job_id),
            ).rowcount == 1
            if claimed:
                self._touch(conn, job_id, now)
        return claimed

    def unsent(self, job_id: str, part: int) -> None:
        """The part's create failed with nothing created: it is ``pending`` again."""
        self._part_state(job_id, part, PENDING, "")

    def unconfirmed(self, job_id: str, part: int, message: str) -> None:
        """The part's create may have made a batch that could not be found: ``unknown``,
        ``message`` saying where to look; nothing sends it again unless asked."""
        self._part_state(job_id, part, UNKNOWN, message)

    def _part_state(self, job_id: str, part: int, state: str, message: str) -> None:
        """A part without a batch moves on (one that got its batch meanwhile keeps it)."""
        now = now_iso()
        with self.db.transaction() as conn:
            conn.execute(
                "UPDATE batch_parts SET state = ?, message = ?, updated_at = ?"
                " WHERE job_id = ? AND part = ? AND remote_id IS NULL",
                (state, message, now, job_id, part),
            )
            self._touch(conn, job_id, now)

    def submitted(
        self,
        job_id: str,
        part: int,
        *,
        remote_id: str,
        input_file_id: str = "",
        extra: Mapping[str, str] | None = None,
        message: str = "",
    ) -> None:
        """Record the remote batch a part became (state ``validating`` until polled)."""
        now = now_iso()
        with self.db.transaction() as conn:
            conn.execute(
                "UPDATE batch_parts SET remote_id = ?, input_file_id = ?, extra_json = ?,"
                " state = 'validating', message = ?, submitted_at = ?, updated_at = ?"
                " WHERE job_id = ? AND part = ?",
                (remote_id, input_file_id, json.dumps(dict(extra or {})), message, now, now,
                 job_id, part),
            )
            self._touch(conn, job_id, now)

    def polled(
        self,
        job_id: str,
        part: int,
        *,
        state: str,
        total: int,
        succeeded: int,
        failed: int,
        message: str = "",
    ) -> None:
        """Record a poll of the part's batch (an empty ``message`` keeps the one it had: how its
        batch was found, or why it failed)."""
        now = now_iso()
        with self.db.transaction() as conn:
            conn.execute(
                "UPDATE batch_parts SET state = ?, total = ?, succeeded = ?, failed = ?,"
                " message = COALESCE(NULLIF(?, ''), message), updated_at = ?"
                " WHERE job_id = ? AND part = ?",
                (state, total, succeeded, failed, message, now, job_id, part),
            )
            self._touch(conn, job_id, now)

    def set_status(self, job_id: str, status: JobStatus, *, was: JobStatus | None = None
                   ) -> None:
        """Set the job's status (only if it is ``was``, when given: a job another process
        cancelled meanwhile stays cancelling)."""
        now = now_iso()
        with self.db.transaction() as conn:
            conn.execute(
                "UPDATE batch_jobs SET status = ?, updated_at = ? WHERE id = ?"
                + (" AND status = ?" if was is not None else ""),
                (status, now, job_id, *((was,) if was is not None else ())),
            )

    def land(self, job_id: str, custom_id: str, result: RunResult, ref: RunRef) -> str | None:
        """Store ``result`` as the run of the cell ``custom_id`` and mark the cell, in one
        transaction; None (nothing stored) if the cell already has its run or is unknown."""
        with self.db.transaction() as conn:
            row = conn.execute(
                "SELECT run_id, outcome FROM batch_cells WHERE job_id = ? AND custom_id = ?",
                (job_id, custom_id),
            ).fetchone()
            if row is None or row[1] in ("ok", "error"):
                return None
            run_id = self.runs.add(result, ref)
            outcome = "ok" if status_of(result) == "ok" else "error"
            conn.execute(
                "UPDATE batch_cells SET run_id = ?, outcome = ? WHERE job_id = ? AND custom_id = ?",
                (run_id, outcome, job_id, custom_id),
            )
            self._touch(conn, job_id, now_iso())
        return run_id

    def land_many(
        self, job_id: str, items: Iterable[tuple[str, RunResult, RunRef]], *, chunk: int = 256
    ) -> int:
        """:meth:`land` each ``(custom_id, result, ref)``, ``chunk`` of them to a transaction
        (a results file holds up to 100,000 lines; a commit each took 4-11x as long, see
        bench/bench_batch_land.py); each chunk is stored as it is read. How many landed."""
        landed = 0
        pending: list[tuple[str, RunResult, RunRef]] = []
        for item in itertools.chain(items, [None]):
            if item is not None:
                pending.append(item)
            if pending and (item is None or len(pending) >= chunk):
                with self.db.transaction():
                    landed += sum(self.land(job_id, *one) is not None for one in pending)
                pending = []
        return landed

    def fetched(self, job_id: str, part: int) -> None:
        """Every result of ``part`` was read: its cells still without one are missing."""
        now = now_iso()
        with self.db.transaction() as conn:
            conn.execute(
                "UPDATE batch_cells SET outcome = 'missing'"
                " WHERE job_id = ? AND part = ? AND outcome IS NULL",
                (job_id, part),
            )
            conn.execute(
                "UPDATE batch_parts SET fetched = 1, updated_at = ? WHERE job_id = ? AND part = ?",
                (now, job_id, part),
            )
            self._touch(conn, job_id, now)

    def discard(self, job_id: str) -> bool:
        """Forget a job none of whose parts was sent (its submission failed): its cells are
        free to be sent again. False (the job is kept) if a part may be at the provider: a
        poll may have sent one while the submission failed."""
        with self.db.transaction() as conn:
            sent = conn.execute(
                "SELECT 1 FROM batch_parts WHERE job_id = ?"
                " AND (remote_id IS NOT NULL OR state IN (?, ?))",
                (job_id, SENDING, UNKNOWN),
            ).fetchone()
            if sent is None:
                conn.execute("DELETE FROM batch_jobs WHERE id = ?", (job_id,))
        return sent is None

    @staticmethod
    def _touch(conn: sqlite3.Connection, job_id: str, now: str) -> None:
        conn.execute("UPDATE batch_jobs SET updated_at = ? WHERE id = ?", (now, job_id))

    # --- reading -------------------------------------------------------------------------------

    def get(self, job_id: str) -> BatchJob:
        """The job ``job_id`` (or the one job whose id starts with it)."""
        conn = self.db.connection()
        rows = conn.execute(
            f"SELECT {_JOB_COLUMNS} FROM batch_jobs WHERE id = ? OR id LIKE ? ORDER BY id = ? DESC",
            (job_id, f"{job_id}%", job_id),
        ).fetchall()
        if not rows or (len(rows) > 1 and rows[0][0] != job_id):
            what = "no" if not rows else "more than one"
            raise NotFoundError(f"{what} batch job with id {job_id}")
        return self._job(rows[0])

    def jobs(
        self, *, experiment_id: str | None = None, unfinished: bool = False
    ) -> list[BatchJob]:
        """Jobs newest first (of one experiment; only those not ended)."""
        where, args = [], []
        if experiment_id is not None:
            where.append("experiment_id = ?")
            args.append(experiment_id)
        if unfinished:
            where.append("status <> 'ended'")
        clause = f" WHERE {' AND '.join(where)}" if where else ""
        rows = self.db.connection().execute(
            f"SELECT {_JOB_COLUMNS} FROM batch_jobs{clause} ORDER BY created_at DESC, id", args
        ).fetchall()
        return [self._job(row) for row in rows]

    def cells(self, job_id: str, *, part: int | None = None) -> list[BatchCell]:
        sql = (
            "SELECT custom_id, part, variant_position, test_position, repeat_index, sent_json,"
            " run_id, outcome FROM batch_cells WHERE job_id = ?"
        )
        args: list[object] = [job_id]
        if part is not None:
            sql += " AND part = ?"
            args.append(part)
        conn = self.db.connection()
        return [
            BatchCell(
                row[0],
                row[1],
                (row[2], row[3], row[4]),
                image_blobs.load(conn, row[5], SentRequest),
                row[6],
                row[7],
            )
            for row in conn.execute(sql + " ORDER BY rowid", args).fetchall()
        ]

    def _job(self, row: tuple[object, ...]) -> BatchJob:
        parts = tuple(
            BatchPart(
                part=p[0],
                model=p[1],
                remote_id=p[2],
                input_file_id=p[3],
                extra=json.loads(p[4]),
                state=p[5],
                total=p[6],
                succeeded=p[7],
                failed=p[8],
                message=p[9],
                fetched=bool(p[10]),
                submitted_at=p[11],
                updated_at=p[12],
            )
            for p in self.db.connection().execute(
                f"SELECT {_PART_COLUMNS} FROM batch_parts WHERE job_id = ? ORDER BY part",
                (row[0],),
            )
        )
        job_id, experiment_id, backend_name, provider, window, status, created, updated = row
        return BatchJob(
            str(job_id),
            str(experiment_id),
            str(backend_name),
            str(provider),
            str(window),
            status,  # type: ignore[arg-type]  # the table's CHECK keeps it a JobStatus
            str(created),
            str(updated),
            parts,
        )
