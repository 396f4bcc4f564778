"""Repeats: collapse, agreement, pairwise similarity, majority vote and best-of-N."""

from __future__ import annotations

import pytest

from workbench.core.answers import NUMBER_ANSWER_PATTERN
from workbench.core.diff import similarity
from workbench.core.errors import KnownError
from workbench.core.stability import (
    best_of_n,
    collapse,
    consensus_metric,
    mean_pairwise_similarity,
    metric_named,
    stability,
)

OUTPUTS = [
    "So 3 + 4 = 7.\nAnswer: 7",
    "So 3 + 4 = 7.  Answer: 7\n",  # the same output, laid out differently
    "3 plus 4 is 8. Answer: 8",
    "Let me think. 3 + 4 = 7, the answer is 7.",
]


def test_identical_outputs_collapse_with_counts() -> None:
    groups = collapse(OUTPUTS)
    assert [(g.count, g.indices) for g in groups] == [(2, (0, 1)), (1, (2,)), (1, (3,))]
    assert groups[0].text == OUTPUTS[0]  # the first as it came, not normalised


def test_agreement_without_and_with_answer_extraction() -> None:
    s = stability(OUTPUTS)
    assert s.n == 4 and s.output_agreement == 0.5 and s.agreement == 0.5
    assert s.vote is None and s.answers is None
    voted = stability(OUTPUTS, NUMBER_ANSWER_PATTERN)
    assert voted.answers == ["7", "7", "8", "7"]
    assert voted.vote is not None and voted.vote.answer == "7" and voted.vote.votes == 3
    assert voted.agreement == 0.75


def test_failed_extractions_count_against_agreement() -> None:
    s = stability(["Answer: 5", "no idea", "Answer: 5", "hmm"], NUMBER_ANSWER_PATTERN)
    assert s.answers == ["5", None, "5", None]
    assert s.agreement == 0.5


def test_mean_pairwise_similarity_uses_the_diff_engine() -> None:
    outs = ["a b c d", "a b x y", "a b c d"]
    expected = (similarity("a b c d", "a b x y") * 2 + 1.0) / 3
    assert mean_pairwise_similarity(outs) == pytest.approx(expected)
    assert mean_pairwise_similarity(["only one"]) is None
    assert stability([]).output_agreement == 0.0


def test_best_of_n_by_a_chosen_metric() -> None:
    outs = ["The capital is Paris.", "Paris", "It is Lyon, I think, or maybe Paris."]
    best = best_of_n(outs, metric_named("expected", outs, expected="Paris"))
    assert best is not None and best.index == 1 and best.score == 1.0
    shortest = best_of_n(outs, metric_named("shortest", outs))
    assert shortest is not None and shortest.index == 1
    central = best_of_n(
        ["a b c", "a b c", "x y z"], metric_named("consensus", ["a b c"] * 2 + ["x y z"])
    )
    assert central is not None and central.index == 0
    assert best_of_n([], len) is None
    with pytest.raises(KnownError):
        metric_named("expected", outs)
    with pytest.raises(KnownError):
        metric_named("loudest", outs)


def test_a_memoised_pair_similarity_gives_the_same_figures() -> None:
    calls: list[tuple[str, str]] = []

    def counted(a: str, b: str) -> float:
        calls.append((a, b))
        return similarity(a, b)

    plain, memo = stability(OUTPUTS), stability(OUTPUTS, pair_similarity=counted)
    assert memo.mean_similarity == plain.mean_similarity and len(calls) == 6  # 4 choose 2
    scores = [consensus_metric(OUTPUTS, counted)(t) for t in OUTPUTS]
    assert scores == [consensus_metric(OUTPUTS)(t) for t in OUTPUTS] and len(calls) == 6 + 12
