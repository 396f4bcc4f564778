"""Prompty files (``.prompty``): YAML front matter between ``---`` lines, then a Jinja body.

The body is split into messages as the prompty runtime (2.x) splits it: a line that is only a role
and a colon (``system:``, ``user:``, ``assistant:``, ``developer:``, optionally ``# user:``) starts
a message, text before the first one is the system message, lines are joined with ``\\n`` and
blank lines at the start and end of each message are dropped. prompty renders first and splits
after, so a role marker produced by the template itself (a loop over chat history) cannot become
a fixed message: that is reported.

Front matter in both generations of the spec is read. 2.x: ``model.options`` (camelCase
``maxOutputTokens``, ``topP``, ``stopSequences`` ...), ``inputs`` as a list or mapping of
properties (``kind``, ``description``, ``default``, ``example``), ``template.format``,
``metadata.tags``. 1.x: ``model.api``, ``model.parameters``, ``inputs`` with ``type``, ``sample``.
Input examples and ``sample`` become a test case. A template's tools travel in OpenAI's shape
where each generation passes extra API arguments (2.x ``model.options.additionalProperties``,
1.x ``model.parameters``). Keys with no workbench equivalent (connections, the 2.x top-level
``tools`` of agents, outputs, authors) are reported. Export writes the 2.x form.
"""

from __future__ import annotations

import re
from typing import Any

from jinja2 import TemplateSyntaxError
from pydantic import ValidationError

from workbench.core.experiments import TestCase
from workbench.core.models import Message, Params, PromptTemplate, Role, Variable
from workbench.core.templates import RESERVED_NAMES, literal
from workbench.core.tools import Tool
from workbench.storage.formats.flatten import flatten
from workbench.storage.formats.jinjatext import used_variables
from workbench.storage.formats.results import Export, ExportError, ImportResult, Problems
from workbench.storage.formats.tool_config import TOOL_KEYS, read_tools, tools_config
from workbench.storage.formats.yamlsrc import Doc, describe, dump_yaml, load_yaml

_BOUNDARY = re.compile(
    r"(?i)^\s*#?\s*(assistant|developer|function|system|tools|user)"
    r"(\[(?:\w+\s*=\s*(?:\"[^\"]*\"|[^\",\]]*)\s*,?\s*)+\])?\s*:\s*$"
)
_EXPRESSION_MARKER = re.compile(r"^\s*\{\{[^{}]*\}\}\s*:\s*$")
_ROLES: dict[str, Role] = {
    "system": "system",
    "user": "user",
    "assistant": "assistant",
    "developer": "system",
}
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_KNOWN = {"name", "description", "model", "inputs", "sample", "template", "metadata", "tags"}
#: 2.x ``model.options`` names → workbench parameters.
OPTIONS = {
    "temperature": "temperature",
    "maxOutputTokens": "max_tokens",
    "topP": "top_p",
    "topK": "top_k",
    "frequencyPenalty": "frequency_penalty",
    "presencePenalty": "presence_penalty",
    "seed": "seed",
    "stopSequences": "stop",
}
_OTHER_BREAKS = re.compile("[\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]")


def split_front_matter(text: str) -> tuple[str, int, str, int] | None:
    """``(front matter, its first line, body, body's first line)``; None without front matter."""
    lines = text.split("\n")
    first = next((i for i, row in enumerate(lines) if row.strip()), None)
    if first is None or lines[first].strip() not in ("---", "+++"):
        return None
    for end in range(first + 1, len(lines)):
        if lines[end].strip() in ("---", "+++"):
            body = "\n".join(lines[end + 1 :])
            stripped = body.lstrip()  # prompty skips the whitespace after the closing '---'
            skipped = body[: len(body) - len(stripped)].count("\n")
            return "\n".join(lines[first + 1 : end]), first + 2, stripped, end + 2 + skipped
    return None


def parse_body(body: str) -> list[tuple[str, str, int]]:
    """``(role, content, line of its marker or 1)`` for each message, as prompty splits them."""
    sections: list[tuple[str, str, int]] = []
    role, start = "system", 1
    buffer: list[str] = []
    for n, row in enumerate(body.splitlines(), 1):
        match = _BOUNDARY.match(row.strip())
        if match:
            if buffer:
                sections.append((role, "\n".join(buffer).strip("\n"), start))
            role, buffer, start = match.group(1).lower(), [], n
        else:
            buffer.append(row)
    if buffer:
        sections.append((role, "\n".join(buffer).strip("\n"), start))
    return sections


