"""The Anthropic backend against a local server speaking the Messages API wire format."""

from __future__ import annotations

import json
from collections.abc import Iterator

import keyring
import pytest
from keyring.backends import fail

from tests.backends.conftest import cancel_while_reading, stream_all
from tests.backends.fault_server import WORDS, ScriptedServer
from tests.backends.wire_servers import (
    ANSWER,
    ANTHROPIC_SCENARIOS,
    THOUGHT_PIECES,
    TOOL_INPUT,
    TOOL_PIECES,
)
from workbench.backends.anthropic import AnthropicBackend, AnthropicOptions
from workbench.backends.base import CancelToken, StreamEvent
from workbench.core.errors import ErrorCode
from workbench.core.models import Params, RenderedMessage, ResponseFormat, RunRequest, RunResult

KEY = "sk-ant-test-key-0123456789abcdef"
THINKER = "claude-sonnet-4-20250514"  # a model with extended thinking
MESSAGES = [
    RenderedMessage(role="system", content="Be brief."),
    RenderedMessage(role="user", content="Name an animal."),
    RenderedMessage(role="assistant", content="Fox."),
    RenderedMessage(role="user", content="Another one."),
]


@pytest.fixture(scope="module")
def server() -> Iterator[ScriptedServer]:
    srv = ScriptedServer(ANTHROPIC_SCENARIOS)
    yield srv
    srv.close()


def make(url: str, api_key: str | None = KEY, **options: object) -> AnthropicBackend:
    return AnthropicBackend(
        AnthropicOptions(base_url=url, retry_backoff=0.01, **options), api_key=api_key
    )


def run(
    backend: AnthropicBackend,
    params: Params | None = None,
    cancel: CancelToken | None = None,
    **request: object,
) -> tuple[list[StreamEvent], RunResult]:
    req = RunRequest(
        backend="anthropic",
        model="claude-test-1",
        **{"messages": MESSAGES, "params": params or Params(), **request},
    )
    return stream_all(backend, req, cancel)


def test_streams_a_message_with_the_api_shape(server: ScriptedServer) -> None:
    url = server.url("ok", "")
    events, result = run(make(url), Params(temperature=0.3, top_k=40, stop=["\n\n"], seed=7))
    assert result.finish_reason == "stop" and result.text == "".join(WORDS)
    assert [e.kind for e in events].count("text") == len(WORDS)
    assert result.usage.input_tokens == 12 and result.usage.output_tokens == len(WORDS)
    seen = server.requests(url)[0]
    assert seen.path.endswith("/v1/messages")
    assert seen.headers["x-api-key"] == KEY and seen.headers["anthropic-version"] == "2023-06-01"
    assert seen.body["system"] == "Be brief."
    assert [m["role"] for m in seen.body["messages"]] == ["user", "assistant", "user"]
    assert seen.body["top_k"] == 40 and seen.body["stop_sequences"] == ["\n\n"]
    assert seen.body["max_tokens"] == 1024 and seen.body["stream"] is True
    assert "seed" not in seen.body
    sent = result.request
    assert sent.sent_params == {
        "temperature": 0.3,
        "top_k": 40,
        "stop": ["\n\n"],
        "max_tokens": 1024,
    }
    assert sent.ignored_params == {"seed": 7}
    assert sent.backend_version == "anthropic-version 2023-06-01"


def test_max_tokens_reached_is_finish_reason_length(server: ScriptedServer) -> None:
    _, result = run(make(server.url("ok", "")), Params(max_tokens=3))
    assert result.finish_reason == "length" and result.text == "".join(WORDS[:3])
    assert result.usage.output_tokens == 3


def test_non_streaming(server: ScriptedServer) -> None:
    events, result = run(make(server.url("ok", ""), streaming=False))
    assert result.finish_reason == "stop" and result.text == "".join(WORDS)
    assert [e.kind for e in events].count("text") == 1 and result.timings.ttft_s is None
    assert result.timings.tokens_per_s is not None


def test_a_temperature_above_one_is_refused_before_sending(server: ScriptedServer) -> None:
    url = server.url("ok", "")
    events, result = run(make(url), Params(temperature=1.5))
    assert [e.kind for e in events] == ["failed"]
    assert result.error_kind == "ParameterError" and "maximum 1" in (result.error or "")
    assert server.requests(url) == []


