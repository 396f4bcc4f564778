"""Runs: every finished, failed or cancelled model call, with the exact request that was sent.

A run is written in its own transaction the moment it finishes, so a crash loses at most the runs
still in flight. The request is kept as JSON (the ``SentRequest``), the raw prompt, response, usage,
timings and cost as columns, so history lists and searches never parse JSON.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import TypeAdapter

from workbench.core.errors import KnownError
from workbench.core.experiments import Variant
from workbench.core.logprobs import pack, unpack
from workbench.core.models import PromptTemplate, RunResult, SentRequest, Timings, Usage
from workbench.core.outcome import RunStatus, status_of
from workbench.core.tools import ToolCall
from workbench.storage import image_blobs
from workbench.storage.db import Database, NotFoundError
from workbench.storage.fts import fts_query
from workbench.storage.ids import new_id, now_iso

Status = RunStatus  # how a stored run ended (decided once, by core.outcome.status_of)
#: Where a run came from: typed by hand (the main window, ``workbench run``), a compare column, a
#: sweep cell or an evaluation case. Runs of an experiment take its kind.
Source = Literal["hand", "compare", "sweep", "eval"]
SOURCES: tuple[Source, ...] = ("hand", "compare", "sweep", "eval")
#: Ratings history can filter on: any rating, thumbs up, thumbs down, none.
RatingFilter = Literal["rated", "up", "down", "unrated"]
PREVIEW_CHARS = 200


@dataclass(frozen=True)
class RunFilter:
    """What a history list narrows to; each field left empty does not narrow."""

    source: Source | None = None
    template_key: str | None = None
    backend: str | None = None  # the configured backend's name (its type for older runs)
    rating: RatingFilter | None = None
    template_file: str | None = None  # runs of the document bound to this template file


@dataclass(frozen=True)
class RunRef:
    """Where a run belongs (its experiment cell and repeat) and what it came from (template
    version and variable values); all optional for ad-hoc runs."""

    experiment_id: str | None = None
    variant_id: str | None = None
    test_case_id: str | None = None
    repeat_index: int = 0
    # What the run came from, so opening it restores the template version and its values.
    template_key: str | None = None
    template_version: int | None = None
    variables: Mapping[str, str] = field(default_factory=dict)
    # A branch at a token: the run it continues and the index of the token it replaced.
    parent_run_id: str | None = None
    branch_token: int | None = None
    #: The template as run, kept when it is no library version (an untitled draft, an unsaved
    #: edit) and the run belongs to no experiment (whose variant keeps it): ``template_of``.
    template: PromptTemplate | None = None
    template_file: str | None = None  # the file the run's document was bound to, if any

    @classmethod
    def of_cell(
        cls,
        variant: Variant,
        variables: Mapping[str, str],
        *,
        experiment_id: str | None = None,
        variant_id: str | None = None,
        test_case_id: str | None = None,
        repeat_index: int = 0,
    ) -> RunRef:
        """The ref of one run of ``variant`` (a compare column, sweep or evaluation cell): every
        path records the variant's library key and version number the same way."""
        return cls(
            experiment_id=experiment_id,
            variant_id=variant_id,
            test_case_id=test_case_id,
            repeat_index=repeat_index,
            template_key=variant.template_key,
            template_version=variant.template_version,
            variables=dict(variables),
            template_file=variant.template_file,
        )


@dataclass(frozen=True)
class StoredRun:
    id: str
    created_at: str
    ref: RunRef
    status: Status
    result: RunResult


