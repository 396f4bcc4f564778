"""Prompty files (``.prompty``): YAML front matter between ``---`` lines, then a Jinja body.

The body is split into messages the way prompty's own chat parser does: a line that is only a
role name and a colon (``system:``, ``user:``, ``assistant:``, optionally ``# user:``) starts a new
message, text before the first one is the system message, and lines are joined with ``\\n``.
Front matter: ``name``, ``description``, ``tags`` (or ``metadata.tags``), ``model.api``
(chat or completion), ``model.parameters`` → parameters, ``inputs`` → variables (with type,
description and default), ``sample`` → a test case. Keys with no workbench equivalent
(``model.configuration``, ``authors``, ``outputs`` ...) are reported, not dropped silently.
"""

from __future__ import annotations

import re
from typing import Any

from jinja2 import TemplateSyntaxError
from pydantic import ValidationError

from workbench.core.experiments import TestCase
from workbench.core.models import Message, Params, PromptTemplate, Variable
from workbench.core.templates import RESERVED_NAMES
from workbench.storage.formats.jinjatext import from_segments, message_segments, used_variables
from workbench.storage.formats.results import Export, ExportError, ImportResult, Problems
from workbench.storage.formats.yamlsrc import describe, dump_yaml, load_yaml

_BOUNDARY = re.compile(
    r"(?i)^\s*#?\s*(assistant|function|system|user|tools)(\[((\w+)*\s*=\s*\"?([^\"]*)\"?\s*(,?)\s*)+\])?\s*:\s*$"
)
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
PARAMETERS = (
    "max_tokens",
    "temperature",
    "top_p",
    "stop",
    "frequency_penalty",
    "presence_penalty",
    "seed",
)
_KNOWN = {
    "name",
    "description",
    "tags",
    "model",
    "inputs",
    "sample",
    "template",
    "metadata",
    "$schema",
}
#: str.splitlines() breaks (prompty splits the body with it) other than \n, escaped on export.
_LINE_BREAKS = re.compile("[\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]")


def _split_front_matter(text: str) -> tuple[str, int, str, int] | None:
    """``(front matter, its first line, body, body's first line)``; None without front matter."""
    lines = text.split("\n")
    first = next((i for i, row in enumerate(lines) if row.strip()), None)
    if first is None or lines[first].strip() != "---":
        return None
    for end in range(first + 1, len(lines)):
        if lines[end].strip() == "---":
            body = "\n".join(lines[end + 1 :])
            # prompty's own reader skips the whitespace after the closing '---' (blank lines too)
            stripped = body.lstrip()
            skipped = body[: len(body) - len(stripped)].count("\n")
            return "\n".join(lines[first + 1 : end]), first + 2, stripped, end + 2 + skipped
    return None


def parse_body(body: str) -> list[tuple[str, str, int]]:
    """``(role, content, line)`` sections, as prompty's chat parser splits them."""
    sections: list[tuple[str, str, int]] = []
    role, start = "system", 1
    buffer: list[str] = []
    for n, row in enumerate(body.splitlines(), 1):
        match = _BOUNDARY.match(row)
        if match:
            if buffer:
                sections.append((role, "\n".join(buffer), start))
            role, buffer, start = match.group(1).lower(), [], n + 1
        else:
            buffer.append(row)
    if buffer:
        sections.append((role, "\n".join(buffer), start))
    return sections


def _params(value: Any, problems: Problems, line: int | None) -> Params:
    if not isinstance(value, dict):
        problems.error(line, f"model.parameters must be a mapping, not {describe(value)}")
        return Params()
    known = {
        k: ([v] if k == "stop" and isinstance(v, str) else v)
        for k, v in value.items()
        if k in Params.model_fields
    }
    dropped = sorted(str(k) for k in value if k not in Params.model_fields)
    if dropped:
        problems.warn(line, f"model.parameters not kept: {', '.join(dropped)}")
    try:
        return Params.model_validate(known)
    except ValidationError as err:
        first = err.errors()[0]
        problems.error(
            line, f"model.parameters.{first['loc'][0]}: {first['msg']}; parameters not kept"
        )
        return Params()


def _variables(inputs: Any, problems: Problems, line: int | None) -> list[Variable]:
    if inputs is None:
        return []
    if not isinstance(inputs, dict):
        problems.error(line, f"inputs must be a mapping, not {describe(inputs)}")
        return []
    out = []
    for name, spec in inputs.items():
        if not isinstance(name, str) or not _NAME.match(name):
            problems.error(line, f"input {name!r} is not a valid variable name; not imported")
            continue
        if isinstance(spec, dict):
            default = spec.get("default")
            description = str(spec.get("description") or "")
        else:  # the short form: name: sample value
            default, description = spec, ""
        if isinstance(default, list | dict):
            problems.warn(line, f"input '{name}': structured default not kept")
            default = None
        out.append(
            Variable(
                name=name,
                description=description,
                default=None if default is None else str(default),
            )
        )
    return out


