"""BLEU, chrF and ROUGE equal the libraries' own figures on the same inputs; edit distances."""

from __future__ import annotations

import pytest
import sacrebleu
from hypothesis import given, settings
from hypothesis import strategies as st
from rouge_score import rouge_scorer

from tests.core.assertions.support import check
from workbench.core.assertions.metrics import (
    _rouge,
    edit_similarity,
    lcs_length,
    levenshtein_distance,
    rouge_score,
)

HYP = "The cat sat on the mat while the dog slept.\nIt was a quiet afternoon."
REF = "The cat was sitting on the mat and the dog slept.\nThe afternoon was quiet."
SCORER = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL", "rougeLsum"], use_stemmer=True)


def test_bleu_equals_sacrebleu() -> None:
    outcome = check("bleu", HYP, REF, threshold=0.0)
    assert outcome.score == pytest.approx(sacrebleu.sentence_bleu(HYP, [REF]).score / 100)
    refs = [REF, "A cat sat on the mat; the dog slept. It was a quiet afternoon."]
    several = check("bleu", HYP, refs, threshold=0.0)
    assert several.score == pytest.approx(sacrebleu.sentence_bleu(HYP, refs).score / 100)


def test_chrf_equals_sacrebleu() -> None:
    outcome = check("chrf", HYP, expected=REF, threshold=0.0)
    assert outcome.score == pytest.approx(sacrebleu.sentence_chrf(HYP, [REF]).score / 100)


@pytest.mark.parametrize(("type_", "key"), [("rouge-n", "rouge1"), ("rouge-1", "rouge1"),
                                            ("rouge-2", "rouge2"), ("rouge-l", "rougeL"),
                                            ("rouge-lsum", "rougeLsum")])
def test_rouge_equals_rouge_score(type_: str, key: str) -> None:
    expected = SCORER.score(REF, HYP)[key]
    outcome = check(type_, HYP, REF, threshold=0.0)
    assert outcome.score == pytest.approx(expected.fmeasure)
    assert outcome.details["recall"] == pytest.approx(expected.recall)
    assert outcome.details["precision"] == pytest.approx(expected.precision)


def test_default_thresholds_pass_and_fail() -> None:
    # bleu 0.5 and rouge-n 0.75 by default (promptfoo's).
    assert check("bleu", "the quick brown fox jumps", "the quick brown fox jumps").status == "pass"
    low = check("bleu", "a slow red hen", "the quick brown fox jumps")
    assert low.status == "fail" and "threshold 0.5" in low.reason
    assert check("rouge-n", "hello world", "hello world").status == "pass"
    assert check("rouge-n", "goodbye moon", "hello world").status == "fail"
    assert check("chrf", "hello world", expected="hello world").status == "pass"
    assert check("chrf", "zzz", expected="hello world").status == "fail"
    assert check("not-rouge-n", "goodbye moon", "hello world").status == "pass"


def test_metric_threshold_from_the_spec() -> None:
    score = sacrebleu.sentence_bleu(HYP, [REF]).score / 100
    assert check("bleu", HYP, REF, threshold=score - 0.01).status == "pass"
    assert check("bleu", HYP, REF, threshold=score + 0.01).status == "fail"


def _table_distance(a: str, b: str) -> int:
    """The textbook dynamic-programming table: the reference for the bit-parallel version."""
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="abcde ", max_size=90), st.text(alphabet="abcde ", max_size=90))
def test_bit_parallel_levenshtein_equals_the_table(a: str, b: str) -> None:
    assert levenshtein_distance(a, b) == _table_distance(a, b) == levenshtein_distance(b, a)


WORDS = st.lists(st.sampled_from(["the", "cat", "sat", "on", "a", "mat", "Ünï"]), max_size=70)


@settings(max_examples=300, deadline=None)
@given(WORDS, WORDS)
def test_bit_parallel_lcs_equals_rouge_scores_table(a: list[str], b: list[str]) -> None:
    expected = rouge_scorer._lcs_table(a, b)[-1][-1] if a and b else 0
    assert lcs_length(a, b) == lcs_length(b, a) == expected


@settings(max_examples=100, deadline=None)
@given(
    st.text(alphabet="ab cd.,ÜRrunning", max_size=200), st.text(alphabet="ab cd.ÜRan", max_size=200)
)
def test_rouge_l_is_rouge_scores_own_score(hyp: str, ref: str) -> None:
    ours = rouge_score(hyp, ref, "rougeL")
    assert ours == _rouge("rougeL").score(ref, hyp)["rougeL"]  # the library, same tokenizer


def test_levenshtein_long_and_unicode() -> None:
    a = "The council approved the tram extension. " * 20
    b = a.replace("tram", "bus").replace("council", "Council") + "Ünïcödé ✓"
    assert levenshtein_distance(a, b) == _table_distance(a, b)


def test_levenshtein() -> None:
    assert levenshtein_distance("kitten", "sitting") == 3
    assert levenshtein_distance("", "abc") == 3 and levenshtein_distance("abc", "abc") == 0
    passed = check("levenshtein", "kitten", "sitting", threshold=3)
    assert passed.status == "pass" and passed.value == 3
    assert check("levenshtein", "kitten", "sitting", threshold=2).status == "fail"
    assert check("levenshtein", "colour", "color").status == "pass"  # default: at most 5
    assert check("levenshtein", "something else", "color").status == "fail"
    assert check("not-levenshtein", "kitten", "sitting", threshold=2).status == "pass"


def test_edit_similarity() -> None:
    assert edit_similarity("kitten", "sitting") == pytest.approx(1 - 3 / 7)
    assert edit_similarity("", "") == 1.0
    assert check("edit-similarity", "colour", "color").status == "pass"  # 1 - 1/6 >= 0.8
    outcome = check("edit-similarity", "kitten", "sitting")
    assert outcome.status == "fail" and outcome.score == pytest.approx(4 / 7)
    assert check("edit-similarity", "kitten", "sitting", threshold=0.5).status == "pass"


def test_reference_required() -> None:
    assert check("bleu", "text").status == "error"
    assert check("rouge-l", "text").status == "error"


@pytest.mark.parametrize(("hyp", "ref"), [
    ("Running runners ran; the generously-funded studies' conclusions differ!",
     "The runner runs, and generous funding concluded the studies differently."),
    ("Ünïcode wörds and numbers 1,200.50 stay.", "unicode words, and the number 1200.5 stays"),
    ("", "an empty output scores zero"),
])
def test_rouge_with_the_stem_cache_matches_rouge_score_on_varied_text(hyp: str, ref: str) -> None:
    for type_, key in (("rouge-1", "rouge1"), ("rouge-2", "rouge2"), ("rouge-l", "rougeL")):
        expected = SCORER.score(ref, hyp)[key].fmeasure
        assert check(type_, hyp, ref, threshold=0.0).score == pytest.approx(expected)
