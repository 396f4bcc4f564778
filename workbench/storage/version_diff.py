"""Differences between two versions of a template file, as data.

Line chunks (like a unified diff) and, where a block of lines was replaced, the word-level changes
inside it, so a view can highlight exactly the words that moved without re-diffing. The words come
from ``core.diff``, the project's one word-level diff engine; this module only adds the line
chunks and labels a version history needs.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Literal, cast

from workbench.core.diff import SpanKind, diff_words

ChunkOp = Literal["equal", "insert", "delete", "replace"]
WordOp = SpanKind


@dataclass(frozen=True)
class WordChange:
    """A ``core.diff`` span without its offsets: the stable shape of ``library diff --json``."""

    op: WordOp
    text: str


@dataclass(frozen=True)
class DiffChunk:
    op: ChunkOp
    old_start: int  # 1-based first line in the older text
    new_start: int
    old: tuple[str, ...]  # lines, without their line ends
    new: tuple[str, ...]
    words: tuple[WordChange, ...] = ()  # replace chunks only


@dataclass(frozen=True)
class TextDiff:
    old_label: str
    new_label: str
    chunks: tuple[DiffChunk, ...]

    @property
    def changed(self) -> bool:
        return any(c.op != "equal" for c in self.chunks)

    @property
    def added(self) -> int:
        return sum(len(c.new) for c in self.chunks if c.op in ("insert", "replace"))

    @property
    def removed(self) -> int:
        return sum(len(c.old) for c in self.chunks if c.op in ("delete", "replace"))

    def unified(self, context: int = 3) -> str:
        """The same difference as a unified diff (for the CLI and for pasting into a review)."""
        old = [line for c in self.chunks for line in c.old]
        new = [line for c in self.chunks for line in c.new]
        return "\n".join(
            difflib.unified_diff(old, new, self.old_label, self.new_label, n=context, lineterm="")
        )


def word_changes(old: str, new: str) -> tuple[WordChange, ...]:
    """Word-level edit of ``old`` into ``new`` (each replacement as its deletion then insertion)."""
    return tuple(WordChange(span.kind, span.text) for span in diff_words(old, new).inline)


def diff_texts(old: str, new: str, old_label: str = "old", new_label: str = "new") -> TextDiff:
    a = old.splitlines()
    b = new.splitlines()
    chunks = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        old_lines, new_lines = tuple(a[i1:i2]), tuple(b[j1:j2])
        words = word_changes("\n".join(old_lines), "\n".join(new_lines)) if op == "replace" else ()
        chunks.append(DiffChunk(cast(ChunkOp, op), i1 + 1, j1 + 1, old_lines, new_lines, words))
    return TextDiff(old_label, new_label, tuple(chunks))
