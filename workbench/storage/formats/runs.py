"""Runs out to CSV (for spreadsheets) and JSONL (complete, lossless, and readable back).

JSONL holds each run's whole ``RunResult`` (exact request sent, response, usage, timings, error)
plus its id, label and variable values, one object per line. CSV flattens the same runs to the
columns people sort and filter by; the exact request is kept in it as JSON text.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable
from dataclasses import dataclass, field

from pydantic import ValidationError

from workbench.core.logprobs import from_openai, to_openai
from workbench.core.models import RunResult
from workbench.core.records import jsonl_records
from workbench.storage.formats.results import Problems

CSV_COLUMNS = (
    "id",
    "label",
    "backend",
    "model",
    "finish_reason",
    "input",
    "output",
    "input_tokens",
    "output_tokens",
    "ttft_s",
    "total_s",
    "tokens_per_s",
    "cost",
    "seed",
    "error",
    "error_kind",
    "vars",
    "params",
    "reasoning",
    "reasoning_tokens",
)


@dataclass
class RunRecord:
    """A run as exported: its id and label (e.g. the variant) and the variable values it used."""

    id: str
    result: RunResult
    label: str = ""
    vars: dict[str, str] = field(default_factory=dict)


def _input_text(result: RunResult) -> str:
    request = result.request
    if request.prompt is not None and not request.messages:
        return request.prompt
    return json.dumps([m.model_dump() for m in request.messages], ensure_ascii=False)


def _cell(value: object) -> str:
    return "" if value is None else str(value)


def runs_to_csv(records: Iterable[RunRecord]) -> str:
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for rec in records:
        r = rec.result
        writer.writerow(
            [
                rec.id,
                rec.label,
                r.request.backend,
                r.request.model,
                r.finish_reason,
                _input_text(r),
                r.text,
                _cell(r.usage.input_tokens),
                _cell(r.usage.output_tokens),
                _cell(r.timings.ttft_s),
                _cell(r.timings.total_s),
                _cell(r.timings.tokens_per_s),
                _cell(r.cost),
                _cell(r.request.seed),
                _cell(r.error),
                _cell(r.error_kind),
                json.dumps(rec.vars, ensure_ascii=False),
                json.dumps(r.request.sent_params, ensure_ascii=False),
                r.reasoning,
                _cell(r.usage.reasoning_tokens),
            ]
        )
    return out.getvalue()


def runs_to_jsonl(records: Iterable[RunRecord]) -> str:
    lines = [
        json.dumps(
            {
                "id": rec.id,
                "label": rec.label,
                "vars": rec.vars,
                "run": rec.result.model_dump(mode="json"),
                # OpenAI's chat shape: the tokens' log-probabilities and alternatives.
                **({"logprobs": to_openai(rec.result.logprobs)} if rec.result.logprobs else {}),
            },
            ensure_ascii=False,
        )
        for rec in records
    ]
    return "".join(line + "\n" for line in lines)


def read_runs_jsonl(text: str, source: str = "<text>") -> tuple[list[RunRecord], Problems]:
    """Runs back from ``runs_to_jsonl`` output; bad lines are reported with their number."""
    problems = Problems(source)
    records = []
    for n, data, error in jsonl_records(text):
        if error is not None:
            problems.error(n, error)
            continue
        if not isinstance(data, dict) or not isinstance(data.get("id"), str) or "run" not in data:
            problems.error(n, "not a run record (needs 'id' and 'run')")
            continue
        try:
            result = RunResult.model_validate(data["run"])
        except ValidationError as err:
            first = err.errors()[0]
            problems.error(n, f"run.{'.'.join(str(p) for p in first['loc'])}: {first['msg']}")
            continue
        if isinstance(data.get("logprobs"), list):
            try:
                tokens = from_openai(data["logprobs"])
            except (KeyError, TypeError, AttributeError) as err:
                problems.error(n, f"logprobs: not OpenAI's token list ({err})")
                continue
            result = result.model_copy(update={"logprobs": list(tokens)})
        raw_vars = data.get("vars")
        values = {str(k): str(v) for k, v in raw_vars.items()} if isinstance(raw_vars, dict) else {}
        records.append(RunRecord(data["id"], result, str(data.get("label") or ""), values))
    return records, problems
