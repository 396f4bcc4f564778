"""Synthetic dataset rows: ask a chosen model for test cases as JSON and read what it wrote.

Models wrap JSON in prose and code fences, leave trailing commas, stop mid-array at their token
limit or write one object per line; ``parse_rows`` takes every complete row it can find and names
what it could not use, so a half-good answer still gives rows. Where the backend can enforce a
JSON schema (llama.cpp's grammar, OpenAI's ``response_format``, a forced tool) the generator
sends one, so the answer parses by construction. Generation goes through the runner like any
run (limited, priced, saved), so the prompt and answer stay in the history. Small models repeat
themselves: ``dedupe`` drops rows that repeat an earlier one or a row already in the dataset, and
when that leaves fewer rows than asked for the model is asked again for the missing ones (at most
``MORE_ROUNDS`` more times), shown the rows it already wrote so it writes other ones.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from workbench.backends.base import CancelToken
from workbench.core.datasets import row_from_mapping
from workbench.core.experiments import ExperimentSpec, TestCase, Variant
from workbench.core.models import Message, Params, PromptTemplate
from workbench.core.templates import discover, render_text
from workbench.services.egress import EgressPlan, plan_experiment
from workbench.services.runner import Runner, build_request

_FENCE = re.compile(r"```[A-Za-z0-9_-]*\s*\n?(.*?)```", re.DOTALL)
_TRAILING_COMMA = re.compile(r",\s*([\]}])")
_WRAPPERS = ("rows", "tests", "test_cases", "examples", "data", "items", "dataset")

GENERATOR = """\
Write {{ n }} varied test cases for this task:
{{ task }}

Answer with only a JSON object {"rows": [...]} holding {{ n }} objects, each with the keys \
{{ keys }}, every value a string.
{% if example %}For example: {{ example }}
{% endif %}Cover typical inputs, edge cases and tricky ones. No text before or after the JSON."""


FOLLOW_UP = """\
These rows are already written:
{rows}

