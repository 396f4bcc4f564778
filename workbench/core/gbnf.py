"""GBNF grammars (llama.cpp's constrained-decoding language) checked before llama.cpp sees them.

llama.cpp parses a grammar only when a sampler is built from it, prints its complaint to stderr
without a line or column, and hands back no sampler: llama-cpp-python 0.3.x then crashes the
whole process (a segmentation fault) at the first sampled token. So every grammar is checked
here first, with the same rules llama.cpp's parser (``llama-grammar.cpp``) applies, each problem
placed at its line and column: syntax (strings, character classes, escapes, groups,
repetitions, tokens), undefined rules, a missing ``root``, and left recursion, which llama.cpp
refuses. Rules are built the way llama.cpp builds them (a group or a repetition becomes a rule
of its own) so that left recursion is found exactly where llama.cpp would find it. A few things
it accepts are refused too, being certainly mistakes: a rule defined twice (the last one would
win), a range like ``[z-a]`` (matches nothing), an empty grammar (no constraint at all), and
``x{3,1}``, on which llama.cpp's sampler set-up never returns.
"""

from __future__ import annotations

import difflib
import functools
import itertools
from dataclasses import dataclass, field

#: llama.cpp's ``MAX_REPETITION_THRESHOLD``: ``x{n}`` with more is refused.
MAX_REPETITIONS = 2000
ROOT = "root"
_ESCAPES = {"t": "\t", "r": "\r", "n": "\n", "\\": "\\", '"': '"', "[": "[", "]": "]"}
_HEX_SIZES = {"x": 2, "u": 4, "U": 8}
_ESCAPE_HELP = r'\t \r \n \\ \" \[ \] \xHH \uHHHH \UHHHHHHHH'
#: An element of a built rule, as far as left recursion cares: a rule id, or one of these.
_TERMINAL = -1
_END_OF_ALTERNATIVE = -2


@dataclass(frozen=True, order=True)
class GrammarProblem:
    """One reason llama.cpp would refuse the grammar, at a 1-based line and column."""

    line: int
    column: int
    message: str

    def __str__(self) -> str:
        return f"{self.line}:{self.column}: {self.message}"


@dataclass(frozen=True)
class NamedToken:
    """A ``<text>`` token: valid only if the model's vocabulary has it as one token, which only
    the model can tell (the backend checks it before building the grammar)."""

    line: int
    column: int
    text: str


