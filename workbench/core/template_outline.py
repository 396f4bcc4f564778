"""A template as readable text, for comparing two of its versions word by word.

The file text (YAML) can be diffed as it is (``core.diff.diff_versions``), but a person comparing
versions reads prompts and settings, not YAML syntax: here each message stands under its role,
then come the technique's parts and examples, then every other setting on one line each
("parameters: temperature 0.7 · max_tokens 256"). Every field the file holds is rendered (from
``template_files.to_data``), so no change between two versions can hide. ``changes`` names what
differs between two versions, for a one-line summary above the diff.
"""

from __future__ import annotations

import json
from typing import Any

from workbench.core.models import PromptTemplate
from workbench.core.template_files import to_data

#: Fields drawn as blocks of text (in this order), not as one-line settings.
_BLOCKS = ("messages", "text", "components", "examples", "grammar")
#: Fields that are not part of what a version says.
_SKIP = ("format_version",)
#: How a field is named in a summary, where its key would read badly.
_NAMES = {
    "text": "prompt text",
    "few_shot": "few-shot settings",
    "answer_pattern": "answer pattern",
    "output_schema": "output schema",
}
_UNSET = "—"


def _heading(title: str) -> str:
    return f"── {title} ──"


def _scalar(value: Any) -> str:
    """A value as it would be typed: plain words unquoted, anything ambiguous as JSON."""
    if isinstance(value, str):
        plain = value and value == value.strip() and "\n" not in value and '"' not in value
        return value if plain else json.dumps(value, ensure_ascii=False)
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return json.dumps(value)


def _variable(data: dict[str, Any]) -> str:
    extras = []
    if "default" in data:
        extras.append(f"default {_scalar(data['default'])}")
    if data.get("multiline"):
        extras.append("multi-line")
    if data.get("description"):
        extras.append(_scalar(data["description"]))
    return f"{data['name']} ({', '.join(extras)})" if extras else str(data["name"])


def _setting(key: str, value: Any) -> str:
    """One line: ``parameters: temperature 0.7 · stop "\\n\\n"``, ``tags: a, b``."""
    if key == "variables":
        return f"variables: {' · '.join(_variable(v) for v in value)}"
    if isinstance(value, dict):
        if key == "output_schema":
            return f"{key}: {_scalar(value)}"
        return f"{key}: {' · '.join(f'{k} {_scalar(v)}' for k, v in value.items())}"
    if isinstance(value, list):
        return f"{key}: {', '.join(_scalar(v) for v in value)}"
    return f"{key}: {_scalar(value)}"


def _message_titles(messages: list[dict[str, Any]]) -> list[str]:
    """Titles such as "system", "user", "user 2": a role is numbered only where it repeats."""
    counts: dict[str, int] = {}
    titles = []
    for message in messages:
        role = message["role"]
        counts[role] = counts.get(role, 0) + 1
        titles.append(role if counts[role] == 1 else f"{role} {counts[role]}")
    return titles


def _blocks(data: dict[str, Any]) -> list[str]:
    blocks = []
    messages = data.get("messages", [])
    for title, message in zip(_message_titles(messages), messages, strict=True):
        literal = " (literal)" if message.get("literal") else ""
        blocks.append(f"{_heading(title + literal)}\n{message['content']}")
    if "text" in data:
        blocks.append(f"{_heading('prompt text')}\n{data['text']}")
    for part, body in data.get("components", {}).items():
        blocks.append(f"{_heading(part.replace('_', ' '))}\n{body}")
    for number, example in enumerate(data.get("examples", []), 1):
        lines = [
            f"{field}: {example[field]}"
            for field in ("input", "output", "rationale")
            if field in example
        ]
        blocks.append(f"{_heading(f'example {number}')}\n" + "\n".join(lines))
    if "grammar" in data:  # lines of its own, so a version diff shows the rules that changed
        blocks.append(f"{_heading('grammar (GBNF)')}\n{data['grammar']}")
    return blocks


def outline(template: PromptTemplate) -> str:
    """The whole template as text: message blocks, then one line per setting."""
    data = to_data(template)
    shown = {**data, "technique": template.technique}  # "zero-shot" is worth reading too
    settings = [
        _setting(key, shown[key])
        for key in PromptTemplate.model_fields
        if key in shown and key not in _BLOCKS and key not in _SKIP
    ]
    return "\n\n".join([*_blocks(data), f"{_heading('settings')}\n" + "\n".join(settings)])


def _short(value: Any) -> str:
    return _UNSET if value is None else _scalar(value)


def _from_to(name: str, old: Any, new: Any) -> str:
    """``technique zero-shot → few-shot`` when both fit in a glance, else only the name."""
    a, b = _short(old), _short(new)
    return f"{name} {a} → {b}" if len(a) <= 24 and len(b) <= 24 else name


def _message_changes(old: list[dict[str, Any]], new: list[dict[str, Any]]) -> list[str]:
    found = []
    old_titles, new_titles = _message_titles(old), _message_titles(new)
    for index in range(max(len(old), len(new))):
        if index >= len(old):
            found.append(f"{new_titles[index]} message added")
        elif index >= len(new):
            found.append(f"{old_titles[index]} message removed")
        elif old[index] != new[index]:
            found.append(f"{new_titles[index]} message")
    return found


def _variable_changes(old: list[dict[str, Any]], new: list[dict[str, Any]]) -> str:
    before = {v["name"]: v for v in old}
    after = {v["name"]: v for v in new}
    parts = [f"+{name}" for name in after if name not in before]
    parts += [f"−{name}" for name in before if name not in after]
    parts += [f"~{name}" for name in after if name in before and before[name] != after[name]]
    if not parts and list(before) != list(after):
        parts.append("order")
    return f"variables ({', '.join(parts)})"


def changes(old: PromptTemplate, new: PromptTemplate) -> list[str]:
    """What differs from ``old`` to ``new``, in the order the outline shows it: ``["user
    message", "temperature 0.7 → 0.2", "technique zero-shot → few-shot", "variables (+n)"]``."""
    a, b = old.model_dump(mode="json"), new.model_dump(mode="json")  # defaults included
    found = _message_changes(a["messages"], b["messages"])
    for key in a:
        before, after = a[key], b[key]
        if before == after or key in _SKIP or key == "messages":
            continue
        if key == "parameters":
            found += [
                _from_to(name, value, after[name])
                for name, value in before.items()
                if value != after[name]
            ]
        elif key == "variables":
            found.append(_variable_changes(before, after))
        elif key == "examples":
            count_a, count_b = len(before), len(after)
            found.append(f"examples ({count_a} → {count_b})" if count_a != count_b else "examples")
        elif isinstance(before, (str, int, float, bool, type(None))) and isinstance(
            after, (str, int, float, bool, type(None))
        ):
            found.append(_from_to(_NAMES.get(key, key), before, after))
        else:
            found.append(_NAMES.get(key, key))
    return found