Write {missing} more, each a different case from every row above, as the same JSON object \
{{"rows": [...]}}. No text before or after the JSON."""

#: Rounds after the first that ask for rows de-duplication left missing: a small model that only
#: repeats itself is not asked forever.
MORE_ROUNDS = 2
#: At most this many already written rows are quoted back in a follow-up (the prompt stays short).
_QUOTED = 40

#: Token-set Jaccard similarity from which two rows count as the same case.
NEAR_DUPLICATE = 0.9
_TOKEN = re.compile(r"\w+")


@dataclass(frozen=True)
class Duplicate:
    """A generated row left out: it repeats ``of`` (an earlier generated row or an existing one)."""

    row: TestCase
    of: TestCase
    existing: bool  # ``of`` was already in the dataset
    similarity: float  # 1.0: the same after normalising whitespace and case


@dataclass
class GeneratedRows:
    rows: list[TestCase] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    run_id: str | None = None
    text: str = ""
    duplicates: list[Duplicate] = field(default_factory=list)
    rounds: int = 1  # model calls made: 1, plus one per follow-up for missing rows
    run_ids: list[str] = field(default_factory=list)  # every round's run, first to last


def template_columns(template: PromptTemplate) -> list[str]:
    """The variables a row of ``template`` needs: the declared ones in order, then those its
    bodies use without declaring them."""
    declared = [v.name for v in template.variables]
    used = discover(template, skip_broken=True).used
    return [*declared, *(name for name in used if name not in declared)]


def rows_schema(columns: Sequence[str], n: int) -> dict[str, Any]:
    """The JSON schema of the answer: ``{"rows": [...]}`` with ``n`` objects whose keys are
    exactly ``columns``, every value a string. An object at the top (not a bare array) because
    OpenAI's strict mode and Anthropic's forced tools take only objects."""
    row = {
        "type": "object",
        "properties": {c: {"type": "string"} for c in columns},
        "required": list(columns),
        "additionalProperties": False,
    }
    rows = {"type": "array", "items": row, "minItems": n, "maxItems": n}
    return {
        "type": "object",
        "properties": {"rows": rows},
        "required": ["rows"],
        "additionalProperties": False,
    }


def generator_prompt(
    task: str, columns: Sequence[str], *, n: int = 10, example: Mapping[str, str] | None = None
) -> str:
    """The built-in generation prompt for these rows, as it is sent: what a person sees and
    edits before generating."""
    _, values = generator_template(task, columns, n=n, example=example)
    return render_text(GENERATOR, values, "generator")


def generator_template(
    task: str,
    columns: Sequence[str],
    *,
    n: int = 10,
    example: Mapping[str, str] | None = None,
    prompt: str | None = None,
) -> tuple[PromptTemplate, dict[str, str]]:
    """The row generator and its values: ``columns`` are the variables each row gets
    (``expected`` for the expected output). ``prompt``, an edited generation prompt, is sent
    as written (never rendered, so its JSON braces stay text). The answer's schema is sent as
    the response format; a backend that cannot enforce it drops it and the prompt still asks."""
    keys = ", ".join(f'"{c}"' for c in columns)
    message = (
        Message(role="user", content=GENERATOR)
        if prompt is None
        else Message(role="user", content=prompt, literal=True)
    )
    template = PromptTemplate(
        name="generate dataset rows",
        messages=[message],
        parameters=Params(temperature=0.8),
        output_schema=rows_schema(columns, n),
        response_format="json_schema",
    )
    values = {
        "n": str(n),
        "task": task,
        "keys": keys,
        "example": json.dumps(dict(example), ensure_ascii=False) if example else "",
    }
    return template, values


def _candidates(text: str) -> list[str]:
    """The text itself, then each fenced block: where the JSON may be."""
    return [*(m.group(1) for m in _FENCE.finditer(text)), text]


def _values(text: str) -> list[Any]:
    """Every top-level JSON value found in ``text`` (arrays, objects), in order."""
    decoder = json.JSONDecoder()
    found: list[Any] = []
    i = 0
    while i < len(text):
        start = min((p for p in (text.find("[", i), text.find("{", i)) if p >= 0), default=-1)
        if start < 0:
            break
        try:
            value, end = decoder.raw_decode(text, start)
        except json.JSONDecodeError:
            i = start + 1
            continue
        found.append(value)
        i = end
    return found


def _objects(value: Any) -> list[Any]:
    if isinstance(value, list):
        return value
    if isinstance(value, dict):
        for key in _WRAPPERS:
            if isinstance(value.get(key), list):
                return value[key]
        return [value]
    return []


def parse_rows(text: str, columns: Sequence[str] | None = None) -> tuple[list[TestCase], list[str]]:
    """The rows in a model's answer, and what could not be used.

    With ``columns``, each row keeps exactly those variables (``expected`` becomes the expected
    output) and a row missing one is reported and left out.
    """
    values: list[Any] = []
    for candidate in _candidates(text):
        values = _values(_TRAILING_COMMA.sub(r"\1", candidate))
        if values:
            break
    items = [item for value in values for item in _objects(value)]
    if not items:
        return [], ["no JSON rows found in the answer"]
    rows: list[TestCase] = []
    problems: list[str] = []
    for n, item in enumerate(items, 1):
        if not isinstance(item, dict):
            problems.append(f"item {n} is not an object; skipped")
            continue
        if columns is not None:
            nested = item.get("vars")
            flat: dict[str, Any] = nested if isinstance(nested, dict) else item
            wanted = [c for c in columns if c != "expected"]
            missing = [c for c in wanted if c not in flat]
            if missing:
                problems.append(f"item {n} lacks {', '.join(missing)}; skipped")
                continue
            item = {
                "vars": {c: flat[c] for c in wanted},
                **({"expected": item["expected"]} if "expected" in item else {}),
            }
        try:
            rows.append(row_from_mapping(item))
        except ValueError as err:
            problems.append(f"item {n}: {err}; skipped")
    return rows, problems


def generation_plan(
    runner: Runner,
    template: PromptTemplate,
    values: Mapping[str, str],
    *,
    backend: str,
    model: str = "",
    params: Params | None = None,
) -> EgressPlan:
    """What generating would send off this computer (one call, its tokens and cost), for the
    question asked before a remote backend gets the prompt."""
    variant = Variant(template=template, params=template.parameters.merged(params or Params()),
                      backend=backend, model=model, variables=dict(values))
    return plan_experiment(ExperimentSpec(name=template.name, variants=[variant]), runner)


def generate_rows(
    runner: Runner,
    template: PromptTemplate,
    values: Mapping[str, str],
    *,
    backend: str,
    model: str = "",
    params: Params | None = None,
    columns: Sequence[str] | None = None,
    existing: Sequence[TestCase] = (),
    cancel: CancelToken | None = None,
    want: int | None = None,
    more_rounds: int = MORE_ROUNDS,
) -> GeneratedRows:
    """Run ``template`` on the chosen model and read rows from its answer, without the rows
    that repeat another or one of ``existing`` (the dataset they are for). With ``want`` (the
    number asked for), rows lost to de-duplication are asked for again, up to ``more_rounds``
    more calls, each quoting the rows kept so far."""
    out = GeneratedRows()
    asked = template
    while True:
        request = build_request(
            asked,
            values,
            backend=backend,
            model=model,
            params=template.parameters.merged(params or Params()),
        )
        outcome = runner.execute(request, cancel)
        result = outcome.result
        if outcome.run_id is not None:
            out.run_ids.append(outcome.run_id)
        out.run_id = outcome.run_id
        if outcome.status != "ok":
            reason = result.error or "the run was cancelled"
            out.problems.append(f"the model did not answer: {reason}")
            return out
        rows, problems = parse_rows(result.text, columns)
        if result.finish_reason == "length":
            problems.append("the answer hit max_tokens: the last rows may be missing")
        kept, duplicates = dedupe(rows, [*existing, *out.rows])
        out.rows += kept
        out.problems += problems
        out.text = result.text
        out.duplicates += [
            replace(d, existing=any(d.of is e for e in existing)) for d in duplicates
        ]
        missing = 0 if want is None else want - len(out.rows)
        if missing <= 0 or out.rounds > more_rounds:
            return out
        out.rounds += 1
        asked = _follow_up(template, result.text, out.rows, missing)


def _follow_up(
    template: PromptTemplate, answer: str, rows: Sequence[TestCase], missing: int
) -> PromptTemplate:
    """``template`` asking for ``missing`` more rows unlike ``rows``: the model's last answer,
    then a user message quoting the rows kept, and the answer's schema (if any) asking for that
    many."""
    quoted = [
        json.dumps({**r.vars, **({"expected": r.expected} if r.expected is not None else {})},
                   ensure_ascii=False)
        for r in rows[-_QUOTED:]
    ]
    text = FOLLOW_UP.format(rows="\n".join(quoted) or "(none)", missing=missing)
    schema = template.output_schema
    rows_spec = schema.get("properties", {}).get("rows") if isinstance(schema, dict) else None
    if isinstance(rows_spec, dict) and isinstance(schema, dict):
        schema = {**schema, "properties": {**schema["properties"], "rows": {
            **rows_spec, "minItems": missing, "maxItems": missing}}}
    return template.model_copy(update={
        "messages": [
            *template.messages,
            Message(role="assistant", content=answer, literal=True),
            Message(role="user", content=text, literal=True),
        ],
        "output_schema": schema,
    })


def _normal(row: TestCase) -> str:
    """A row's inputs with whitespace and case evened out: what makes it the same case (the
    expected output does not: the same input twice tests the same thing)."""
    return "\x1f".join(f"{k}={' '.join(row.vars[k].split()).casefold()}" for k in sorted(row.vars))


def _tokens(row: TestCase) -> frozenset[str]:
    return frozenset(
        f"{k}:{t}" for k in row.vars for t in _TOKEN.findall(row.vars[k].casefold())
    )


def _jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    union = len(a | b)
    return len(a & b) / union if union else 1.0


def dedupe(
    rows: Sequence[TestCase],
    existing: Sequence[TestCase] = (),
    *,
    threshold: float = NEAR_DUPLICATE,
) -> tuple[list[TestCase], list[Duplicate]]:
    """``(kept, duplicates)``: the first of rows that are the same case is kept. Two rows are the
    same when their variables match after normalising whitespace and case, or when the words of
    each variable overlap by at least ``threshold`` (token-set Jaccard): "What is 2+2?" and
    "what is 2 + 2" are one case. Rows already in ``existing`` are never kept again."""
    seen: dict[str, tuple[TestCase, bool]] = {_normal(r): (r, True) for r in existing}
    tokens: list[tuple[frozenset[str], TestCase, bool]] = [
        (_tokens(r), r, True) for r in existing
    ]
    kept: list[TestCase] = []
    duplicates: list[Duplicate] = []
    for row in rows:
        key = _normal(row)
        if key in seen:
            of, old = seen[key]
            duplicates.append(Duplicate(row, of, old, 1.0))
            continue
        words = _tokens(row)
        near = max(
            ((_jaccard(words, w), r, old) for w, r, old in tokens),
            key=lambda found: found[0],
            default=None,
        )
        if near is not None and near[0] >= threshold:
            duplicates.append(Duplicate(row, near[1], near[2], near[0]))
            continue
        seen[key] = (row, False)
        tokens.append((words, row, False))
        kept.append(row)
    return kept, duplicates
