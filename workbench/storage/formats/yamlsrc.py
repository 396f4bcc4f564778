"""YAML (and JSON) read together with the line of every value, for line-numbered problems.

PyYAML's composed node tree keeps each value's position; the data is constructed from that same
tree, so a value and its line always agree. JSON is parsed with the ``json`` module (exact), and
its line marks come from reading the same text as YAML when PyYAML can (almost all JSON).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

import yaml

from workbench.core import safe_yaml, yaml_emit
from workbench.storage.formats.results import Problems

_BREAK = re.compile("\r\n|[\r\n\x85\u2028\u2029]")


@dataclass
class Doc:
    """Parsed data plus the node tree it came from (``line_offset`` for embedded YAML)."""

    data: Any
    node: yaml.Node | None
    line_offset: int = 0
    #: The last line with text (0-based, as marks count): an empty value at the very end is
    #: marked after it, on a line no editor shows.
    last_line: int | None = None

    def _at(self, node: yaml.Node) -> int:
        line = node.start_mark.line
        return line if self.last_line is None else min(line, self.last_line)

    def line(self, *path: str | int) -> int | None:
        """1-based line of the value at ``path`` (keys, list indexes), or of its nearest parent."""
        node = self.node
        best = self._at(node) + 1 if node is not None else None
        for key in path:
            if isinstance(node, yaml.MappingNode):
                match = next(
                    (v for k, v in node.value if isinstance(k, yaml.ScalarNode) and k.value == key),
                    None,
                )
                if match is None:
                    break
                node = match
            elif (
                isinstance(node, yaml.SequenceNode)
                and isinstance(key, int)
                and 0 <= key < len(node.value)
            ):
                node = node.value[key]
            else:
                break
            best = self._at(node) + 1
        return None if best is None else best + self.line_offset

    def key_line(self, *path: str | int) -> int | None:
        """Line of the mapping key at ``path`` (not ``line`` for block values like ``|``)."""

        if not path:
            return self.line()
        parent = self._node_at(path[:-1])
        if isinstance(parent, yaml.MappingNode):
            for k, _ in parent.value:
                if isinstance(k, yaml.ScalarNode) and k.value == path[-1]:
                    return self._at(k) + 1 + self.line_offset
        return self.line(*path)

    def value_start(self, *path: str | int) -> tuple[int, int] | None:
        """0-based (line, column) where the scalar at ``path`` starts, for errors inside it."""
        node = self._node_at(path)
        if node is None:
            return None
        return self._at(node) + self.line_offset, node.start_mark.column

    def style(self, *path: str | int) -> str | None:
        node = self._node_at(path)
        return node.style if isinstance(node, yaml.ScalarNode) else None

    def as_written(self, *path: str | int) -> str | None:
        """The scalar at ``path`` as its text was written (None for a collection or no node):
        ``yes``, which PyYAML's YAML 1.1 reads as true, is text for YAML 1.2 readers."""
        node = self._node_at(path)
        return node.value if isinstance(node, yaml.ScalarNode) else None

    def _node_at(self, path: tuple[str | int, ...]) -> yaml.Node | None:
        node = self.node
        for key in path:
            if isinstance(node, yaml.MappingNode):
                node = next(
                    (v for k, v in node.value if isinstance(k, yaml.ScalarNode) and k.value == key),
                    None,
                )
            elif (
                isinstance(node, yaml.SequenceNode)
                and isinstance(key, int)
                and 0 <= key < len(node.value)
            ):
                node = node.value[key]
            else:
                return None
        return node


def load_yaml(text: str, problems: Problems, line_offset: int = 0) -> Doc | None:
    """Parse YAML; on failure record one problem with the line PyYAML points at and return None."""
    try:
        data, node = safe_yaml.compose(text)
    except yaml.YAMLError as err:
        line, column, reason = safe_yaml.position(err, text)
        what = "YAML refused" if isinstance(err, safe_yaml.UnsafeYamlError) else "not valid YAML"
        where = f" (column {column})" if column is not None else ""
        problems.error(None if line is None else line + line_offset, f"{what}: {reason}{where}")
        return None
    return Doc(data, node, line_offset, _last_line(text))


def load_json(text: str, problems: Problems) -> Doc | None:
    """Parse JSON exactly; line marks from PyYAML where it can read the same text."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        problems.error(err.lineno, f"not valid JSON: {err.msg} (column {err.colno})")
        return None
    except RecursionError:
        problems.error(None, "not valid JSON: nested too deeply")
        return None
    try:
        _, node = safe_yaml.compose(text)
    except yaml.YAMLError:
        node = None
    return Doc(data, node, last_line=_last_line(text))


def _last_line(text: str) -> int:
    """0-based number of the last line with text, counting line breaks as YAML does."""
    return len(_BREAK.findall(text.rstrip()))


def describe(value: Any) -> str:
    """A short name for a value's type in messages ('a list', 'a number')."""
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


class _Dumper(yaml_emit.FastSafeDumper):
    """Readable YAML that reads back to exactly the same strings."""

    def ignore_aliases(self, data: Any) -> bool:
        """Never an anchor for an object written twice: the readers refuse them (safe_yaml)."""
        return True


# Characters a YAML reader treats as line breaks (or folds) when written raw in a plain or block
# scalar; only double quotes escape them (\N, \L, \P, \r).
_BREAKS = ("\x85", "\u2028", "\u2029", "\r")


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    if any(c in value for c in _BREAKS):
        style: str | None = '"'
    elif "\n" in value:
        style = "|"
    else:
        style = None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def dump_yaml(data: Any) -> str:
    """YAML text for plain data: multi-line strings as literal blocks, keys in the given order."""
    return yaml_emit.dump(data, _Dumper)
