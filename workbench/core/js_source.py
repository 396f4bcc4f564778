"""JavaScript assertion and transform code as promptfoo reads it, and what its result means.

promptfoo runs an inline ``javascript`` value as the body of ``function(output, context)``: a
value with a line break is the body as written (it ``return``s), a one-liner is an expression
(``return`` is put in front; a one-liner starting with ``const``/``let``/``var`` gets it before
its last statement). An inline transform is the same, except that only a one-liner gets
``return`` (promptfoo does not trim a transform). A file (``file://check.js[:name]``) is a
CommonJS module (``module.exports = fn`` / ``exports.name = fn``; ES ``export`` lines are read as
those) whose named export, else the function it exports, else its ``default``, is called.

Results (promptfoo's ``handleJavascript``): ``true``/``false``; a finite number, which is a score
that passes when ``>= threshold``, or ``> 0`` without a threshold; or a GradingResult object
``{pass, score, reason}`` whose ``pass`` decides (no threshold applies to it).
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any

from workbench.core.evaluation import Check, EvaluationError

#: Words after which a ``/`` starts a regular expression, not a division.
_KEYWORDS_BEFORE_EXPRESSION = frozenset({
    "return", "typeof", "instanceof", "in", "of", "new", "delete", "void", "throw", "case", "do",
    "else", "yield", "await",
})
_DECLARATION = re.compile(r"^(const|let|var)\s")
_WORD = re.compile(r"[A-Za-z_$][\w$]*|\d[\w.]*")
_ESM_DEFAULT = re.compile(r"^(\s*)export\s+default\s+", re.M)
_ESM_FUNCTION = re.compile(
    r"^(\s*)export\s+((?:async\s+)?function\s*\*?\s*)([A-Za-z_$][\w$]*)", re.M
)
_ESM_BINDING = re.compile(r"^(\s*)export\s+(const|let|var)\s+([A-Za-z_$][\w$]*)", re.M)


@dataclass(frozen=True)
class Body:
    """A function body made from the user's code; ``shift`` maps positions in the body back to
    the code: the body inserted ``shift[1]`` characters at index ``shift[0]`` of line 1."""

    text: str
    shift: tuple[int, int] = (0, 0)

    def user_position(self, line: int, column: int) -> tuple[int, int]:
        """A 1-based (line, column) in ``text`` as a position in the code as written."""
        at, length = self.shift
        if line == 1 and length and column - 1 >= at:
            column = max(at + 1, column - length)
        return line, column


def _skip_quoted(code: str, i: int) -> int:
    """The index after the string literal starting at ``i``."""
    quote, i = code[i], i + 1
    while i < len(code) and code[i] != quote:
        i += 2 if code[i] == "\\" else 1
    return i + 1


def _skip_template(code: str, i: int) -> int:
    """The index after the template literal starting at ``i`` (``${...}`` parts included)."""
    i += 1
    while i < len(code) and code[i] != "`":
        if code[i] == "\\":
            i += 2
        elif code.startswith("${", i):
            i = _scan(code, i + 2, stop_at_close=True)[0] + 1
        else:
            i += 1
    return i + 1


def _skip_regex(code: str, i: int) -> int:
    i, in_class = i + 1, False
    while i < len(code) and code[i] != "\n":
        c = code[i]
        if c == "\\":
            i += 1
        elif c == "[":
            in_class = True
        elif c == "]":
            in_class = False
        elif c == "/" and not in_class:
            break
        i += 1
    i += 1
    while i < len(code) and (code[i].isalnum() or code[i] in "_$"):
        i += 1
    return i


def _scan(code: str, i: int, *, stop_at_close: bool = False) -> tuple[int, int]:
    """Walk JavaScript tokens from ``i``: ``(end, last top-level ';')``. With ``stop_at_close``
    it stops at the ``}`` closing a template's ``${``."""
    depth, last_semicolon, expect_value = 0, -1, True
    while i < len(code):
        c = code[i]
        if c.isspace():
            i += 1
        elif code.startswith("//", i):
            i = code.find("\n", i) if "\n" in code[i:] else len(code)
        elif code.startswith("/*", i):
            end = code.find("*/", i + 2)
            i = len(code) if end < 0 else end + 2
        elif c in "'\"":
            i, expect_value = _skip_quoted(code, i), False
        elif c == "`":
            i, expect_value = _skip_template(code, i), False
        elif c == "/" and expect_value:
            i, expect_value = _skip_regex(code, i), False
        elif match := _WORD.match(code, i):
            i = match.end()
            expect_value = match.group() in _KEYWORDS_BEFORE_EXPRESSION
        else:
            if c in "([{":
                depth += 1
            elif c in ")]}":
                if depth == 0 and stop_at_close:
                    return i, last_semicolon
                depth -= 1
            elif c == ";" and depth == 0:
                last_semicolon = i
            expect_value = c not in ")]}"
            i += 1
    return i, last_semicolon


