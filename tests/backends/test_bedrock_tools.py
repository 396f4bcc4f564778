"""Tools through Bedrock's Converse API (boto3 against the local wire server the other Bedrock
tests use): ``toolConfig`` in Converse's shape, a call streamed as a ``toolUse`` block start and
``toolUse.input`` pieces, and a conversation's calls and results sent back as ``toolUse`` and
``toolResult`` blocks."""

from __future__ import annotations

import base64
import json

import pytest

from tests.backends.conftest import stream_all
from tests.backends.fault_server import ScriptedServer
from tests.backends.test_bedrock import MODEL, aws_profile, make, server  # noqa: F401 - fixtures
from tests.backends.wire_servers import TOOL_INPUT, TOOL_PIECES
from workbench.backends.base import ToolCallDelta
from workbench.core.models import RenderedMessage, RunRequest
from workbench.core.tools import Tool, ToolCall

pytest.importorskip("boto3", reason="boto3 is the optional 'bedrock' extra (in the test extra)")

ANIMAL = Tool(name="animal_facts", description="Facts about an animal",
              parameters={"type": "object", "properties": {"animal": {"type": "string"}}})
FAILED = "error in the mock of animal_facts, line 2: KeyError"
CONVERSATION = [
    RenderedMessage(role="user", content="Tell me about foxes."),
    RenderedMessage(role="assistant", content="", tool_calls=[
        ToolCall(id="t0", name="animal_facts", arguments='{"animal": "fox"}'),
        ToolCall(id="t9", name="animal_facts", arguments='{"animal": "wolf"}')]),
    RenderedMessage(role="tool", content="foxes are canids", tool_call_id="t0"),
    RenderedMessage(role="tool", content=FAILED, tool_call_id="t9",
                    tool_error=True),  # a Python mock that failed
]


@pytest.mark.parametrize("streaming", [True, False])
def test_a_tool_call_streams_and_the_conversation_goes_back_as_blocks(
    server: ScriptedServer, streaming: bool  # noqa: F811 - the fixture
) -> None:
    url = server.url("tool", "")
    request = RunRequest(backend="bedrock", model=MODEL, messages=CONVERSATION,
                         tools=[ANIMAL], tool_choice="animal_facts")
    events, result = stream_all(make(url, streaming=streaming), request)
    assert result.finish_reason == "tool_calls" and result.text == "Sure."
    [call] = result.tool_calls
    assert (call.id, call.name, json.loads(call.arguments)) == ("t1", "animal_facts", TOOL_INPUT)
    if streaming:
        deltas = [e for e in events if isinstance(e, ToolCallDelta)]
        assert deltas[0] == ToolCallDelta(0, "t1", "animal_facts", "")
        assert [d.arguments for d in deltas[1:]] == TOOL_PIECES
    body = server.requests(url)[-1].body
    assert body["toolConfig"] == {
        "tools": [{"toolSpec": {"name": "animal_facts", "description": "Facts about an animal",
                                "inputSchema": {"json": ANIMAL.parameters}}}],
        "toolChoice": {"tool": {"name": "animal_facts"}},
    }
    assert body["messages"][1] == {"role": "assistant", "content": [
        {"toolUse": {"toolUseId": "t0", "name": "animal_facts", "input": {"animal": "fox"}}},
        {"toolUse": {"toolUseId": "t9", "name": "animal_facts", "input": {"animal": "wolf"}}}]}
    assert body["messages"][2] == {"role": "user", "content": [
        {"toolResult": {"toolUseId": "t0", "content": [{"text": "foxes are canids"}]}},
        {"toolResult": {"toolUseId": "t9", "status": "error", "content": [{"text": FAILED}]}}]}


def test_images_go_as_converse_image_blocks(server: ScriptedServer) -> None:  # noqa: F811
    from tests.backends.test_images_wire import MESSAGES, RAW, WEBP

    url = server.url("ok", "")
    _events, result = stream_all(make(url), RunRequest(backend="bedrock", model=MODEL,
                                                       messages=MESSAGES))
    assert result.error is None
    body = server.requests(url)[-1].body
    assert body["system"] == [{"text": "Be brief."}]
    assert body["messages"] == [{"role": "user", "content": [
        {"image": {"format": "png", "source": {"bytes": base64.b64encode(RAW).decode()}}},
        {"image": {"format": "webp", "source": {"bytes": WEBP.data}}},
        {"text": "What is in these pictures?"},
    ]}]
