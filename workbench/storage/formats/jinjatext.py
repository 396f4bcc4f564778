"""Jinja bodies seen as plain text and variables.

Formats with their own placeholder syntax (llm's ``$var``, CSV cells, prompty's role sections) can
only hold a body made of text and bare ``{{ name }}`` placeholders. ``segments`` recognises exactly
those bodies (``core.templates.literal`` output included); anything richer is reported by the
caller as not expressible, never flattened silently.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from jinja2 import Environment, TemplateSyntaxError, meta, nodes

from workbench.core.models import Message
from workbench.core.templates import SANDBOX_NAMES, literal

# Parse only, never render: the same lexer settings as the renderer's sandbox.
_PARSER = Environment(keep_trailing_newline=True, autoescape=False)


def _unknown(*args: Any, **kwargs: Any) -> None:
    return None


class _AnyName(dict[str, Any]):
    """Filters/tests table that accepts any name, so discovery works on foreign templates."""

    def get(self, key: str, default: Any = None) -> Any:
        return super().get(key) or _unknown


_DISCOVERY = Environment(keep_trailing_newline=True, autoescape=False)
_DISCOVERY.filters = _AnyName(_DISCOVERY.filters)
_DISCOVERY.tests = _AnyName(_DISCOVERY.tests)


def replace_outputs(body: str, replacement: Callable[[list[tuple[str, str]]], str | None]) -> str:
    """``body`` with each ``{{ ... }}`` tag for which ``replacement`` gives Jinja text replaced.

    ``replacement`` sees the tag's tokens as ``(type, value)`` without whitespace (``parts.x`` is
    ``[("name", "parts"), ("operator", "."), ("name", "x")]``) and returns None to keep the tag.
    Tags inside ``{% raw %}`` or comments are text, not tags, and are never offered. The body is
    rebuilt from its tokens, in which whitespace that a ``-`` marker strips is already gone, so a
    replaced ``{{- x -}}`` tag keeps its effect on the text around it. Raises
    ``TemplateSyntaxError`` for a body the lexer rejects.
    """
    out: list[str] = []
    tag: list[tuple[str, str]] = []
    inside = False
    changed = False
    for _, kind, value in _PARSER.lexer.tokeniter(body, None):
        if kind == "variable_begin":
            inside, tag = True, [(kind, value)]
            continue
        if not inside:
            out.append(value)
            continue
        tag.append((kind, value))
        if kind != "variable_end":
            continue
        inside = False
        found = replacement([(k, v) for k, v in tag[1:-1] if k != "whitespace"])
        if found is None:
            out.extend(v for _, v in tag)
        else:
            out.append(found)
            changed = True
    return "".join(out) if changed else body


def used_variables(body: str) -> set[str]:
    """Free variables of a body, also when it uses filters Jinja lacks (Nunjucks' ``load``).

    Raises ``TemplateSyntaxError`` for a body that does not parse, nested too deeply included
    (Jinja's parser recurses: a RecursionError was a traceback out of the importers).
    """
    try:
        tree = _DISCOVERY.parse(body)
    except RecursionError:
        raise TemplateSyntaxError("nested too deeply (recursion limit reached)", 1) from None
    return set(meta.find_undeclared_variables(tree)) - SANDBOX_NAMES


@dataclass(frozen=True)
class Var:
    """A bare ``{{ name }}`` placeholder."""

    name: str


Segment = str | Var


def segments(body: str) -> list[Segment] | None:
    """Text and variables of a body, or None when it has any other Jinja construct or is invalid."""
    try:
        tree = _PARSER.parse(body)
    except TemplateSyntaxError:
        return None
    out: list[Segment] = []
    for node in tree.body:
        if not isinstance(node, nodes.Output):
            return None
        for child in node.nodes:
            if isinstance(child, nodes.TemplateData):
                piece: Segment = child.data
            elif isinstance(child, nodes.Const) and isinstance(child.value, str):
                piece = child.value
            elif isinstance(child, nodes.Name) and child.ctx == "load":
                piece = Var(child.name)
            else:
                return None
            if isinstance(piece, str) and out and isinstance(out[-1], str):
                out[-1] += piece
            elif piece != "":
                out.append(piece)
    return out


def from_segments(parts: list[Segment]) -> str:
    """The Jinja body for text and variables (text escaped so it renders verbatim)."""
    return "".join(literal(p) if isinstance(p, str) else "{{ " + p.name + " }}" for p in parts)


def plain_text(message: Message) -> str | None:
    """The exact text a message renders to when it has no variables, else None."""
    if message.literal:
        return message.content
    parts = segments(message.content)
    if parts is None or any(isinstance(p, Var) for p in parts):
        return None
    return "".join(p for p in parts if isinstance(p, str))


def message_segments(message: Message) -> list[Segment] | None:
    """A message's body as text and variables (a literal message is one text segment)."""
    if message.literal:
        return [message.content] if message.content else []
    return segments(message.content)
