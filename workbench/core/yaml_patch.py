"""Rewriting a YAML file key by key, so that what a person wrote around the keys a save did not
change (comments, blank lines, key order, quoting, flow lists) stays as they wrote it.

PyYAML keeps no comments, and a round-trip library would be a second YAML stack for one job.
Here the top-level entries of a block mapping are located by their node marks; an entry whose
value did not change keeps its lines, a changed one is written afresh in its place, a removed
one goes (with the comment right above it), and a new one follows the entry before it. The
caller checks that the result reads back as intended (``TemplateFile.text_for``) and otherwise
writes the canonical text.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

import yaml

LINE_BREAK = re.compile("\r\n|[\r\n\x85\u2028\u2029]")  # YAML's line breaks


def _lines(text: str) -> list[str]:
    """``text`` as lines, each with its line break (YAML's breaks, as node marks count them)."""
    lines, start = [], 0
    for match in LINE_BREAK.finditer(text):
        lines.append(text[start:match.end()])
        start = match.end()
    if start < len(text):
        lines.append(text[start:])
    return lines


def _last_line(node: yaml.Node) -> int:
    """The last line holding ``node``'s text. A block collection's end mark lies at the next
    key, past any comment between; its last child's end does not."""
    if isinstance(node, yaml.CollectionNode) and not node.flow_style and node.value:
        last = node.value[-1]
        return _last_line(last[1] if isinstance(node, yaml.MappingNode) else last)
    end = node.end_mark
    return end.line if end.column > 0 else end.line - 1


def patch_mapping(
    source: str,
    root: yaml.Node | None,
    before: Mapping[str, Any],
    after: Mapping[str, Any],
    dump: Callable[[dict[str, Any]], str],
) -> str | None:
    """``source`` (composed as ``root``, reading as ``before``) rewritten to read as ``after``,
    ``dump`` writing each changed entry; a key in neither (a default written out) keeps its
    text. None when the top is not a block mapping of plain keys at column 0."""
    if not isinstance(root, yaml.MappingNode) or root.flow_style or not root.value:
        return None
    if any(not isinstance(k, yaml.ScalarNode) or k.start_mark.column for k, _ in root.value):
        return None
    lines = _lines(source)
    newline = "\r\n" if lines[0].endswith("\r\n") else "\n"
    follows: dict[str | None, list[str]] = {}  # new keys, after the existing key before them
    previous: str | None = None
    for key in after:
        if any(k.value == key for k, _ in root.value):
            previous = key
        else:
            follows.setdefault(previous, []).append(key)
    out: list[str] = []

    def write(keys: list[str]) -> None:
        for key in keys:
            if out and not LINE_BREAK.search(out[-1][-2:]):
                out.append(newline)  # the file's last line had no line break
            out.append(dump({key: after[key]}).replace("\n", newline))

    cursor = root.value[0][0].start_mark.line
    out += lines[:cursor]
    write(follows.get(None, []))
    for key_node, value_node in root.value:
        key, start, stop = key_node.value, key_node.start_mark.line, _last_line(value_node) + 1
        between = lines[cursor:start]  # what lies between entries: comments, blank lines
        if (key in after and before.get(key) == after[key]) or (key not in after
                                                                and key not in before):
            out += between + lines[start:stop]
        elif key in after:
            out += between
            write([key])
        else:  # removed, with the comment lines right above it (they were about it)
            while between and between[-1].lstrip().startswith("#"):
                between.pop()
            out += between
        cursor = stop
        write(follows.get(key, []))
    out += lines[cursor:]
    return "".join(out)