@dataclass(frozen=True)
class RunSummary:
    """One row of the history: what a list shows without loading the run."""

    id: str
    created_at: str
    experiment_id: str | None
    status: Status
    backend: str
    model: str
    finish_reason: str
    preview: str
    response_preview: str
    input_tokens: int | None
    output_tokens: int | None
    total_s: float | None
    cost: float | None
    error_kind: str | None
    template_key: str | None = None
    template_version: int | None = None
    error: str | None = None  # the error message's start, for a list to say why a run failed
    backend_name: str | None = None  # the configured backend ("down"); None for older runs
    source: Source = "hand"
    params_json: str | None = None  # the parameters sent, as JSON (see ``params``)
    thumbs: int | None = None
    stars: int | None = None
    parent_run_id: str | None = None  # a branch at a token: the run it branched from
    variables_json: str | None = None  # the template's values, as JSON (see ``variables``)
    template_file: str | None = None  # the file the run's document was bound to
    template_name: str | None = None  # the name of the template kept with the run, if any
    snippet: str | None = None  # search hits: the matching passage with [brackets]

    @property
    def variables(self) -> dict[str, str]:
        """The values the template was filled with (``{"who": "Ana"}``)."""
        loaded = json.loads(self.variables_json) if self.variables_json else {}
        return loaded if isinstance(loaded, dict) else {}

    @property
    def params(self) -> dict[str, Any]:
        """The parameters the backend was sent (``{"temperature": 0.7, "max_tokens": 256}``)."""
        loaded = json.loads(self.params_json) if self.params_json else {}
        return loaded if isinstance(loaded, dict) else {}


def prompt_text(request: SentRequest) -> str:
    """The prompt as searchable text: every message body (or the completion prompt)."""
    parts = [m.content for m in request.messages]
    if request.prompt is not None:
        parts.append(request.prompt)
    return "\n\n".join(parts)


def preview(request: SentRequest) -> str:
    """The last user message (what a person recognises a run by), else the prompt's end."""
    users = [m.content for m in request.messages if m.role == "user"]
    if users:
        return users[-1][:PREVIEW_CHARS]
    return prompt_text(request)[-PREVIEW_CHARS:]


_SUMMARY_COLUMNS = (
    "runs.id, runs.created_at, runs.experiment_id, runs.status, runs.backend, runs.model,"
    f" runs.finish_reason, runs.preview, substr(runs.response, 1, {PREVIEW_CHARS}),"
    " runs.input_tokens, runs.output_tokens, runs.total_s, runs.cost, runs.error_kind,"
    f" runs.template_key, runs.template_version, substr(runs.error, 1, {PREVIEW_CHARS}),"
    " json_extract(runs.request_json, '$.backend_name'), runs.source,"
    " json_extract(runs.request_json, '$.sent_params'), ratings.thumbs, ratings.stars,"
    " runs.parent_run_id, runs.variables_json, runs.template_file,"
    " json_extract(runs.template_json, '$.name')"
)
_RATINGS_JOIN = "LEFT JOIN ratings ON ratings.run_id = runs.id"
_RATING_CLAUSES: dict[str, str] = {
    "rated": "runs.id IN (SELECT run_id FROM ratings"
    " WHERE thumbs IS NOT NULL OR stars IS NOT NULL OR comment <> '')",
    "up": "runs.id IN (SELECT run_id FROM ratings WHERE thumbs = 1)",
    "down": "runs.id IN (SELECT run_id FROM ratings WHERE thumbs = -1)",
    "unrated": "runs.id NOT IN (SELECT run_id FROM ratings"
    " WHERE thumbs IS NOT NULL OR stars IS NOT NULL OR comment <> '')",
}