def _params(doc: Doc, model: dict[str, Any], problems: Problems) -> Params:
    values: dict[str, Any] = {}
    if isinstance(model.get("options"), dict):
        options = dict(model["options"])
        extra = options.pop("additionalProperties", None) or {}
        for key, value in options.items():
            if key in OPTIONS:
                values[OPTIONS[key]] = value
            else:
                problems.warn(doc.line("model", "options", key), f"model.options.{key} not kept")
        for key, value in extra.items() if isinstance(extra, dict) else ():
            if key in TOOL_KEYS:
                continue  # read by ``_tools``
            if key in Params.model_fields:
                values[key] = value
            else:
                problems.warn(doc.line("model", "options"), f"additionalProperties.{key} not kept")
    if isinstance(model.get("parameters"), dict):
        for key, value in model["parameters"].items():
            if key in TOOL_KEYS:
                continue
            if key in Params.model_fields:
                values[key] = value
            else:
                problems.warn(
                    doc.line("model", "parameters", key), f"model.parameters.{key} not kept"
                )
    if isinstance(values.get("stop"), str):
        values["stop"] = [values["stop"]]
    try:
        return Params.model_validate(values)
    except ValidationError as err:
        first = err.errors()[0]
        problems.error(doc.line("model"), f"model {first['loc'][0]}: {first['msg']}; not kept")
        return Params()


def _tools(doc: Doc, model: dict[str, Any], problems: Problems) -> tuple[list[Tool], str] | None:
    """Tools in OpenAI's shape, where each generation passes extra API arguments: 2.x
    ``model.options.additionalProperties``, 1.x ``model.parameters``."""
    options = model.get("options")
    extra = options.get("additionalProperties") if isinstance(options, dict) else None
    places: list[tuple[Any, tuple[str, ...]]] = [
        (extra, ("model", "options", "additionalProperties")),
        (model.get("parameters"), ("model", "parameters")),
    ]
    for config, path in places:
        if isinstance(config, dict) and any(k in config for k in TOOL_KEYS):
            return read_tools(config, doc, path, problems, ".".join(path))
    return None


def _inputs(doc: Doc, value: Any, problems: Problems) -> tuple[list[Variable], dict[str, str]]:
    """Variables and example values from ``inputs`` (a mapping or a 2.x list of properties)."""
    if value is None:
        return [], {}
    if isinstance(value, dict):
        items = [(k, v, doc.line("inputs", k)) for k, v in value.items()]
    elif isinstance(value, list):
        items = [
            (v.get("name") if isinstance(v, dict) else None, v, doc.line("inputs", i))
            for i, v in enumerate(value)
        ]
    else:
        problems.error(
            doc.line("inputs"), f"inputs must be a mapping or a list, not {describe(value)}"
        )
        return [], {}
    variables, examples = [], {}
    for name, spec, line in items:
        if not isinstance(name, str) or not _NAME.match(name):
            problems.error(line, f"input {name!r} is not a valid variable name; not imported")
            continue
        if not isinstance(spec, dict):  # the short form: name: example value
            spec = {"example": spec}
        default, example = spec.get("default"), spec.get("example")
        for key, item in (("default", default), ("example", example)):
            if isinstance(item, list | dict):
                problems.warn(line, f"input '{name}': structured {key} not kept")
        if example is not None and not isinstance(example, list | dict):
            examples[name] = str(example)
        keep_default = default is not None and not isinstance(default, list | dict)
        variables.append(
            Variable(
                name=name,
                description=str(spec.get("description") or ""),
                default=str(default) if keep_default else None,
            )
        )
    return variables, examples


def _template_kind(value: Any) -> str:
    if isinstance(value, dict):
        fmt = value.get("format", "jinja2")
        return str(fmt.get("kind", "jinja2") if isinstance(fmt, dict) else fmt)
    return str(value or "jinja2")


def _messages(body: str, body_line: int, problems: Problems) -> list[Message]:
    messages = []
    for role, content, line in parse_body(body):
        at = body_line + line - 1
        if role not in _ROLES:
            problems.error(at, f"'{role}:' section not imported (roles: system, user, assistant)")
            continue
        if role == "developer":
            problems.warn(at, "'developer:' read as a system message")
        if any(_EXPRESSION_MARKER.match(row) for row in content.split("\n")):
            problems.warn(
                at,
                f"the {role} message has a '{{{{ ... }}}}:' line: prompty makes role markers that "
                "a template prints into new messages; here it stays text",
            )
        messages.append(Message(role=_ROLES[role], content=content))
    return messages


