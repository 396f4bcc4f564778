"""Tools through the Anthropic backend, against the wire server the other Anthropic tests use:
the declaration and tool choice in Anthropic's shape, a call streamed as a ``tool_use`` block and
``input_json_delta`` pieces (after a text block), and a conversation's calls and results sent
back as ``tool_use`` and ``tool_result`` blocks."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from tests.backends.conftest import stream_all
from tests.backends.fault_server import ScriptedServer
from tests.backends.wire_servers import ANTHROPIC_SCENARIOS, TOOL_INPUT, TOOL_PIECES
from workbench.backends.anthropic import AnthropicBackend, AnthropicOptions
from workbench.backends.base import ToolCallDelta
from workbench.core.models import RenderedMessage, ResponseFormat, RunRequest
from workbench.core.tools import Tool, ToolCall

ANIMAL = Tool(name="animal_facts", description="Facts about an animal",
              parameters={"type": "object", "properties": {"animal": {"type": "string"}}},
              mock="foxes are canids")
CONVERSATION = [
    RenderedMessage(role="system", content="Use the tools."),
    RenderedMessage(role="user", content="Tell me about foxes."),
    RenderedMessage(role="assistant", content="Looking.", tool_calls=[
        ToolCall(id="toolu_0", name="animal_facts", arguments='{"animal": "fox"}'),
        ToolCall(id="toolu_9", name="animal_facts", arguments='{"animal": "wolf"}')]),
    RenderedMessage(role="tool", content="foxes are canids", tool_call_id="toolu_0"),
    RenderedMessage(role="tool", content="error in the mock of animal_facts, line 2: KeyError",
                    tool_call_id="toolu_9", tool_error=True),  # a Python mock that failed
]


@pytest.fixture(scope="module")
def server() -> Iterator[ScriptedServer]:
    srv = ScriptedServer(ANTHROPIC_SCENARIOS)
    yield srv
    srv.close()


def _backend(url: str, streaming: bool) -> AnthropicBackend:
    return AnthropicBackend(AnthropicOptions(base_url=url, streaming=streaming), api_key="k" * 20)


@pytest.mark.parametrize("streaming", [True, False])
def test_a_tool_call_streams_and_the_conversation_goes_back_as_blocks(
    server: ScriptedServer, streaming: bool
) -> None:
    url = server.url("tool", "")
    request = RunRequest(backend="anthropic", model="claude-test-1", messages=CONVERSATION,
                         tools=[ANIMAL], tool_choice="animal_facts")
    events, result = stream_all(_backend(url, streaming), request)
    assert result.finish_reason == "tool_calls"  # a call waiting for its result
    assert result.text == "Sure."
    [call] = result.tool_calls
    assert (call.id, call.name, json.loads(call.arguments)) == ("toolu_1", "animal_facts",
                                                                TOOL_INPUT)
    if streaming:
        deltas = [e for e in events if isinstance(e, ToolCallDelta)]
        assert deltas[0] == ToolCallDelta(0, "toolu_1", "animal_facts", "")
        assert [d.arguments for d in deltas[1:]] == TOOL_PIECES
    body = server.requests(url)[-1].body
    assert body["tools"] == [{"name": "animal_facts", "description": "Facts about an animal",
                              "input_schema": ANIMAL.parameters}]
    assert body["tool_choice"] == {"type": "tool", "name": "animal_facts"}
    assert body["messages"][1] == {"role": "assistant", "content": [
        {"type": "text", "text": "Looking."},
        {"type": "tool_use", "id": "toolu_0", "name": "animal_facts", "input": {"animal": "fox"}},
        {"type": "tool_use", "id": "toolu_9", "name": "animal_facts",
         "input": {"animal": "wolf"}}]}
    assert body["messages"][2] == {"role": "user", "content": [
        {"type": "tool_result", "tool_use_id": "toolu_0", "content": "foxes are canids"},
        {"type": "tool_result", "tool_use_id": "toolu_9", "is_error": True,
         "content": "error in the mock of animal_facts, line 2: KeyError"}]}


def test_required_is_anthropics_any_and_tools_with_a_format_are_refused(
    server: ScriptedServer,
) -> None:
    backend = _backend(server.url("tool", ""), True)
    sent, plan = backend._prepare(RunRequest(
        backend="anthropic", model="m", messages=CONVERSATION[:2], tools=[ANIMAL],
        tool_choice="required"))
    assert plan.body["tool_choice"] == {"type": "any"} and sent.tool_choice == "required"
    fmt = ResponseFormat(type="json_object")
    _events, result = stream_all(backend, RunRequest(
        backend="anthropic", model="m", messages=CONVERSATION[:2], tools=[ANIMAL],
        response_format=fmt))
    assert result.error_kind == "ParameterError" and "tools and a response format" in (
        result.error or "")