_INSERT = (
    "INSERT INTO runs (id, created_at, experiment_id, variant_id, test_case_id, repeat_index,"
    " status, backend, model, seed, request_json, prompt_text, preview, raw_prompt, response,"
    " finish_reason, input_tokens, output_tokens, load_s, ttft_s, total_s, tokens_per_s, cost,"
    " error, error_kind, template_key, template_version, variables_json, source, backend_name,"
    " reasoning, reasoning_tokens, parent_run_id, branch_token, tool_calls_json, template_json,"
    " template_file)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?,"
    " ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)

_TOOL_CALLS = TypeAdapter(list[ToolCall])


def _row(
    run_id: str, created_at: str, result: RunResult, ref: RunRef, source: Source,
    request_json: str, template_json: str | None,
) -> tuple[object, ...]:
    """The columns of ``_INSERT``; ``request_json`` and ``template_json`` as stored (their
    images as references, ``image_blobs.dump``)."""
    request = result.request
    return (
        run_id,
        created_at,
        ref.experiment_id,
        ref.variant_id,
        ref.test_case_id,
        ref.repeat_index,
        status_of(result),
        request.backend,
        request.model,
        request.seed,
        request_json,
        prompt_text(request),
        preview(request),
        request.raw_prompt,
        result.text,
        result.finish_reason,
        result.usage.input_tokens,
        result.usage.output_tokens,
        result.timings.load_s,
        result.timings.ttft_s,
        result.timings.total_s,
        result.timings.tokens_per_s,
        result.cost,
        result.error,
        result.error_kind,
        ref.template_key,
        ref.template_version,
        json.dumps(dict(ref.variables), ensure_ascii=False) if ref.variables else None,
        source,
        request.backend_name or request.backend,
        result.reasoning,
        result.usage.reasoning_tokens,
        ref.parent_run_id,
        ref.branch_token,
        _TOOL_CALLS.dump_json(result.tool_calls).decode() if result.tool_calls else None,
        template_json,
        ref.template_file,
    )


class RunRepository:
    def __init__(self, db: Database) -> None:
        self.db = db

    def add(self, result: RunResult, ref: RunRef = RunRef(), *, run_id: str | None = None) -> str:
        """Store one finished run and commit it; returns its id."""
        return self.add_many([(result, ref)], run_ids=[run_id] if run_id else None)[0]

    def add_many(
        self, items: Sequence[tuple[RunResult, RunRef]], *, run_ids: Sequence[str] | None = None
    ) -> list[str]:
        """Store runs in one transaction (imports, benchmarks); all or none are kept."""
        ids = list(run_ids) if run_ids else [new_id() for _ in items]
        created = now_iso()
        try:
            with self.db.transaction() as conn:
                kinds = self._kinds(conn, {ref.experiment_id for _r, ref in items})
                requests = [
                    image_blobs.dump(
                        conn, result.request, exclude={"raw_prompt"}, exclude_defaults=True
                    )
                    for result, _ref in items
                ]
                templates = [
                    image_blobs.dump(conn, ref.template, exclude_defaults=True)
                    if ref.template is not None else (None, [])
                    for _result, ref in items
                ]
                rows = [
                    _row(i, created, result, ref, kinds.get(ref.experiment_id, "hand"), text,
                         template)
                    for i, (result, ref), (text, _), (template, _) in zip(
                        ids, items, requests, templates, strict=True)
                ]
                conn.executemany(_INSERT, rows)
                for i, (_, hashes), (_, more) in zip(ids, requests, templates, strict=True):
                    image_blobs.link(conn, "run_images", i, list(dict.fromkeys(hashes + more)))
                tokens = [
                    (i, pack(result.logprobs))
                    for i, (result, _ref) in zip(ids, items, strict=True)
                    if result.logprobs
                ]
                if tokens:
                    conn.executemany("INSERT INTO run_tokens (run_id, data) VALUES (?, ?)", tokens)
        except sqlite3.IntegrityError as err:
            raise NotFoundError(
                f"cannot store the run: its experiment, variant or test case does not exist ({err})"
            ) from None
        return ids

    @staticmethod
    def _kinds(
        conn: sqlite3.Connection, experiment_ids: set[str | None]
    ) -> dict[str | None, Source]:
        """The kind of each experiment: the source of the runs made for it."""
        wanted = [i for i in experiment_ids if i is not None]
        if not wanted:
            return {}
        marks = ", ".join("?" for _ in wanted)
        return dict(
            conn.execute(f"SELECT id, kind FROM experiments WHERE id IN ({marks})", wanted)
        )

    def get(self, run_id: str) -> StoredRun:
        row = (
            self.db.connection()
            .execute(
                "SELECT id, created_at, experiment_id, variant_id, test_case_id, repeat_index,"
                " status, request_json, raw_prompt, response, finish_reason, input_tokens,"
                " output_tokens, load_s, ttft_s, total_s, tokens_per_s, cost, error, error_kind,"
                " template_key, template_version, variables_json, reasoning, reasoning_tokens,"
                " parent_run_id, branch_token, tool_calls_json, template_json, template_file"
                " FROM runs WHERE id = ?",
                (run_id,),
            )
            .fetchone()
        )
        if row is None:
            raise NotFoundError(f"no run with id {run_id}")
        conn = self.db.connection()
        tokens = conn.execute("SELECT data FROM run_tokens WHERE run_id = ?", (run_id,)).fetchone()
        request = image_blobs.load(conn, row[7], SentRequest).model_copy(
            update={"raw_prompt": row[8]}
        )
        result = RunResult(
            request=request,
            text=row[9],
            reasoning=row[23],
            finish_reason=row[10],
            usage=Usage(input_tokens=row[11], output_tokens=row[12], reasoning_tokens=row[24]),
            timings=Timings(load_s=row[13], ttft_s=row[14], total_s=row[15], tokens_per_s=row[16]),
            cost=row[17],
            error=row[18],
            error_kind=row[19],
            logprobs=None if tokens is None else unpack(tokens[0]),
            tool_calls=_TOOL_CALLS.validate_json(row[27]) if row[27] else [],
        )
        ref = RunRef(
            row[2],
            row[3],
            row[4],
            row[5],
            template_key=row[20],
            template_version=row[21],
            variables=json.loads(row[22]) if row[22] else {},
            parent_run_id=row[25],
            branch_token=row[26],
            template=image_blobs.load(conn, row[28], PromptTemplate) if row[28] else None,
            template_file=row[29],
        )
        return StoredRun(row[0], row[1], ref, row[6], result)

    def template_of(self, run_id: str) -> PromptTemplate | None:
        """The template ``run_id`` was made from, as it was then: kept with a hand run of an
        untitled draft or an unsaved edit, or its experiment variant's. None for older runs
        (only what they sent is known) and for runs of a library version (the library has it)."""
        conn = self.db.connection()
        row = conn.execute(
            "SELECT runs.template_json, variants.template_json FROM runs"
            " LEFT JOIN variants ON variants.id = runs.variant_id WHERE runs.id = ?",
            (run_id,),
        ).fetchone()
        text = None if row is None else row[0] or row[1]
        return None if text is None else image_blobs.load(conn, text, PromptTemplate)

    def attach(
        self, run_ids: Sequence[str], template_key: str, version: int | None = None
    ) -> None:
        """Runs of an untitled draft become runs of the template it was first saved as: of its
        ``version`` when they ran just what it saved, else of no version (``template_of``
        keeps what each one ran). Runs already of a template, or gone, are left as they are."""
        with self.db.transaction() as conn:
            conn.executemany(
                "UPDATE runs SET template_key = ?, template_version = ?"
                " WHERE id = ? AND template_key IS NULL",
                [(template_key, version, run_id) for run_id in run_ids],
            )

    def get_many(self, run_ids: Iterable[str]) -> list[StoredRun]:
        return [self.get(run_id) for run_id in run_ids]

    def recent(
        self,
        limit: int = 100,
        *,
        before: str | None = None,
        experiment_id: str | None = None,
        status: Status | None = None,
        where: RunFilter | None = None,
    ) -> list[RunSummary]:
        """The most recent runs first; pass the last id of a page as ``before`` for the next."""
        clauses, params = self._filters(before, experiment_id, status, where)
        rows = (
            self.db.connection()
            .execute(
                f"SELECT {_SUMMARY_COLUMNS} FROM runs {_RATINGS_JOIN} {clauses}"
                " ORDER BY runs.id DESC LIMIT ?",
                (*params, limit),
            )
            .fetchall()
        )
        return [RunSummary(*row) for row in rows]

    def search(
        self,
        query: str,
        limit: int = 50,
        *,
        experiment_id: str | None = None,
        raw: bool = False,
        where: RunFilter | None = None,
    ) -> list[RunSummary]:
        """Runs whose prompt or output contains every word of ``query``, most recent first.

        ``raw`` passes FTS5 query syntax (OR, NEAR, prefix*) through unchanged.
        """
        match = query if raw else fts_query(query)
        clauses, params = self._filters(None, experiment_id, None, where)
        clauses = f"{clauses} AND" if clauses else "WHERE"
        try:
            rows = (
                self.db.connection()
                .execute(
                    f"SELECT {_SUMMARY_COLUMNS}, snippet(runs_fts, -1, '[', ']', '…', 12)"
                    f" FROM runs_fts JOIN runs ON runs.seq = runs_fts.rowid {_RATINGS_JOIN}"
                    f" {clauses} runs_fts MATCH ?"
                    " ORDER BY runs_fts.rowid DESC LIMIT ?",
                    (*params, match, limit),
                )
                .fetchall()
            )
        except sqlite3.OperationalError as err:
            if raw:  # the user's own FTS5 syntax: unbalanced quotes, unknown column filters
                raise KnownError(f"invalid search syntax: {query} ({err})") from None
            raise
        return [RunSummary(*row) for row in rows]

    @staticmethod
    def _filters(
        before: str | None,
        experiment_id: str | None,
        status: Status | None,
        where: RunFilter | None = None,
    ) -> tuple[str, tuple[object, ...]]:
        clauses: list[str] = []
        params: list[object] = []
        where = where or RunFilter()
        for column, value in (
            ("runs.source", where.source),
            ("runs.template_key", where.template_key),
            ("runs.backend_name", where.backend),
            ("runs.template_file", where.template_file),
        ):
            if value is not None:
                clauses.append(f"{column} = ?")
                params.append(value)
        if where.rating is not None:
            clauses.append(_RATING_CLAUSES[where.rating])
        if before is not None:
            clauses.append("runs.id < ?")
            params.append(before)
        if experiment_id is not None:
            clauses.append("runs.experiment_id = ?")
            params.append(experiment_id)
        if status is not None:
            clauses.append("runs.status = ?")
            params.append(status)
        return ("WHERE " + " AND ".join(clauses) if clauses else ""), tuple(params)

    def for_experiment(self, experiment_id: str) -> list[StoredRun]:
        """Every run of an experiment, in the order they were stored."""
        ids = [
            row[0]
            for row in self.db.connection().execute(
                "SELECT id FROM runs WHERE experiment_id = ? ORDER BY id", (experiment_id,)
            )
        ]
        return self.get_many(ids)

    def ids(self, *, experiment_id: str | None = None, status: Status | None = None) -> list[str]:
        """Ids of every run (of one experiment, with one status), oldest first: for exports."""
        where, params = self._filters(None, experiment_id, status)
        return [
            row[0]
            for row in self.db.connection().execute(
                f"SELECT runs.id FROM runs {where} ORDER BY runs.id", params
            )
        ]

    def completed_cells(self, experiment_id: str) -> set[tuple[str | None, str | None, int]]:
        """``(variant_id, test_case_id, repeat_index)`` of the runs that finished without error:
        what a resumed grid skips."""
        return {
            (row[0], row[1], row[2])
            for row in self.db.connection().execute(
                "SELECT variant_id, test_case_id, repeat_index FROM runs"
                " WHERE experiment_id = ? AND status = 'ok'",
                (experiment_id,),
            )
        }

    def choices(self) -> tuple[list[str], list[str]]:
        """The template keys and backend names history holds runs of, sorted: what its filters
        offer."""
        conn = self.db.connection()
        templates = [
            row[0]
            for row in conn.execute(
                "SELECT DISTINCT template_key FROM runs WHERE template_key IS NOT NULL"
                " ORDER BY template_key"
            )
        ]
        backends = [
            row[0]
            for row in conn.execute("SELECT DISTINCT backend_name FROM runs ORDER BY backend_name")
        ]
        return templates, backends

    def by_server(self, backend_name: str) -> list[tuple[str, int, int, float | None]]:
        """A server pool's figures from history: per base URL that answered (each run's
        ``server``), its runs, failed runs and mean seconds per run."""
        rows = self.db.connection().execute(
            "SELECT json_extract(request_json, '$.server') AS server, count(*),"
            " sum(status = 'error'), avg(total_s) FROM runs"
            " WHERE backend_name = ? AND server IS NOT NULL AND server != ''"
            " GROUP BY server ORDER BY server",
            (backend_name,),
        )
        return [(str(url), int(n), int(failed), avg) for url, n, failed, avg in rows]

    def count(self) -> int:
        return int(self.db.connection().execute("SELECT count(*) FROM runs").fetchone()[0])

    def delete(self, run_id: str) -> None:
        with self.db.transaction() as conn:
            if conn.execute("DELETE FROM runs WHERE id = ?", (run_id,)).rowcount == 0:
                raise NotFoundError(f"no run with id {run_id}")