def import_prompty(text: str, source: str) -> ImportResult:
    problems = Problems(source)
    result = ImportResult(format="prompty")
    result.problems = problems.items
    split = _split_front_matter(text)
    if split is None:
        problems.error(1, "a .prompty file starts with YAML front matter between '---' lines")
        return result
    front, front_line, body, body_line = split
    doc = load_yaml(front, problems, line_offset=front_line - 1)
    if doc is None:
        return result
    meta = doc.data if doc.data is not None else {}
    if not isinstance(meta, dict):
        problems.error(doc.line(), f"the front matter must be a mapping, not {describe(meta)}")
        return result
    for key in meta:
        if key not in _KNOWN:
            problems.warn(doc.key_line(key), f"'{key}' not kept")
    extra_meta: dict[str, Any] = meta["metadata"] if isinstance(meta.get("metadata"), dict) else {}
    for key in extra_meta:
        if key != "tags":
            problems.warn(doc.key_line("metadata", key), f"'metadata.{key}' not kept")
    model = meta.get("model") or {}
    if not isinstance(model, dict):
        problems.error(doc.line("model"), f"model must be a mapping, not {describe(model)}")
        model = {}
    for key in model:
        if key not in ("api", "parameters"):
            problems.warn(
                doc.key_line("model", key),
                f"model.{key} not kept (choose the backend and model when running)",
            )
    params = (
        _params(model["parameters"], problems, doc.line("model", "parameters"))
        if "parameters" in model
        else Params()
    )
    variables = _variables(meta.get("inputs"), problems, doc.line("inputs"))
    template_kind = meta.get("template", "jinja2")
    fmt = (
        template_kind.get("format", "jinja2") if isinstance(template_kind, dict) else template_kind
    )
    if fmt != "jinja2":
        problems.warn(
            doc.line("template"),
            f"template format '{fmt}' read as Jinja (simple {{{{name}}}} placeholders agree)",
        )

    try:
        used = used_variables(body)
    except TemplateSyntaxError as err:
        problems.error(body_line + (err.lineno or 1) - 1, f"not valid Jinja: {err.message}")
        return result
    declared = {v.name for v in variables}
    variables += [
        Variable(name=n) for n in sorted(used - declared - RESERVED_NAMES) if _NAME.match(n)
    ]
    name = meta.get("name") or re.sub(r"\.prompty$", "", source.rsplit("/", 1)[-1]) or "prompty"
    tags = meta.get("tags", extra_meta.get("tags", []))
    fields: dict[str, Any] = {
        "name": str(name),
        "description": str(meta.get("description") or ""),
        "tags": [str(t) for t in tags] if isinstance(tags, list) else [],
        "parameters": params,
        "variables": variables,
    }
    if model.get("api") == "completion":
        fields.update(mode="completion", text=body)
    else:
        messages = []
        for role, content, line in parse_body(body):
            if role not in ("system", "user", "assistant"):
                problems.error(
                    body_line + line - 2,
                    f"'{role}:' section not imported "
                    "(the workbench has system, user and assistant)",
                )
                continue
            messages.append(Message(role=role, content=content))  # type: ignore[arg-type]
        fields["messages"] = messages
    try:
        result.templates.append(PromptTemplate.model_validate(fields))
    except ValidationError as err:
        problems.error(1, f"not imported: {err.errors()[0]['msg']}")
        return result
    sample = meta.get("sample")
    if isinstance(sample, dict):
        result.tests.append(
            TestCase(description="sample", vars={str(k): str(v) for k, v in sample.items()})
        )
    elif sample is not None:
        problems.warn(doc.line("sample"), "a sample file is not read; give the sample inline")
    return result


def _prompty_body(message: Message, template: str) -> str:
    """A message's body with the characters prompty's line splitting would change made explicit."""
    if not message.literal and not _LINE_BREAKS.search(message.content):
        return message.content
    parts = message_segments(message)
    if parts is None:
        raise ExportError(
            f"template '{template}': a message has line-break characters prompty would change"
        )
    # literal() already spells \r as a Jinja string; the other breaks become Jinja strings here.
    return _LINE_BREAKS.sub(lambda m: "{{ " + repr(m.group(0)) + " }}", from_segments(parts))


def export_prompty(template: PromptTemplate) -> Export:
    warnings: list[str] = []
    front: dict[str, Any] = {"name": template.name}
    if template.description:
        front["description"] = template.description
    if template.tags:
        front["tags"] = list(template.tags)
    model: dict[str, Any] = {"api": template.mode}
    if params := template.parameters.set_values():
        model["parameters"] = params
        extra = sorted(set(params) - set(PARAMETERS))
        if extra:
            warnings.append(
                f"parameters outside prompty's schema written as given: {', '.join(extra)}"
            )
    front["model"] = model
    if template.variables:
        front["inputs"] = {
            v.name: {
                "type": "string",
                **({"description": v.description} if v.description else {}),
                **({"default": v.default} if v.default is not None else {}),
            }
            for v in template.variables
        }
    if template.examples or any(template.components.model_dump().values()):
        warnings.append("few-shot examples and components have no prompty equivalent")
    if template.mode == "completion":
        body = template.text
        if body != body.lstrip():
            warnings.append("prompty drops the whitespace at the start of the prompt")
    else:
        chunks = []
        for m in template.messages:
            content = _prompty_body(m, template.name)
            if any(
                _BOUNDARY.match(row) or row.strip().startswith("![thread]")
                for row in content.split("\n")
            ):
                raise ExportError(
                    f"template '{template.name}': a {m.role} message has a line "
                    "prompty reads as a role marker"
                )
            chunks.append(f"{m.role}:\n{content}\n")
        body = "".join(chunks)  # no blank line between sections: it would become part of the text
    return Export(f"---\n{dump_yaml(front)}---\n{body}", warnings)
