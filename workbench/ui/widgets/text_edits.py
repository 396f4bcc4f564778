"""Small edits that turn one shown document into the next, so a preview never re-sets its text.

Re-setting a 400,000-character ``QPlainTextEdit`` costs ~50 ms on the GUI thread; replacing the
few characters that changed costs well under one. A preview is built as a sequence of segments
(a header line, a message's content, …); between two previews with the same shape only changed
segments are touched, and within a content segment only the span between the common prefix and
suffix. Positions are in UTF-16 code units, as ``QTextDocument`` counts them. Pure Python: the
diffs are computed on the preview's worker thread.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

_CHUNK = 4096


@dataclass(frozen=True, slots=True)
class Segment:
    """A run of the shown text; headers are drawn in their own format."""

    text: str
    header: bool = False


@dataclass(frozen=True, slots=True)
class Edit:
    """Replace ``[start, end)`` of the old document (UTF-16 positions) with ``text``."""

    start: int
    end: int
    text: str
    header: bool = False


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units (characters beyond the BMP count twice)."""
    return len(text) if text.isascii() else len(text.encode("utf-16-le")) // 2


def for_display(text: str) -> str:
    """``text`` with carriage returns shown as ␍: Qt would fold CR LF into one line break (so
    positions would shift) and hide a lone CR, which a person comparing prompts wants to see."""
    return text.replace("\r", "␍") if "\r" in text else text


def common_prefix(a: str, b: str) -> int:
    """Length of the longest common prefix, comparing 4 KiB slices at a time."""
    n = min(len(a), len(b))
    lo = 0
    while lo < n:
        hi = min(lo + _CHUNK, n)
        if a[lo:hi] != b[lo:hi]:
            while a[lo] == b[lo]:
                lo += 1
            return lo
        lo = hi
    return n


def common_suffix(a: str, b: str, limit: int) -> int:
    """Length of the longest common suffix, at most ``limit``."""
    n = min(len(a), len(b), limit)
    done = 0
    while done < n:
        step = min(_CHUNK, n - done)
        if a[len(a) - done - step : len(a) - done] != b[len(b) - done - step : len(b) - done]:
            while a[len(a) - done - 1] == b[len(b) - done - 1]:
                done += 1
            return done
        done += step
    return n


def text_edit(old: str, new: str, offset: int = 0) -> Edit | None:
    """The one replacement turning ``old`` into ``new`` (None if equal); ``offset`` is where
    ``old`` starts in its document, in UTF-16 units."""
    if old == new:
        return None
    prefix = common_prefix(old, new)
    suffix = common_suffix(old, new, min(len(old), len(new)) - prefix)
    start = offset + utf16_len(old[:prefix])
    end = start + utf16_len(old[prefix : len(old) - suffix])
    return Edit(start, end, new[prefix : len(new) - suffix])


def segment_edits(old: Sequence[Segment], new: Sequence[Segment]) -> list[Edit] | None:
    """Edits from the last to the first (so applying them in order keeps positions valid) that
    turn ``old`` into ``new``; None when the shapes differ and the document must be rebuilt."""
    if len(old) != len(new) or any(o.header != n.header for o, n in zip(old, new, strict=True)):
        return None
    edits: list[Edit] = []
    offset = 0
    for before, after in zip(old, new, strict=True):
        length = utf16_len(before.text)
        if before.text != after.text:
            if before.header:
                edits.append(Edit(offset, offset + length, after.text, header=True))
            else:
                edit = text_edit(before.text, after.text, offset)
                if edit is not None:
                    edits.append(edit)
        offset += length
    edits.reverse()
    return edits
