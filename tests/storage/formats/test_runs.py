"""Runs out to CSV and JSONL: every field in JSONL (read back exactly), sortable columns in CSV."""

from __future__ import annotations

import csv
import io
import json

from tests.storage.factories import completion_result, failed_result, make_result
from workbench.storage.formats import RunRecord, export, read_runs_jsonl

RECORDS = [
    RunRecord("01J0000000000000000000000A", make_result(), "terse · smol", {"country": "France"}),
    RunRecord(
        "01J0000000000000000000000B",
        make_result("Où est Paris ?", 'En France,\n"bien sûr".'),
        "chatty",
    ),
    RunRecord("01J0000000000000000000000C", failed_result(), "terse · smol"),
    RunRecord("01J0000000000000000000000D", completion_result(), "completion"),
]


def test_jsonl_holds_every_field_and_reads_back_exactly() -> None:
    text = export("runs-jsonl", runs=RECORDS).text
    assert len(text.splitlines()) == 4
    assert json.loads(text.splitlines()[0])["run"]["request"]["raw_prompt"].startswith(
        "<|im_start|>system"
    )
    records, problems = read_runs_jsonl(text)
    assert problems.items == []
    assert records == RECORDS


def test_csv_columns() -> None:
    rows = list(csv.DictReader(io.StringIO(export("runs-csv", runs=RECORDS).text, newline="")))
    assert [r["id"] for r in rows] == [r.id for r in RECORDS]
    first, second, failed, completion = rows
    assert first["output"] == "Paris." and first["finish_reason"] == "stop"
    assert json.loads(first["input"])[1] == {
        "role": "user",
        "content": "What is the capital of France?",
    }
    assert first["input_tokens"] == "31" and first["ttft_s"] == "0.16" and first["seed"] == "42"
    assert json.loads(first["vars"]) == {"country": "France"}
    assert json.loads(first["params"]) == {"temperature": 0.7, "max_tokens": 64, "stop": ["\n\n"]}
    assert second["output"] == 'En France,\n"bien sûr".'
    assert failed["error"] == "HTTP 429: slow down" and failed["error_kind"] == "RateLimitError"
    assert failed["output"] == "" and failed["cost"] == ""
    assert (
        completion["input"] == "Q: capital of Italy?\nA:"
        and completion["finish_reason"] == "length"
    )


def test_bad_jsonl_lines_are_reported_with_their_numbers() -> None:
    good = export("runs-jsonl", runs=RECORDS[:1]).text
    text = (
        good
        + "\nnot json\n"
        + '{"id": "x"}\n'
        + '{"id": "y", "run": {"finish_reason": "maybe"}}\n'
        + good
    )
    records, problems = read_runs_jsonl(text, "runs.jsonl")
    assert len(records) == 2
    assert [(p.line, p.message.split(":")[0]) for p in problems.items] == [
        (3, "not valid JSON"),
        (4, "not a run record (needs 'id' and 'run')"),
        (5, "run.request"),
    ]


def test_jsonl_keeps_token_logprobs_in_openais_shape() -> None:
    from workbench.core.logprobs import LOWEST, Alternative, TokenLogprob

    tokens = [
        TokenLogprob("Caf", -0.25, b"Caf", (Alternative("Caf", -0.25), Alternative("The", -2.5))),
        TokenLogprob("\ufffd", -1.5, b"\xc3", ()),  # half of "é": its bytes are kept
        TokenLogprob(" no", float("-inf"), b" no", (Alternative(" ok", -0.1),)),
    ]
    record = RunRecord("01J0000000000000000000000E", make_result().model_copy(
        update={"logprobs": tokens}), "with tokens")
    text = export("runs-jsonl", runs=[record]).text
    line = json.loads(text)
    assert line["logprobs"][0] == {"token": "Caf", "logprob": -0.25, "bytes": [67, 97, 102],
                                   "top_logprobs": [{"token": "Caf", "logprob": -0.25},
                                                    {"token": "The", "logprob": -2.5}]}
    (back,), problems = read_runs_jsonl(text)
    assert problems.items == []
    assert back.result.logprobs[:2] == tokens[:2]  # type: ignore[index]
    assert back.result.logprobs[2].logprob == LOWEST  # type: ignore[index]
    broken = text.replace('"logprob": -0.25', '"logprob": "sure"', 1)
    assert read_runs_jsonl(broken)[1].items  # said, not swallowed


def test_tool_calls_and_the_conversation_survive_a_runs_jsonl_round_trip() -> None:
    from workbench.core.models import RenderedMessage
    from workbench.core.tools import Tool, ToolCall

    call = ToolCall(id="call_0", name="get_weather", arguments='{"city": "Oslo"}')
    asked = make_result().request
    request = asked.model_copy(update={"tools": [Tool(name="get_weather")], "messages": [
        *asked.messages, RenderedMessage(role="assistant", content="", tool_calls=[call]),
        RenderedMessage(role="tool", content="21", tool_call_id="call_0")]})
    result = make_result(answer="").model_copy(
        update={"request": request, "finish_reason": "tool_calls", "tool_calls": [call]})
    text = export("runs-jsonl", runs=[RunRecord("01J0000000000000000000000F", result, "t")]).text
    (back,), problems = read_runs_jsonl(text)
    assert problems.items == [] and back.result == result
    plain = export("runs-jsonl", runs=[RunRecord("01J0000000000000000000000G", make_result(),
                                                  "t")]).text
    assert "tool" not in plain  # a run without tools is written as before
