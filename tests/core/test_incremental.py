"""Incremental counting: its boundaries are real, and it always equals a full count."""

from __future__ import annotations

import re
import sys

import pytest
import regex  # tiktoken's own dependency: the same \p{..} classes its patterns use
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.core.byte_tokenizer import ByteTokenizer
from workbench.core.incremental import IncrementalCounter, is_boundary, split_chunks
from workbench.core.tokens import TiktokenTokenizer, get_encoding

ENCODINGS = ("cl100k_base", "o200k_base")

#: Pieces that stress the pre-tokenizers: newlines (LF, CR, CRLF), runs of spaces, digits,
#: contractions, slashes (o200k folds them into punctuation pieces), letters of several scripts,
#: a combining accent, emoji (multi-byte, split across tokens).
PIECES = [
    "a",
    "b",
    "Z",
    "word",
    "Hello",
    "x",
    "9",
    "123",
    "4567",
    " ",
    "  ",
    "\t",
    "\n",
    "\n\n",
    "\r",
    "\r\n",
    ".",
    ",",
    "!",
    "?",
    "'s",
    "'ll",
    "'",
    '"',
    "/",
    "//",
    "\\",
    "-",
    "_",
    "(",
    ")",
    "{",
    "}",
    "<|endoftext|>",
    "é",
    "ß",
    "Ω",
    "中文",
    "\u0301",
    "🎉",
    "😀",
    "١٢٣",
    "\u00a0",
    "\u2028",
]
TEXTS = st.lists(st.sampled_from(PIECES), max_size=40).map("".join)


def full_count(name: str, text: str) -> int:
    return len(get_encoding(name).encode_ordinary(text))


# --- the boundaries ---


def test_alnum_is_a_subset_of_the_pattern_letter_and_digit_classes() -> None:
    """The counter tests ``str.isalnum`` (and ``[^\\W_]``); the patterns use \\p{L} and \\p{N}.

    Every character Python calls alphanumeric must be a letter or number to the pattern
    engine, whatever the two Unicode databases' versions are.
    """
    word = re.compile(r"[^\W_]")
    letter_or_number = regex.compile(r"[\p{L}\p{N}]")
    for code in range(sys.maxunicode + 1):
        char = chr(code)
        alnum = char.isalnum()
        assert bool(word.match(char)) == alnum, hex(code)
        if alnum:
            assert letter_or_number.match(char), hex(code)


def pieces(pattern: regex.Pattern[str], text: str) -> list[str]:
    return pattern.findall(text)


@pytest.mark.parametrize("name", ENCODINGS)
@settings(max_examples=300, deadline=None)
@given(text=TEXTS)
def test_no_pretokenizer_piece_crosses_a_boundary(name: str, text: str) -> None:
    # tiktoken runs its patterns in Rust, where "$" is the end of the text; Python's regex "$"
    # also matches before a final newline, so it is spelled \Z here.
    pattern = regex.compile(get_encoding(name)._pat_str.replace("$", r"\Z"))
    whole = pieces(pattern, text)
    assert "".join(whole) == text
    for pos in range(1, len(text)):
        if is_boundary(text, pos):
            assert pieces(pattern, text[:pos]) + pieces(pattern, text[pos:]) == whole, pos


@pytest.mark.parametrize("name", ENCODINGS)
@settings(max_examples=300, deadline=None)
@given(text=TEXTS)
def test_tokens_split_exactly_at_boundaries(name: str, text: str) -> None:
    encoding = get_encoding(name)
    ids = encoding.encode_ordinary(text)
    for pos in range(1, len(text)):
        if is_boundary(text, pos):
            left = encoding.encode_ordinary(text[:pos])
            assert left + encoding.encode_ordinary(text[pos:]) == ids, pos


@pytest.mark.parametrize(
    ("text", "pos", "expected"),
    [
        ("a\nb", 2, True),
        ("a\n7", 2, True),
        ("a\n中", 2, True),
        ("a\n b", 2, False),  # the space joins the newline's whitespace run
        ("a\n\nb", 2, False),
        ("a\r\nb", 2, False),
        ("a\r\nb", 3, True),
        ("one two", 3, True),
        ("one  two", 3, False),
        ("one .x", 3, False),
        ("it's fine", 4, True),
        ("one two", 4, False),
        ("abc", 0, True),
        ("abc", 3, True),
        ("ab ", 2, False),  # the next character is needed to decide
    ],
)
def test_is_boundary_cases(text: str, pos: int, expected: bool) -> None:
    assert is_boundary(text, pos) is expected


