"""Library bundles: many templates (and presets) in one JSON or YAML file; Markdown for reading.

A bundle is ``{"format_version": 1, "kind": "prompt-workbench-bundle", "templates": [...],
"library_keys": [...], "presets": [...]}`` where each template is written exactly as a template
file holds it, so a bundle round-trips every field. ``library_keys`` (optional, one per template,
a key or null) is where each template was in the exported library (``collection/name``), so an
import can rebuild the same structure; readers that predate it warn that it is unknown and
ignore it, which is why it did not need a new ``format_version``. A newer ``format_version`` is
refused with a clear message; a template that does not validate is reported with its line and
the others are still imported.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

from pydantic import ValidationError

from workbench.core.errors import KnownError, TemplateError
from workbench.core.models import PromptTemplate
from workbench.core.params import Preset
from workbench.core.template_files import to_data
from workbench.core.templates import COMPONENT_NAMES, parse
from workbench.storage.formats.flatten import flatten
from workbench.storage.formats.results import ExportError, ImportResult, Problems
from workbench.storage.formats.yamlsrc import Doc, describe, dump_yaml, load_json, load_yaml
from workbench.storage.library_records import normalise_key

BUNDLE_VERSION = 1
KIND = "prompt-workbench-bundle"


def bundle_data(
    templates: list[PromptTemplate],
    presets: list[Preset] | None = None,
    keys: Sequence[str | None] = (),
) -> dict[str, Any]:
    """The bundle; ``keys`` (one per template, when given) are their library keys."""
    if keys and len(keys) != len(templates):
        raise ValueError(f"{len(keys)} keys for {len(templates)} templates")
    data: dict[str, Any] = {
        "format_version": BUNDLE_VERSION,
        "kind": KIND,
        "templates": [to_data(t) for t in templates],
    }
    if any(keys):
        data["library_keys"] = list(keys)
    if presets:
        data["presets"] = [
            {
                "name": p.name,
                "description": p.description,
                "params": p.params.model_dump(exclude_defaults=True),
            }
            for p in presets
        ]
    return data


def export_bundle_json(
    templates: list[PromptTemplate],
    presets: list[Preset] | None = None,
    keys: Sequence[str | None] = (),
) -> str:
    return json.dumps(bundle_data(templates, presets, keys), ensure_ascii=False, indent=2) + "\n"


def export_bundle_yaml(
    templates: list[PromptTemplate],
    presets: list[Preset] | None = None,
    keys: Sequence[str | None] = (),
) -> str:
    return dump_yaml(bundle_data(templates, presets, keys))


def import_bundle_json(text: str, source: str) -> ImportResult:
    problems = Problems(source)
    doc = load_json(text, problems)
    return _read_bundle(doc, problems, "bundle-json")


def import_bundle_yaml(text: str, source: str) -> ImportResult:
    problems = Problems(source)
    doc = load_yaml(text, problems)
    return _read_bundle(doc, problems, "bundle-yaml")


def _validation_message(err: ValidationError) -> tuple[tuple[int | str, ...], str]:
    first = err.errors()[0]
    loc = tuple(first["loc"])
    where = ".".join(str(p) for p in loc)
    return loc, f"{where}: {first['msg']}" if where else first["msg"]


def body_line(doc: Doc, path: tuple[str | int, ...], inner_line: int | None) -> int | None:
    """File line of line ``inner_line`` inside the string at ``path`` (exact for ``|`` blocks)."""
    start = doc.line(*path)
    if start is None or inner_line is None:
        return start
    if doc.style(*path) in ("|", ">"):
        return start + inner_line  # the block's text starts on the line after the indicator
    return start + inner_line - 1 if doc.style(*path) is None else start


def check_bodies(
    template: PromptTemplate, doc: Doc, path: tuple[str | int, ...], problems: Problems
) -> None:
    """Warn about Jinja syntax errors in a template's bodies, at their file line."""
    for i, message in enumerate(template.messages):
        if message.literal:
            continue
        try:
            parse(message.content)
        except TemplateError as err:
            line = body_line(doc, (*path, "messages", i, "content"), err.line)
            problems.warn(line, f"template '{template.name}', message {i + 1}: {err.reason}")
    if template.mode == "completion":
        try:
            parse(template.text)
        except TemplateError as err:
            problems.warn(
                body_line(doc, (*path, "text"), err.line),
                f"template '{template.name}': {err.reason}",
            )


