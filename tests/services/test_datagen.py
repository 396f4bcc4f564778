"""Generating dataset rows: robust reading of a model's JSON, and generation through the runner."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from workbench.backends.config import BackendConfig
from workbench.core.models import Params
from workbench.services.datagen import generate_rows, generator_template, parse_rows
from workbench.services.runner import Runner
from workbench.storage.repositories import Store
from workbench.storage.writer import StoreWriter

ROWS = [
    {"question": "What is 2+2?", "expected": "4"},
    {"question": "Capital of France?", "expected": "Paris"},
]


@pytest.mark.parametrize(
    "answer",
    [
        json.dumps(ROWS),
        "Sure! Here are the test cases:\n```json\n" + json.dumps(ROWS, indent=2) + "\n```\nEnjoy.",
        '[{"question": "What is 2+2?", "expected": "4",}, '
        '{"question": "Capital of France?", "expected": "Paris"},]',  # trailing commas
        "\n".join(json.dumps(r) for r in ROWS),  # one object per line
        json.dumps({"rows": ROWS}),
        json.dumps(ROWS)[:-1] + ', {"question": "Unfinished',  # cut at the token limit
        json.dumps(
            [{"vars": {"question": r["question"]}, "expected": r["expected"]} for r in ROWS]
        ),
    ],
)
def test_rows_are_read_from_what_models_actually_write(answer: str) -> None:
    rows, problems = parse_rows(answer, ["question", "expected"])
    assert [(r.vars, r.expected) for r in rows] == [
        ({"question": "What is 2+2?"}, "4"),
        ({"question": "Capital of France?"}, "Paris"),
    ]
    assert problems == []


def test_rows_that_lack_a_column_are_reported_and_left_out() -> None:
    answer = json.dumps([{"question": "q1", "expected": "a"}, {"prompt": "q2"}, "text"])
    rows, problems = parse_rows(answer, ["question", "expected"])
    assert [r.vars for r in rows] == [{"question": "q1"}]
    assert problems == ["item 2 lacks question; skipped", "item 3 is not an object; skipped"]
    assert parse_rows("I cannot help with that.") == ([], ["no JSON rows found in the answer"])


def test_without_columns_every_key_but_expected_is_a_variable() -> None:
    rows, _ = parse_rows('[{"a": 1, "b": "x", "expected": "y"}]')
    assert rows[0].vars == {"a": "1", "b": "x"} and rows[0].expected == "y"


@pytest.fixture
def runner(tmp_path: Path) -> Iterator[tuple[Runner, Store]]:
    configs = {
        "gen": BackendConfig(
            name="gen",
            backend="scripted",
            options={
                "script": [
                    {"text": "Here you go:\n```json\n"},
                    {"text": json.dumps(ROWS)},
                    {"text": "\n```"},
                ]
            },
        )
    }
    with Store.open(tmp_path / "gen.db") as store, StoreWriter(store) as writer:
        runner = Runner(writer=writer, configs=configs)
        yield runner, store
        runner.close()


def test_generation_runs_the_generator_prompt_and_keeps_the_run(
    runner: tuple[Runner, Store],
) -> None:
    run, store = runner
    template, values = generator_template(
        "answer general-knowledge questions",
        ["question", "expected"],
        n=2,
        example={"question": "2+3?", "expected": "5"},
    )
    out = generate_rows(run, template, values, backend="gen", columns=["question", "expected"])
    assert [r.expected for r in out.rows] == ["4", "Paris"] and out.problems == []
    stored = store.runs.get(out.run_id or "")
    prompt = stored.result.request.messages[0].content
    assert "Write 2 varied test cases" in prompt and '"question", "expected"' in prompt
    assert '{"question": "2+3?", "expected": "5"}' in prompt


@pytest.mark.slow
def test_generation_on_the_embedded_local_model(tmp_path: Path) -> None:
    template, values = generator_template(
        "translate short English phrases to French", ["text", "expected"], n=3
    )
    with Store.open(tmp_path / "gen.db") as store, StoreWriter(store) as writer:
        runner = Runner(writer=writer)
        try:
            out = generate_rows(
                runner,
                template,
                values,
                backend="llamacpp",
                params=Params(max_tokens=160, seed=3),
                columns=["text", "expected"],
            )
        finally:
            runner.close()
        assert store.runs.get(out.run_id or "").status == "ok"
    assert out.text  # the small model answered; its rows are read, or the problem is named
    assert out.rows or out.problems
    for row in out.rows:
        assert set(row.vars) == {"text"}
