"""Counting tokens while a person types, without re-encoding the whole document per keystroke.

tiktoken first splits text with a pre-tokenizer regex and then runs BPE inside each piece, so a
count is additive across any position where no regex piece can ever span. For both cl100k_base
and o200k_base these positions are such boundaries (tests verify them against both patterns and,
character class by character class, against tiktoken itself):

* after a newline, before a letter or digit: no alternative of either pattern matches a newline
  followed by a letter or digit, and the piece ending with that newline ends the same way whether
  the text stops there or goes on;
* between a letter or digit and a single space followed by a letter or digit: a word or number
  piece never takes a following space, and a space before a letter or digit starts a new piece;
* between a letter or digit and a punctuation mark or symbol other than ``'``: word and number
  pieces hold only letters, marks, digits and a leading non-letter, so they end before it (the
  apostrophe is excluded because o200k's word pieces take contractions: ``it's`` is one piece).
  Minified JSON, code and CJK text (where words are not separated by spaces) are full of these;
* between a letter and a digit, either way round: letters and digits never share a piece.

Every rule looks at most one character beyond the position, and every piece that ends at a
boundary is matched the same way whether the text stops there or goes on.

The counter cuts the text at such boundaries into chunks of roughly ``chunk_chars`` characters
and caches each chunk's count. After an edit, it finds the chunks that still stand in place at
the start and at the end of the new text (compared in place with ``str.startswith``, no slicing),
widens the changed region until both of its edges are boundaries in the new text, and
re-encodes only that region.
"""

from __future__ import annotations

import re
from unicodedata import category

from workbench.core.tokens import TiktokenTokenizer, Tokenizer

#: Encodings whose pre-tokenizer pattern has the boundaries described above (o200k_harmony
#: uses o200k_base's pattern).
CHUNKABLE_ENCODINGS = frozenset({"cl100k_base", "o200k_base", "o200k_harmony"})

#: Finds the character before every boundary (a match ends at the boundary) and a few positions
#: that are not, which ``_is_boundary`` then rejects: ``[^\W_]`` is exactly ``str.isalnum()``,
#: ``[^\w\s']`` also holds marks and controls. A pre-filter in ``re``, which scans about eight
#: times faster than ``regex`` lookbehinds over Unicode categories; a boundary it missed would
#: only be a chunk cut less, never a wrong count.
_CANDIDATE = re.compile(r"\n(?=[^\W_])|[^\W_](?=[^\w\s']|_| [^\W_])|[^\W\d_](?=\d)|\d(?=[^\W\d_])")


def _is_boundary(text: str, pos: int, end: int) -> bool:
    """``is_boundary`` for ``0 < pos < end``, as if the text ended at ``end``."""
    before, at = text[pos - 1], text[pos]
    if before == "\n":
        return at.isalnum()
    if not before.isalnum():
        return False
    if at == " ":
        return pos + 1 < end and text[pos + 1].isalnum()
    if at.isalnum():  # a letter and a number, either way round (isalnum and not isalpha: \p{N})
        return before.isalpha() != at.isalpha()
    return at != "'" and category(at)[0] in "PS"


def is_boundary(text: str, pos: int) -> bool:
    """Whether counts of ``text[:pos]`` and ``text[pos:]`` add up to the count of ``text``.

    Conservative: True only for the kinds of boundary above and the ends of the text.
    """
    if pos <= 0 or pos >= len(text):
        return True
    return _is_boundary(text, pos, len(text))


#: Spans of a text known to hold no boundary, as sorted ``(start, end)`` pairs.
Spans = tuple[tuple[int, int], ...]


def split_chunks(
    text: str, chunk_chars: int, start: int = 0, end: int | None = None, known: Spans = ()
) -> list[str]:
    """``text[start:end]`` cut at boundaries into chunks of at least ``chunk_chars`` characters
    (the last may be shorter; one without boundaries stays whole).

    ``known`` spans are not scanned: a hint that saves scanning the text around an edit inside
    a long chunk again. A boundary in them is only a cut missed, never a wrong count.
    """
    end = len(text) if end is None else end
    chunks: list[str] = []
    passed = 0  # spans wholly before the scan: skipped for good, not looked at per cut
    while end - start > chunk_chars:
        scan = start + chunk_chars
        while passed < len(known) and known[passed][1] <= scan:
            passed += 1
        cut = _first_boundary(text, scan, end, known[passed:])
        if cut is None:
            break
        chunks.append(text[start:cut])
        start = cut
    if end > start:
        chunks.append(text[start:end])
    return chunks


def _first_boundary(text: str, pos: int, end: int, known: Spans) -> int | None:
    """The first boundary at or after ``pos`` (> 0) and before ``end``, skipping ``known``.

    Neither the scan nor the check sees past ``end``, so a cut is never placed where the text
    beyond the region would be needed to prove it.
    """
    search = _CANDIDATE.search
    for skip_start, skip_end in (*known, (end, end)):
        stop = min(skip_start + 1, end)  # lets a candidate just before the span see its end
        while pos < stop:
            found = search(text, pos - 1, stop)
            if found is None:
                break
            cut = found.end()
            if _is_boundary(text, cut, end):
                return cut
            pos = cut + 1
        pos = max(pos, skip_end)
    return None


