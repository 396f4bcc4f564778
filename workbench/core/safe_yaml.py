"""The one way the workbench reads YAML: safe types, no aliases, no duplicate keys, bounded size.

PyYAML's safe loader still expands aliases, so a 600-byte file of nested aliases ("billion
laughs") builds billions of objects and exhausts memory; and a key written twice silently keeps
the last value. Every reader (templates, bundles, suites, sweeps, presets, promptfoo configs,
backends.yaml ...) goes through :func:`compose` or :func:`load`, which refuse both (and anchors,
and documents over :data:`MAX_CHARS`) with the line and column. ``tests/test_reader_guards.py``
keeps every other module from calling PyYAML's loaders directly.

Refusals are :class:`UnsafeYamlError`, a ``yaml.MarkedYAMLError``: a reader that already reports
YAML syntax errors with their line reports these the same way. Construction failures on hostile
scalars (a 30-digit year) are turned into it too, so a reader catches ``yaml.YAMLError`` and
nothing else. (Nesting is bounded by libyaml itself, at 1,000 levels.)
"""

from __future__ import annotations

from typing import Any

import yaml

#: The largest YAML text read (characters): far above any real template, bundle or config.
MAX_CHARS = 32 * 1024 * 1024

_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class UnsafeYamlError(yaml.MarkedYAMLError):
    """YAML that parses but is refused (an alias, an anchor, a duplicate key, too large), or
    whose values cannot be built (an impossible date)."""

    def __init__(self, problem: str, mark: Any = None) -> None:
        super().__init__(problem=problem, problem_mark=mark)


def _mark(text: str, index: int) -> yaml.Mark:
    line = text.count("\n", 0, index)
    column = index - (text.rfind("\n", 0, index) + 1)
    return yaml.Mark("<text>", index, line, column, None, 0)


def _refuse_anchors(text: str) -> None:
    """Refuse anchors and aliases from the event stream, before any value is built (an alias
    needs an anchor, and an anchor needs ``&``: text without one skips the scan)."""
    if "&" not in text:
        return
    for event in yaml.parse(text, Loader=_Loader):
        if isinstance(event, yaml.AliasEvent):
            raise UnsafeYamlError(
                f"an alias (*{event.anchor}) is not accepted: write the value out in full",
                event.start_mark,
            )
        anchor = getattr(event, "anchor", None)
        if anchor is not None:
            raise UnsafeYamlError(
                f"an anchor (&{anchor}) is not accepted: YAML anchors and aliases are refused",
                event.start_mark,
            )


def _refuse_duplicate_keys(root: yaml.Node | None) -> None:
    stack = [root] if root is not None else []
    while stack:
        node = stack.pop()
        if isinstance(node, yaml.MappingNode):
            seen: dict[tuple[str, str], yaml.Node] = {}
            for key, value in node.value:
                if isinstance(key, yaml.ScalarNode):
                    first = seen.setdefault((key.tag, key.value), key)
                    if first is not key:
                        raise UnsafeYamlError(
                            f"the key '{key.value}' appears twice (first on line "
                            f"{first.start_mark.line + 1}); keep one",
                            key.start_mark,
                        )
                stack.append(key)
                stack.append(value)
        elif isinstance(node, yaml.SequenceNode):
            stack.extend(node.value)


def _reader_error(text: str, err: yaml.reader.ReaderError) -> UnsafeYamlError:
    char = err.character
    code = ord(char) if isinstance(char, str) else int(char)
    what = f"the character U+{code:04X}"
    return UnsafeYamlError(f"{what} is not allowed in YAML", _mark(text, err.position))


def compose(text: str) -> tuple[Any, yaml.Node | None]:
    """The data of one YAML document and the node tree it was built from (for line numbers).

    Raises ``yaml.YAMLError`` (syntax) or :class:`UnsafeYamlError` (refused)."""
    if len(text) > MAX_CHARS:
        raise UnsafeYamlError(
            f"the document is {len(text):,} characters; YAML over {MAX_CHARS:,} is not read"
        )
    try:
        _refuse_anchors(text)
        loader = _Loader(text)
        try:
            node = loader.get_single_node()
            _refuse_duplicate_keys(node)
            data = loader.construct_document(node) if node is not None else None
        finally:
            loader.dispose()
    except yaml.reader.ReaderError as err:
        raise _reader_error(text, err) from None
    except (ValueError, TypeError, OverflowError, RecursionError) as err:
        reason = (str(err).splitlines() or [type(err).__name__])[0]
        raise UnsafeYamlError(f"a value cannot be read: {reason}") from None
    return data, node


def load(text: str) -> Any:
    """The data of one YAML document (JSON too); see :func:`compose` for what is refused."""
    return compose(text)[0]


def position(err: yaml.YAMLError, text: str | None = None) -> tuple[int | None, int | None, str]:
    """``(line, column, reason)`` of a YAML error, 1-based, for one-line messages. With the
    ``text``, an error at the very end (an unclosed bracket) is put on its last line with text,
    not on the empty line after the final newline, which no editor shows."""
    reason = getattr(err, "problem", None) or (str(err).splitlines() or [type(err).__name__])[0]
    mark = None
    if isinstance(err, yaml.MarkedYAMLError):
        mark = err.problem_mark or err.context_mark
    if mark is None:
        return None, None, reason
    if text is not None:
        content = text.removeprefix("\ufeff").rstrip()  # marks do not count a BOM
        if mark.index >= len(content):
            last = content.count("\n")
            return last + 1, len(content) - (content.rfind("\n") + 1) + 1, reason
    return mark.line + 1, mark.column + 1, reason


def describe(err: yaml.YAMLError) -> str:
    """``line L, column C: reason`` (or the reason alone) for a YAML error."""
    line, column, reason = position(err)
    return reason if line is None else f"line {line}, column {column}: {reason}"
