"""Generating dataset rows: robust reading of a model's JSON, and generation through the runner."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from workbench.backends.config import BackendConfig
from workbench.core.datasets import row_from_mapping
from workbench.core.experiments import TestCase
from workbench.core.models import Message, Params, PromptTemplate, Variable
from workbench.services.datagen import (
    MORE_ROUNDS,
    dedupe,
    generate_rows,
    generation_plan,
    generator_prompt,
    generator_template,
    parse_rows,
    template_columns,
)
from workbench.services.runner import Runner, build_request
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
    # The schema is enforced as a llama.cpp grammar: exactly 3 rows with the keys, every time.
    assert out.problems == []
    assert len(out.rows) + len(out.duplicates) == 3
    for row in out.rows:
        assert set(row.vars) == {"text"} and row.expected is not None


def _row(**values: str) -> TestCase:
    return row_from_mapping(dict(values))


def test_exact_and_near_duplicates_are_dropped_keeping_the_first() -> None:
    rows = [
        _row(question="What is 2+2?", expected="4"),
        _row(question="  what IS 2+2? ", expected="four"),  # same after whitespace and case
        _row(question="What is 2 + 2", expected="4"),  # the same words: near-duplicate
        _row(question="What is 3+3?", expected="6"),
        _row(question="Name the capital of France", expected="Paris"),
    ]
    kept, dropped = dedupe(rows)
    assert [r.vars["question"] for r in kept] == [
        "What is 2+2?", "What is 3+3?", "Name the capital of France"
    ]
    assert [(d.row.expected, d.of.expected, d.similarity, d.existing) for d in dropped] == [
        ("four", "4", 1.0, False),
        ("4", "4", 1.0, False),
    ]


def test_near_duplicates_need_nine_tenths_of_the_words_of_each_variable() -> None:
    base = _row(text=" ".join(f"w{i}" for i in range(10)))
    one_more = _row(text=" ".join(f"w{i}" for i in range(11)))  # 10/11 shared: a repeat
    two_more = _row(text=" ".join(f"w{i}" for i in range(12)))  # 10/12: a new case
    other_column = _row(note=" ".join(f"w{i}" for i in range(10)))  # same words, other variable
    kept, dropped = dedupe([base, one_more])
    assert kept == [base] and dropped[0].similarity == pytest.approx(10 / 11)
    assert dedupe([base, two_more])[0] == [base, two_more]
    assert dedupe([base, other_column])[0] == [base, other_column]


def test_rows_already_in_the_dataset_are_not_added_again() -> None:
    existing = [_row(city="Paris", expected="France")]
    kept, dropped = dedupe([_row(city="paris"), _row(city="Lyon")], existing)
    assert [r.vars for r in kept] == [{"city": "Lyon"}]
    assert dropped[0].existing and dropped[0].of is existing[0]


def test_generation_drops_the_duplicates_it_reads_and_says_so(tmp_path: Path) -> None:
    answer = json.dumps({"rows": [ROWS[0], ROWS[1], {**ROWS[0], "expected": "four"}]})
    configs = {
        "dup": BackendConfig(
            name="dup", backend="scripted", options={"script": [{"text": answer}]}
        )
    }
    with Store.open(tmp_path / "gen.db") as store, StoreWriter(store) as writer:
        runner = Runner(writer=writer, configs=configs)
        template, values = generator_template("quiz", ["question", "expected"], n=3)
        existing = [_row(question="capital of france?")]
        out = generate_rows(
            runner, template, values, backend="dup", columns=["question", "expected"],
            existing=existing,
        )
        runner.close()
    assert [r.vars for r in out.rows] == [{"question": "What is 2+2?"}]
    assert [(d.existing, d.row.expected) for d in out.duplicates] == [(True, "Paris"),
                                                                       (False, "four")]


def test_the_answer_schema_names_the_columns_and_the_count() -> None:
    template, _ = generator_template("quiz", ["question", "expected"], n=4)
    fmt = template.response_format_request()
    assert fmt is not None and fmt.type == "json_schema" and fmt.json_schema is not None
    rows = fmt.json_schema["properties"]["rows"]
    assert (rows["minItems"], rows["maxItems"]) == (4, 4)
    assert rows["items"]["required"] == ["question", "expected"]


def test_an_edited_prompt_is_sent_as_written() -> None:
    shown = generator_prompt("quiz", ["question"], n=2)
    assert "Write 2 varied test cases" in shown and '"question"' in shown
    edited = shown + '\nExample: {"question": "{{ not a variable }}"}'
    template, values = generator_template("quiz", ["question"], n=2, prompt=edited)
    request = build_request(template, values, backend="scripted")
    assert request.messages[0].content == edited


def test_columns_are_the_declared_variables_then_the_undeclared_ones() -> None:
    template = PromptTemplate(
        name="t",
        messages=[Message(role="user", content="{{ topic }} for {{ audience }} in {{ lang }}")],
        variables=[Variable(name="lang"), Variable(name="topic")],
    )
    assert template_columns(template) == ["lang", "topic", "audience"]


def test_the_egress_plan_names_one_remote_call_and_none_for_the_local_model(
    runner: tuple[Runner, Store],
) -> None:
    run, _ = runner
    run.configs["cloud"] = BackendConfig(
        name="cloud", backend="openai_compat", options={"base_url": "https://api.example.com/v1"}
    )
    template, values = generator_template("quiz", ["question"], n=3)
    away = generation_plan(run, template, values, backend="cloud", model="gpt-4o-mini",
                           params=Params(max_tokens=300))
    assert away.remote_calls == 1 and away.shares[0].destination.host == "api.example.com"
    assert away.shares[0].output_tokens == 300
    assert not generation_plan(run, template, values, backend="gen").remote


def test_rows_lost_to_duplicates_are_asked_for_again_a_bounded_number_of_times(
    tmp_path: Path,
) -> None:
    """5 asked for, the first answer repeats one row: the model is asked again for the missing
    ones, shown the rows kept; a repeat of the same follow-up gets the new rows. A model that only
    repeats itself is asked at most MORE_ROUNDS more times."""
    def answer(*rows: dict[str, str]) -> list[dict[str, str]]:
        return [{"text": json.dumps({"rows": list(rows)})}]

    same = {"question": "What is 2+2?"}
    new = [{"question": f"Capital of country {n}?"} for n in range(4)]
    configs = {
        # 'alternate' replays in turn per distinct prompt: round 2's follow-up gets the repeats
        # again, round 3 (the same follow-up, nothing was gained) the new rows.
        "gen": BackendConfig(name="gen", backend="scripted", options={
            "alternate": [answer(same, same, same, same, same), answer(*new)]}),
        "parrot": BackendConfig(name="parrot", backend="scripted", options={
            "script": answer(same, same)}),
    }
    template, values = generator_template("quiz", ["question"], n=5)
    with Store.open(tmp_path / "gen.db") as store, StoreWriter(store) as writer:
        runner = Runner(writer=writer, configs=configs)
        out = generate_rows(runner, template, values, backend="gen", columns=["question"], want=5)
        parrot = generate_rows(
            runner, template, values, backend="parrot", columns=["question"], want=5
        )
        sent = [store.runs.get(i).result.request for i in out.run_ids]
        asked = runner.backend("gen").requests[1].response_format
        runner.close()
    assert [r.vars for r in out.rows] == [same, *new]
    assert out.rounds == 3 and len(out.run_ids) == 3 and len(out.duplicates) == 9
    follow_up = sent[1].messages[-1].content
    assert [m.role for m in sent[1].messages] == ["user", "assistant", "user"]
    assert json.dumps(same) in follow_up and "Write 4 more" in follow_up
    assert asked is not None and asked.json_schema is not None
    rows_spec = asked.json_schema["properties"]["rows"]
    assert (rows_spec["minItems"], rows_spec["maxItems"]) == (4, 4)
    assert [r.vars for r in parrot.rows] == [same] and parrot.rounds == 1 + MORE_ROUNDS