def import_prompty(text: str, source: str) -> ImportResult:
    problems = Problems(source)
    result = ImportResult(format="prompty")
    result.problems = problems.items
    split = split_front_matter(text)
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
    extra: dict[str, Any] = meta["metadata"] if isinstance(meta.get("metadata"), dict) else {}
    for key in extra:
        if key != "tags":
            problems.warn(doc.key_line("metadata", key), f"'metadata.{key}' not kept")
    model: Any = meta.get("model") or {}
    if isinstance(model, str):
        problems.warn(doc.line("model"), f"model '{model}' not kept (choose it when running)")
        model = {}
    if not isinstance(model, dict):
        problems.error(doc.line("model"), f"model must be a mapping, not {describe(model)}")
        model = {}
    for key in model:
        if key not in ("api", "apiType", "parameters", "options"):
            problems.warn(
                doc.key_line("model", key), f"model.{key} not kept (choose it when running)"
            )
    params = _params(doc, model, problems)
    tools = _tools(doc, model, problems)
    variables, examples = _inputs(doc, meta.get("inputs"), problems)
    kind = _template_kind(meta.get("template"))
    if kind != "jinja2":
        problems.warn(doc.line("template"), f"template format '{kind}' read as Jinja")
    try:
        used = used_variables(body)
    except TemplateSyntaxError as err:
        problems.error(body_line + (err.lineno or 1) - 1, f"not valid Jinja: {err.message}")
        return result
    declared = {v.name for v in variables}
    variables += [
        Variable(name=n) for n in sorted(used - declared - RESERVED_NAMES) if _NAME.match(n)
    ]
    tags = meta.get("tags", extra.get("tags", []))
    fields: dict[str, Any] = {
        "name": str(
            meta.get("name") or source.rsplit("/", 1)[-1].removesuffix(".prompty") or "prompty"
        ),
        "description": str(meta.get("description") or ""),
        "tags": [str(t) for t in tags] if isinstance(tags, list) else [],
        "parameters": params,
        "variables": variables,
    }
    if tools is not None:
        fields["tools"], fields["tool_choice"] = tools
    if model.get("api") == "completion":
        fields.update(mode="completion", text=body)
    else:
        fields["messages"] = _messages(body, body_line, problems)
    try:
        result.templates.append(PromptTemplate.model_validate(fields))
    except ValidationError as err:
        problems.error(1, f"not imported: {err.errors()[0]['msg']}")
        return result
    sample = meta.get("sample")
    if isinstance(sample, dict):
        examples = {**examples, **{str(k): str(v) for k, v in sample.items()}}
    elif sample is not None:
        problems.warn(doc.line("sample"), "a sample file is not read; give the sample inline")
    if examples:
        result.tests.append(TestCase(description="sample", vars=examples))
    return result


def _body(message: Message, template: str, warnings: list[str]) -> str:
    text = message.content
    content = literal(text) if message.literal else text
    if any(_BOUNDARY.match(row.strip()) for row in text.splitlines()):
        raise ExportError(
            f"template '{template}': a {message.role} message has a line "
            "prompty reads as a role marker"
        )
    if text != text.strip("\n"):
        warnings.append(
            f"'{template}': prompty drops blank lines at the start and end of a message"
        )
    if _OTHER_BREAKS.search(text):
        warnings.append(
            f"'{template}': prompty turns \\r and other line separators into line breaks"
        )
    return content


def export_prompty(template: PromptTemplate) -> Export:
    """A 2.x prompty file; parameters outside ``model.options``, and tools, go to
    ``additionalProperties``.

    Components and few-shot examples are written into the body (``flatten``)."""
    warnings: list[str] = []
    front: dict[str, Any] = {"name": template.name}
    if template.description:
        front["description"] = template.description
    if template.tags:
        front["metadata"] = {"tags": list(template.tags)}
    model: dict[str, Any] = {"apiType": "chat"}
    params = template.parameters.set_values()
    tools = tools_config(template, warnings, "prompty")
    if params or tools:
        reverse = {v: k for k, v in OPTIONS.items()}
        options = {reverse[k]: v for k, v in params.items() if k in reverse}
        extra = {k: v for k, v in params.items() if k not in reverse} | tools
        if extra:
            options["additionalProperties"] = extra
        model["options"] = options
    front["model"] = model
    if template.variables:
        front["inputs"] = {
            v.name: {
                "kind": "string",
                **({"description": v.description} if v.description else {}),
                **({"default": v.default} if v.default is not None else {}),
            }
            for v in template.variables
        }
    front["template"] = {"format": "jinja2", "parser": "prompty"}
    flat = flatten(template, "prompty")
    warnings += flat.warnings
    template = flat.template
    if template.mode == "completion":
        warnings.append("prompty has no completion API: the prompt is written as one user message")
        messages = [Message(role="user", content=template.text)]
    else:
        messages = template.messages
    body = "\n".join(f"{m.role}:\n{_body(m, template.name, warnings)}\n" for m in messages)
    return Export(f"---\n{dump_yaml(front)}---\n{body}", warnings)
