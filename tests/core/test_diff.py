"""The word diff engine: pieces that spell both texts exactly, sensible grouping, similarity."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from workbench.core.diff import diff_expected, diff_versions, diff_words, similarity, tokenize
from workbench.core.models import Message, PromptTemplate

# Words, punctuation, every kind of whitespace and non-ASCII letters, so tokens interleave.
_alphabet = st.sampled_from([*"ab cé\n\t.,!?-'\"", "  ", "über", "日本", "\r\n", "x1"])
texts = st.lists(_alphabet, max_size=40).map("".join)


@settings(max_examples=400)
@given(texts)
def test_tokens_spell_the_text(text: str) -> None:
    assert "".join(tokenize(text)) == text


@settings(max_examples=400)
@given(texts, texts)
def test_inline_pieces_reproduce_both_texts(a: str, b: str) -> None:
    d = diff_words(a, b)
    assert "".join(s.text for s in d.inline if s.kind != "insert") == a
    assert "".join(s.text for s in d.inline if s.kind != "delete") == b
    left, right = d.side_by_side
    assert "".join(s.text for s in left) == a
    assert "".join(s.text for s in right) == b
    for op in d.ops:
        assert a[op.a_start : op.a_end] == op.a_text
        assert b[op.b_start : op.b_end] == op.b_text
        assert (op.tag == "equal") == (op.a_text == op.b_text and op.tag == "equal")
        if op.tag == "equal":
            assert op.a_text == op.b_text
        if op.tag == "insert":
            assert op.a_text == "" and op.b_text
        if op.tag == "delete":
            assert op.b_text == "" and op.a_text
    for span in left:
        assert a[span.start : span.end] == span.text
    for span in right:
        assert b[span.start : span.end] == span.text


@settings(max_examples=200)
@given(texts, texts)
def test_similarity_is_symmetric_and_bounded(a: str, b: str) -> None:
    s = similarity(a, b)
    assert 0.0 <= s <= 1.0
    assert abs(s - similarity(b, a)) < 1e-9
    assert similarity(a, a) == 1.0
    assert diff_words(a, b).ratio == s or a == b


def test_changed_words_are_grouped_with_the_space_between_them() -> None:
    d = diff_words("the cat sat on the mat.", "a dog sat on the mat!")
    assert [(op.tag, op.a_text, op.b_text) for op in d.ops] == [
        ("replace", "the cat", "a dog"),
        ("equal", " sat on the mat", " sat on the mat"),
        ("replace", ".", "!"),
    ]
    assert d.words_removed == 3 and d.words_added == 3
    assert [s.kind for s in d.inline] == ["delete", "insert", "equal", "delete", "insert"]


def test_insertion_and_deletion() -> None:
    d = diff_words("Paris is the capital.", "Paris is the capital of France.")
    assert [(op.tag, op.b_text) for op in d.ops if op.tag != "equal"] == [("insert", " of France")]
    d = diff_words("one two three", "one three")
    assert [(op.tag, op.a_text) for op in d.ops if op.tag != "equal"] == [("delete", "two ")]


def test_repeated_words_are_not_junk() -> None:
    # With autojunk a word repeated in over 1% of 200+ tokens would be ignored when matching.
    a = " ".join(["the"] * 150 + ["end"])
    b = " ".join(["the"] * 150 + ["finish"])
    d = diff_words(a, b)
    assert [(op.tag, op.a_text, op.b_text) for op in d.ops if op.tag != "equal"] == [
        ("replace", "end", "finish")
    ]


def test_similarity_ignores_whitespace_layout() -> None:
    assert similarity("Answer: 42\n", "Answer:   42") == 1.0
    assert similarity("", "") == 1.0
    assert similarity("a b", "") == 0.0
    assert similarity("a b c d", "a b x y") == 0.5


def test_output_against_expected() -> None:
    d = diff_expected("The answer is 12.", "The answer is 13.")
    assert d.a == "The answer is 12." and d.b == "The answer is 13."
    assert [(op.a_text, op.b_text) for op in d.ops if op.tag != "equal"] == [("12", "13")]


def test_template_versions_compare_as_file_text() -> None:
    v1 = PromptTemplate(name="s", messages=[Message(role="user", content="Summarise {{ text }}")])
    v2 = v1.model_copy(
        update={"messages": [Message(role="user", content="Summarise briefly {{ text }}")]}
    )
    d = diff_versions(v1, v2)
    assert "messages:" in d.a
    assert [(op.tag, op.b_text) for op in d.ops if op.tag != "equal"] == [("insert", "briefly ")]
    assert diff_versions("a b", "a c").ratio == 0.5
