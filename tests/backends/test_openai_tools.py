"""Tool calls through the OpenAI-compatible backend, against a scripted server.

The embedded SmolLM2 cannot call tools (its chat template has no tool support) and
llama-cpp-python's server then never streams ``delta.tool_calls``; so the wire shape of the
servers that do (OpenAI, vLLM, llama-server --jinja) is played by a scripted server here: two
parallel calls whose arguments arrive in fragments split inside keys and values, interleaved by
index and after some text.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.backends.conftest import stream_all
from tests.backends.fault_server import Exchange, ScriptedServer, chat_chunk
from workbench.backends.base import ToolCallDelta
from workbench.backends.openai_compat import OpenAICompatBackend, OpenAICompatOptions
from workbench.core.models import RenderedMessage, RunRequest
from workbench.core.tools import Tool, ToolCall

WEATHER = Tool(
    name="get_weather",
    description="Current weather in a city",
    parameters={"type": "object", "properties": {"city": {"type": "string"}},
                "required": ["city"]},
    mock='{"temp_c": 21}',
)
TIME = Tool(name="get_time", parameters={"type": "object", "properties": {}})
#: (index, id, name, arguments) pieces as the server streams them.
PIECES = [
    (0, "call_a", "get_weather", ""),
    (0, "", "", '{"ci'),
    (1, "call_b", "get_time", ""),
    (0, "", "", 'ty": "Par'),
    (1, "", "", "{}"),
    (0, "", "", 'is"}'),
]


def _tools_server(ex: Exchange) -> None:
    calls = [
        {"id": "call_a", "type": "function",
         "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}},
        {"id": "call_b", "type": "function", "function": {"name": "get_time", "arguments": "{}"}},
    ]
    if not ex.body.get("stream"):
        message: dict[str, Any] = {"role": "assistant", "content": "Checking.",
                                   "tool_calls": calls}
        ex.send_json(200, {"id": "c1", "choices": [
            {"index": 0, "message": message, "finish_reason": "tool_calls"}]})
        return
    ex.start_stream()
    ex.sse(chat_chunk("Checking."))
    for index, call_id, name, arguments in PIECES:
        piece: dict[str, Any] = {"index": index, "function": {"arguments": arguments}}
        if call_id:
            piece.update(id=call_id, type="function")
            piece["function"]["name"] = name
        chunk = chat_chunk()
        chunk["choices"][0]["delta"] = {"tool_calls": [piece]}
        ex.sse(chunk)
    ex.sse(chat_chunk(finish="tool_calls"))
    ex.sse("[DONE]")
    ex.end_stream()


@pytest.fixture(scope="module")
def server() -> Iterator[ScriptedServer]:
    srv = ScriptedServer({"tools": _tools_server})
    yield srv
    srv.close()


CONVERSATION = [
    RenderedMessage(role="user", content="Weather in Paris?"),
    RenderedMessage(role="assistant", content="", tool_calls=[
        ToolCall(id="call_0", name="get_weather", arguments='{"city": "Paris"}')]),
    RenderedMessage(role="tool", content='{"temp_c": 21}', tool_call_id="call_0"),
]


@pytest.mark.parametrize("streaming", [True, False])
def test_streamed_tool_call_fragments_join_per_index(
    server: ScriptedServer, streaming: bool
) -> None:
    url = server.url("tools")
    backend = OpenAICompatBackend(OpenAICompatOptions(base_url=url, default_model="m",
                                                      streaming=streaming))
    request = RunRequest(backend="openai_compat", messages=CONVERSATION,
                         tools=[WEATHER, TIME], tool_choice="get_weather")
    events, result = stream_all(backend, request)
    assert result.finish_reason == "tool_calls"
    assert result.text == "Checking."
    assert result.tool_calls == [
        ToolCall(id="call_a", name="get_weather", arguments='{"city": "Paris"}'),
        ToolCall(id="call_b", name="get_time", arguments="{}"),
    ]
    if streaming:
        deltas = [e for e in events if isinstance(e, ToolCallDelta)]
        assert [(d.position, d.id, d.name, d.arguments) for d in deltas] == PIECES
    body = server.requests(url)[-1].body
    assert body["tools"][0] == {"type": "function", "function": {
        "name": "get_weather", "description": "Current weather in a city",
        "parameters": WEATHER.parameters}}
    assert "mock" not in json.dumps(body)  # the playground's answer is never sent
    assert body["tool_choice"] == {"type": "function", "function": {"name": "get_weather"}}
    assert body["messages"][1] == {"role": "assistant", "content": None, "tool_calls": [
        {"id": "call_0", "type": "function",
         "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}}]}
    assert body["messages"][2] == {"role": "tool", "tool_call_id": "call_0",
                                   "content": '{"temp_c": 21}'}
    assert result.request.tools == [WEATHER.declaration(), TIME]
    assert result.request.tool_choice == "get_weather"


def test_the_completions_endpoint_records_tools_as_not_sent(server: ScriptedServer) -> None:
    backend = OpenAICompatBackend(OpenAICompatOptions(base_url=server.url("tools"),
                                                      default_model="m", endpoint="completions"))
    assert not backend.capabilities().tools.supported
    request = RunRequest(backend="openai_compat", prompt="Weather?", tools=[WEATHER])
    sent, _plan = backend._prepare(request)
    assert sent.ignored_params["tools"] == ["get_weather"] and sent.tools == []


def test_a_tool_choice_must_name_a_declared_tool() -> None:
    with pytest.raises(ValueError, match="nor a tool's name"):
        RunRequest(backend="x", prompt="hi", tools=[TIME], tool_choice="get_weather")
    with pytest.raises(ValueError, match="only one, answers"):
        RenderedMessage(role="tool", content="21")
