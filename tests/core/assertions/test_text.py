"""Text assertions: each with a passing and a failing case, negation, and value handling."""

from __future__ import annotations

import pytest

from tests.core.assertions.support import check

CASES = [
    # type, value, passing output, failing output
    ("equals", "Paris", "Paris", "Paris."),
    ("contains", "capital", "the capital city", "the Capital city"),
    ("icontains", "CAPITAL", "the capital city", "the city"),
    ("contains-any", ["Paris", "Lyon"], "Lyon it is", "Rome it is"),
    ("icontains-any", ["paris", "lyon"], "LYON it is", "Rome it is"),
    ("contains-all", ["red", "blue"], "red and blue", "red and green"),
    ("icontains-all", ["RED", "blue"], "Red and Blue", "red and green"),
    ("starts-with", "Yes", "Yes, indeed", "Well, yes"),
    ("ends-with", "Done.", "All finished. Done.\n", "Done. All finished."),
    ("regex", r"\d{4}", "in 1969 it", "in the sixties"),
    ("word-count", {"min": 2, "max": 3}, "two words", "one"),
    ("length", {"max": 5}, "short", "too long"),
]


@pytest.mark.parametrize(("type_", "value", "good", "bad"), CASES, ids=[c[0] for c in CASES])
def test_positive_negative_and_negated(type_: str, value: object, good: str, bad: str) -> None:
    passed = check(type_, good, value)
    assert (passed.status, passed.score) == ("pass", 1.0), passed
    failed = check(type_, bad, value)
    assert failed.status == "fail" and failed.reason, failed
    assert failed.score is not None and failed.score < 1.0
    assert check(f"not-{type_}", bad, value).status == "pass"
    assert check(f"not-{type_}", good, value).status == "fail"
    assert check(type_, bad, value, negate=True).status == "pass"


def test_equals_defaults_to_expected_and_compares_json() -> None:
    assert check("equals", "Paris", expected="Paris").status == "pass"
    assert check("equals", "Rome", expected="Paris").status == "fail"
    assert check("equals", '{"a": 1, "b": [2]}', {"b": [2], "a": 1}).status == "pass"
    assert check("equals", '{"a": 2}', {"a": 1}).status == "fail"
    assert check("equals", "not json", {"a": 1}).status == "fail"
    assert check("equals", "x").status == "error"  # nothing to compare with


def test_values_use_the_tests_variables_and_numbers() -> None:
    assert check("contains", "Hello Ada", "{{ name }}", vars={"name": "Ada"}).status == "pass"
    assert check("contains", "Hello Bob", "{{ name }}", vars={"name": "Ada"}).status == "fail"
    assert check("contains", "there are 0 left", 0).status == "pass"  # numbers as text
    assert check("contains-any", "b here", "a, b, c").status == "pass"  # compact list form


def test_contains_all_partial_share_with_threshold() -> None:
    outcome = check("contains-all", "red and blue", ["red", "blue", "green", "white"])
    assert outcome.status == "fail" and outcome.score == 0.5
    assert "green" in outcome.reason
    assert check("contains-all", "red and blue", ["red", "blue", "green", "white"],
                 threshold=0.5).status == "pass"
    assert check("contains-all", "red", ["red", "blue", "green", "white"],
                 threshold=0.5).status == "fail"


def test_misconfigured_values_are_errors() -> None:
    assert check("contains", "x").status == "error"  # no value
    assert check("contains-any", "x", []).status == "error"
    assert check("regex", "x", "(unclosed").status == "error"
    assert check("word-count", "x", {"min": 3, "max": 1}).status == "error"
    assert check("length", "x", {"least": 3}).status == "error"
    assert check("contains", "x", {"a": 1}).status == "error"


def test_word_count_exact_and_value_recorded() -> None:
    outcome = check("word-count", "one two three", 3)
    assert outcome.status == "pass" and outcome.value == 3
    assert check("word-count", "one two", 3).status == "fail"
