"""PyYAML's pure-Python emitter with its three per-character loops done by ``re`` and ``str``.

Writing a template walks every character of every string three or four times in Python
(``analyze_scalar`` to choose a style, then ``write_literal`` or ``write_double_quoted``): a
1,528-template import spent about 6 s there. libyaml's emitter is fast but wraps long
double-quoted strings and escapes characters beyond U+FFFF differently, so its bytes are not
the canonical ones already saved in libraries. ``FastSafeDumper`` computes exactly what
``yaml.SafeDumper`` computes — same analysis, same bytes, same emitter state afterwards — by
scanning with regular expressions and visiting only the positions where the original loop can
act; tests/core/test_yaml_emit.py compares the two on the built-in templates and on generated
text.
"""

from __future__ import annotations

import re
from typing import Any

import yaml
from yaml.emitter import ScalarAnalysis

_WS = "\0 \t\r\n\x85\u2028\u2029"  # what PyYAML counts as whitespace around an indicator
_BREAKS = "\n\x85\u2028\u2029"
_LEADING_INDICATORS = "#,[]{}&*!|>'\"%@`"

_INNER_FLOW = re.compile(r"[,?\[\]{}:]")
_COLON_BEFORE_SPACE = re.compile(f":(?:[{_WS}]|\\Z)")
_HASH_AFTER_SPACE = re.compile(f"[{_WS}]#")
_LINE_BREAK = re.compile(f"[{_BREAKS}]")
_BREAK_SPACE = re.compile(f"[{_BREAKS}] ")
_SPACE_BREAK = re.compile(f" [{_BREAKS}]")
# Characters a scalar may hold unescaped: printable ASCII and LF; with allow_unicode also the
# printable non-ASCII ranges (U+FEFF and U+10FFFF excluded, as PyYAML does).
_NOT_ASCII_PRINTABLE = re.compile(r"[^\n\x20-\x7e]")
_NOT_PRINTABLE = re.compile(
    "[^\n\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010fffe]|\ufeff"
)
# What ``write_double_quoted`` escapes.
_ESCAPED_UNICODE = re.compile('[^\x20-\x7e\xa0-\ud7ff\ue000-\ufffd]|["\\\\\x85\u2028\u2029\ufeff]')
_ESCAPED_ASCII = re.compile('[^\x20-\x7e]|["\\\\]')
_ESCAPES: dict[str, str] = yaml.SafeDumper.ESCAPE_REPLACEMENTS


class FastSafeDumper(yaml.SafeDumper):
    """``yaml.SafeDumper`` with the same output, minus the per-character Python loops."""

    def analyze_scalar(self, scalar: str) -> ScalarAnalysis:
        if not scalar:
            return super().analyze_scalar(scalar)
        rest = scalar[1:]
        first = scalar[0]
        followed = len(scalar) == 1 or scalar[1] in _WS
        block = flow = scalar.startswith(("---", "..."))
        if first in _LEADING_INDICATORS or (first == "-" and followed):
            block = flow = True
        if first in "?:":
            flow = True
            block = block or followed
        if _INNER_FLOW.search(rest):
            flow = True
        if _HASH_AFTER_SPACE.search(scalar):
            block = flow = True
        elif _COLON_BEFORE_SPACE.search(rest):
            block = True
        line_breaks = _LINE_BREAK.search(scalar) is not None
        unprintable = _NOT_PRINTABLE if self.allow_unicode else _NOT_ASCII_PRINTABLE
        special = unprintable.search(scalar) is not None
        leading = first == " " or first in _BREAKS
        trailing_space = scalar[-1] == " "
        trailing = trailing_space or scalar[-1] in _BREAKS
        break_space = _BREAK_SPACE.search(scalar) is not None
        space_break = _SPACE_BREAK.search(scalar) is not None

        flow_plain = block_plain = single = literal = True
        if leading or trailing:
            flow_plain = block_plain = False
        if trailing_space:
            literal = False
        if break_space:
            flow_plain = block_plain = single = False
        if space_break or special:
            flow_plain = block_plain = single = literal = False
        if line_breaks:
            flow_plain = block_plain = False
        return ScalarAnalysis(
            scalar=scalar,
            empty=False,
            multiline=line_breaks,
            allow_flow_plain=flow_plain and not flow,
            allow_block_plain=block_plain and not block,
            allow_single_quoted=single,
            allow_double_quoted=True,
            allow_block=literal,
        )

    def _put(self, data: str) -> None:
        self.stream.write(data.encode(self.encoding) if self.encoding else data)

    def write_literal(self, text: str) -> None:
        if any(c in text for c in "\x85\u2028\u2029"):  # written raw, never in our files
            super().write_literal(text)
            return
        hints = self.determine_block_hints(text)
        self.write_indicator("|" + hints, True)
        if hints[-1:] == "+":
            self.open_ended = True
        self.write_line_break()
        # The original loop: indent and write each non-empty line, one break per LF, and one
        # more break when the text does not end with one. The column is left at 0 either way.
        pad = " " * (self.indent or 0)
        lines = text.split("\n")
        breaks = len(lines) - 1
        body = self.best_line_break.join(pad + line if line else "" for line in lines)
        if text and text[-1] != "\n":
            body += self.best_line_break
            breaks += 1
        if body:
            self._put(body)
        self.whitespace = self.indention = True
        self.line += breaks
        self.column = 0

    def write_double_quoted(self, text: str, split: bool = True) -> None:
        # PyYAML's loop acts only at an escaped character, at the character right after one,
        # and at a space where the line has grown past the width; between two escapes the
        # column is fixed, so the first such space is found with ``str.find``.
        self.write_indicator('"', True)
        pattern = _ESCAPED_UNICODE if self.allow_unicode else _ESCAPED_ASCII
        size = len(text)
        width = self.best_width
        start = pos = 0
        for escape in [*pattern.finditer(text), None]:
            stop = size if escape is None else escape.start()
            while split:
                space = text.find(" ", max(pos, width - self.column + start + 1, 1), stop)
                if space < 0 or space >= size - 1:
                    break
                start = self._dq_step(text, space, start, None, split, width, size)
                pos = space + 1
            if escape is None:
                break
            start = self._dq_step(text, stop, start, escape.group(), split, width, size)
            pos = stop + 1
            after = stop + 1
            if (
                self.column > width  # else no line can break right after the escape
                and after < size
                and text[after] != " "
                and not pattern.match(text, after)
            ):
                start = self._dq_step(text, after, start, None, split, width, size)
                pos = after + 1
        if start < size:
            data = text[start:]
            self.column += len(data)
            self._put(data)
        self.write_indicator('"', False)

    def _dq_step(
        self,
        text: str,
        end: int,
        start: int,
        escaped: str | None,
        split: bool,
        width: int,
        size: int,
    ) -> int:
        """One turn of PyYAML's ``write_double_quoted`` loop at ``end`` (a space, an escaped
        character, or the one after it); returns the new ``start``."""
        if escaped is not None:
            if start < end:
                data = text[start:end]
                self.column += len(data)
                self._put(data)
            if escaped in _ESCAPES:
                data = "\\" + _ESCAPES[escaped]
            elif escaped <= "\xff":
                data = f"\\x{ord(escaped):02X}"
            elif escaped <= "\uffff":
                data = f"\\u{ord(escaped):04X}"
            else:
                data = f"\\U{ord(escaped):08X}"
            self.column += len(data)
            self._put(data)
            start = end + 1
        if (
            0 < end < size - 1
            and (text[end] == " " or start >= end)
            and self.column + (end - start) > width
            and split
        ):
            data = text[start:end] + "\\"
            if start < end:
                start = end
            self.column += len(data)
            self._put(data)
            self.write_indent()
            self.whitespace = False
            self.indention = False
            if text[start] == " ":
                self.column += 1
                self._put("\\")
        return start


