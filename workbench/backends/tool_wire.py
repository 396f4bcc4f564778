"""Tools, tool choices and tool-conversation messages in each provider's wire shape.

OpenAI (and every OpenAI-compatible server, Ollama's /v1 too): ``tools`` of ``function`` type,
assistant ``tool_calls`` and ``tool`` role results (``RenderedMessage.as_openai``). Anthropic:
``input_schema`` tools, ``tool_use`` blocks in the assistant's content and ``tool_result``
blocks in the next user turn. Bedrock Converse: ``toolSpec`` tools, ``toolUse`` and
``toolResult`` content blocks. The forced tool that enforces a response format
(``backends.structured``) is built by the same helpers.
"""

from __future__ import annotations

import json
from typing import Any

from workbench.backends.image_wire import anthropic_content, bedrock_images, ollama_images
from workbench.core.errors import BadRequestError
from workbench.core.models import RenderedMessage
from workbench.core.tools import Tool, ToolCall, openai_choice

# --- OpenAI ------------------------------------------------------------------------------------


def openai_tools(tools: list[Tool], choice: str) -> dict[str, Any]:
    """``tools`` and ``tool_choice`` of a chat completions request (empty: no tools)."""
    if not tools:
        return {}
    return {"tools": [t.as_openai() for t in tools], "tool_choice": openai_choice(choice)}


def ollama_message(message: RenderedMessage, names: dict[str, str]) -> dict[str, Any]:
    """One message of Ollama's native chat: calls carry their arguments as an object, and a
    result names its tool (``tool_name``: Ollama matches results by name, not by call id);
    ``names`` maps the conversation's call ids to their tools."""
    if message.role == "tool":
        name = names.get(message.tool_call_id or "", "")
        return {"role": "tool", "content": message.content, "tool_name": name}
    if not message.tool_calls:
        return {"role": message.role, "content": message.content, **ollama_images(message)}
    calls = [{"function": {"name": c.name, "arguments": _input(c)}} for c in message.tool_calls]
    return {"role": "assistant", "content": message.content, "tool_calls": calls}


# --- Anthropic ---------------------------------------------------------------------------------


def anthropic_tool(name: str, description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "description": description, "input_schema": schema}


def anthropic_tools(tools: list[Tool], choice: str) -> dict[str, Any]:
    """``tools`` and ``tool_choice`` of a Messages request (``required`` is Anthropic's ``any``)."""
    if not tools:
        return {}
    kinds = {"auto": {"type": "auto"}, "none": {"type": "none"}, "required": {"type": "any"}}
    return {
        "tools": [anthropic_tool(t.name, t.description, t.parameters) for t in tools],
        "tool_choice": kinds.get(choice, {"type": "tool", "name": choice}),
    }


def anthropic_messages(turns: list[RenderedMessage]) -> list[dict[str, Any]]:
    """The conversation: calls as ``tool_use`` blocks, results as ``tool_result`` blocks of one
    user turn (Anthropic wants every result of a turn's calls in the message after it)."""
    wire: list[dict[str, Any]] = []
    for m in turns:
        if m.role == "tool":
            block: dict[str, Any] = {"type": "tool_result", "tool_use_id": m.tool_call_id,
                                     "content": m.content}
            if m.tool_error:
                block["is_error"] = True
            if wire and wire[-1]["role"] == "user" and _results(wire[-1]):
                wire[-1]["content"].append(block)
            else:
                wire.append({"role": "user", "content": [block]})
        elif m.tool_calls:
            blocks: list[dict[str, Any]] = (
                [{"type": "text", "text": m.content}] if m.content else []
            )
            blocks += [
                {"type": "tool_use", "id": c.id, "name": c.name, "input": _input(c)}
                for c in m.tool_calls
            ]
            wire.append({"role": "assistant", "content": blocks})
        else:
            wire.append({"role": m.role, "content": anthropic_content(m)})
    return wire


def _results(message: dict[str, Any]) -> bool:
    content = message["content"]
    return isinstance(content, list) and all(b.get("type") == "tool_result" for b in content)


# --- Bedrock Converse --------------------------------------------------------------------------


def bedrock_tool(name: str, description: str, schema: dict[str, Any]) -> dict[str, Any]:
    spec = {"name": name, "description": description, "inputSchema": {"json": schema}}
    return {"toolSpec": spec}


def bedrock_tool_config(tools: list[Tool], choice: str) -> dict[str, Any] | None:
    """``toolConfig`` of a Converse request (None: no tools). Converse has no "none" choice: the
    tools are declared (a conversation with tool blocks needs them) with no choice forced."""
    if not tools:
        return None
    config: dict[str, Any] = {
        "tools": [bedrock_tool(t.name, t.description, t.parameters) for t in tools]
    }
    kinds: dict[str, dict[str, Any]] = {"auto": {"auto": {}}, "required": {"any": {}}}
    if choice != "none":
        config["toolChoice"] = kinds.get(choice, {"tool": {"name": choice}})
    return config


def bedrock_messages(turns: list[RenderedMessage]) -> list[dict[str, Any]]:
    """The conversation as Converse messages: ``toolUse`` blocks in the assistant's content,
    ``toolResult`` blocks gathered in one user message."""
    wire: list[dict[str, Any]] = []
    for m in turns:
        if m.role == "tool":
            result: dict[str, Any] = {"toolUseId": m.tool_call_id, "content": [{"text": m.content}]}
            if m.tool_error:
                result["status"] = "error"
            block = {"toolResult": result}
            previous = wire[-1] if wire else None
            if previous and previous["role"] == "user" and "toolResult" in previous["content"][0]:
                previous["content"].append(block)
            else:
                wire.append({"role": "user", "content": [block]})
        else:
            blocks = [*bedrock_images(m), *([{"text": m.content}] if m.content else [])]
            blocks += [
                {"toolUse": {"toolUseId": c.id, "name": c.name, "input": _input(c)}}
                for c in m.tool_calls
            ]
            wire.append({"role": m.role, "content": blocks or [{"text": ""}]})
    return wire


def _input(call: ToolCall) -> Any:
    """A call's arguments as the JSON value Anthropic and Bedrock want (not text)."""
    try:
        return call.parsed_arguments()
    except ValueError:
        raise BadRequestError(
            f"tool call {call.name} ({call.id}) has arguments that are not JSON: "
            f"{call.arguments[:80]!r}",
            hint="this provider takes a call's arguments as a JSON object",
        ) from None


def dumps(value: Any) -> str:
    """A whole (non-streamed) call's input as argument text."""
    return json.dumps(value, ensure_ascii=False)