def _read_bundle(doc: Doc | None, problems: Problems, fmt: str) -> ImportResult:
    result = ImportResult(format=fmt)
    result.problems = problems.items
    if doc is None:
        return result
    data = doc.data
    if not isinstance(data, dict):
        problems.error(
            doc.line(),
            "a bundle must be a mapping with 'format_version' and 'templates', "
            f"not {describe(data)}",
        )
        return result
    version = data.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool):
        problems.error(doc.line("format_version"), "missing or invalid 'format_version'")
        return result
    if version > BUNDLE_VERSION:
        problems.error(
            doc.line("format_version"),
            f"format_version {version} is newer than this app reads ({BUNDLE_VERSION}); "
            "update Prompt Workbench",
        )
        return result
    known = {"format_version", "kind", "templates", "library_keys", "presets"}
    for key in data:
        if key not in known:
            problems.warn(doc.key_line(key), f"unknown key '{key}' ignored")
    templates = data.get("templates", [])
    if not isinstance(templates, list):
        problems.error(
            doc.line("templates"), f"'templates' must be a list, not {describe(templates)}"
        )
        templates = []
    keys = _library_keys(doc, len(templates), problems)
    for i, item in enumerate(templates):
        try:
            template = PromptTemplate.model_validate(item)
        except ValidationError as err:
            loc, reason = _validation_message(err)
            name = item.get("name") if isinstance(item, dict) else None
            label = f"template '{name}'" if isinstance(name, str) else f"template {i + 1}"
            problems.error(doc.line("templates", i, *loc), f"{label} not imported: {reason}")
            continue
        check_bodies(template, doc, ("templates", i), problems)
        result.templates.append(template)
        if keys:
            result.keys.append(keys[i])
    presets = data.get("presets", [])
    if not isinstance(presets, list):
        problems.error(doc.line("presets"), f"'presets' must be a list, not {describe(presets)}")
        presets = []
    for i, item in enumerate(presets):
        try:
            result.presets.append(Preset.model_validate(item))
        except ValidationError as err:
            loc, reason = _validation_message(err)
            problems.error(doc.line("presets", i, *loc), f"preset {i + 1} not imported: {reason}")
    return result


def _library_keys(doc: Doc, count: int, problems: Problems) -> list[str | None]:
    """The bundle's ``library_keys``, one per template; a bad key is reported and left out."""
    data = doc.data.get("library_keys") if isinstance(doc.data, dict) else None
    if data is None:
        return []
    if not isinstance(data, list) or len(data) != count:
        problems.warn(
            doc.line("library_keys"),
            f"'library_keys' must be a list of {count} keys, one per template; ignored",
        )
        return []
    keys: list[str | None] = []
    for i, key in enumerate(data):
        try:
            keys.append(None if key is None else normalise_key(str(key)))
        except KnownError as err:
            problems.warn(
                doc.line("library_keys", i), f"{err.message}; the template goes in the collection"
            )
            keys.append(None)
    return keys


# --- Markdown (export only) ------------------------------------------------------------------


def _fence(text: str) -> str:
    """A backtick fence longer than any run of backticks inside ``text``."""
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    return "`" * max(3, longest + 1)


def _block(text: str, info: str = "") -> str:
    fence = _fence(text)
    body = text if text.endswith("\n") else text + "\n"
    return f"{fence}{info}\n{body}{fence}\n"


def _params_line(template: PromptTemplate) -> str:
    values = template.parameters.set_values()
    return ", ".join(f"{k} {v}" for k, v in values.items())


def _readable(template: PromptTemplate) -> PromptTemplate:
    """The template with its components written into the bodies, so each body reads as the text
    it sends; one whose bodies use ``parts`` otherwise is shown as written, components apart."""
    try:
        return flatten(template, "Markdown", examples=False).template
    except ExportError:
        return template


def export_markdown(templates: list[PromptTemplate], title: str = "Prompt library") -> str:
    """A readable document of the templates (bodies in fenced blocks, components written into
    them; the few-shot examples listed after them)."""
    out = [f"# {title}\n"]
    for template in templates:
        shown = _readable(template)
        out.append(f"\n## {template.name}\n")
        if template.description:
            out.append(f"\n{template.description}\n")
        facts = [f"Technique: {template.technique}", f"Mode: {template.mode}"]
        if template.tags:
            facts.append("Tags: " + ", ".join(template.tags))
        if params := _params_line(template):
            facts.append(f"Parameters: {params}")
        out.append("\n" + " · ".join(facts) + "\n")
        if template.variables:
            out.append("\n**Variables**\n\n")
            for v in template.variables:
                line = f"- `{v.name}`"
                if v.description:
                    line += f": {v.description}"
                if v.default is not None:
                    line += f" (default: `{v.default}`)"
                out.append(line + "\n")
        for name in COMPONENT_NAMES:
            if source := getattr(shown.components, name):
                out.append(f"\n**Component `parts.{name}`**\n\n" + _block(source, "jinja"))
        if template.mode == "completion":
            out.append("\n**Prompt**\n\n" + _block(shown.text, "jinja"))
        for m in shown.messages:
            kind = "text" if m.literal else "jinja"
            out.append(f"\n**{m.role}**\n\n" + _block(m.content, kind))
        if template.examples:
            out.append("\n**Examples**\n")
            for n, ex in enumerate(template.examples, 1):
                out.append(
                    f"\n{n}. Input:\n\n" + _block(ex.input) + "\n   Output:\n\n" + _block(ex.output)
                )
    return "".join(out)
