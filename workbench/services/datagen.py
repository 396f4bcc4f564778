"""Synthetic dataset rows: ask a chosen model for test cases as JSON and read what it wrote.

Models wrap JSON in prose and code fences, leave trailing commas, stop mid-array at their token
limit or write one object per line; ``parse_rows`` takes every complete row it can find and names
what it could not use, so a half-good answer still gives rows. Generation goes through the
runner like any run (limited, priced, saved), so the prompt and answer stay in the history.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from workbench.backends.base import CancelToken
from workbench.core.datasets import row_from_mapping
from workbench.core.experiments import TestCase
from workbench.core.models import Message, Params, PromptTemplate
from workbench.services.runner import Runner, build_request

_FENCE = re.compile(r"```[A-Za-z0-9_-]*\s*\n?(.*?)```", re.DOTALL)
_TRAILING_COMMA = re.compile(r",\s*([\]}])")
_WRAPPERS = ("rows", "tests", "test_cases", "examples", "data", "items", "dataset")

GENERATOR = """\
Write {{ n }} varied test cases for this task:
{{ task }}

Answer with only a JSON array of {{ n }} objects, each with the keys {{ keys }}.
{% if example %}For example: {{ example }}
{% endif %}Cover typical inputs, edge cases and tricky ones. No text before or after the JSON."""


@dataclass
class GeneratedRows:
    rows: list[TestCase] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    run_id: str | None = None
    text: str = ""


def generator_template(
    task: str, columns: Sequence[str], *, n: int = 10, example: Mapping[str, str] | None = None
) -> tuple[PromptTemplate, dict[str, str]]:
    """The built-in row generator and its values: ``columns`` are the variables each row gets
    (``expected`` for the expected output)."""
    keys = ", ".join(f'"{c}"' for c in columns)
    template = PromptTemplate(
        name="generate dataset rows",
        messages=[Message(role="user", content=GENERATOR)],
        parameters=Params(temperature=0.8),
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


def generate_rows(
    runner: Runner,
    template: PromptTemplate,
    values: Mapping[str, str],
    *,
    backend: str,
    model: str = "",
    params: Params | None = None,
    columns: Sequence[str] | None = None,
    cancel: CancelToken | None = None,
) -> GeneratedRows:
    """Run ``template`` on the chosen model and read rows from its answer."""
    request = build_request(
        template,
        values,
        backend=backend,
        model=model,
        params=template.parameters.merged(params or Params()),
    )
    outcome = runner.execute(request, cancel)
    result = outcome.result
    if outcome.status != "ok":
        reason = result.error or "the run was cancelled"
        return GeneratedRows([], [f"the model did not answer: {reason}"], outcome.run_id)
    rows, problems = parse_rows(result.text, columns)
    if result.finish_reason == "length":
        problems.append("the answer hit max_tokens: the last rows may be missing")
    return GeneratedRows(rows, problems, outcome.run_id, result.text)
