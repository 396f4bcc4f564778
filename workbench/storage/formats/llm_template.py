"""simonw/llm templates: YAML with ``system``, ``prompt``, ``defaults`` and ``options``.

llm fills ``$name`` / ``${name}`` placeholders with Python's ``string.Template`` (``$$`` is a
literal ``$``); ``$input`` is the text given on the command line or stdin. Its rules, kept here:
a template without ``prompt`` sends the input as the prompt; a ``prompt`` that does not use
``$input`` gets the input appended after a newline when there is one. The template's name is its
file name. ``model``, ``extract``, fragments, tools and attachments have no workbench equivalent
and are reported; ``schema_object`` becomes the output schema.
"""

from __future__ import annotations

import string
from typing import Any

from pydantic import ValidationError

from workbench.core.models import Message, Params, PromptTemplate, Variable
from workbench.storage.formats.flatten import flatten
from workbench.storage.formats.jinjatext import Segment, Var, from_segments, message_segments
from workbench.storage.formats.results import Export, ExportError, ImportResult, Problems
from workbench.storage.formats.yamlsrc import Doc, describe, dump_yaml, load_yaml

KEYS = {
    "name",
    "prompt",
    "system",
    "attachments",
    "attachment_types",
    "model",
    "defaults",
    "options",
    "extract",
    "extract_last",
    "schema_object",
    "fragments",
    "system_fragments",
    "tools",
    "functions",
}
_UNSUPPORTED = KEYS - {"name", "prompt", "system", "defaults", "options", "schema_object"}
#: Appended to a prompt that does not use $input: llm adds "\n" + input when input is given.
INPUT_TAIL = "{% if input %}\n{{ input }}{% endif %}"
_INPUT = Variable(
    name="input",
    description="the text given to llm (argument or stdin)",
    default="",
    multiline=True,
)


def dollar_segments(text: str, problems: Problems, line: int | None, where: str) -> list[Segment]:
    """``$name``, ``${name}`` and ``$$`` read as ``string.Template`` reads them."""
    parts: list[Segment] = []
    pos = 0

    def add(piece: Segment) -> None:
        if isinstance(piece, str) and parts and isinstance(parts[-1], str):
            parts[-1] += piece
        elif piece != "":
            parts.append(piece)

    for match in string.Template.pattern.finditer(text):
        add(text[pos : match.start()])
        pos = match.end()
        if match.group("escaped") is not None:
            add("$")
        elif (name := match.group("named") or match.group("braced")) is not None:
            add(Var(name))
        else:
            problems.warn(
                line,
                f"{where}: a '$' not followed by a name is read as text (llm itself rejects it)",
            )
            add("$")
    add(text[pos:])
    return parts


def _params(doc: Doc, options: Any, problems: Problems) -> Params:
    if not isinstance(options, dict):
        problems.error(doc.line("options"), f"options must be a mapping, not {describe(options)}")
        return Params()
    known = {}
    for key, value in options.items():
        if key in Params.model_fields:
            known[key] = [value] if key == "stop" and isinstance(value, str) else value
        else:
            problems.warn(doc.line("options", key), f"option '{key}' not kept")
    try:
        return Params.model_validate(known)
    except ValidationError as err:
        first = err.errors()[0]
        where = first["loc"][0]
        problems.error(
            doc.line("options", str(where)), f"options.{where}: {first['msg']}; options not kept"
        )
        return Params()


