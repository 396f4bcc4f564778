"""CSV prompt libraries (awesome-chatgpt-prompts and the like): one prompt per row.

Columns are found by their header (``act``/``prompt``, ``title``/``body``, ``name``/``content`` ...)
or given explicitly. A body is data, not a template: it becomes a ``literal`` user message, so
``{{ }}``, CRLF and any unicode come back byte for byte; ``as_jinja=True`` reads bodies as Jinja
instead (variables declared, syntax errors reported). A malformed row is reported with the
physical line where its record starts and skipped whole; every good row is still imported.
Columns no field takes go to each template's ``metadata`` and come back out on export, so an
import then an export loses nothing.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence

from jinja2 import TemplateSyntaxError

from workbench.core.models import Message, PromptTemplate, Variable
from workbench.core.records import csv_records
from workbench.core.templates import RESERVED_NAMES
from workbench.storage.formats.flatten import flatten
from workbench.storage.formats.jinjatext import plain_text, used_variables
from workbench.storage.formats.results import Export, ExportError, ImportResult, Problems

FIELDS = ("name", "body", "description", "tags")

#: Header names recognised for each field, most specific first (compared case-insensitively).
CANDIDATES: dict[str, tuple[str, ...]] = {
    "name": ("act", "title", "name", "label", "role"),
    "body": ("prompt", "body", "content", "text", "template", "instruction"),
    "description": ("description", "summary"),
    "tags": ("tags", "tag", "category", "categories"),
}


def _find_columns(
    header: list[str], explicit: Mapping[str, str] | None, problems: Problems
) -> dict[str, int] | None:
    lowered = [h.strip().lower() for h in header]
    columns: dict[str, int] = {}
    for field_name, column in (explicit or {}).items():
        if field_name not in FIELDS:
            problems.error(
                1,
                f"unknown field '{field_name}' in the column mapping (known: {', '.join(FIELDS)})",
            )
            return None
        if column.strip().lower() not in lowered:
            problems.error(
                1,
                f"column '{column}' (mapped to {field_name}) is not in the header: "
                + ", ".join(header),
            )
            return None
        columns[field_name] = lowered.index(column.strip().lower())
    for field_name in FIELDS:
        if field_name in columns:
            continue
        for name in CANDIDATES[field_name]:
            if name in lowered and lowered.index(name) not in columns.values():
                columns[field_name] = lowered.index(name)
                break
    if "body" not in columns:
        problems.error(
            1,
            "no prompt column found in the header ("
            + ", ".join(header)
            + "); expected one of "
            + ", ".join(CANDIDATES["body"])
            + ", or give a column mapping",
        )
        return None
    return columns


def _jinja_template(name: str, body: str, line: int, problems: Problems) -> PromptTemplate | None:
    try:
        used = sorted(used_variables(body) - RESERVED_NAMES)
    except TemplateSyntaxError as err:
        inner = (err.lineno or 1) - 1
        problems.error(line + inner, f"row '{name}' not imported: {err.message}")
        return None
    return PromptTemplate(
        name=name,
        messages=[Message(role="user", content=body)],
        variables=[Variable(name=n, multiline=True) for n in used],
    )


def import_csv_library(
    text: str,
    source: str,
    *,
    columns: Mapping[str, str] | None = None,
    as_jinja: bool = False,
) -> ImportResult:
    """Read a CSV prompt library; ``columns`` maps fields (name, body ...) to headers. Columns
    no field takes are kept in each template's ``metadata`` (the CSV export writes them back)."""
    problems = Problems(source)
    result = ImportResult(format="csv")
    result.problems = problems.items
    found: dict[str, int] | None = None
    header: list[str] = []
    extra: list[tuple[str, int]] = []
    names: dict[str, int] = {}
    for start, row, error in csv_records(text):
        if error is not None:
            problems.error(start, f"{error}; record skipped")
            continue
        if found is None:
            if not any(cell.strip() for cell in row):
                continue
            header = row
            found = _find_columns(header, columns, problems)
            if found is None:
                return result
            taken = set(found.values())
            extra = [(h, i) for i, h in enumerate(header) if i not in taken]
            continue
        if len(row) != len(header):
            problems.error(
                start, f"row has {len(row)} fields, the header has {len(header)}; row skipped"
            )
            continue
        template = _row_template(row, found, start, source, as_jinja, problems, names)
        if template is None:
            continue
        if extra:
            template = template.model_copy(update={"metadata": {h: row[i] for h, i in extra}})
        result.templates.append(template)
    if found is None and not problems.items:
        problems.error(None, "the file is empty: no header row")
    return result


