"""promptfoo prompt text (Nunjucks) to workbench Jinja, and chat prompts written as JSON.

Nunjucks and Jinja share the common subset promptfoo prompts use: ``{{ var }}``, attribute and
index access, ``{% if %}``/``{% for %}``, ``{% set %}``, ``{% raw %}``, comments and most filters.
Converted automatically: the ``dump`` filter becomes ``tojson`` and ``elseif`` becomes ``elif``.
promptfoo's ``load`` (JSON.parse) is one of the renderer's filters. Not carried over (reported
as warnings): filters the renderer lacks (custom ``nunjucksFilters``, checked against
``core.templates.FILTERS``), JavaScript method calls (``name.toUpperCase()``), and Nunjucks'
leniency with undefined variables (they render as empty text there; the workbench asks for a value).
``tojson`` also escapes ``<``, ``>``, ``&`` and ``'`` as ``\\u003c``-style sequences, which is the
same JSON but not the same characters as ``dump``.

A promptfoo chat prompt is JSON: a list of ``{"role", "content"}``. When the raw text is valid
JSON, promptfoo renders each string inside it; when it is valid only after rendering (tags outside
JSON strings, e.g. ``"content": {{ question | dump }}``), ``chat_messages`` reads its structure with
the tags held aside. A structure decided at render time (a ``{% for %}`` that emits messages, as
multi-turn prompts over ``_conversation`` do) is marked ``rendered``: the whole body is rendered
first and parsed after (``core.conversation``).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

import yaml
from jinja2 import Environment, TemplateSyntaxError, nodes

from workbench.core import safe_yaml
from workbench.core.models import Message, Role
from workbench.core.templates import FILTERS

_PARSER = Environment(keep_trailing_newline=True, autoescape=False)
_TAG = re.compile(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}", re.S)
_DUMP = re.compile(r"\|\s*dump\b")
_ELSEIF = re.compile(r"^(\{%-?\s*)elseif\b")
_ROLES: dict[str, Role] = {
    "system": "system",
    "user": "user",
    "assistant": "assistant",
    "developer": "system",
}
_STR_METHODS = set(dir(str))


@dataclass
class Converted:
    """A Jinja body plus what did not carry over (messages carry their line inside the body)."""

    body: str
    notes: list[tuple[int | None, str]] = field(default_factory=list)
    error: tuple[int | None, str] | None = None


def _convert_tag(tag: str) -> str:
    if tag.startswith("{#"):
        return tag
    tag = _DUMP.sub("| tojson", tag)
    return _ELSEIF.sub(r"\1elif", tag)


def to_jinja(source: str) -> Converted:
    """Convert a Nunjucks body; syntax errors and unsupported constructs come back with lines."""
    body = _TAG.sub(lambda m: _convert_tag(m.group(0)), source)
    out = Converted(body)
    try:
        tree = _PARSER.parse(body)
    except TemplateSyntaxError as err:
        out.error = (err.lineno, f"not valid Jinja after conversion from Nunjucks: {err.message}")
        return out
    for node in tree.find_all(nodes.Filter):
        if node.name not in FILTERS:
            out.notes.append(
                (
                    node.lineno,
                    f"uses the Nunjucks filter '{node.name}', which the workbench does not have; "
                    "rendering fails until it is rewritten",
                )
            )
    for call in tree.find_all(nodes.Call):
        if isinstance(call.node, nodes.Getattr) and call.node.attr not in _STR_METHODS:
            out.notes.append(
                (
                    call.lineno,
                    f"calls the JavaScript method '{call.node.attr}()', which Jinja does not have",
                )
            )
    return out


# --- chat prompts ------------------------------------------------------------------------------

_IN = "\ue000"  # placeholder for a tag inside a JSON string
_OUT = "\ue001"  # placeholder for a tag standing for a whole JSON value
_END = "\ue002"
_PLACEHOLDER = re.compile(f"[{_IN}{_OUT}](\\d+){_END}")


@dataclass
class Chat:
    """Messages read from a JSON/YAML chat prompt, or why they could not be."""

    messages: list[Message] = field(default_factory=list)
    notes: list[tuple[int | None, str]] = field(default_factory=list)
    error: str | None = None
    rendered: bool = False  # the tags build the list itself: render first, parse after


def _hold_tags(raw: str) -> tuple[str, list[str]] | str:
    """Replace tags by placeholders, tracking JSON string state; a reason string if impossible."""
    tags: list[str] = []
    out: list[str] = []
    in_string = escaped = False
    pos = 0
    for match in _TAG.finditer(raw):
        text = raw[pos : match.start()]
        for ch in text:
            if escaped:
                escaped = False
            elif ch == "\\" and in_string:
                escaped = True
            elif ch == '"':
                in_string = not in_string
        out.append(text)
        tag = match.group(0)
        pos = match.end()
        if tag.startswith("{#"):
            continue
        if in_string:
            out.append(f"{_IN}{len(tags)}{_END}")
        elif tag.startswith("{{"):
            out.append(f'"{_OUT}{len(tags)}{_END}"')
        else:
            return (
                f"its {tag[:40]!r} tag builds the JSON itself, "
                "so the messages are only known when it is rendered"
            )
        tags.append(tag)
    out.append(raw[pos:])
    return "".join(out), tags


def _value_expression(tag: str) -> tuple[str, bool]:
    """``{{ x | dump }}`` standing for a whole JSON value is the text of ``x``: ``{{ x }}``."""
    inner = tag[2:-2].strip().strip("-").strip()
    stripped = re.sub(r"(\s*\|\s*(dump|safe))+\s*$", "", inner)
    return "{{ " + stripped + " }}", stripped != inner


def _restore(value: str, tags: list[str], notes: list[tuple[int | None, str]]) -> str:
    whole = _PLACEHOLDER.fullmatch(value)
    if whole and value[0] == _OUT:
        body, was_dumped = _value_expression(tags[int(whole.group(1))])
        if not was_dumped:
            notes.append(
                (
                    None,
                    f"{tags[int(whole.group(1))]} stands for a whole JSON value without '| dump'; "
                    "read as that value's text",
                )
            )
        return body
    return _PLACEHOLDER.sub(lambda m: tags[int(m.group(1))], value)


def _content_text(content: Any) -> str | None:
    if isinstance(content, str):
        return content
    if isinstance(content, list) and all(
        isinstance(p, dict) and p.get("type") == "text" for p in content
    ):
        return "".join(str(p.get("text", "")) for p in content)
    return None


def _messages_from(data: Any, tags: list[str], chat: Chat) -> bool:
    if not (
        isinstance(data, list) and data and all(isinstance(m, dict) and "role" in m for m in data)
    ):
        return False
    for i, item in enumerate(data):
        role = item.get("role")
        if not isinstance(role, str) or _PLACEHOLDER.search(role) or role not in _ROLES:
            chat.error = (
                f"message {i + 1} has role {role!r}; the workbench has system, user and assistant"
            )
            return True
        if role == "developer":
            chat.notes.append((None, f"message {i + 1}: role 'developer' read as 'system'"))
        content = _content_text(item.get("content", ""))
        if content is None:
            chat.error = (
                f"message {i + 1} has non-text content (images, files) the workbench cannot hold"
            )
            return True
        extra = sorted(set(item) - {"role", "content"})
        if extra:
            chat.notes.append((None, f"message {i + 1}: keys {extra} not kept"))
        converted = to_jinja(_restore(content, tags, chat.notes))
        if converted.error:
            chat.error = f"message {i + 1}: {converted.error[1]}"
            return True
        chat.notes.extend((None, f"message {i + 1}: {note}") for _, note in converted.notes)
        chat.messages.append(Message(role=_ROLES[role], content=converted.body))
    return True


def chat_messages(raw: str) -> Chat | None:
    """Messages of a chat prompt (JSON list, a ``{"messages": [...]}`` object, or YAML
    ``- role:`` list); None for plain text."""

    stripped = raw.strip()
    chat = Chat()
    if stripped.startswith("- role:"):
        try:
            data = safe_yaml.load(stripped)
        except yaml.YAMLError:
            return None
        return chat if _messages_from(data, [], chat) else None
    if stripped.startswith("{"):  # a prompt file holding {"messages": [...]} (a chat request)
        try:
            data = json.loads(stripped)
        except (json.JSONDecodeError, RecursionError):
            return None
        if not (isinstance(data, dict) and isinstance(data.get("messages"), list)):
            return None
        extra = sorted(set(data) - {"messages"})
        if extra:
            chat.notes.append((None, f"keys {extra} beside 'messages' not kept"))
        return chat if _messages_from(data["messages"], [], chat) else None
    if not stripped.startswith("["):
        return None
    try:
        data = json.loads(stripped)
    except (json.JSONDecodeError, RecursionError):
        held = _hold_tags(stripped)
        if isinstance(held, str):
            if _TAG.search(stripped):
                chat.rendered = True
                return chat
            return None
        text, tags = held
        try:
            data = json.loads(text)
        except (json.JSONDecodeError, RecursionError):
            return None
        return chat if _messages_from(data, tags, chat) else None
    return chat if _messages_from(data, [], chat) else None


def from_jinja(body: str) -> str:
    """A workbench Jinja body as Nunjucks (``tojson`` becomes ``dump``)."""
    return _TAG.sub(lambda m: re.sub(r"\|\s*tojson\b", "| dump", m.group(0)), body)