@settings(max_examples=200, deadline=None)
@given(text=TEXTS, size=st.integers(1, 30))
def test_split_chunks_cuts_only_at_boundaries(text: str, size: int) -> None:
    chunks = split_chunks(text, size)
    assert "".join(chunks) == text
    assert all(chunks)
    position = 0
    for chunk in chunks[:-1]:
        assert len(chunk) >= size
        position += len(chunk)
        assert is_boundary(text, position)


def test_split_chunks_of_a_region_and_text_without_boundaries() -> None:
    text = "alpha beta\ngamma delta\nepsilon"
    assert split_chunks(text, 4, 6, 22) == ["beta\n", "gamma", " delta"]
    # The cut before " delta" needs the "d", which lies beyond a region ending at 17: no cut.
    assert split_chunks(text, 1, 0, 17) == ["alpha", " beta\n", "gamma "]
    assert split_chunks("x" * 100, 10) == ["x" * 100]
    assert split_chunks("", 10) == []


# --- the counter ---

EDITS = st.lists(
    st.tuples(st.floats(0, 1), st.integers(0, 12), TEXTS.filter(lambda t: len(t) < 25)),
    min_size=1,
    max_size=25,
)


def apply(text: str, where: float, delete: int, insert: str) -> str:
    pos = int(where * len(text))
    return text[:pos] + insert + text[pos + delete :]


@pytest.mark.parametrize("name", ENCODINGS)
@settings(max_examples=150, deadline=None)
@given(start=TEXTS, edits=EDITS, chunk_chars=st.integers(1, 40))
def test_incremental_equals_full_count_after_any_edits(
    name: str, start: str, edits: list[tuple[float, int, str]], chunk_chars: int
) -> None:
    counter = IncrementalCounter(TiktokenTokenizer(name), start, chunk_chars=chunk_chars)
    assert counter.total == full_count(name, start)
    text = start
    for where, delete, insert in edits:
        text = apply(text, where, delete, insert)
        assert counter.update(text) == full_count(name, text)
        assert counter.total == full_count(name, text)


@pytest.mark.parametrize("name", ENCODINGS)
@settings(max_examples=60, deadline=None)
@given(first=TEXTS, second=TEXTS, chunk_chars=st.integers(1, 20))
def test_incremental_equals_full_count_after_replacing_everything(
    name: str, first: str, second: str, chunk_chars: int
) -> None:
    counter = IncrementalCounter(TiktokenTokenizer(name), first * 3, chunk_chars=chunk_chars)
    for text in (second * 3, "", first, first + second, second + first):
        assert counter.update(text) == full_count(name, text)


def document(lines: int) -> str:
    prose = "The quick brown fox jumps over the lazy dog, twice; it's 42 km/h.\n"
    code = "def f(x):\n    return x * 2  # double\n\n"
    return "".join(prose if i % 3 else code for i in range(lines))


def test_a_small_edit_recounts_only_its_neighbourhood() -> None:
    text = document(3000)
    counter = IncrementalCounter(TiktokenTokenizer("o200k_base"), text, chunk_chars=512)
    assert counter.recounted_chars == len(text)
    assert counter.chunk_count > 100
    middle = len(text) // 2
    edited = text[:middle] + "X" + text[middle:]
    assert counter.update(edited) == full_count("o200k_base", edited)
    assert 0 < counter.recounted_chars <= 3 * 512 + 200
    assert counter.update(edited) == full_count("o200k_base", edited)
    assert counter.recounted_chars == 0  # nothing changed, nothing re-encoded
    assert counter.update(text) == full_count("o200k_base", text)


def test_typing_at_the_end_recounts_only_the_end() -> None:
    text = document(600)
    counter = IncrementalCounter(TiktokenTokenizer("cl100k_base"), text, chunk_chars=256)
    for char in "\nNew line typed here, one key at a time.":
        text += char
        assert counter.update(text) == full_count("cl100k_base", text)
        assert counter.recounted_chars < 2 * 256 + 100


def test_other_tokenizers_are_counted_whole() -> None:
    tokenizer = ByteTokenizer()
    counter = IncrementalCounter(tokenizer, "hello\nworld", chunk_chars=2)
    assert not counter.chunkable
    assert (counter.total, counter.chunk_count) == (11, 1)
    assert counter.update("hello\nwörld") == 12
    assert counter.recounted_chars == len("hello\nwörld")
    calls = tokenizer.calls
    assert counter.update("hello\nwörld") == 12
    assert tokenizer.calls == calls  # unchanged text is not counted again
    assert counter.update("") == 0
    assert counter.chunk_count == 0


def test_chunk_size_must_be_positive() -> None:
    with pytest.raises(ValueError):
        IncrementalCounter(TiktokenTokenizer("cl100k_base"), chunk_chars=0)
