"""Multi-turn prompts: promptfoo's ``_conversation`` threads and chat prompts built at render time.

promptfoo gives a prompt that names ``_conversation`` the earlier turns of its thread, a list of
``{prompt, input, output}``: ``prompt`` is what was sent (the message list of a chat prompt, else
the text), ``input`` the last message's content and ``output`` the reply. A thread is every test
with the same ``metadata.conversationId`` (tests without one share one thread) for one prompt ×
provider, and, with repeats, one repeat; its tests run in order, threads run side by side.

A chat prompt whose message list is only known after rendering (a ``{% for %}`` over
``_conversation`` that emits messages) is kept as one message holding the whole Jinja body and
marked ``RENDERED_CHAT`` in the template's metadata: it is rendered first and parsed after. As in
promptfoo, a rendered text that is not a JSON (or YAML ``- role:``) message list is sent as one
user message.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import yaml

from workbench.core import safe_yaml
from workbench.core.experiments import ExperimentSpec
from workbench.core.models import PromptTemplate, RenderedMessage, Role, RunResult
from workbench.core.templates import context_for, render_text

CONVERSATION_VAR = "_conversation"
#: ``PromptTemplate.metadata`` key: the template's one message renders to a JSON chat list.
RENDERED_CHAT = "promptfoo_chat"
#: promptfoo's test metadata key naming a test's thread.
THREAD_ID = "conversationId"
_ROLES: dict[str, Role] = {
    "system": "system",
    "user": "user",
    "assistant": "assistant",
    "developer": "system",
}

CellKey = tuple[int, int, int]  # (variant, test, repeat), as services.evaluation has it


class _Array(list[Any]):
    """A list that also answers JavaScript's ``.length``, as promptfoo's prompts read it
    (``completion.prompt[completion.prompt.length - 1]``)."""

    @property
    def length(self) -> int:
        return len(self)


@dataclass(frozen=True)
class Turn:
    """One earlier turn of a thread: the messages sent and the reply."""

    messages: tuple[RenderedMessage, ...]
    output: str
    chat: bool = True  # sent as a chat list (else promptfoo's ``prompt`` is the text)

    @classmethod
    def of(cls, template: PromptTemplate, sent: Sequence[RenderedMessage], output: str) -> Turn:
        """A turn of ``template``; a one-message prompt not built as a chat list was text."""
        chat = is_rendered_chat(template) or len(template.messages) > 1
        return cls(tuple(sent), output, chat)

    def as_var(self) -> dict[str, Any]:
        """The turn as promptfoo's ``_conversation`` item."""
        last = self.messages[-1].content if self.messages else ""
        prompt: Any = _Array(m.model_dump() for m in self.messages) if self.chat else last
        return {"prompt": prompt, "input": last, "output": self.output}


def transcript_of(result: RunResult) -> list[RenderedMessage]:
    """What a multi-turn run sent, its reply last."""
    reply = RenderedMessage(role="assistant", content=result.text)
    return [*result.request.messages, reply]


def multi_turn(result: RunResult) -> list[RenderedMessage]:
    """``transcript_of`` a run that sent earlier replies (a thread's later turns); else []."""
    if any(m.role == "assistant" for m in result.request.messages):
        return transcript_of(result)
    return []


def is_rendered_chat(template: PromptTemplate) -> bool:
    return template.metadata.get(RENDERED_CHAT) == "json"


def uses_conversation(template: PromptTemplate) -> bool:
    """Whether the template reads ``_conversation`` (its cells then run as threads)."""
    bodies = [m.content for m in template.messages if not m.literal] + [template.text]
    return any(CONVERSATION_VAR in body for body in bodies)


def parse_chat(text: str) -> list[RenderedMessage] | None:
    """The messages of a rendered chat prompt, or None when it is not a message list."""
    stripped = text.strip()
    try:
        if stripped.startswith("["):
            data = json.loads(stripped)
        elif stripped.startswith("- role:"):
            data = safe_yaml.load(stripped)
        else:
            return None
    except (json.JSONDecodeError, RecursionError, yaml.YAMLError):
        return None
    if not isinstance(data, list) or not data:
        return None
    out = []
    for item in data:
        if not isinstance(item, dict) or item.get("role") not in _ROLES:
            return None
        content = item.get("content", "")
        if isinstance(content, list):  # OpenAI content parts: text only
            content = "".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
        out.append(RenderedMessage(role=_ROLES[item["role"]], content=str(content)))
    return out


def render_messages(
    template: PromptTemplate, values: Mapping[str, str], history: Sequence[Turn] = ()
) -> list[RenderedMessage]:
    """A chat template's messages with ``_conversation`` = ``history``; a ``RENDERED_CHAT``
    template is rendered, then parsed."""
    context = context_for(template, values)
    context[CONVERSATION_VAR] = _Array(turn.as_var() for turn in history)
    rendered = [
        RenderedMessage(
            role=m.role,
            content=m.content
            if m.literal
            else render_text(m.content, context, f"messages[{i}] ({m.role})"),
        )
        for i, m in enumerate(template.messages)
    ]
    if is_rendered_chat(template) and len(rendered) == 1:
        parsed = parse_chat(rendered[0].content)
        if parsed is not None:
            return parsed
    return rendered


def thread_units(spec: ExperimentSpec, cells: Iterable[CellKey]) -> list[list[CellKey]]:
    """``cells`` as units of work: the cells of one thread together, in test order (run one
    after another, each seeing the earlier ones' outputs); every other cell alone. Units keep
    the order of their first cell."""
    threaded = [uses_conversation(v.template) for v in spec.variants]
    units: list[list[CellKey]] = []
    threads: dict[tuple[int, int, str], list[CellKey]] = {}
    for key in cells:
        v, t, r = key
        if not threaded[v]:
            units.append([key])
            continue
        thread = (v, r, str(spec.tests[t].metadata.get(THREAD_ID, "")))
        if thread not in threads:
            threads[thread] = []
            units.append(threads[thread])
        threads[thread].append(key)
    for unit in units:
        unit.sort(key=lambda k: k[1])
    return units


def whole_threads(
    spec: ExperimentSpec, cells: Sequence[CellKey], todo: set[CellKey]
) -> set[CellKey]:
    """Every cell of a thread with a cell in ``todo``: a resumed thread runs again from its
    first turn, since each turn depends on the outputs before it."""
    out = set(todo)
    for unit in thread_units(spec, cells):
        if len(unit) > 1 and any(key in todo for key in unit):
            out.update(unit)
    return out
