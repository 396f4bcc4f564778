"""Scripted servers speaking the Anthropic Messages API and Bedrock's Converse wire formats (no
local server implements them), built on :mod:`fault_server`."""

from __future__ import annotations

import json
import struct
import zlib
from typing import Any

from tests.backends.fault_server import WORDS, Exchange, Scenario

# --- Anthropic Messages API ---------------------------------------------------------------------


def _anthropic_stream(
    ex: Exchange,
    words: list[str],
    *,
    stop_reason: str = "end_turn",
    interval: float = 0.0,
    finish: bool = True,
    stall_unframed: bool = False,
) -> None:
    """``stall_unframed``: a body ended by closing the connection, silent for 30 s after the
    words (a cancel lands while the client waits in a read)."""
    ex.start_stream(headers={"request-id": "req_test"}, chunked=not stall_unframed)
    ex.sse(
        {
            "type": "message_start",
            "message": {
                "id": "msg_1",
                "type": "message",
                "role": "assistant",
                "model": ex.body["model"],
                "content": [],
                "stop_reason": None,
                "usage": {"input_tokens": 12, "output_tokens": 1},
            },
        },
        event="message_start",
    )
    ex.sse(
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        event="content_block_start",
    )
    ex.sse({"type": "ping"}, event="ping")
    for word in words:
        ex.sse(
            {
                "type": "content_block_delta",
                "index": 0,
                "delta": {"type": "text_delta", "text": word},
            },
            event="content_block_delta",
        )
        if interval and ex.pause(interval):
            return
    if stall_unframed:
        ex.pause(30)
        return
    if not finish:
        ex.end_stream()
        return
    ex.sse({"type": "content_block_stop", "index": 0}, event="content_block_stop")
    ex.sse(
        {
            "type": "message_delta",
            "delta": {"stop_reason": stop_reason, "stop_sequence": None},
            "usage": {"output_tokens": len(words)},
        },
        event="message_delta",
    )
    ex.sse({"type": "message_stop"}, event="message_stop")
    ex.end_stream()


def _anthropic_error(ex: Exchange, status: int, kind: str, message: str) -> None:
    ex.send_json(status, {"type": "error", "error": {"type": kind, "message": message}})


def anthropic_ok(ex: Exchange) -> None:
    if ex.rest.startswith("/v1/models"):
        ex.send_json(
            200,
            {
                "data": [
                    {"type": "model", "id": "claude-test-2", "display_name": "Claude Test 2"},
                    {"type": "model", "id": "claude-test-1", "display_name": "Claude Test 1"},
                ],
                "has_more": False,
            },
        )
        return
    if ex.request.headers.get("x-api-key") != "sk-ant-test-key-0123456789abcdef":
        _anthropic_error(ex, 401, "authentication_error", "invalid x-api-key")
        return
    if not ex.body.get("stream"):
        ex.send_json(
            200,
            {
                "id": "msg_1",
                "type": "message",
                "role": "assistant",
                "model": ex.body["model"],
                "content": [{"type": "text", "text": "".join(WORDS)}],
                "stop_reason": "end_turn",
                "usage": {"input_tokens": 12, "output_tokens": len(WORDS)},
            },
        )
        return
    words = WORDS[: ex.body["max_tokens"]]
    _anthropic_stream(
        ex, words, stop_reason="max_tokens" if len(words) < len(WORDS) else "end_turn"
    )


def anthropic_overloaded_once(ex: Exchange) -> None:
    if ex.count == 1:
        _anthropic_error(ex, 529, "overloaded_error", "Overloaded")
    else:
        anthropic_ok(ex)


def anthropic_error_event(ex: Exchange) -> None:
    ex.start_stream()
    ex.sse(
        {"type": "message_start", "message": {"id": "m", "usage": {"input_tokens": 3}}},
        event="message_start",
    )
    ex.sse(
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hel"}},
        event="content_block_delta",
    )
    ex.sse(
        {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}},
        event="error",
    )
    ex.end_stream()


#: The forced tool's arguments, and the pieces they stream in (split inside keys and values).
TOOL_INPUT = {"animal": "fox", "legs": 4}
TOOL_PIECES = ['{"ani', 'mal": "f', 'ox", "le', 'gs": 4}']


