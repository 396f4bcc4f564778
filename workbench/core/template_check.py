"""Checking a template file without rendering or running it (``workbench check``): everything
reading it refuses (YAML, keys and values, the output schema, the grammar), then each Jinja
body's syntax, every error placed at its line and column in the file, as compilers and linters
report, so an editor or CI can jump to it. Variables used but not declared (or declared but
unused) are warnings."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from workbench.core import safe_yaml
from workbench.core.errors import TemplateError, TemplateFileError
from workbench.core.template_files import (
    loads,
    position_in_file,
    read_text,
    value_node,
    with_images,
)
from workbench.core.templates import bodies, discover, variables_in

_MESSAGE = re.compile(r"^messages\[(\d+)\]")


@dataclass
class FileCheck:
    """What checking one file found: errors (each ``file:line:col: reason``) and warnings."""

    errors: list[TemplateFileError] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def _body_path(where: str) -> tuple[str | int, ...]:
    """The YAML path of the body ``templates.bodies`` names ``where``."""
    message = _MESSAGE.match(where)
    if message:
        return "messages", int(message.group(1)), "content"
    return tuple(where.split("."))


def check_text(text: str, source: str, folder: Path | None = None) -> FileCheck:
    """Check a template file's ``text`` (``source`` names it; images are looked for in
    ``folder``): the first problem reading it, else every body's syntax error."""
    try:
        template = loads(text, source)
        if folder is not None:
            template = with_images(template, folder, source)
    except TemplateFileError as err:
        return FileCheck(errors=[err])
    _, node = safe_yaml.compose(text)  # it was read above: the positions of its values
    found = FileCheck()
    for where, body in bodies(template):
        try:
            variables_in(body, where)
        except TemplateError as err:
            path = _body_path(where)
            at = None if err.line is None else position_in_file(
                text, value_node(node, path), body, err.line, err.column)
            if at is None:
                line = value_node(node, path)
                found.errors.append(TemplateFileError(
                    source, str(err),
                    line=None if line is None else line.start_mark.line + 1))
            else:
                found.errors.append(TemplateFileError(
                    source, f"{where}: {err.reason}", line=at[0], column=at[1]))
    if not found.errors:
        found.warnings = discover(template).warnings
    return found


def check_file(path: Path) -> FileCheck:
    """Check the template file at ``path``."""
    try:
        text = read_text(path)
    except TemplateFileError as err:
        return FileCheck(errors=[err])
    return check_text(text, str(path), path.parent)
