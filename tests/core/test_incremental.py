"""Incremental counting: its boundaries are real, and it always equals a full count."""

from __future__ import annotations

import json
import re
import sys
import unicodedata

import pytest
import regex  # tiktoken's own dependency: the same \p{..} classes its patterns use
import tiktoken
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.core.byte_tokenizer import ByteTokenizer
from workbench.core.incremental import (
    IncrementalCounter,
    _known_spans,
    is_boundary,
    split_chunks,
)
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
    # Minified JSON and code: punctuation runs right against words and numbers.
    ":",
    '":"',
    '","',
    "[",
    "]",
    "+",
    "=",
    "#",
    "@",
    "0",
    "true",
    "HelloWorld",  # o200k splits words where the case changes
    "'S",
    "'RE",
    # CJK text: ideographs without spaces, fullwidth and CJK punctuation, CJK numerals (letters).
    "汉字",
    "一二",
    "，",
    "。",
    "「",
    "」",
    "\u3000",
    # Typographic punctuation and symbols, other numbers, other letters, marks.
    "’",
    "“",
    "—",
    "…",
    "€",
    "²",
    "Ⅻ",
    "ǅ",
    "ʰ",
    "क्ष",
    "\u0903",
]
TEXTS = st.lists(st.sampled_from(PIECES), max_size=40).map("".join)


def full_count(name: str, text: str) -> int:
    return len(get_encoding(name).encode_ordinary(text))


# --- the boundaries ---


def test_the_character_tests_agree_with_the_pattern_classes() -> None:
    """The counter tests ``str.isalnum``/``isalpha`` and Unicode categories (Python's database);
    the patterns use \\p{L}, \\p{N}, \\s and o200k's \\p{M}.

    Every character Python calls alphanumeric must be a letter or number to the pattern engine,
    every one it calls alphabetic a letter, every other alphanumeric one a number, and every
    punctuation mark or symbol none of those nor a space or mark, whatever the two Unicode
    databases' versions are.
    """
    word = re.compile(r"[^\W_]")
    letter = regex.compile(r"\p{L}")
    number = regex.compile(r"\p{N}")
    other = regex.compile(r"[^\s\p{L}\p{N}\p{M}]")
    for code in range(sys.maxunicode + 1):
        char = chr(code)
        alnum = char.isalnum()
        assert bool(word.match(char)) == alnum, hex(code)
        if char.isalpha():
            assert letter.match(char), hex(code)
        elif alnum:
            assert number.match(char), hex(code)
        elif unicodedata.category(char)[0] in "PS":
            assert other.match(char), hex(code)


def _splits_at(encoding: tiktoken.Encoding, left: str, right: str) -> bool:
    encode = encoding.encode_ordinary
    return encode(left + right) == encode(left) + encode(right)


@pytest.mark.parametrize("name", ENCODINGS)
def test_tiktoken_splits_before_every_punctuation_mark_and_symbol(name: str) -> None:
    """Against tiktoken's own pattern engine, for every character the rule covers."""
    encoding = get_encoding(name)
    for code in range(sys.maxunicode + 1):
        char = chr(code)
        if char == "'" or unicodedata.category(char)[0] not in "PS":
            continue
        for left in ("a", "7", "汉", "ǅ"):
            assert is_boundary(left + char + "b", 1), hex(code)
            for right in ("b", char, " x", "'s"):
                assert _splits_at(encoding, left, char + right), (hex(code), left, right)


@pytest.mark.parametrize("name", ENCODINGS)
def test_tiktoken_splits_after_every_letter_and_number(name: str) -> None:
    """Against tiktoken, for every letter and number: before punctuation, and between a letter
    and a number either way round."""
    encoding = get_encoding(name)
    for code in range(sys.maxunicode + 1):
        char = chr(code)
        if not char.isalnum():
            continue
        assert _splits_at(encoding, char, ",x"), hex(code)
        if char.isalpha():
            assert _splits_at(encoding, char, "1a"), hex(code)
            assert _splits_at(encoding, "12", char + "b"), hex(code)
        else:
            assert _splits_at(encoding, char, "ab"), hex(code)
            assert _splits_at(encoding, "ab", char + "1"), hex(code)


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
        ('{"key":"value"}', 5, True),
        ('{"key":"value"}', 6, False),  # '":"' and 'value' may be one piece ('"value' is)
        ('{"n":12,"m":3}', 7, True),
        ("it's", 2, False),  # o200k reads "it's" as one piece
        ("it’s", 2, True),  # a typographic apostrophe is just punctuation
        ("utf8", 3, True),
        ("x86", 1, True),
        ("x86", 2, False),
        ("a²", 1, True),
        ("1²", 1, False),  # both numbers: "1²" is one piece
        ("e\u0301.", 1, False),  # o200k's words take marks
        ("汉字，汉字。", 2, True),
        ("汉字，汉字。", 3, False),
        ("a_b", 1, True),
        ("a\u3000b", 1, False),  # an ideographic space is a space, not punctuation
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