def anthropic_tool(ex: Exchange) -> None:
    """Answers with a call of the tool ``tool_choice`` forces, after a text block (a gateway may
    add one) that is not the answer."""
    name = ex.body["tool_choice"]["name"]
    blocks = [{"type": "text", "text": "Sure."},
              {"type": "tool_use", "id": "toolu_1", "name": name, "input": TOOL_INPUT}]
    if not ex.body.get("stream"):
        ex.send_json(200, {"id": "msg_1", "type": "message", "role": "assistant",
                           "model": ex.body["model"], "content": blocks,
                           "stop_reason": "tool_use",
                           "usage": {"input_tokens": 12, "output_tokens": 9}})
        return
    ex.start_stream()
    ex.sse({"type": "message_start", "message": {"id": "msg_1", "usage": {"input_tokens": 12}}},
           event="message_start")
    ex.sse({"type": "content_block_start", "index": 0, "content_block": blocks[0]},
           event="content_block_start")
    ex.sse({"type": "content_block_stop", "index": 0}, event="content_block_stop")
    ex.sse({"type": "content_block_start", "index": 1,
            "content_block": {**blocks[1], "input": {}}}, event="content_block_start")
    for piece in ["", *TOOL_PIECES]:
        ex.sse({"type": "content_block_delta", "index": 1,
                "delta": {"type": "input_json_delta", "partial_json": piece}},
               event="content_block_delta")
    ex.sse({"type": "content_block_stop", "index": 1}, event="content_block_stop")
    ex.sse({"type": "message_delta", "delta": {"stop_reason": "tool_use"},
            "usage": {"output_tokens": 9}}, event="message_delta")
    ex.sse({"type": "message_stop"}, event="message_stop")
    ex.end_stream()


#: A reasoning model's thinking, the pieces it streams in, and its answer.
THOUGHT_PIECES = ["The user wants", " a fox fact.", " Foxes have four legs."]
ANSWER = "A fox has four legs."


def anthropic_thinking(ex: Exchange) -> None:
    """Extended thinking as Anthropic streams it: a thinking block (thinking_delta pieces, then
    a signature_delta), then the text block; not streamed, both blocks in the content."""
    thinking = {"type": "thinking", "thinking": "".join(THOUGHT_PIECES), "signature": "sig"}
    if not ex.body.get("stream"):
        ex.send_json(200, {"id": "msg_1", "type": "message", "role": "assistant",
                           "model": ex.body["model"],
                           "content": [thinking, {"type": "text", "text": ANSWER}],
                           "stop_reason": "end_turn",
                           "usage": {"input_tokens": 12, "output_tokens": 40}})
        return
    ex.start_stream()
    ex.sse({"type": "message_start", "message": {"id": "msg_1", "usage": {"input_tokens": 12}}},
           event="message_start")
    ex.sse({"type": "content_block_start", "index": 0,
            "content_block": {"type": "thinking", "thinking": ""}}, event="content_block_start")
    for piece in THOUGHT_PIECES:
        ex.sse({"type": "content_block_delta", "index": 0,
                "delta": {"type": "thinking_delta", "thinking": piece}},
               event="content_block_delta")
    ex.sse({"type": "content_block_delta", "index": 0,
            "delta": {"type": "signature_delta", "signature": "EqQBCgIYAhIM"}},
           event="content_block_delta")
    ex.sse({"type": "content_block_stop", "index": 0}, event="content_block_stop")
    ex.sse({"type": "content_block_start", "index": 1,
            "content_block": {"type": "text", "text": ""}}, event="content_block_start")
    ex.sse({"type": "content_block_delta", "index": 1,
            "delta": {"type": "text_delta", "text": ANSWER}}, event="content_block_delta")
    ex.sse({"type": "content_block_stop", "index": 1}, event="content_block_stop")
    ex.sse({"type": "message_delta", "delta": {"stop_reason": "end_turn"},
            "usage": {"output_tokens": 40}}, event="message_delta")
    ex.sse({"type": "message_stop"}, event="message_stop")
    ex.end_stream()