@dataclass(frozen=True)
class Grammar:
    """What checking a grammar found: its problems (none: llama.cpp accepts it), its rules in
    the order defined, and the named tokens it uses."""

    problems: tuple[GrammarProblem, ...]
    rules: tuple[str, ...] = ()
    tokens: tuple[NamedToken, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.problems


def position(text: str, offset: int) -> tuple[int, int]:
    """1-based (line, column) of ``offset`` in ``text``."""
    line_start = text.rfind("\n", 0, offset) + 1
    return text.count("\n", 0, offset) + 1, offset - line_start + 1


class _Refused(Exception):
    """A syntax error at ``offset``: parsing stops, as llama.cpp's does."""

    def __init__(self, offset: int, message: str) -> None:
        super().__init__(message)
        self.offset = offset
        self.message = message


def _is_word(c: str) -> bool:
    return c.isascii() and (c.isalnum() or c == "-")


def _shown(c: str) -> str:
    return {"\n": "a line break", "\r": "a line break", "\t": "a tab"}.get(c, f"'{c}'")


@dataclass
class _Parser:
    """A port of llama.cpp's recursive-descent grammar parser, over ``str`` offsets."""

    text: str
    ids: dict[str, int] = field(default_factory=dict)  # symbol name -> rule id
    owner: dict[int, str] = field(default_factory=dict)  # rule id -> the written rule it is part of
    rules: dict[int, list[int]] = field(default_factory=dict)  # built rules, flat as llama.cpp's
    defined: dict[str, int] = field(default_factory=dict)  # written rule -> offset of its name
    twice: list[tuple[int, str]] = field(default_factory=list)
    used: dict[str, int] = field(default_factory=dict)  # referenced name -> first offset
    tokens: list[tuple[int, str]] = field(default_factory=list)

    def at(self, pos: int) -> str:
        return self.text[pos] if pos < len(self.text) else ""

    def space(self, pos: int, newline_ok: bool) -> int:
        text = self.text
        while pos < len(text) and (text[pos] in " \t#" or (newline_ok and text[pos] in "\r\n")):
            if text[pos] == "#":
                while pos < len(text) and text[pos] not in "\r\n":
                    pos += 1
            else:
                pos += 1
        return pos

    def symbol(self, name: str) -> int:
        if name not in self.ids:
            self.ids[name] = len(self.ids)
            self.owner[self.ids[name]] = name
        return self.ids[name]

    def generated(self, base: str) -> int:
        rule_id = len(self.ids)
        self.ids[f"{base}_{rule_id}"] = rule_id
        self.owner[rule_id] = base
        return rule_id

    def name_end(self, pos: int) -> int:
        end = pos
        while _is_word(self.at(end)):
            end += 1
        return end

    def int_end(self, pos: int) -> int:
        end = pos
        while self.at(end).isascii() and self.at(end).isdigit():
            end += 1
        return end

    # --- characters -------------------------------------------------------------------------

    def char(self, pos: int) -> tuple[int, int]:
        """(code point, next offset) of one literal character, escapes decoded."""
        c = self.at(pos)
        if c != "\\":
            return ord(c), pos + 1
        kind = self.at(pos + 1)
        if kind in _HEX_SIZES:
            size = _HEX_SIZES[kind]
            digits = self.text[pos + 2: pos + 2 + size]
            count = next((i for i, d in enumerate(digits) if d not in "0123456789abcdefABCDEF"),
                         len(digits))
            if count != size:
                raise _Refused(pos, f"'\\{kind}' needs {size} hex digits")
            return int(digits, 16), pos + 2 + size
        if kind in _ESCAPES:
            return ord(_ESCAPES[kind]), pos + 2
        if not kind:
            raise _Refused(pos, "'\\' at the end of the grammar escapes nothing")
        raise _Refused(pos, f"unknown escape '\\{kind}' (known: {_ESCAPE_HELP})")

    def string(self, start: int, out: list[int]) -> int:
        pos = start + 1
        while self.at(pos) != '"':
            if not self.at(pos) or (self.at(pos) == "\\" and not self.at(pos + 1)):
                raise _Refused(start, "unterminated string: this '\"' is never closed")
            _, pos = self.char(pos)
            out.append(_TERMINAL)
        return pos + 1

    def char_class(self, start: int, out: list[int]) -> int:
        pos = start + 1
        if self.at(pos) == "^":
            pos += 1
        unclosed = "unterminated character class: this '[' is never closed (write ']' as '\\]')"
        while self.at(pos) != "]":
            if not self.at(pos) or (self.at(pos) == "\\" and not self.at(pos + 1)):
                raise _Refused(start, unclosed)
            low, after = self.char(pos)
            out.append(_TERMINAL)
            if self.at(after) == "-" and self.at(after + 1) != "]":
                if not self.at(after + 1):
                    raise _Refused(start, unclosed)
                high, end = self.char(after + 1)
                if high < low:
                    raise _Refused(pos, f"empty range '{self.text[pos:end]}': its end comes "
                                        "before its start")
                after = end
            pos = after
        return pos + 1

    def token(self, start: int) -> int:
        pos = start + 1 if self.at(start) == "!" else start
        if self.at(pos) != "<":
            raise _Refused(start, "'!' must be followed by a token, like !<[2]> or !<think>")
        if self.at(pos + 1) == "[":
            end = self.int_end(pos + 2)
            if end == pos + 2 or self.text[end: end + 2] != "]>":
                raise _Refused(pos, "a token id is written <[123]>")
            return end + 2
        end = self.text.find(">", pos)
        if end < 0:
            raise _Refused(pos, "unterminated token: this '<' is never closed by '>'")
        self.tokens.append((pos, self.text[pos: end + 1]))
        return end + 1

    # --- rules ------------------------------------------------------------------------------

    def repeat(self, out: list[int], last: int, low: int, high: int, rule: str, at: int) -> None:
        """llama.cpp's rewrite of ``S{low,high}`` (high -1: unbounded) into helper rules."""
        if last == len(out):
            raise _Refused(at, f"'{self.text[at]}' has nothing before it to repeat")
        item = out[last:]
        if low == 0:
            del out[last:]
        else:
            for _ in range(low - 1):
                out.extend(item)
        optional = 1 if high < 0 else high - low
        previous = 0
        for i in range(optional):
            rule_id = self.generated(rule)
            body = list(item)
            if i > 0 or high < 0:
                body.append(rule_id if high < 0 else previous)
            self.rules[rule_id] = [*body, _END_OF_ALTERNATIVE, _END_OF_ALTERNATIVE]
            previous = rule_id
        if optional > 0:
            out.append(previous)

    def braces(self, start: int, out: list[int], last: int, rule: str, nested: bool) -> int:
        pos = self.space(start + 1, nested)
        end = self.int_end(pos)
        if end == pos:
            raise _Refused(pos, "expected a number after '{', like {2} or {1,3}")
        low, high = int(self.text[pos:end]), -1
        pos = self.space(end, nested)
        if self.at(pos) == "}":
            high = low
        elif self.at(pos) == ",":
            pos = self.space(pos + 1, nested)
            end = self.int_end(pos)
            if end > pos:
                high = int(self.text[pos:end])
                pos = self.space(end, nested)
            if self.at(pos) != "}":
                raise _Refused(start, "this '{' is never closed by '}'")
        else:
            raise _Refused(start, "this '{' is never closed: write {n}, {n,} or {m,n}")
        if max(low, high) > MAX_REPETITIONS:
            raise _Refused(start, f"more than {MAX_REPETITIONS} repetitions (llama.cpp's limit)")
        if 0 <= high < low:
            raise _Refused(start, f"{{{low},{high}}}: the maximum is below the minimum")
        self.repeat(out, last, low, high, rule, start)
        return self.space(pos + 1, nested)

    def sequence(self, pos: int, rule: str, out: list[int], nested: bool) -> int:
        last = len(out)
        while pos < len(self.text):
            c = self.text[pos]
            if c == '"':
                last = len(out)
                pos = self.space(self.string(pos, out), nested)
            elif c == "[":
                last = len(out)
                pos = self.space(self.char_class(pos, out), nested)
            elif c in "<!":
                last = len(out)
                out.append(_TERMINAL)
                pos = self.space(self.token(pos), nested)
            elif _is_word(c):
                end = self.name_end(pos)
                name = self.text[pos:end]
                self.used.setdefault(name, pos)
                last = len(out)
                out.append(self.symbol(name))
                pos = self.space(end, nested)
            elif c == "(":
                sub = self.generated(rule)
                end = self.alternates(self.space(pos + 1, True), rule, sub, True)
                if self.at(end) != ")":
                    raise self.unclosed_group(pos, end)
                last = len(out)
                out.append(sub)
                pos = self.space(end + 1, nested)
            elif c == ".":
                last = len(out)
                out.append(_TERMINAL)
                pos = self.space(pos + 1, nested)
            elif c in "*+?":
                low, high = {"*": (0, -1), "+": (1, -1), "?": (0, 1)}[c]
                self.repeat(out, last, low, high, rule, pos)
                pos = self.space(pos + 1, nested)
            elif c == "{":
                pos = self.braces(pos, out, last, rule, nested)
            else:
                break
        return pos

    def unclosed_group(self, opened: int, pos: int) -> _Refused:
        if not self.at(pos) or self.text.startswith("::=", pos):
            return _Refused(opened, "this '(' is never closed by ')'")
        return self.unexpected(pos, "inside ( )")

    def unexpected(self, pos: int, where: str) -> _Refused:
        c = self.at(pos)
        if c == "'":
            return _Refused(pos, "GBNF strings are in double quotes (\"...\"), not single")
        if c in ")]}":
            opener = {")": "(", "]": "[", "}": "{"}[c]
            return _Refused(pos, f"'{c}' without a matching '{opener}'")
        if self.text.startswith("::=", pos):
            return _Refused(pos, "unexpected '::=': each rule starts on a line of its own "
                                 "(does the line before end with '|'?)")
        return _Refused(pos, f"unexpected {_shown(c)} {where}")

    def alternates(self, pos: int, rule: str, rule_id: int, nested: bool) -> int:
        body: list[int] = []
        pos = self.sequence(pos, rule, body, nested)
        while self.at(pos) == "|":
            body.append(_END_OF_ALTERNATIVE)
            pos = self.sequence(self.space(pos + 1, True), rule, body, nested)
        self.rules[rule_id] = [*body, _END_OF_ALTERNATIVE]
        return pos

    def rule(self, pos: int) -> int:
        end = self.name_end(pos)
        if end == pos:
            if self.at(pos) == "|":
                raise _Refused(pos, "a line cannot start with '|': end the line before with "
                                    "'|' instead, or put the alternatives in ( )")
            raise _Refused(pos, f"expected a rule name (letters, digits, '-'), found "
                                f"{_shown(self.at(pos))}")
        name = self.text[pos:end]
        after = self.space(end, False)
        if not self.text.startswith("::=", after):
            raise _Refused(after, f"expected '::=' after the rule name '{name}'")
        if name in self.defined:
            self.twice.append((pos, name))
        else:
            self.defined[name] = pos
        end = self.alternates(self.space(after + 3, True), name, self.symbol(name), False)
        c = self.at(end)
        if c == "\r":
            end += 2 if self.at(end + 1) == "\n" else 1
        elif c == "\n":
            end += 1
        elif c:
            raise self.unexpected(end, f"after the rule '{name}'")
        return self.space(end, True)

    def parse(self) -> None:
        if "\0" in self.text:
            raise _Refused(self.text.index("\0"), "a NUL character (llama.cpp stops reading "
                                                  "the grammar there)")
        pos = self.space(0, True)
        while pos < len(self.text):
            pos = self.rule(pos)

    # --- what llama.cpp checks after parsing ------------------------------------------------

    def left_cycle(self) -> list[int] | None:
        """A cycle of rules each of which can begin with the next (llama.cpp's left-recursion
        check: a rule "may be empty" only if one of its alternatives is literally empty)."""
        may_be_empty = {r for r, body in self.rules.items()
                        if body[0] == _END_OF_ALTERNATIVE
                        or any(a == b == _END_OF_ALTERNATIVE for a, b in itertools.pairwise(body))}
        edges: dict[int, list[int]] = {}
        for rule_id, body in self.rules.items():
            firsts, leading = [], True
            for element in body:
                if element == _END_OF_ALTERNATIVE:
                    leading = True
                elif element == _TERMINAL:
                    leading = False
                elif leading:
                    firsts.append(element)
                    leading = element in may_be_empty
            edges[rule_id] = firsts
        done: set[int] = set()
        for start in sorted(self.rules):
            if start in done:
                continue
            path, on_path = [start], {start}
            pending = [iter(edges[start])]
            while pending:
                child = next(pending[-1], None)
                if child is None:
                    pending.pop()
                    finished = path.pop()
                    on_path.discard(finished)
                    done.add(finished)
                    continue
                if child in on_path:
                    return [*path[path.index(child):], child]
                if child in done or child not in self.rules:
                    continue
                path.append(child)
                on_path.add(child)
                pending.append(iter(edges[child]))
        return None


def _semantic_problems(parser: _Parser) -> list[tuple[int, str]]:
    """Problems of a grammar that parsed: llama.cpp's checks plus rules defined twice."""
    found = [(pos, f"rule '{name}' is defined twice (the first is at line "
                   f"{position(parser.text, parser.defined[name])[0]})")
             for pos, name in parser.twice]
    for name, pos in parser.used.items():
        if name not in parser.defined:
            close = difflib.get_close_matches(name, list(parser.defined), n=1)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            found.append((pos, f"undefined rule '{name}'{hint}"))
    if not parser.defined:
        found.append((0, f"the grammar is empty: it needs a rule named '{ROOT}'"))
    elif ROOT not in parser.defined:
        found.append((0, f"no rule named '{ROOT}': llama.cpp starts from the rule named root"))
    if found:
        return found  # llama.cpp stops at these before looking for left recursion
    cycle = parser.left_cycle()
    if cycle is not None:
        names = [parser.owner[r] for r in cycle]
        names = [n for i, n in enumerate(names) if i == 0 or n != names[i - 1]]
        chain = " → ".join(names) if len(names) > 1 else f"{names[0]} → {names[0]}"
        found.append((parser.defined[names[0]],
                      f"left recursion ({chain}): rule '{names[0]}' can begin with itself, "
                      "which llama.cpp cannot run; use repetition instead, e.g. "
                      "list ::= item (\",\" item)*"))
    return found


@functools.lru_cache(maxsize=128)
def check(text: str) -> Grammar:
    """Check GBNF ``text`` as llama.cpp would parse it; cached (editors check on every key)."""
    parser = _Parser(text)
    try:
        parser.parse()
    except _Refused as err:
        line, column = position(text, err.offset)
        return Grammar((GrammarProblem(line, column, err.message),))
    except RecursionError:  # ( nested hundreds deep: llama.cpp's recursion would overflow too
        opened = text.index("(") if "(" in text else 0
        return Grammar((GrammarProblem(*position(text, opened), "groups ( ) nested too deeply"),))
    problems = sorted(
        GrammarProblem(*position(text, pos), message)
        for pos, message in _semantic_problems(parser)
    )
    tokens = tuple(NamedToken(*position(text, pos), t) for pos, t in parser.tokens)
    return Grammar(tuple(problems), tuple(parser.defined), tokens)


def first_problem(text: str) -> GrammarProblem | None:
    """The first problem of a grammar (None: llama.cpp accepts it)."""
    problems = check(text).problems
    return problems[0] if problems else None