def test_overloaded_529_is_retried(server: ScriptedServer) -> None:
    url = server.url("overloaded-once", "")
    _, result = run(make(url))
    assert result.finish_reason == "stop" and len(server.requests(url)) == 2


def test_an_error_event_mid_stream(server: ScriptedServer) -> None:
    _, result = run(make(server.url("error-event", "")))
    assert result.error_kind == "ServerError" and "overloaded_error" in (result.error or "")
    assert (result.error or "").endswith(
        "(the server failed mid-answer and the partial text is kept; it may pass on a retry, "
        "or see the server's log)"
    )
    assert result.text == "Hel"


def test_a_stream_without_message_stop_is_truncated(server: ScriptedServer) -> None:
    _, result = run(make(server.url("truncated", "")))
    assert result.error_kind == "ProtocolError" and "message_stop" in (result.error or "")
    assert result.text == "".join(WORDS[:3])


def test_a_wrong_key_names_where_it_came_from(
    server: ScriptedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-wrong-key-9876543210")
    _, result = run(make(server.url("ok", ""), api_key=None))
    assert result.error_kind == "AuthError"
    assert "environment variable ANTHROPIC_API_KEY" in (result.error or "")
    assert "invalid x-api-key" in (result.error or "")
    assert "9876543210" not in (result.error or "")


@pytest.fixture
def no_keyring() -> Iterator[None]:
    """What a headless Linux has: no keyring, so keys come from the environment only."""
    previous = keyring.get_keyring()
    keyring.set_keyring(fail.Keyring())
    try:
        yield
    finally:
        keyring.set_keyring(previous)


def test_no_key_fails_before_sending(no_keyring: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    events, result = run(make("https://api.anthropic.com", api_key=None))
    assert [e.kind for e in events] == ["failed"]
    assert result.error_kind == ErrorCode.MISSING_KEY
    assert (result.error or "").startswith("no API key for 'anthropic' (set one with ")
    assert "ANTHROPIC_API_KEY" in (result.error or "")


def test_a_loopback_server_needs_no_key(
    server: ScriptedServer, no_keyring: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A proxy on this machine may take no key: the request goes out without one (this test
    server wants one, so its refusal is what is reported, saying that no key was sent)."""
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    url = server.url("ok", "")
    _, result = run(make(url, api_key=None))
    (seen,) = server.requests(url)
    assert "x-api-key" not in seen.headers
    assert result.error_kind == ErrorCode.AUTH and "no API key was sent" in (result.error or "")


def test_a_completion_prompt_is_refused(server: ScriptedServer) -> None:
    _, result = run(make(server.url("ok", "")), messages=[], prompt="Once upon a time")
    assert result.error_kind == "BadRequestError" and "chat messages" in (result.error or "")


def test_cancel_mid_stream(server: ScriptedServer) -> None:
    url = server.url("slow", "")
    cancel = CancelToken()
    events: list[StreamEvent] = []
    for event in make(url).stream(
        RunRequest(backend="anthropic", model="m", messages=MESSAGES), cancel
    ):
        events.append(event)
        if [e.kind for e in events].count("text") == 2:
            cancel.cancel()
    assert events[-1].kind == "cancelled"
    assert events[-1].result.text == "".join(WORDS[:2])
    assert server.requests(url)[0].disconnected.wait(10)


def test_a_cancel_during_a_read_of_a_close_delimited_stream_is_cancelled(
    server: ScriptedServer,
) -> None:
    request = RunRequest(backend="anthropic", model="m", messages=MESSAGES)
    result = cancel_while_reading(make(server.url("stall-unframed", "")), request)
    assert (result.finish_reason, result.error_kind) == ("cancelled", None)
    assert result.text == "".join(WORDS[:3])


def test_list_models(server: ScriptedServer) -> None:
    models = make(server.url("ok", "")).list_models()
    assert [m.id for m in models] == ["claude-test-1", "claude-test-2"]
    assert models[0].description == "Claude Test 1"


@pytest.mark.parametrize("streaming", [True, False])
def test_a_response_format_is_a_forced_tool_whose_input_is_the_answer(
    server: ScriptedServer, streaming: bool
) -> None:
    url = server.url("tool", "")
    schema = {"type": "object", "properties": {"animal": {"type": "string"},
                                               "legs": {"type": "integer"}},
              "required": ["animal", "legs"]}
    fmt = ResponseFormat(type="json_schema", json_schema=schema, name="animal_answer")
    events, result = run(make(url, streaming=streaming), response_format=fmt)
    assert json.loads(result.text) == TOOL_INPUT and result.finish_reason == "stop"
    assert "Sure." not in result.text  # text beside the forced tool is not the answer
    if streaming:
        assert [e.text for e in events if e.kind == "text"] == TOOL_PIECES
    assert result.request.response_format == fmt
    body = server.requests(url)[0].body
    assert body["tools"] == [{"name": "animal_answer", "description": body["tools"][0][
        "description"], "input_schema": schema}]
    assert body["tool_choice"] == {"type": "tool", "name": "animal_answer"}


@pytest.mark.parametrize("streaming", [True, False])
def test_extended_thinking_is_sent_and_streamed_apart_from_the_answer(
    server: ScriptedServer, streaming: bool
) -> None:
    url = server.url("thinking", "")
    params = Params(thinking_budget=2048, max_tokens=4096, temperature=0.3, top_p=0.95)
    req = RunRequest(backend="anthropic", model=THINKER, messages=MESSAGES, params=params)
    events, result = stream_all(make(url, streaming=streaming), req)
    body = server.requests(url)[0].body
    assert body["thinking"] == {"type": "enabled", "budget_tokens": 2048}
    assert body["max_tokens"] == 4096 and "thinking_budget" not in body
    # Anthropic refuses a temperature change while thinking: recorded as not sent
    assert "temperature" not in body and body["top_p"] == 0.95
    assert result.request.ignored_params == {"temperature": 0.3}
    assert result.request.sent_params["thinking_budget"] == 2048
    assert result.text == ANSWER
    assert result.reasoning == "".join(THOUGHT_PIECES)
    if streaming:
        assert [e.text for e in events if e.kind == "reasoning"] == THOUGHT_PIECES
        kinds = [e.kind for e in events if e.kind in ("reasoning", "text")]
        assert kinds == ["reasoning"] * 3 + ["text"]


@pytest.mark.parametrize(
    ("params", "fmt", "message"),
    [
        (Params(thinking_budget=2048), None, "thinking_budget 2048 must be below max_tokens 1024"),
        (Params(thinking_budget=4096, max_tokens=4096), None, "must be below max_tokens 4096"),
        (Params(thinking_budget=512, max_tokens=4096), None, "below this backend's minimum 1024"),
        (Params(thinking_budget=2048, max_tokens=4096), ResponseFormat(type="json_object"),
         "cannot think and answer in a response format"),
    ],
)
def test_a_thinking_budget_anthropic_refuses_fails_before_sending(
    server: ScriptedServer, params: Params, fmt: ResponseFormat | None, message: str
) -> None:
    url = server.url("thinking", "")
    req = RunRequest(backend="anthropic", model=THINKER, messages=MESSAGES,
                     params=params, response_format=fmt)
    _events, result = stream_all(make(url), req)
    assert result.finish_reason == "error" and message in (result.error or "")
    assert server.requests(url) == []


def test_a_claude_without_extended_thinking_takes_no_budget(server: ScriptedServer) -> None:
    backend = make(server.url("ok", ""), default_model="claude-3-5-haiku-20241022")
    caps = backend.model_capabilities("")
    assert caps.status("thinking_budget") == "ignored"
    assert caps.params["thinking_budget"].note.startswith(
        "claude-3-5-haiku-20241022 takes no thinking budget: only Claude 3.7 Sonnet and the "
        "Claude 4 family do"
    )
    assert backend.model_capabilities(THINKER).status("thinking_budget") == "supported"
    assert backend.model_capabilities(THINKER).status("reasoning_effort") == "ignored"
    url = server.url("ok", "")
    params = Params(thinking_budget=2048, max_tokens=4096, temperature=0.3)
    req = RunRequest(backend="anthropic", model="claude-3-5-haiku-20241022", messages=MESSAGES,
                     params=params)
    _events, result = stream_all(make(url), req)
    body = server.requests(url)[0].body
    assert "thinking" not in body and body["temperature"] == 0.3  # answered without thinking
    assert result.request.ignored_params == {"thinking_budget": 2048}
    assert result.finish_reason == "stop"