ANTHROPIC_SCENARIOS: dict[str, Scenario] = {
    "thinking": anthropic_thinking,
    "tool": anthropic_tool,
    "ok": anthropic_ok,
    "overloaded-once": anthropic_overloaded_once,
    "error-event": anthropic_error_event,
    "truncated": lambda ex: _anthropic_stream(ex, WORDS[:3], finish=False),
    "slow": lambda ex: _anthropic_stream(ex, WORDS * 40, interval=0.02),
    "stall-unframed": lambda ex: _anthropic_stream(ex, WORDS[:3], stall_unframed=True),
}


# --- Bedrock (AWS event stream, application/vnd.amazon.eventstream) ------------------------------


def event_message(headers: dict[str, str], payload: bytes) -> bytes:
    """One AWS event-stream message: prelude, CRC, string headers, payload, message CRC."""
    encoded = b"".join(
        struct.pack("B", len(name))
        + name.encode()
        + b"\x07"
        + struct.pack(">H", len(value.encode()))
        + value.encode()
        for name, value in headers.items()
    )
    total = 12 + len(encoded) + len(payload) + 4
    prelude = struct.pack(">II", total, len(encoded))
    prelude += struct.pack(">I", zlib.crc32(prelude))
    body = prelude + encoded + payload
    return body + struct.pack(">I", zlib.crc32(body))


def _event(ex: Exchange, kind: str, payload: dict[str, Any]) -> None:
    ex.chunk(
        event_message(
            {":event-type": kind, ":content-type": "application/json", ":message-type": "event"},
            json.dumps(payload).encode(),
        )
    )


def _exception(ex: Exchange, kind: str, message: str) -> None:
    ex.chunk(
        event_message(
            {
                ":exception-type": kind,
                ":content-type": "application/json",
                ":message-type": "exception",
            },
            json.dumps({"message": message}).encode(),
        )
    )


def _bedrock_stream(
    ex: Exchange,
    words: list[str],
    *,
    interval: float = 0.0,
    fail_with: str | None = None,
    stall_unframed: bool = False,
) -> None:
    ex.start_stream(
        "application/vnd.amazon.eventstream",
        headers={"x-amzn-RequestId": "test-request"},
        chunked=not stall_unframed,
    )
    _event(ex, "messageStart", {"role": "assistant"})
    for word in words:
        _event(ex, "contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": word}})
        if interval and ex.pause(interval):
            return
    if stall_unframed:
        ex.pause(30)
        return
    if fail_with:
        _exception(ex, fail_with, "Rate exceeded mid-stream")
        ex.end_stream()
        return
    _event(ex, "contentBlockStop", {"contentBlockIndex": 0})
    stop = "max_tokens" if len(words) < len(WORDS) else "end_turn"
    _event(ex, "messageStop", {"stopReason": stop})
    _event(
        ex,
        "metadata",
        {
            "usage": {"inputTokens": 9, "outputTokens": len(words), "totalTokens": 9 + len(words)},
            "metrics": {"latencyMs": 42},
        },
    )
    ex.end_stream()


def _bedrock_error(ex: Exchange, status: int, code: str, message: str) -> None:
    ex.send_json(status, {"message": message}, headers={"x-amzn-ErrorType": code})


def bedrock_ok(ex: Exchange) -> None:
    if ex.rest.startswith("/foundation-models"):
        ex.send_json(
            200,
            {
                "modelSummaries": [
                    {
                        "modelId": "anthropic.claude-test-v1",
                        "modelName": "Claude Test",
                        "providerName": "Anthropic",
                    }
                ]
            },
        )
        return
    if not ex.rest.startswith("/model/"):
        _bedrock_error(ex, 404, "UnknownOperationException", ex.rest)
        return
    limit = (ex.body.get("inferenceConfig") or {}).get("maxTokens", len(WORDS))
    words = WORDS[:limit]
    if ex.rest.endswith("/converse-stream"):
        _bedrock_stream(ex, words)
        return
    ex.send_json(
        200,
        {
            "output": {"message": {"role": "assistant", "content": [{"text": "".join(words)}]}},
            "stopReason": "end_turn",
            "usage": {"inputTokens": 9, "outputTokens": len(words), "totalTokens": 9 + len(words)},
            "metrics": {"latencyMs": 42},
        },
    )