_OPTIONS: dict[str, Any] = {
    "sort_keys": False,
    "allow_unicode": True,
    "width": 100,
    "default_flow_style": False,
}


def dump(data: Any, dumper: type[FastSafeDumper]) -> str:
    """``yaml.dump`` with the options every file we write uses.

    libyaml's emitter (ten times faster) writes the document when it is one whose bytes both
    emitters agree on (``libyaml_agrees``); ``dumper``'s string representer must write one-line
    strings in the plain style and multi-line ones as literal blocks, as ours do."""
    twin = _libyaml_twin(dumper) if libyaml_agrees(data) else None
    return yaml.dump(data, Dumper=twin or dumper, **_OPTIONS)


_TWINS: dict[str, type[yaml.SafeDumper] | None] = {}


def _libyaml_twin(dumper: type[FastSafeDumper]) -> type[yaml.SafeDumper] | None:
    """libyaml's emitter with ``dumper``'s representers; None without the C extension."""
    name = f"{dumper.__module__}.{dumper.__qualname__}"
    if name not in _TWINS:
        base = getattr(yaml, "CSafeDumper", None)
        twin: type[yaml.SafeDumper] | None = None
        if base is not None:
            twin = type(f"LibYaml{dumper.__name__}", (base,), {})
            twin.yaml_representers = dict(dumper.yaml_representers)
            twin.yaml_multi_representers = dict(dumper.yaml_multi_representers)
        _TWINS[name] = twin
    return _TWINS[name]


# Outside these, libyaml escapes (characters beyond U+FFFF) or quotes differently.
_LIBYAML_UNSAFE = re.compile("[^\n\x20-\x7e\xa0-\ud7ff\ue000-\ufffd]|\ufeff")
_MAX_DEPTH = 6
_MAX_KEY = 64  # well below the 128 characters past which both write a "? " complex key


def libyaml_agrees(data: Any) -> bool:
    """Whether libyaml writes ``data`` (a mapping) byte for byte as PyYAML's emitter does.

    The two differ in how they wrap long double-quoted strings, escape characters beyond
    U+FFFF, and end a document whose last literal block keeps its trailing blank lines ("...");
    this admits only documents where none of that can happen: no string needing double quotes
    or escapes, no literal block ending in a blank line, short non-empty one-line keys, shallow
    nesting. (They wrap long plain and single-quoted strings alike.)
    tests/core/test_yaml_emit.py checks the claim on generated documents."""
    return isinstance(data, dict) and _agrees(data, 0)


def _agrees(value: Any, depth: int) -> bool:
    if isinstance(value, str):
        if _LIBYAML_UNSAFE.search(value):
            return False
        if "\n" not in value:
            return True
        return (
            "\n" in value.strip("\n") and " \n" not in value and not value.endswith((" ", "\n\n"))
        )
    if value is None or isinstance(value, bool | int | float):
        return True
    if depth >= _MAX_DEPTH:
        return False
    if isinstance(value, dict):
        return all(
            isinstance(k, str)
            and 0 < len(k) <= _MAX_KEY
            and "\n" not in k
            and _agrees(k, depth)
            and _agrees(v, depth + 1)
            for k, v in value.items()
        )
    if isinstance(value, list):
        return all(_agrees(item, depth + 1) for item in value)
    return False
