"""Reasoning through the OpenAI-compatible backend, against a scripted server.

llama-cpp-python's real server (the other tests' server) cannot produce reasoning with the
embedded SmolLM2: the model does not think, and that server never sends ``reasoning_content``.
So the wire shapes of the servers that do — llama.cpp's llama-server, vLLM and DeepSeek stream
``delta.reasoning_content``; OpenRouter and newer vLLM ``delta.reasoning``; OpenAI reports
``completion_tokens_details.reasoning_tokens`` — and a model writing raw ``<think>`` tags are
played by a scripted server here.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.backends.conftest import stream_all
from tests.backends.fault_server import Exchange, Scenario, ScriptedServer, chat_chunk
from workbench.backends.base import StreamEvent
from workbench.backends.openai_compat import OpenAICompatBackend, OpenAICompatOptions
from workbench.core.models import Params, RenderedMessage, RunRequest, RunResult

MESSAGES = [RenderedMessage(role="user", content="Is 91 prime?")]
THOUGHT = ["91 = 7", " × 13,", " so no."]
ANSWER = ["No:", " 91 is 7 × 13."]
USAGE = {"prompt_tokens": 9, "completion_tokens": 30,
         "completion_tokens_details": {"reasoning_tokens": 21}}


def _reasoning_server(field: str) -> Scenario:
    def scenario(ex: Exchange) -> None:
        if not ex.body.get("stream"):
            message = {"role": "assistant", "content": "".join(ANSWER),
                       field: "".join(THOUGHT)}
            ex.send_json(200, {"id": "c1", "object": "chat.completion",
                               "choices": [{"index": 0, "message": message,
                                            "finish_reason": "stop"}],
                               "usage": USAGE})
            return
        ex.start_stream()
        first = chat_chunk()
        first["choices"][0]["delta"] = {"role": "assistant", "content": None}
        ex.sse(first)
        for piece in THOUGHT:
            chunk = chat_chunk()
            chunk["choices"][0]["delta"] = {field: piece, "content": None}
            ex.sse(chunk)
        for piece in ANSWER:
            ex.sse(chat_chunk(piece))
        ex.sse(chat_chunk(finish="stop"))
        ex.sse({"id": "c1", "choices": [], "usage": USAGE})
        ex.sse("[DONE]")
        ex.end_stream()

    return scenario


def _tagged(pieces: list[str]) -> Scenario:
    """A server passing a local reasoning model's raw text through, <think> tags and all."""

    def scenario(ex: Exchange) -> None:
        if not ex.body.get("stream"):
            message: dict[str, Any] = {"role": "assistant", "content": "".join(pieces)}
            ex.send_json(200, {"id": "c1", "choices": [{"index": 0, "message": message,
                                                        "finish_reason": "stop"}]})
            return
        ex.start_stream()
        for piece in pieces:
            ex.sse(chat_chunk(piece))
        ex.sse(chat_chunk(finish="stop"))
        ex.sse("[DONE]")
        ex.end_stream()

    return scenario


TAGGED = ["<th", "ink>\n91 = 7", " × 13,", " so no.</thi", "nk>\n\nNo:", " 91 is 7 × 13."]
OPEN_IN_PROMPT = ["91 = 7 × 13,", " so no.\n</think>\n\n", "No: 91 is 7 × 13."]


@pytest.fixture(scope="module")
def server() -> Iterator[ScriptedServer]:
    srv = ScriptedServer({
        "reasoning-content": _reasoning_server("reasoning_content"),
        "reasoning": _reasoning_server("reasoning"),
        "tagged": _tagged(TAGGED),
        "open-in-prompt": _tagged(OPEN_IN_PROMPT),
    })
    yield srv
    srv.close()


def run(url: str, params: Params | None = None, model: str = "r1", **options: object) -> tuple[
    list[StreamEvent], RunResult
]:
    backend = OpenAICompatBackend(OpenAICompatOptions(base_url=url, default_model=model,
                                                      **options))  # type: ignore[arg-type]
    request = RunRequest(backend="openai_compat", messages=MESSAGES, params=params or Params())
    return stream_all(backend, request)


