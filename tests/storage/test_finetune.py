"""Fine-tuning data: chosen runs to chat JSONL, A/B pairs as DPO JSONL, the cookbook's checks."""

from __future__ import annotations

import json

import pytest

from tests.storage.factories import completion_result, failed_result, make_result
from workbench.core.errors import KnownError
from workbench.storage.finetune import (
    FORMAT_ERROR_KEYS,
    PreferencePair,
    check_finetune_file,
    dpo_jsonl,
    finetune_jsonl,
)

GOOD = {
    "messages": [{"role": "user", "content": "hello world"}, {"role": "assistant", "content": "hi"}]
}

#: One line per error type of the cookbook (and one that does not parse), then two valid lines.
MALFORMED = [
    json.dumps(GOOD),
    "[1, 2]",  # data_type
    json.dumps({"messages": []}),  # missing_messages_list
    json.dumps(
        {"messages": [{"role": "user"}, {"role": "assistant", "content": "a"}]}
    ),  # missing key + content
    json.dumps(
        {
            "messages": [
                {"role": "user", "content": "q", "extra": 1},
                {"role": "assistant", "content": "a"},
            ]
        }
    ),
    json.dumps(
        {"messages": [{"role": "robot", "content": "q"}, {"role": "assistant", "content": "a"}]}
    ),
    json.dumps(
        {"messages": [{"role": "user", "content": ""}, {"role": "assistant", "content": "a"}]}
    ),
    json.dumps(
        {"messages": [{"role": "system", "content": "s"}, {"role": "user", "content": "q"}]}
    ),
    '{"messages": [',  # invalid_json
    json.dumps(
        {
            "messages": [
                {"role": "user", "content": "q", "name": "bob"},
                {"role": "assistant", "content": "a", "weight": 0},
            ]
        }
    ),
]


def test_every_error_type_is_caught_with_its_line() -> None:
    report = check_finetune_file("\n".join(MALFORMED) + "\n")
    assert report.examples == 10
    assert not report.ok
    assert report.format_errors == {
        "data_type": 1,
        "missing_messages_list": 1,
        "message_missing_key": 1,
        "message_unrecognized_key": 1,
        "unrecognized_role": 1,
        "missing_content": 2,
        "example_missing_assistant_message": 1,
        "invalid_json": 1,
    }
    assert [(i.line, i.key) for i in report.issues] == [
        (2, "data_type"),
        (3, "missing_messages_list"),
        (4, "message_missing_key"),
        (4, "missing_content"),
        (5, "message_unrecognized_key"),
        (6, "unrecognized_role"),
        (7, "missing_content"),
        (8, "example_missing_assistant_message"),
        (9, "invalid_json"),
    ]
    assert set(FORMAT_ERROR_KEYS) <= set(report.format_errors)
    # Only the valid examples (lines 1 and 10) are counted.
    assert len(report.tokens_per_example) == 2


def test_token_counts_follow_the_cookbook() -> None:
    report = check_finetune_file(json.dumps(GOOD) + "\n")
    # 3 per message + "user"(1) + "hello world"(2) + 3 + "assistant"(1) + "hi"(1) + 3 for the reply
    assert report.tokens_per_example == [14]
    assert report.assistant_tokens_per_example == [1]
    assert report.missing_system == 1 and report.missing_user == 0
    named = {
        "messages": [
            {"role": "user", "content": "hello world", "name": "ann"},
            {"role": "assistant", "content": "hi"},
        ]
    }
    assert check_finetune_file(json.dumps(named)).tokens_per_example == [
        14 + 1 + 1
    ]  # "ann" + the name token


def test_a_good_file_passes_with_statistics_and_no_warnings() -> None:
    lines = [
        json.dumps(
            {
                "messages": [
                    {"role": "system", "content": "Be terse."},
                    {"role": "user", "content": f"Q{n}"},
                    {"role": "assistant", "content": "A" * (n + 1)},
                ]
            }
        )
        for n in range(12)
    ]
    report = check_finetune_file("\n".join(lines) + "\n")
    assert report.ok and report.warnings == []
    data = report.to_dict()
    assert data["examples"] == 12 and data["format_errors"] == dict.fromkeys(
        report.format_errors, 0
    )
    per_example = data["tokens"]["per_example"]
    assert per_example["min"] <= per_example["median"] <= per_example["max"]
    assert data["tokens"]["messages_per_example"]["mean"] == 3
    assert data["tokens"]["billing_tokens"] == sum(report.tokens_per_example)
    assert data["tokens"]["default_epochs"] == 8  # 100 // 12, the cookbook's rule for small sets


def test_warnings_for_few_examples_and_long_ones() -> None:
    long = {
        "messages": [
            {"role": "user", "content": "word " * 40},
            {"role": "assistant", "content": "ok"},
        ]
    }
    text = "\n".join([json.dumps(GOOD), "", json.dumps(long)])
    report = check_finetune_file(text, token_limit=30)
    assert report.ok
    assert report.too_long_lines == [3]
    assert any("2 examples: fine-tuning needs at least 10" in w for w in report.warnings)
    assert any("over the 30 token limit" in w and "lines 3" in w for w in report.warnings)
    assert any("blank lines ignored: 2" in w for w in report.warnings)


