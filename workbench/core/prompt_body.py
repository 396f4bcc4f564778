"""A prompt body as paragraphs a person wrote, and where its query (the input) is.

Techniques work on the message a person wrote rather than on a layout of their own: they find the
*query* (the paragraph with the input, usually a ``{{ variable }}``), put the examples block and
any guidance before it and a reasoning cue after everything. Paragraphs are split on blank lines
and the separators are kept, so inserting a paragraph and removing it again gives back the text
byte for byte, and everything a technique did not add stays exactly as written.

A query written as ``Review: {{ review }}`` followed by a line ``Sentiment:`` names its labels:
examples are then written with the same labels, so the model continues the pattern.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_BREAK = re.compile(r"(\n(?:[ \t]*\n)+)")
#: A paragraph that is nothing but the examples block.
EXAMPLES_PARAGRAPH = "{{ examples_block }}"
_EXAMPLES_ALONE = re.compile(r"\{\{-?\s*examples_block\s*-?\}\}")
#: Any Jinja use of the examples (``{{ examples_block }}``, ``{% for e in examples %}``).
_USES_EXAMPLES = re.compile(r"\{[{%]-?[^}]*?\bexamples(?:_block)?\b")
#: A paragraph that only places a component that is not the input.
_OTHER_PART = re.compile(r"\{\{-?\s*parts\.(?:instruction|context|output_indicator)\s*-?\}\}")
_MAX_LABEL_WORDS = 4
_MAX_LABEL_CHARS = 40


def is_label(text: str) -> bool:
    """A short name such as "Review" or "Customer message" that can stand before a colon."""
    return (
        0 < len(text) <= _MAX_LABEL_CHARS
        and text == text.strip()
        and text[0].isalnum()
        and not any(c in text for c in "{}:\n\r")
        and len(text.split()) <= _MAX_LABEL_WORDS
    )


def label_of_line(line: str) -> str | None:
    """``"Sentiment"`` for a line ``"Sentiment:"`` (where the answer starts), else None."""
    stripped = line.rstrip(" \t")
    if not stripped.endswith(":"):
        return None
    label = stripped[:-1]
    return label if is_label(label) else None


def _leading_label(line: str) -> str | None:
    """``"Review"`` for a line ``"Review: {{ review }}"`` or ``"Review:"``."""
    head, colon, rest = line.partition(":")
    if not colon or (rest and not rest[0].isspace()):
        return None
    return head if is_label(head) else None


def uses_examples(source: str) -> bool:
    """Whether a Jinja body places the few-shot examples."""
    return bool(_USES_EXAMPLES.search(source))


def is_examples_paragraph(paragraph: str) -> bool:
    return bool(_EXAMPLES_ALONE.fullmatch(paragraph.strip()))


@dataclass
class Body:
    """A text as paragraphs and the exact blank-line runs between them."""

    paragraphs: list[str]
    breaks: list[str]

    @classmethod
    def parse(cls, text: str) -> Body:
        pieces = _BREAK.split(text)
        return cls(pieces[0::2], pieces[1::2])

    def text(self) -> str:
        out = [self.paragraphs[0]]
        for gap, paragraph in zip(self.breaks, self.paragraphs[1:], strict=True):
            out += [gap, paragraph]
        return "".join(out)

    def filled(self) -> list[int]:
        """Indexes of the paragraphs that hold any text."""
        return [i for i, p in enumerate(self.paragraphs) if p.strip()]

    def insert(self, index: int, paragraph: str) -> None:
        """``paragraph`` before paragraph ``index``; ``remove(index)`` undoes it exactly."""
        if not self.filled():
            self.paragraphs, self.breaks = [paragraph], []
            return
        self.paragraphs.insert(index, paragraph)
        self.breaks.insert(max(index - 1, 0), "\n\n")

    def append(self, paragraph: str) -> None:
        """``paragraph`` after the last one with text (trailing blank lines stay last)."""
        filled = self.filled()
        self.insert(filled[-1] + 1 if filled else 0, paragraph)

    def remove(self, index: int) -> None:
        self.paragraphs.pop(index)
        if self.breaks:
            self.breaks.pop(max(index - 1, 0))

    def line(self, index: int, which: int) -> str:
        return self.paragraphs[index].split("\n")[which]

    def set_line(self, index: int, which: int, line: str) -> None:
        lines = self.paragraphs[index].split("\n")
        lines[which] = line
        self.paragraphs[index] = "\n".join(lines)


@dataclass(frozen=True)
class Query:
    """Where the input is: its paragraph, the line where the answer starts (if written), and
    the labels the query is written with (if it names both)."""

    index: int
    answer: tuple[int, int] | None = None  # (paragraph, line) of e.g. "Sentiment:"
    input_label: str = ""
    output_label: str = ""

    @property
    def labelled(self) -> bool:
        return bool(self.input_label and self.output_label)


def _query_index(body: Body) -> int | None:
    filled = body.filled()
    if not filled:
        return None
    for i in reversed(filled):
        if "parts.input_data" in body.paragraphs[i]:
            return i
    bare = [i for i in filled if label_of_line(body.paragraphs[i].strip()) is None]
    for i in reversed(bare):
        text = body.paragraphs[i].strip()
        if "{{" in text and not _OTHER_PART.fullmatch(text) and not is_examples_paragraph(text):
            return i
    return bare[-1] if bare else filled[-1]


def find_query(body: Body) -> Query | None:
    """The query of a body (None when it is empty): the paragraph with the input data, else the
    last one with a ``{{ variable }}``, else the last one; its labels when it is written as
    ``Label: input`` followed by an ``Answer label:`` line."""
    index = _query_index(body)
    if index is None:
        return None
    lines = body.paragraphs[index].split("\n")
    answer: tuple[int, int] | None = None
    output_label = label_of_line(lines[-1]) if len(lines) > 1 else None
    if output_label is not None:
        answer = (index, len(lines) - 1)
    elif index + 1 < len(body.paragraphs) and "\n" not in body.paragraphs[index + 1]:
        output_label = label_of_line(body.paragraphs[index + 1])
        answer = (index + 1, 0) if output_label is not None else None
    input_label = _leading_label(lines[0]) if output_label is not None else None
    return Query(index, answer, input_label or "", output_label or "")


def relabel(body: Body, query: Query, input_label: str, output_label: str) -> None:
    """Write the query with other labels (both must be named already)."""
    if not query.labelled or query.answer is None:
        return
    first = body.line(query.index, 0)
    body.set_line(query.index, 0, input_label + first[len(query.input_label):])
    set_answer_label(body, query, output_label)


def answer_label(body: Body, query: Query) -> str | None:
    return label_of_line(body.line(*query.answer)) if query.answer else None


def set_answer_label(body: Body, query: Query, label: str) -> None:
    if query.answer is None:
        return
    line = body.line(*query.answer)
    current = label_of_line(line)
    if current is not None:
        start = line.index(current)
        body.set_line(*query.answer, line[:start] + label + line[start + len(current):])