def assertion_body(code: str) -> Body:
    """The function body promptfoo makes of an inline ``javascript`` value."""
    code = code.rstrip()
    if "\n" in code:
        return Body(code)
    trimmed = re.sub(r";+\s*$", "", code.strip())
    if _DECLARATION.match(trimmed):
        semicolon = _scan(trimmed, 0)[1]
        if semicolon >= 0 and trimmed[semicolon + 1 :].strip():
            head, tail = trimmed[: semicolon + 1], trimmed[semicolon + 1 :].strip()
            body = f"{head} return {tail}"
            return Body(body, (semicolon + 1, len(body) - len(trimmed)))
        return Body(trimmed)
    return Body(f"return {trimmed}", (0, len("return ")))


def transform_body(code: str) -> Body:
    """The function body promptfoo makes of an inline transform."""
    return Body(code) if "\n" in code else Body(f"return {code}", (0, len("return ")))


def commonjs(source: str) -> str:
    """An ES module's ``export`` lines as CommonJS (``module.exports``), lines kept in place."""
    source = _ESM_DEFAULT.sub(r"\1module.exports.default = ", source)
    source = _ESM_FUNCTION.sub(r"\1module.exports.\3 = \2\3", source)
    return _ESM_BINDING.sub(r"\1\2 \3 = module.exports.\3", source)


def inline_module(source: str, function: str | None) -> str:
    """A JavaScript file as an inline function body that promptfoo runs the same way (for a
    self-contained export): the module's code, then a call of the function it exports."""
    return (
        "const module = {exports: {}};\nlet exports = module.exports;\n"
        f"{commonjs(source).rstrip()}\n"
        f"const m = module.exports, name = {json.dumps(function or '')};\n"
        "const fn = name && typeof m[name] === 'function' ? m[name]"
        " : typeof m === 'function' ? m : m.default;\n"
        "return fn(output, context);\n"
    )


def _finite(value: Any) -> bool:
    return (isinstance(value, int | float) and not isinstance(value, bool)
            and math.isfinite(value))


def interpret(value: Any, threshold: float | None) -> Check:
    """A JavaScript check's result as a ``Check`` with promptfoo's verdict (the threshold is
    applied here; ``score`` is kept within [0, 1] and a number's raw value is ``value``)."""
    if isinstance(value, bool):
        return Check(value, float(value), "JavaScript returned " + str(value).lower())
    if _finite(value):
        number = float(value)
        passed = number >= threshold if threshold is not None else number > 0
        rule = f">= threshold {threshold:g}" if threshold is not None else "> 0"
        return Check(passed, min(max(number, 0.0), 1.0),
                     f"JavaScript returned {number:g} ({'' if passed else 'not '}{rule})",
                     value=number)
    if isinstance(value, dict) and isinstance(value.get("pass"), bool):
        passed, score = value["pass"], value.get("score")
        if score is not None and not _finite(score):
            raise EvaluationError(f"javascript: 'score' must be a finite number, got {score!r}")
        reason = value.get("reason")
        return Check(
            passed,
            float(passed) if score is None else min(max(float(score), 0.0), 1.0),
            str(reason) if reason else f"JavaScript returned pass: {str(passed).lower()}",
            value=None if score is None else float(score),
        )
    raise EvaluationError(
        "javascript: the code must return a boolean, a finite number, or a {pass, score, reason} "
        f"object; it returned {_describe(value)}"
    )


def _describe(value: Any) -> str:
    if isinstance(value, dict) and "__js_type__" in value:
        return str(value["__js_type__"])
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
