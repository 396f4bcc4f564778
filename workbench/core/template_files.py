"""The template file format: one YAML document per template.

Multi-line bodies are written as YAML literal blocks, so a file reads like the prompt itself and
diffs well under git. ``dumps`` is canonical (same template, same bytes); ``TemplateFile`` keeps the
text it was read from, so saving an unchanged template rewrites nothing, comments included, and
an edit rewrites only the entries it changed (``yaml_patch``).
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from workbench.core import safe_yaml, yaml_emit
from workbench.core.errors import TemplateFileError
from workbench.core.gbnf import first_problem
from workbench.core.models import FORMAT_VERSION, PromptTemplate
from workbench.core.yaml_patch import LINE_BREAK, patch_mapping

SUFFIX = ".prompt.yaml"

class _Dumper(yaml_emit.FastSafeDumper):
    """Literal blocks for multi-line strings; everything else as YAML would write it."""


_UNUSUAL_BREAKS = ("\r", "\x85", "\u2028", "\u2029")


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    # Unicode line breaks other than LF would be folded by YAML's plain and block styles.
    # Short strings that are mostly line breaks (stop sequences like "\n") read better quoted.
    style: str | None = None
    if any(c in value for c in _UNUSUAL_BREAKS):
        style = '"'
    elif "\n" in value:
        style = "|" if "\n" in value.strip("\n") else '"'

    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def to_data(template: PromptTemplate) -> dict[str, Any]:
    """The template as plain data, defaults left out, ``format_version`` and ``name`` first."""
    data = template.model_dump(mode="json", exclude_defaults=True)
    for message in data.get("messages", []):
        for image in message.get("images", []):
            if image.get("path"):  # its file beside the template holds the bytes
                image.pop("data", None)
    data.pop("format_version", None)
    data.pop("name", None)
    return {"format_version": template.format_version, "name": template.name, **data}


def dumps(template: PromptTemplate) -> str:
    """Canonical text of a template."""
    return yaml_emit.dump(to_data(template), _Dumper)


def _line_of(node: yaml.Node | None, loc: tuple[int | str, ...]) -> int | None:
    """The 1-based file line of the value at ``loc`` (a pydantic error location)."""
    best = node.start_mark.line + 1 if node is not None else None
    for key in loc:
        if isinstance(node, yaml.MappingNode):
            match = next((v for k, v in node.value if k.value == key), None)
            if match is None:
                # The key is missing or unknown: point at the key itself if present.
                keyed = next((k for k, _ in node.value if k.value == key), None)
                return keyed.start_mark.line + 1 if keyed is not None else best
            node = match
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
            node = node.value[key]
        else:
            break
        best = node.start_mark.line + 1
    return best


# PyYAML's contexts for a bracket or quote that is never closed: it notices only lines later
# (at the next ':' or the end of the file), so the line to fix is where it was opened.
_UNCLOSED = {
    "while parsing a flow sequence": "'[' is not closed",
    "while parsing a flow mapping": "'{' is not closed",
    "while scanning a quoted scalar": "the quote is not closed",
}


def _yaml_problem(err: yaml.MarkedYAMLError, text: str) -> tuple[int | None, str]:
    """The line a person would fix, and why: an unclosed bracket or quote is reported on the
    line that opened it (PyYAML's ``context_mark``), a file that ends too soon on its last
    line with text (not the empty one after its final newline), anything else where PyYAML
    stopped."""
    problem = err.problem or str(err)
    unclosed = _UNCLOSED.get(err.context or "")
    if unclosed is not None and err.context_mark is not None:
        where = f" on line {err.problem_mark.line + 1}" if err.problem_mark is not None else ""
        return err.context_mark.line + 1, f"{unclosed} ({problem}{where})"
    mark = err.problem_mark or err.context_mark
    if mark is None:
        return None, problem
    content = text.rstrip()
    if mark.index >= len(content):
        return content.count("\n") + 1, problem
    return mark.line + 1, problem


def loads(text: str, source: str = "<text>") -> PromptTemplate:
    """Parse template text; any problem is a ``TemplateFileError`` naming file, line and reason."""
    try:
        data, node = safe_yaml.compose(text)
    except safe_yaml.UnsafeYamlError as err:
        line, column, reason = safe_yaml.position(err)
        where = f" (column {column})" if column is not None else ""
        raise TemplateFileError(source, f"YAML refused: {reason}{where}", line=line) from None
    except yaml.MarkedYAMLError as err:
        line, reason = _yaml_problem(err, text)
        raise TemplateFileError(source, f"not valid YAML: {reason}", line=line) from None
    except yaml.YAMLError as err:
        raise TemplateFileError(source, f"not valid YAML: {err}") from None
    if not isinstance(data, dict):
        raise TemplateFileError(source, "a template file must be a YAML mapping", line=1)
    version = data.get("format_version")
    if not isinstance(version, int):
        raise TemplateFileError(
            source,
            f"missing or invalid 'format_version': start the file with "
            f"'format_version: {FORMAT_VERSION}'",
            line=1,
        )
    if version > FORMAT_VERSION:
        raise TemplateFileError(
            source,
            f"format_version {version} is newer than this app reads ({FORMAT_VERSION}); "
            "update Prompt Workbench",
            line=_line_of(node, ("format_version",)),
        )
    _check_grammar(data, node, text, source)
    try:
        return PromptTemplate.model_validate(data)
    except ValidationError as err:
        first = err.errors()[0]
        loc = tuple(first["loc"])
        field_name = ".".join(str(p) for p in loc) or "template"
        reason = f"{field_name}: {first['msg']}"
        raise TemplateFileError(source, reason, line=_line_of(node, loc)) from None




def value_node(node: yaml.Node | None, path: tuple[str | int, ...]) -> yaml.Node | None:
    """The node of the value at ``path`` (keys, list indexes) in a composed file, if there."""
    for key in path:
        if isinstance(node, yaml.MappingNode):
            node = next((v for k, v in node.value if k.value == key), None)
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) \
                and 0 <= key < len(node.value):
            node = node.value[key]
        else:
            return None
    return node


def position_in_file(
    text: str, node: yaml.Node | None, value: str, line: int, column: int | None
) -> tuple[int, int | None] | None:
    """The file's 1-based (line, column) of ``line``:``column`` inside the string ``value``
    written at ``node``: exact for a ``|`` block (its text is the file's, indented) and for a
    scalar on one line; None elsewhere (a folded or multi-line quoted value, whose escapes and
    folds move things)."""
    if not isinstance(node, yaml.ScalarNode) or node.start_mark is None:
        return None
    start = node.start_mark
    if node.style == "|":
        lines = LINE_BREAK.split(text)
        content = lines[start.line + line] if start.line + line < len(lines) else ""
        written = value.split("\n")[line - 1] if line <= value.count("\n") + 1 else ""
        indent = len(content) - len(written) if content.endswith(written) else 0
        return start.line + 1 + line, None if column is None else indent + column
    if line == 1 and node.end_mark is not None and node.end_mark.line == start.line:
        quote = 1 if node.style in ("'", '"') else 0
        return start.line + 1, None if column is None else start.column + quote + column
    return None


def _check_grammar(data: dict[str, Any], node: yaml.Node | None, text: str, source: str) -> None:
    """A ``grammar`` llama.cpp would refuse, as a ``TemplateFileError`` at the line and column
    of the file where the problem is (a grammar is most often a ``|`` block, whose text maps
    to the file exactly; elsewhere the key's line, with the grammar's own position said)."""
    grammar = data.get("grammar")
    if not isinstance(grammar, str):
        return
    problem = first_problem(grammar)
    if problem is None:
        return
    where = position_in_file(text, value_node(node, ("grammar",)), grammar, problem.line,
                             problem.column)
    if where is None:
        raise TemplateFileError(source, f"grammar {problem}", line=_line_of(node, ("grammar",)))
    raise TemplateFileError(source, f"grammar: {problem.message}", line=where[0],
                            column=where[1])


def read_text(path: Path) -> str:
    """A template file's text; one that cannot be read or is not UTF-8 is a
    ``TemplateFileError`` saying so."""
    try:
        return path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as err:
        raise TemplateFileError(str(path), f"not UTF-8 text ({err.reason})") from None
    except OSError as err:
        raise TemplateFileError(str(path), err.strerror or str(err)) from None


@dataclass
class TemplateFile:
    """A template read from disk together with the exact text it came from."""

    path: Path
    template: PromptTemplate
    source: str

    @classmethod
    def read(cls, path: Path) -> TemplateFile:
        text = read_text(path)
        return cls(path, with_images(loads(text, str(path)), path.parent, str(path)), text)

    def text_for(self, template: PromptTemplate) -> str:
        """What to write for ``template``: the original text if nothing changed; else the
        original with only the changed top-level entries written afresh (comments and layout
        elsewhere kept), as long as it reads back as ``template``; else the canonical text."""
        if template == self.template:
            return self.source
        canonical = dumps(template)
        try:
            _data, root = safe_yaml.compose(self.source)
        except yaml.YAMLError:
            return canonical
        patched = patch_mapping(self.source, root, to_data(self.template), to_data(template),
                                lambda entry: yaml_emit.dump(entry, _Dumper))
        try:
            if patched is not None and loads(patched) == loads(canonical):
                return patched
        except TemplateFileError:
            pass
        return canonical


def with_images(template: PromptTemplate, folder: Path, source: str) -> PromptTemplate:
    """``template`` with the bytes of each image it names by ``path`` read from the file
    relative to ``folder`` (the template file's folder); a missing or unreadable image is a
    ``TemplateFileError`` naming it, rather than a run that fails later for want of it."""
    if not any(i.path and not i.data for m in template.messages for i in m.images):
        return template
    messages = []
    for index, message in enumerate(template.messages):
        images = []
        for image in message.images:
            if image.path and not image.data:
                try:
                    raw = (folder / image.path).read_bytes()
                except OSError as err:
                    raise TemplateFileError(
                        source, f"messages[{index}] image {image.path}: "
                        f"{err.strerror or err}"
                    ) from None
                image = image.model_copy(update={"data": base64.b64encode(raw).decode("ascii")})
            images.append(image)
        messages.append(message.model_copy(update={"images": images}))
    return template.model_copy(update={"messages": messages})


def read_template(path: Path) -> PromptTemplate:
    """Load a template file."""
    return TemplateFile.read(path).template