#: Document shapes besides TEXTS: minified JSON (punctuation against words and numbers, no
#: spaces), CJK text (no spaces), one line without any line break.
_JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.lists(st.sampled_from(PIECES), max_size=4).map("".join),
    lambda children: (
        st.lists(children, max_size=5)
        | st.dictionaries(st.sampled_from(PIECES), children, max_size=5)
    ),
    max_leaves=25,
)
MINIFIED_JSON = _JSON_VALUES.map(
    lambda value: json.dumps(value, separators=(",", ":"), ensure_ascii=False)
)
CJK = st.text(
    st.sampled_from("汉字文本中的一二三四五，。、：；「」（）！？ 0123456789abc\n"), max_size=150
)
ONE_LINE = st.lists(
    st.sampled_from([p for p in PIECES if not any(c in p for c in "\r\n\u2028")]), max_size=120
).map("".join)
SHAPES = st.one_of(TEXTS, MINIFIED_JSON, CJK, ONE_LINE)
#: Where an edit lands: the start, the middle, the end, anywhere.
WHERE = st.one_of(st.sampled_from([0.0, 0.5, 1.0]), st.floats(0, 1))
#: An edit: a key typed, a deletion (nothing inserted), a paste of a whole shape.
SHAPE_EDITS = st.lists(
    st.tuples(WHERE, st.integers(0, 40), st.one_of(st.just(""), st.sampled_from(PIECES), SHAPES)),
    min_size=1,
    max_size=20,
)


@pytest.mark.parametrize("name", ENCODINGS)
@settings(max_examples=150, deadline=None)
@given(start=SHAPES, edits=SHAPE_EDITS, chunk_chars=st.integers(1, 40))
def test_incremental_equals_full_count_on_every_shape(
    name: str, start: str, edits: list[tuple[float, int, str]], chunk_chars: int
) -> None:
    counter = IncrementalCounter(TiktokenTokenizer(name), start, chunk_chars=chunk_chars)
    assert counter.total == full_count(name, start)
    text = start
    for where, delete, insert in edits:
        text = apply(text, where, delete, insert)
        assert counter.update(text) == full_count(name, text)


def minified_json(records: int) -> str:
    return json.dumps(
        [
            {"id": i, "name": f"item{i}", "tags": ["a", "b"], "ok": i % 2 == 0, "v": i / 7}
            for i in range(records)
        ],
        separators=(",", ":"),
    )


@pytest.mark.parametrize(
    "text",
    [
        minified_json(2000),
        "汉字文本，中文的句子没有空格。" * 3000,  # CJK without a line break
        "".join(f"{i:08x}" for i in range(20000)),  # hexadecimal: letters against digits
    ],
    ids=["minified JSON", "CJK line", "hex line"],
)
@pytest.mark.parametrize("name", ENCODINGS)
def test_an_edit_in_one_long_line_recounts_only_its_neighbourhood(name: str, text: str) -> None:
    counter = IncrementalCounter(TiktokenTokenizer(name), text, chunk_chars=512)
    assert counter.chunk_count > 50
    for where in (0, len(text) // 2, len(text)):
        edited = text[:where] + "x" + text[where:]
        assert counter.update(edited) == full_count(name, edited)
        assert 0 < counter.recounted_chars <= 3 * 512 + 200
        deleted = edited[: where // 2] + edited[where // 2 + 1 :]
        assert counter.update(deleted) == full_count(name, deleted)
        assert counter.recounted_chars <= 3 * 512 + 200  # 0: a one-character chunk went
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


@pytest.mark.parametrize("filler", ["ab", "=", "e\u0301", "中"])
def test_an_edit_inside_a_long_chunk_is_scanned_only_around_it(filler: str) -> None:
    """Text without boundaries is one long chunk; it was scanned whole again per keystroke (on
    top of the unavoidable re-count: slower than a full count). Only the edit's surroundings
    are scanned now, and a boundary the edit made is still found."""
    text = filler * 5000
    counter = IncrementalCounter(TiktokenTokenizer("o200k_base"), text, chunk_chars=64)
    assert counter.chunk_count == 1
    middle = len(text) // 2
    edited = text[:middle] + "x," + text[middle:]
    spans = _known_spans(counter._chunks, edited, 0, len(edited), 64)
    assert len(edited) - sum(end - start for start, end in spans) <= 64 + 8
    assert counter.update(edited) == full_count("o200k_base", edited)
    assert counter.chunk_count == 2  # cut before the comma
    assert counter.update(text) == full_count("o200k_base", text)


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