def _pieces(events: list[StreamEvent], kind: str) -> list[str]:
    return [e.text for e in events if e.kind == kind]


@pytest.mark.parametrize("field", ["reasoning-content", "reasoning"])
@pytest.mark.parametrize("streaming", [True, False])
def test_reasoning_deltas_are_read_apart_and_reasoning_effort_is_sent(
    server: ScriptedServer, field: str, streaming: bool
) -> None:
    url = server.url(field)
    events, result = run(url, Params(reasoning_effort="high", max_tokens=200),
                         "openai/gpt-oss-20b", streaming=streaming)  # vLLM's reasoning model
    body = server.requests(url)[0].body
    assert body["reasoning_effort"] == "high"
    assert result.request.sent_params["reasoning_effort"] == "high"
    assert result.reasoning == "".join(THOUGHT) and result.text == "".join(ANSWER)
    assert result.usage.reasoning_tokens == 21 and result.usage.output_tokens == 30
    if streaming:
        assert _pieces(events, "reasoning") == THOUGHT and _pieces(events, "text") == ANSWER


@pytest.mark.parametrize("streaming", [True, False])
def test_think_tags_in_the_text_are_split_as_they_stream(
    server: ScriptedServer, streaming: bool
) -> None:
    events, result = run(server.url("tagged"), streaming=streaming)
    assert result.reasoning == "91 = 7 × 13, so no."
    assert result.text == "No: 91 is 7 × 13."
    if streaming:
        assert _pieces(events, "reasoning")[0] == "91 = 7"  # live, not held to the close tag
        assert "".join(_pieces(events, "text")) == result.text


def test_a_template_that_opens_the_tag_in_the_prompt_starts_inside_it(
    server: ScriptedServer,
) -> None:
    _events, result = run(server.url("open-in-prompt"), think_tags="open_in_prompt")
    assert result.reasoning == "91 = 7 × 13, so no.\n"
    assert result.text == "No: 91 is 7 × 13."


def test_think_tags_off_leaves_the_text_whole(server: ScriptedServer) -> None:
    _events, result = run(server.url("tagged"), think_tags="off")
    assert result.reasoning == "" and result.text == "".join(TAGGED)


def test_the_completions_endpoint_greys_reasoning_effort_and_a_budget_is_not_sent(
    server: ScriptedServer,
) -> None:
    backend = OpenAICompatBackend(OpenAICompatOptions(base_url=server.url("tagged"),
                                                      endpoint="completions"))
    caps = backend.capabilities()
    assert caps.status("reasoning_effort") == "ignored"
    assert "effort level, not a budget" in caps.params["thinking_budget"].note
    url = server.url("reasoning-content")
    _events, result = run(url, Params(thinking_budget=2048))
    assert "thinking_budget" not in server.requests(url)[0].body
    assert result.request.ignored_params == {"thinking_budget": 2048}


def test_a_model_that_does_not_reason_gets_no_effort_and_says_why(
    server: ScriptedServer,
) -> None:
    url = server.url("reasoning-content")
    backend = OpenAICompatBackend(OpenAICompatOptions(base_url=url, default_model="gpt-4o-mini"))
    caps = backend.model_capabilities("")  # the default model
    assert caps.status("reasoning_effort") == "ignored"
    assert "gpt-4o-mini takes no reasoning effort" in caps.params["reasoning_effort"].note
    assert backend.model_capabilities("o3-mini").status("reasoning_effort") == "supported"
    assert backend.capabilities().status("reasoning_effort") == "supported"  # the API can
    _events, result = run(url, Params(reasoning_effort="high"), "gpt-4o-mini")
    assert "reasoning_effort" not in server.requests(url)[0].body  # OpenAI would refuse it
    assert result.request.ignored_params == {"reasoning_effort": "high"}


def test_a_capability_override_marks_a_reasoning_model_the_rules_do_not_know(
    server: ScriptedServer,
) -> None:
    url = server.url("reasoning-content")
    _events, result = run(url, Params(reasoning_effort="low"), "qwq-32b",
                          capability_overrides={"reasoning_effort": {}})
    assert server.requests(url)[0].body["reasoning_effort"] == "low"
    assert result.request.sent_params["reasoning_effort"] == "low"
