"""Tools through Ollama's native chat, against the local server speaking its NDJSON: tools in
OpenAI's function shape, a call arriving whole (arguments an object, no id on older servers,
done_reason "stop"), and a conversation's call and result sent back (the result by tool name)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from tests.backends.conftest import stream_all
from tests.backends.local_servers import WORDS, OllamaServer
from workbench.backends.ollama import OllamaBackend, OllamaOptions
from workbench.core.models import RenderedMessage, RunRequest
from workbench.core.tools import Tool, ToolCall

WEATHER = Tool(name="get_weather", parameters={"type": "object",
                                               "properties": {"city": {"type": "string"}}})
ASK = RenderedMessage(role="user", content="Weather in Paris?")


@pytest.fixture(scope="module")
def server() -> Iterator[OllamaServer]:
    with OllamaServer() as ollama:
        yield ollama


@pytest.mark.parametrize("streaming", [True, False])
def test_a_whole_tool_call_is_read_and_finishes_as_tool_calls(
    server: OllamaServer, streaming: bool
) -> None:
    backend = OllamaBackend(OllamaOptions(base_url=server.url, streaming=streaming))
    request = RunRequest(backend="ollama", model="tiny:latest", messages=[ASK], tools=[WEATHER],
                         tool_choice="get_weather")
    _events, result = stream_all(backend, request)
    assert result.finish_reason == "tool_calls"
    [call] = result.tool_calls
    assert call.name == "get_weather" and json.loads(call.arguments) == {"city": "Paris"}
    body = server.bodies("/api/chat")[-1]
    assert body["tools"] == [{"type": "function", "function": {
        "name": "get_weather", "description": "", "parameters": WEATHER.parameters}}]
    assert result.request.ignored_params["tool_choice"] == "get_weather"  # Ollama has none


def test_a_result_goes_back_by_tool_name(server: OllamaServer) -> None:
    conversation = [ASK, RenderedMessage(role="assistant", content="", tool_calls=[
        ToolCall(id="call_0", name="get_weather", arguments='{"city": "Paris"}')]),
        RenderedMessage(role="tool", content="21 C", tool_call_id="call_0")]
    backend = OllamaBackend(OllamaOptions(base_url=server.url))
    _events, result = stream_all(backend, RunRequest(
        backend="ollama", model="tiny:latest", messages=conversation, tools=[WEATHER]))
    assert result.finish_reason == "stop" and result.text == "".join(WORDS)
    sent = server.bodies("/api/chat")[-1]["messages"]
    assert sent[1]["tool_calls"] == [{"function": {"name": "get_weather",
                                                   "arguments": {"city": "Paris"}}}]
    assert sent[2] == {"role": "tool", "content": "21 C", "tool_name": "get_weather"}
