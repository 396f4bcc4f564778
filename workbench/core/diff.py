"""The one word-level diff engine: output vs output, output vs expected, version vs version.

Text is split into words, whitespace runs and single punctuation marks, so the tokens of a text
concatenate back to it exactly and a rendering made of the diff's pieces reproduces both texts
byte for byte. ``difflib.SequenceMatcher`` (autojunk off: a repeated word is never "junk") finds
the longest common runs; a run of bare whitespace between two changes is folded into them, so
"the cat" -> "a dog" reads as one replacement rather than two with a matched space between.

Similarity counts only non-whitespace tokens, so reflowed text scores as the same text.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from functools import cached_property
from typing import Literal

from workbench.core.models import PromptTemplate

Tag = Literal["equal", "insert", "delete", "replace"]
SpanKind = Literal["equal", "insert", "delete"]

_TOKENS = re.compile(r"\w+|\s+|[^\w\s]")


def tokenize(text: str) -> list[str]:
    """Words, whitespace runs and single punctuation marks; ``"".join(tokenize(t)) == t``."""
    return _TOKENS.findall(text)


def _is_space(token: str) -> bool:
    return token.isspace()


@dataclass(frozen=True, slots=True)
class DiffOp:
    """One step of turning ``a`` into ``b``, with character offsets into both texts.

    ``equal``: ``a_text == b_text``; ``delete``: only ``a_text``; ``insert``: only ``b_text``;
    ``replace``: both differ.
    """

    tag: Tag
    a_start: int
    a_end: int
    b_start: int
    b_end: int
    a_text: str
    b_text: str


@dataclass(frozen=True, slots=True)
class Span:
    """A piece of rendered text: unchanged, only in ``a`` (deleted) or only in ``b`` (inserted).
    ``start``/``end`` are character offsets into the text the span belongs to (``b`` for
    insertions, ``a`` otherwise; for inline ``equal`` spans, offsets into ``a``)."""

    kind: SpanKind
    text: str
    start: int
    end: int


@dataclass(frozen=True)
class WordDiff:
    """The difference between ``a`` (left, older, expected) and ``b`` (right, newer, output)."""

    a: str
    b: str
    ops: tuple[DiffOp, ...]
    ratio: float  # 0..1 similarity over non-whitespace tokens

    @property
    def identical(self) -> bool:
        return self.a == self.b

    @cached_property
    def inline(self) -> tuple[Span, ...]:
        """One interleaved rendering: each replacement as its deletion then its insertion.
        ``equal`` + ``delete`` spans spell ``a``; ``equal`` + ``insert`` spans spell ``b``."""
        spans: list[Span] = []
        for op in self.ops:
            if op.tag == "equal":
                spans.append(Span("equal", op.a_text, op.a_start, op.a_end))
                continue
            if op.a_text:
                spans.append(Span("delete", op.a_text, op.a_start, op.a_end))
            if op.b_text:
                spans.append(Span("insert", op.b_text, op.b_start, op.b_end))
        return tuple(spans)

    @cached_property
    def side_by_side(self) -> tuple[tuple[Span, ...], tuple[Span, ...]]:
        """``(left, right)``: ``a`` as equal/delete spans and ``b`` as equal/insert spans."""
        left: list[Span] = []
        right: list[Span] = []
        for op in self.ops:
            if op.tag == "equal":
                left.append(Span("equal", op.a_text, op.a_start, op.a_end))
                right.append(Span("equal", op.b_text, op.b_start, op.b_end))
                continue
            if op.a_text:
                left.append(Span("delete", op.a_text, op.a_start, op.a_end))
            if op.b_text:
                right.append(Span("insert", op.b_text, op.b_start, op.b_end))
        return tuple(left), tuple(right)

    @property
    def words_removed(self) -> int:
        return sum(_word_count(op.a_text) for op in self.ops if op.tag in ("delete", "replace"))

    @property
    def words_added(self) -> int:
        return sum(_word_count(op.b_text) for op in self.ops if op.tag in ("insert", "replace"))


def _word_count(text: str) -> int:
    return sum(1 for t in tokenize(text) if not _is_space(t))


def _raw_ops(a: list[str], b: list[str]) -> list[tuple[str, int, int, int, int]]:
    if not a and not b:
        return []
    return [
        tuple(op)  # type: ignore[misc]
        for op in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes()
    ]


def _fold_whitespace(
    raw: list[tuple[str, int, int, int, int]], a: list[str], b: list[str]
) -> list[tuple[str, int, int, int, int]]:
    """Absorb equal runs of bare whitespace that sit between two changes into one replacement.

    ``get_opcodes`` alternates equal and changed runs, so an equal run that is neither first nor
    last has a change on both sides."""
    out: list[tuple[str, int, int, int, int]] = []
    for index, (tag, i1, i2, j1, j2) in enumerate(raw):
        between_changes = 0 < index < len(raw) - 1 and out and out[-1][0] != "equal"
        if tag == "equal" and between_changes and all(_is_space(t) for t in a[i1:i2]):
            tag = "replace"
        if out and tag != "equal" and out[-1][0] != "equal":
            _, p1, _, q1, _ = out.pop()
            tag = "replace"
            i1, j1 = p1, q1
        out.append((tag, i1, i2, j1, j2))
    return [_settle(op) for op in out]


def _settle(op: tuple[str, int, int, int, int]) -> tuple[str, int, int, int, int]:
    """The right tag for a merged run: a pure insertion or deletion stays one."""
    tag, i1, i2, j1, j2 = op
    if tag == "equal":
        return op
    if i1 == i2:
        return ("insert", i1, i2, j1, j2)
    if j1 == j2:
        return ("delete", i1, i2, j1, j2)
    return ("replace", i1, i2, j1, j2)


def _offsets(tokens: list[str]) -> list[int]:
    """Character offset of every token boundary (len(tokens) + 1 entries)."""
    offsets = [0]
    for token in tokens:
        offsets.append(offsets[-1] + len(token))
    return offsets


def _ratio(a: list[str], b: list[str], ops: list[tuple[str, int, int, int, int]]) -> float:
    words_a = sum(1 for t in a if not _is_space(t))
    words_b = sum(1 for t in b if not _is_space(t))
    if words_a + words_b == 0:
        return 1.0 if "".join(a).split() == "".join(b).split() else 0.0
    matched = sum(
        sum(1 for t in a[i1:i2] if not _is_space(t)) for tag, i1, i2, _, _ in ops if tag == "equal"
    )
    return 2.0 * matched / (words_a + words_b)


def diff_words(a: str, b: str) -> WordDiff:
    """Word-level difference turning ``a`` into ``b``."""
    ta, tb = tokenize(a), tokenize(b)
    raw = _raw_ops(ta, tb)
    ratio = _ratio(ta, tb, raw)
    folded = _fold_whitespace(raw, ta, tb)
    oa, ob = _offsets(ta), _offsets(tb)
    ops = tuple(
        DiffOp(
            tag,  # type: ignore[arg-type]
            oa[i1],
            oa[i2],
            ob[j1],
            ob[j2],
            a[oa[i1] : oa[i2]],
            b[ob[j1] : ob[j2]],
        )
        for tag, i1, i2, j1, j2 in folded
    )
    return WordDiff(a, b, ops, ratio)


def similarity(a: str, b: str) -> float:
    """How alike two texts are, 0..1, over their words and punctuation (whitespace ignored)."""
    if a == b:
        return 1.0
    ta, tb = tokenize(a), tokenize(b)
    return _ratio(ta, tb, _raw_ops(ta, tb))


def diff_expected(expected: str, output: str) -> WordDiff:
    """An output against the expected answer: ``a`` is what was expected, ``b`` what came."""
    return diff_words(expected, output)


def diff_versions(old: PromptTemplate | str, new: PromptTemplate | str) -> WordDiff:
    """Two versions of a template, compared as the text of their files."""
    from workbench.core.template_files import dumps

    old_text = old if isinstance(old, str) else dumps(old)
    new_text = new if isinstance(new, str) else dumps(new)
    return diff_words(old_text, new_text)
