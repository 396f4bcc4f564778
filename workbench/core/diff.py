"""The one word-level diff engine: output vs output, output vs expected, version vs version.

Text is split into words, whitespace runs and single punctuation marks, so the tokens of a text
concatenate back to it exactly and a rendering made of the diff's pieces reproduces both texts
byte for byte. ``difflib.SequenceMatcher`` (autojunk off: a repeated word is never "junk") finds
the longest common runs of words and punctuation; whitespace never anchors a match (otherwise
"a " vs " a" would match the space and lose the word). A run of bare whitespace between two
changes is folded into them, so "the cat" -> "a dog" reads as one replacement.

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


Op = tuple[str, int, int, int, int]  # tag, a tokens [i1:i2], b tokens [j1:j2]


def _match(ta: list[str], tb: list[str]) -> tuple[list[Op], int, int, int]:
    """Ops over the full token lists, matched on words and punctuation only (whitespace never
    anchors a match), plus ``(matched, words in a, words in b)`` for the ratio.

    SequenceMatcher's greedy longest-block search can match more one way round than the other
    ("a.a" vs ".,a"), so the pair is always matched in one canonical order and mirrored: the
    diff of (b, a) is the mirror of (a, b) and similarity is symmetric."""
    if tb < ta:
        ops, matched, words_b, words_a = _match_ordered(tb, ta)
        mirrored = [(t, j1, j2, i1, i2) for t, i1, i2, j1, j2 in ops]
        return mirrored, matched, words_a, words_b
    return _match_ordered(ta, tb)


def _match_ordered(ta: list[str], tb: list[str]) -> tuple[list[Op], int, int, int]:
    wa = [i for i, t in enumerate(ta) if not _is_space(t)]
    wb = [j for j, t in enumerate(tb) if not _is_space(t)]
    matcher = difflib.SequenceMatcher(
        None, [ta[i] for i in wa], [tb[j] for j in wb], autojunk=False
    )
    ops: list[Op] = []
    pa = pb = matched = 0
    for wi, wj, n in matcher.get_matching_blocks():
        end_a = wa[wi] if wi < len(wa) else len(ta)
        end_b = wb[wj] if wj < len(wb) else len(tb)
        _gap(ta, tb, pa, end_a, pb, end_b, ops)
        for k in range(n):
            i, j = wa[wi + k], wb[wj + k]
            ops.append(("equal", i, i + 1, j, j + 1))
            if k + 1 < n:  # the whitespace between two matched words
                _gap(ta, tb, i + 1, wa[wi + k + 1], j + 1, wb[wj + k + 1], ops)
        matched += n
        if n:
            pa, pb = wa[wi + n - 1] + 1, wb[wj + n - 1] + 1
    return ops, matched, len(wa), len(wb)


def _gap(ta: list[str], tb: list[str], i1: int, i2: int, j1: int, j2: int, ops: list[Op]) -> None:
    """An unmatched stretch: tokens equal at both ends stay equal, the middle is a change."""
    while i1 < i2 and j1 < j2 and ta[i1] == tb[j1]:
        ops.append(("equal", i1, i1 + 1, j1, j1 + 1))
        i1, j1 = i1 + 1, j1 + 1
    tail: list[Op] = []
    while i1 < i2 and j1 < j2 and ta[i2 - 1] == tb[j2 - 1]:
        tail.append(("equal", i2 - 1, i2, j2 - 1, j2))
        i2, j2 = i2 - 1, j2 - 1
    if i1 < i2 or j1 < j2:
        ops.append(("replace", i1, i2, j1, j2))
    ops.extend(reversed(tail))


def _merge(ops: list[Op], ta: list[str]) -> list[Op]:
    """Adjacent runs of the same kind joined; a run of bare whitespace between two changes is
    folded into them, so "the cat" -> "a dog" is one replacement, not two around a space."""
    runs: list[Op] = []
    for op in ops:
        if runs and (runs[-1][0] == "equal") == (op[0] == "equal"):
            tag, i1, _, j1, _ = runs.pop()
            op = (tag, i1, op[2], j1, op[4])
        runs.append(op)
    out: list[Op] = []
    for index, (tag, i1, i2, j1, j2) in enumerate(runs):
        inner = 0 < index < len(runs) - 1  # runs alternate: changes on both sides
        if tag == "equal" and inner and all(_is_space(t) for t in ta[i1:i2]):
            tag = "replace"
        if out and tag != "equal" and out[-1][0] != "equal":
            _, p1, _, q1, _ = out.pop()
            tag, i1, j1 = "replace", p1, q1
        out.append((tag, i1, i2, j1, j2))
    return [_settle(op) for op in out]


def _settle(op: Op) -> Op:
    """The right tag for a change: a pure insertion or deletion stays one."""
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


def _ratio(matched: int, words_a: int, words_b: int) -> float:
    return 1.0 if words_a + words_b == 0 else 2.0 * matched / (words_a + words_b)


def diff_words(a: str, b: str) -> WordDiff:
    """Word-level difference turning ``a`` into ``b``."""
    ta, tb = tokenize(a), tokenize(b)
    raw, matched, words_a, words_b = _match(ta, tb)
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
        for tag, i1, i2, j1, j2 in _merge(raw, ta)
    )
    return WordDiff(a, b, ops, _ratio(matched, words_a, words_b))


def similarity(a: str, b: str) -> float:
    """How alike two texts are, 0..1: matched words and punctuation over all of them
    (whitespace ignored, so reflowed text is the same text)."""
    if a == b:
        return 1.0
    _, matched, words_a, words_b = _match(tokenize(a), tokenize(b))
    return _ratio(matched, words_a, words_b)


def diff_expected(expected: str, output: str) -> WordDiff:
    """An output against the expected answer: ``a`` is what was expected, ``b`` what came."""
    return diff_words(expected, output)


def diff_versions(old: PromptTemplate | str, new: PromptTemplate | str) -> WordDiff:
    """Two versions of a template, compared as the text of their files."""
    from workbench.core.template_files import dumps

    old_text = old if isinstance(old, str) else dumps(old)
    new_text = new if isinstance(new, str) else dumps(new)
    return diff_words(old_text, new_text)