def _common_prefix(a: str, b: str, b_start: int, limit: int) -> int:
    """Length of the common prefix of ``a`` and ``b[b_start:]``, at most ``limit``: a binary
    search that copies only the half it compares (about ``limit`` characters in all)."""
    low, high = 0, limit
    while low < high:
        mid = (low + high + 1) // 2
        if b.startswith(a[low:mid], b_start + low):
            low = mid
        else:
            high = mid - 1
    return low


def _common_suffix(a: str, b: str, b_end: int, limit: int) -> int:
    """Length of the common suffix of ``a`` and ``b[:b_end]``, at most ``limit``."""
    low, high, size = 0, limit, len(a)
    while low < high:
        mid = (low + high + 1) // 2
        if b.startswith(a[size - mid : size - low], b_end - mid):
            low = mid
        else:
            high = mid - 1
    return low


def _known_spans(old: list[str], text: str, start: int, end: int, chunk_chars: int) -> Spans:
    """Where ``text[start:end]``, which replaced the chunks ``old``, still has none of their
    boundaries: each chunk was cut at the first boundary ``chunk_chars`` past its start, so it
    holds none beyond that, and a position keeps its status while the characters before, at
    and after it are unchanged (in the common prefix, or in the common suffix, shifted)."""
    joined = "".join(old)
    old_size, new_size = len(joined), end - start
    limit = min(old_size, new_size)
    prefix = _common_prefix(joined, text, start, limit)
    suffix = _common_suffix(joined, text, end, limit - prefix)
    shift = new_size - old_size
    before: list[tuple[int, int]] = []
    after: list[tuple[int, int]] = []
    offset = 0
    for chunk in old:
        free_start, free_end = offset + chunk_chars, offset + len(chunk)
        offset = free_end
        if free_start < min(free_end, prefix - 1):
            before.append((start + free_start, start + min(free_end, prefix - 1)))
        free_start = max(free_start, old_size - suffix + 1)
        if free_start < free_end:
            after.append((start + free_start + shift, start + free_end + shift))
    return (*before, *after)


#: A changed region longer than this many chunks is re-split with ``_known_spans``'s hint.
_HINTED_REGION = 8


class IncrementalCounter:
    """Keeps a document's token count current as it is edited.

    ``update(text)`` returns the count of the whole new text, equal to ``tokenizer.count(text)``,
    re-encoding only the region that changed. Tokenizers without known boundaries (a model's own
    tokenizer) are counted whole on each change. Not thread-safe: one counter per document.
    """

    def __init__(self, tokenizer: Tokenizer, text: str = "", *, chunk_chars: int = 2048) -> None:
        if chunk_chars < 1:
            raise ValueError("chunk_chars must be at least 1")
        self.tokenizer = tokenizer
        self.chunkable = (
            isinstance(tokenizer, TiktokenTokenizer) and tokenizer.name in CHUNKABLE_ENCODINGS
        )
        self.chunk_chars = chunk_chars
        self._chunks: list[str] = []
        self._counts: list[int] = []
        self.total = 0
        #: Characters re-encoded by the last ``update`` (shows how little a small edit costs).
        self.recounted_chars = 0
        self.update(text)

    @property
    def chunk_count(self) -> int:
        return len(self._chunks)

    def _is_boundary(self, text: str, pos: int) -> bool:
        return is_boundary(text, pos) if self.chunkable else pos in (0, len(text))

    def update(self, text: str) -> int:
        """Re-count after ``text`` replaced the previous text; returns the new total."""
        chunks, counts = self._chunks, self._counts
        n = len(chunks)
        # Chunks unchanged at the start of the new text.
        i, start = 0, 0
        while i < n and text.startswith(chunks[i], start):
            start += len(chunks[i])
            i += 1
        # Chunks unchanged at its end, not overlapping those.
        j, end = n, len(text)
        while j > i:
            chunk = chunks[j - 1]
            pos = end - len(chunk)
            if pos < start or not text.startswith(chunk, pos):
                break
            end = pos
            j -= 1
        # An edit next to a cut may have made it no longer a boundary: widen until both are.
        while i > 0 and not self._is_boundary(text, start):
            i -= 1
            start -= len(chunks[i])
        while j < n and not self._is_boundary(text, end):
            end += len(chunks[j])
            j += 1
        if i == j and start == end:
            self.recounted_chars = 0
            return self.total
        if self.chunkable:
            known: Spans = ()
            if end - start > _HINTED_REGION * self.chunk_chars:
                # A long chunk (text without boundaries: one long word, a run of symbols):
                # re-scanning all of it per keystroke made an edit slower than a full count.
                known = _known_spans(chunks[i:j], text, start, end, self.chunk_chars)
            fresh = split_chunks(text, self.chunk_chars, start, end, known)
        else:
            fresh = [text[start:end]] if end > start else []
        fresh_counts = [self.tokenizer.count(chunk) for chunk in fresh]
        self.total += sum(fresh_counts) - sum(counts[i:j])
        chunks[i:j] = fresh
        counts[i:j] = fresh_counts
        self.recounted_chars = end - start
        return self.total