def test_a_counter_can_be_passed_in() -> None:
    report = check_finetune_file(json.dumps(GOOD), count_tokens=lambda s: len(s))
    assert report.tokens_per_example == [3 + 4 + 11 + 3 + 9 + 2 + 3]


def test_chosen_runs_become_valid_training_examples() -> None:
    finished = completion_result().model_copy(update={"finish_reason": "stop"})
    data = finetune_jsonl([make_result(), make_result("Capital of Japan?", "Tokyo."), finished])
    text = data.text
    assert data.truncated == 0
    rows = [json.loads(line) for line in text.splitlines()]
    assert rows[0] == {
        "messages": [
            {"role": "system", "content": "Answer in one sentence."},
            {"role": "user", "content": "What is the capital of France?"},
            {"role": "assistant", "content": "Paris."},
        ]
    }
    assert rows[2]["messages"][0] == {"role": "user", "content": "Q: capital of Italy?\nA:"}
    report = check_finetune_file(text)
    assert report.ok and report.examples == 3


def test_truncated_runs_are_left_out_and_counted_unless_included() -> None:
    cut = make_result("Tell me a story.", "Once upon a time there", finish_reason="length")
    runs = [cut, make_result(), cut.model_copy(update={"text": "It was a dark and"})]
    data = finetune_jsonl(runs)
    assert data.truncated == 2
    assert [json.loads(line)["messages"][-1]["content"] for line in data.text.splitlines()] == [
        "Paris."
    ]
    everything = finetune_jsonl(runs, include_truncated=True)
    assert everything.truncated == 0 and len(everything.text.splitlines()) == 3
    # Numbers in errors still count every selected run, the left-out ones too.
    with pytest.raises(KnownError, match="run 3: the run did not finish"):
        finetune_jsonl([cut, make_result(), failed_result()])


def test_failed_or_empty_runs_are_refused() -> None:
    with pytest.raises(KnownError, match="run 2: the run did not finish"):
        finetune_jsonl([make_result(), failed_result()])
    with pytest.raises(KnownError, match="empty answer"):
        finetune_jsonl([make_result(answer="  ")])


def test_preference_pairs_in_openai_dpo_format() -> None:
    pair = PreferencePair(
        preferred=make_result(answer="Paris."), rejected=make_result(answer="Lyon, probably.")
    )
    [row] = [json.loads(line) for line in dpo_jsonl([pair]).splitlines()]
    assert row == {
        "input": {
            "messages": [
                {"role": "system", "content": "Answer in one sentence."},
                {"role": "user", "content": "What is the capital of France?"},
            ]
        },
        "preferred_output": [{"role": "assistant", "content": "Paris."}],
        "non_preferred_output": [{"role": "assistant", "content": "Lyon, probably."}],
    }
    with pytest.raises(KnownError, match="different messages"):
        dpo_jsonl([PreferencePair(make_result(), make_result("Another question?", "x"))])
    with pytest.raises(KnownError, match="identical"):
        dpo_jsonl([PreferencePair(make_result(), make_result())])
    with pytest.raises(KnownError, match=r"^pair 2: the two answers of a preference pair"):
        dpo_jsonl([pair, PreferencePair(make_result(), make_result())])


def test_tool_calls_are_written_in_openais_fine_tuning_format() -> None:
    from workbench.core.models import RenderedMessage
    from workbench.core.tools import Tool, ToolCall

    weather = Tool(name="get_weather", description="Weather in a city", mock="21 C",
                   parameters={"type": "object", "properties": {"city": {"type": "string"}}})
    call = ToolCall(id="call_0", name="get_weather", arguments='{"city": "Paris"}')
    asked = make_result().request
    conversation = [*asked.messages,
                    RenderedMessage(role="assistant", content="", tool_calls=[call]),
                    RenderedMessage(role="tool", content="21 C", tool_call_id="call_0")]
    final = make_result(answer="It is 21 C in Paris.").model_copy(update={
        "request": asked.model_copy(
            update={"messages": conversation, "tools": [weather.declaration()]})})
    calling = make_result(answer="").model_copy(update={
        "finish_reason": "tool_calls", "tool_calls": [call],
        "request": asked.model_copy(update={"tools": [weather.declaration()]})})
    rows = [json.loads(line) for line in finetune_jsonl([final, calling]).text.splitlines()]
    tools = [{"type": "function", "function": {
        "name": "get_weather", "description": "Weather in a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}]
    openai_call = {"id": "call_0", "type": "function",
                   "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}}
    assert rows[0]["tools"] == tools and rows[1]["tools"] == tools
    assert rows[0]["messages"][2:] == [
        {"role": "assistant", "content": None, "tool_calls": [openai_call]},
        {"role": "tool", "tool_call_id": "call_0", "content": "21 C"},
        {"role": "assistant", "content": "It is 21 C in Paris."},
    ]
    assert rows[1]["messages"][-1] == {"role": "assistant", "content": None,
                                       "tool_calls": [openai_call]}
    report = check_finetune_file(finetune_jsonl([final, calling]).text)
    assert report.ok, report.issues