def import_llm_template(text: str, source: str) -> ImportResult:
    problems = Problems(source)
    result = ImportResult(format="llm-template")
    result.problems = problems.items
    doc = load_yaml(text, problems)
    if doc is None:
        return result
    data = {"prompt": doc.data} if isinstance(doc.data, str) else doc.data
    if not isinstance(data, dict):
        problems.error(
            doc.line(), f"an llm template is a mapping (or one prompt string), not {describe(data)}"
        )
        return result
    for key in data:
        if key not in KEYS:
            problems.warn(
                doc.key_line(key), f"unknown key '{key}' (llm itself refuses it); ignored"
            )
        elif key in _UNSUPPORTED:
            problems.warn(doc.key_line(key), f"'{key}' has no workbench equivalent; not kept")
    texts = {}
    for key in ("system", "prompt"):
        value = data.get(key)
        if value is not None and not isinstance(value, str):
            problems.error(doc.line(key), f"'{key}' must be text, not {describe(value)}")
            return result
        texts[key] = dollar_segments(value, problems, doc.line(key), key) if value else None
    system, prompt = texts["system"], texts["prompt"]
    if system is None and prompt is None:
        problems.error(doc.line(), "the template has neither 'system' nor 'prompt'")
        return result
    used = {p.name for parts in (system, prompt) if parts for p in parts if isinstance(p, Var)}
    messages = []
    if system:
        messages.append(Message(role="system", content=from_segments(system)))
    if prompt is None:
        messages.append(Message(role="user", content="{{ input }}"))
        used.add("input")
        input_var = _INPUT.model_copy(update={"default": None})
    elif "input" in used:
        messages.append(Message(role="user", content=from_segments(prompt)))
        input_var = _INPUT.model_copy(update={"default": None})
    else:
        messages.append(Message(role="user", content=from_segments(prompt) + INPUT_TAIL))
        used.add("input")
        input_var = _INPUT
    defaults = data.get("defaults") or {}
    if not isinstance(defaults, dict):
        problems.error(
            doc.line("defaults"), f"'defaults' must be a mapping, not {describe(defaults)}"
        )
        defaults = {}
    variables = [input_var]  # llm always sets input, so a default for it is never used
    for name in sorted(used - {"input"}):
        default = defaults.get(name)
        variables.append(Variable(name=name, default=None if default is None else str(default)))
    unused = sorted(set(map(str, defaults)) - used)
    if unused:
        problems.warn(
            doc.line("defaults"),
            f"defaults for variables the template does not use: {', '.join(unused)}",
        )
    schema = data.get("schema_object")
    name = source.rsplit("/", 1)[-1].removesuffix(".yaml").removesuffix(".yml") or "llm-template"
    params = _params(doc, data["options"], problems) if data.get("options") else Params()
    try:
        result.templates.append(
            PromptTemplate(
                name=name,
                messages=messages,
                variables=variables,
                parameters=params,
                output_schema=schema if isinstance(schema, dict) else None,
            )
        )
    except ValidationError as err:
        problems.error(1, f"not imported: {err.errors()[0]['msg']}")
    return result


def _dollar(parts: list[Segment]) -> str:
    out = []
    for i, part in enumerate(parts):
        if isinstance(part, Var):
            following = parts[i + 1] if i + 1 < len(parts) else ""
            glued = (
                isinstance(following, str)
                and following[:1].isascii()
                and (following[:1].isalnum() or following[:1] == "_")
            )
            out.append("${" + part.name + "}" if glued else "$" + part.name)
        else:
            out.append(part.replace("$", "$$"))
    return "".join(out)


def _parts(message: Message, template: str) -> list[Segment]:
    parts = message_segments(message)
    if parts is None:
        raise ExportError(
            f"template '{template}': the {message.role} message uses Jinja beyond "
            "{{ name }} placeholders, "
            "which llm templates cannot express"
        )
    return parts


def export_llm_template(template: PromptTemplate) -> Export:
    """An llm template; components and few-shot examples are written into the prompts."""
    flat = flatten(template, "llm template")
    warnings = flat.warnings
    template = flat.template
    data: dict[str, Any] = {}
    if template.mode == "completion":
        messages = [Message(role="user", content=template.text)]
    else:
        messages = list(template.messages)
    system = messages.pop(0) if messages and messages[0].role == "system" else None
    if len(messages) > 1 or (messages and messages[0].role != "user"):
        raise ExportError(
            f"template '{template.name}': an llm template holds one system and one user prompt"
        )
    if system is not None:
        data["system"] = _dollar(_parts(system, template.name))
    if messages:
        user = messages[0]
        if not user.literal and user.content.endswith(INPUT_TAIL):
            data["prompt"] = _dollar(
                _parts(
                    user.model_copy(update={"content": user.content[: -len(INPUT_TAIL)]}),
                    template.name,
                )
            )
        elif not (system is not None and not user.literal and user.content == "{{ input }}"):
            data["prompt"] = _dollar(_parts(user, template.name))
    defaults = {
        v.name: v.default for v in template.variables if v.default is not None and v.name != "input"
    }
    if defaults:
        data["defaults"] = defaults
    if options := template.parameters.set_values():
        data["options"] = options
    if template.output_schema is not None:
        data["schema_object"] = template.output_schema
    if template.description or template.tags:
        warnings.append("description and tags are not part of an llm template")
    return Export(dump_yaml(data), warnings)