def bedrock_tool(ex: Exchange) -> None:
    """Answers with a call of the tool ``toolConfig.toolChoice`` forces, after a text block."""
    name = ex.body["toolConfig"]["toolChoice"]["tool"]["name"]
    usage = {"inputTokens": 9, "outputTokens": 9, "totalTokens": 18}
    if not ex.rest.endswith("/converse-stream"):
        content = [{"text": "Sure."},
                   {"toolUse": {"toolUseId": "t1", "name": name, "input": TOOL_INPUT}}]
        ex.send_json(200, {"output": {"message": {"role": "assistant", "content": content}},
                           "stopReason": "tool_use", "usage": usage,
                           "metrics": {"latencyMs": 42}})
        return
    ex.start_stream("application/vnd.amazon.eventstream")
    _event(ex, "messageStart", {"role": "assistant"})
    _event(ex, "contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": "Sure."}})
    _event(ex, "contentBlockStop", {"contentBlockIndex": 0})
    _event(ex, "contentBlockStart", {"contentBlockIndex": 1,
                                     "start": {"toolUse": {"toolUseId": "t1", "name": name}}})
    for piece in TOOL_PIECES:
        _event(ex, "contentBlockDelta",
               {"contentBlockIndex": 1, "delta": {"toolUse": {"input": piece}}})
    _event(ex, "contentBlockStop", {"contentBlockIndex": 1})
    _event(ex, "messageStop", {"stopReason": "tool_use"})
    _event(ex, "metadata", {"usage": usage, "metrics": {"latencyMs": 42}})
    ex.end_stream()


def bedrock_thinking(ex: Exchange) -> None:
    """An Anthropic model's thinking through Converse: reasoningContent deltas (text, then a
    signature) in block 0, the answer in block 1; not streamed, a reasoningContent block."""
    usage = {"inputTokens": 9, "outputTokens": 40, "totalTokens": 49}
    if not ex.rest.endswith("/converse-stream"):
        thought = {"reasoningText": {"text": "".join(THOUGHT_PIECES), "signature": "sig"}}
        content = [{"reasoningContent": thought}, {"text": ANSWER}]
        ex.send_json(200, {"output": {"message": {"role": "assistant", "content": content}},
                           "stopReason": "end_turn", "usage": usage,
                           "metrics": {"latencyMs": 42}})
        return
    ex.start_stream("application/vnd.amazon.eventstream")
    _event(ex, "messageStart", {"role": "assistant"})
    for piece in THOUGHT_PIECES:
        _event(ex, "contentBlockDelta",
               {"contentBlockIndex": 0, "delta": {"reasoningContent": {"text": piece}}})
    _event(ex, "contentBlockDelta",
           {"contentBlockIndex": 0, "delta": {"reasoningContent": {"signature": "sig"}}})
    _event(ex, "contentBlockStop", {"contentBlockIndex": 0})
    _event(ex, "contentBlockDelta", {"contentBlockIndex": 1, "delta": {"text": ANSWER}})
    _event(ex, "contentBlockStop", {"contentBlockIndex": 1})
    _event(ex, "messageStop", {"stopReason": "end_turn"})
    _event(ex, "metadata", {"usage": usage, "metrics": {"latencyMs": 42}})
    ex.end_stream()


BEDROCK_SCENARIOS: dict[str, Scenario] = {
    "thinking": bedrock_thinking,
    "tool": bedrock_tool,
    "ok": bedrock_ok,
    "denied": lambda ex: _bedrock_error(
        ex,
        403,
        "AccessDeniedException",
        "You don't have access to the model with the specified model ID.",
    ),
    "missing": lambda ex: _bedrock_error(
        ex, 404, "ResourceNotFoundException", "Could not resolve the foundation model"
    ),
    "throttled-mid-stream": lambda ex: _bedrock_stream(
        ex, WORDS[:2], fail_with="throttlingException"
    ),
    "slow": lambda ex: _bedrock_stream(ex, WORDS * 40, interval=0.02),
    "stall": lambda ex: _bedrock_stream(ex, WORDS[:1], interval=3600),
    "stall-unframed": lambda ex: _bedrock_stream(ex, WORDS[:3], stall_unframed=True),
}
