"""Answer extraction, majority vote and JSON output parsing."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from workbench.core.answers import (
    DEFAULT_ANSWER_PATTERN,
    NUMBER_ANSWER_PATTERN,
    AnswerPatternError,
    JSONOutputError,
    SchemaDefinitionError,
    Vote,
    extract_answer,
    majority_vote,
    normalize_answer,
    parse_json_output,
    vote_on_outputs,
)
from workbench.core.errors import KnownError

# --- extraction ----------------------------------------------------------------------------------

COT_OUTPUT = """Let's see. The answer: first we need 3 × 6 = 18 muffins sold.
So the answer is 18? No: 18 is what she sold.
24 - 18 = 6.
Answer: 6."""


def test_last_match_wins_over_intermediate_answers() -> None:
    assert extract_answer(COT_OUTPUT, DEFAULT_ANSWER_PATTERN) == "6"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Answer: Paris.", "Paris"),
        ("The answer is Paris!", "Paris"),
        ("The final answer is: Paris", "Paris"),
        ("**Answer:** Paris", "Paris"),
        ("**Answer**: Paris", "Paris"),
        ('answer: "Paris"', "Paris"),
        ("Answer:   New   York  ", "New York"),
    ],
)
def test_default_pattern_reads_common_answer_lines(text: str, expected: str) -> None:
    assert extract_answer(text, DEFAULT_ANSWER_PATTERN) == expected


def test_default_pattern_does_not_read_answer_as_an_ordinary_word() -> None:
    assert extract_answer("I will answer step by step.", DEFAULT_ANSWER_PATTERN) is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("so the answer is $1,200.50.", "1200.5"),
        ("Answer: 18.0", "18"),
        ("Answer: -3", "-3"),
        ("Answer: **42** apples", "42"),
        ("The answer is 7 days, since 120 / 12 = 10 is wrong", "7"),
    ],
)
def test_number_pattern_and_number_normalisation(text: str, expected: str) -> None:
    assert extract_answer(text, NUMBER_ANSWER_PATTERN) == expected


def test_no_match_is_none_and_empty_pattern_takes_everything() -> None:
    assert extract_answer("no final line here", DEFAULT_ANSWER_PATTERN) is None
    assert extract_answer("  Positive.\n", "") == "Positive"
    assert extract_answer(" \n ", "") is None


def test_casefold_is_optional() -> None:
    assert extract_answer("Answer: Positive", DEFAULT_ANSWER_PATTERN) == "Positive"
    assert extract_answer("Answer: Positive", DEFAULT_ANSWER_PATTERN, casefold=True) == "positive"


def test_named_group_then_first_group_then_whole_match() -> None:
    assert extract_answer("x=1 y=2", r"x=(?P<x>\d) y=(?P<answer>\d)") == "2"
    assert extract_answer("label: spam", r"label: (\w+)") == "spam"
    assert extract_answer("codes 12 and 34", r"\d+") == "34"
    # A group that did not take part in the last match gives no answer, not a crash.
    assert extract_answer("A", r"(B)?A") is None


def test_invalid_pattern_is_a_known_error_with_the_position() -> None:
    with pytest.raises(AnswerPatternError, match=r"character 7") as info:
        extract_answer("text", r"answer(")
    assert isinstance(info.value, KnownError)


@given(st.text())
def test_normalisation_is_idempotent(text: str) -> None:
    once = normalize_answer(text)
    assert normalize_answer(once) == once


# --- voting --------------------------------------------------------------------------------------


def test_majority_vote_counts_and_shares() -> None:
    assert majority_vote(["6", "6", "18", "6", "5"]) == Vote("6", 3, 0.6)


def test_ties_go_to_the_answer_seen_first() -> None:
    assert majority_vote(["b", "a", "a", "b"]) == Vote("b", 2, 0.5)
    assert majority_vote(["a", "b", "b", "a"]) == Vote("a", 2, 0.5)


def test_failed_extractions_never_win_but_count_in_the_share() -> None:
    assert majority_vote([None, None, None, "7"]) == Vote("7", 1, 0.25)
    assert majority_vote([None, None]) == Vote(None, 0, 0.0)
    assert majority_vote([]) == Vote(None, 0, 0.0)


def test_vote_on_outputs_extracts_then_votes() -> None:
    outputs = [
        "3 × 6 = 18. 24 − 18 = 6. Answer: 6",
        "She sold 18. Answer: 6.",
        "24 / 6 = 4. The answer is 4.",
        "I am not sure.",
        "The answer is 6",
    ]
    assert vote_on_outputs(outputs, NUMBER_ANSWER_PATTERN) == Vote("6", 3, 0.6)


@given(st.lists(st.sampled_from(["a", "b", "c", None]), max_size=20))
def test_vote_matches_a_direct_count(answers: list[str | None]) -> None:
    vote = majority_vote(answers)
    real = [a for a in answers if a is not None]
    if not real:
        assert vote == Vote(None, 0, 0.0)
        return
    best = max(real.count(a) for a in set(real))
    assert vote.answer is not None
    assert vote.votes == best == real.count(vote.answer)
    assert vote.answer == next(a for a in real if real.count(a) == best)
    assert vote.share == best / len(answers)


# --- JSON output ---------------------------------------------------------------------------------

SCHEMA = {
    "type": "object",
    "properties": {
        "name": {"type": "string"},
        "items": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"price": {"type": "number"}},
                "required": ["price"],
            },
        },
    },
    "required": ["name"],
    "additionalProperties": False,
}


@pytest.mark.parametrize(
    "text",
    [
        '{"name": "Ada"}',
        '```json\n{"name": "Ada"}\n```',
        '```\n{"name": "Ada"}\n```',
        'Sure! Here is the JSON:\n```json\n{"name": "Ada"}\n```\nAnything else?',
        'Here it is [as asked]: {"name": "Ada"} - hope that helps.',
        '```json\n{"name": "Ada"}',  # closing fence cut off, JSON complete
    ],
)
def test_json_is_found_in_fences_and_prose(text: str) -> None:
    assert parse_json_output(text, SCHEMA) == {"name": "Ada"}


def test_schema_violation_names_the_path_and_lists_every_problem() -> None:
    text = '{"name": "Ada", "items": [{"price": 1}, {"price": "two"}], "extra": true}'
    with pytest.raises(JSONOutputError) as info:
        parse_json_output(text, SCHEMA)
    err = info.value
    assert err.path in {"$", "$.items[1].price"}
    assert "does not match the schema" in str(err)
    assert "$.items[1].price: 'two' is not of type 'number'" in err.problems
    assert any(p.startswith("$: Additional properties") for p in err.problems)


def test_missing_required_property() -> None:
    with pytest.raises(JSONOutputError, match=r"at \$: 'name' is a required property"):
        parse_json_output('{"items": []}', SCHEMA)


def test_truncated_json_says_it_was_cut_off_not_a_nested_value() -> None:
    # The complete inner list ["x"] must not be mistaken for the answer.
    for text in ('```json\n{"name": "Ada", "tags": ["x"], "more": {', '{"name": "Ad'):
        with pytest.raises(JSONOutputError, match="cut off") as info:
            parse_json_output(text, SCHEMA)
        assert "max_tokens" in info.value.hint


def test_syntax_error_names_line_and_column() -> None:
    with pytest.raises(JSONOutputError, match=r"not valid JSON: .*\(line 2, column 14\)"):
        parse_json_output('{"name": "Ada",\n "items": [1,, 2]}')


def test_no_json_and_empty_answers() -> None:
    with pytest.raises(JSONOutputError, match="no JSON object or array"):
        parse_json_output("I cannot help with that.")
    with pytest.raises(JSONOutputError, match="empty"):
        parse_json_output("   ")


def test_without_schema_any_json_value_parses() -> None:
    assert parse_json_output("[1, 2, 3]") == [1, 2, 3]
    assert parse_json_output("42") == 42


def test_invalid_schema_is_reported_as_the_schemas_fault() -> None:
    with pytest.raises(SchemaDefinitionError, match=r"not a valid JSON schema: at \$.type"):
        parse_json_output("{}", {"type": "objekt"})


def test_schema_dialect_is_honoured() -> None:
    # Draft 4 reads exclusiveMaximum as a boolean; 2020-12 (the default) as a number.
    draft4 = {"$schema": "http://json-schema.org/draft-04/schema#", "maximum": 5,
              "exclusiveMaximum": True}
    with pytest.raises(JSONOutputError):
        parse_json_output("5", draft4)
    assert parse_json_output("5", {"exclusiveMaximum": 6}) == 5


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)


@given(st.dictionaries(st.text(), json_values, max_size=5), st.sampled_from(["", "Here:\n"]))
def test_any_fenced_object_round_trips(value: dict[str, object], prose: str) -> None:
    text = f"{prose}```json\n{json.dumps(value, indent=2)}\n```\nDone."
    assert parse_json_output(text) == value