def _row_template(
    row: list[str],
    found: dict[str, int],
    start: int,
    source: str,
    as_jinja: bool,
    problems: Problems,
    names: dict[str, int],
) -> PromptTemplate | None:
    body = row[found["body"]]
    name = row[found["name"]] if "name" in found else ""
    if not body.strip():
        problems.error(start, f"row '{name or start}' has an empty prompt; row skipped")
        return None
    if not name.strip():
        name = f"{source.rsplit('/', 1)[-1]} line {start}" if source else f"line {start}"
        problems.warn(start, f"row has no name; named '{name}'")
    if name in names:
        problems.warn(start, f"'{name}' also appears at line {names[name]}; both imported")
    names.setdefault(name, start)
    if as_jinja:
        template = _jinja_template(name, body, start, problems)
        if template is None:
            return None
    else:
        template = PromptTemplate(
            name=name, messages=[Message(role="user", content=body, literal=True)]
        )
    updates: dict[str, object] = {}
    if "description" in found:
        updates["description"] = row[found["description"]]
    if "tags" in found:
        updates["tags"] = [
            t.strip() for t in row[found["tags"]].replace(";", ",").split(",") if t.strip()
        ]
    return template.model_copy(update=updates) if updates else template


def _body(template: PromptTemplate) -> str:
    """The one text a CSV cell can hold: the user message (exact text when it has no variables)."""
    if template.mode == "completion":
        return template.text
    users = [m for m in template.messages if m.role == "user"]
    if len(template.messages) != 1 or len(users) != 1:
        raise ExportError(
            f"template '{template.name}' has {len(template.messages)} messages; "
            "a CSV prompt library "
            "holds one prompt per row (export a bundle instead)"
        )
    message = users[0]
    text = plain_text(message)
    return message.content if text is None else text


def export_csv_library(
    templates: Sequence[PromptTemplate],
    columns: tuple[str, str] = ("act", "prompt"),
    *,
    include_description: bool = False,
) -> Export:
    """Name and prompt columns, every field quoted, LF ends (as awesome-chatgpt-prompts), then
    the columns an import kept in ``metadata`` (in the order first met), then description and
    tags when any template has them.

    Components and few-shot examples are written into the prompt (``flatten``). A template a
    row cannot hold (several messages) is left out with a warning that names it; when none fits,
    ``ExportError`` says why."""
    warnings: list[str] = []
    kept: list[tuple[PromptTemplate, str]] = []
    refused: list[tuple[PromptTemplate, ExportError]] = []
    for template in templates:
        try:
            flat = flatten(template, "CSV")
            kept.append((template, _body(flat.template)))
        except ExportError as err:
            refused.append((template, err))
            warnings.append(f"{err.message}; left out")
            continue
        warnings += flat.warnings
    if refused and not kept:
        raise refused[0][1]
    extra = list(dict.fromkeys(k for t, _ in kept for k in t.metadata))
    described = include_description or any(t.description for t, _ in kept)
    tagged = any(t.tags for t, _ in kept)
    out = io.StringIO(newline="")
    writer = csv.writer(out, quoting=csv.QUOTE_ALL, lineterminator="\n")
    writer.writerow([*columns, *extra, *(["description"] * described), *(["tags"] * tagged)])
    for template, body in kept:
        row = [template.name, body, *(template.metadata.get(k, "") for k in extra)]
        row += [template.description] * described + [", ".join(template.tags)] * tagged
        writer.writerow(row)
    left_out = [(t.name, err.message) for t, err in refused]
    return Export(out.getvalue(), warnings, left_out=left_out, written=len(kept))
