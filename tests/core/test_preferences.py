"""A/B preference summaries: Wilson intervals against published values, ties counted half."""

from __future__ import annotations

import pytest

from workbench.core.preferences import Judgement, Score, summarize, wilson_interval


@pytest.mark.parametrize(
    ("successes", "n", "low", "high"),
    [
        # Values as tabulated for the Wilson score interval at 95% (z = 1.96).
        (8, 10, 0.4902, 0.9433),
        (0, 10, 0.0, 0.2775),
        (10, 10, 0.7225, 1.0),
        (50, 100, 0.4038, 0.5962),
        (1, 2, 0.0945, 0.9055),
    ],
)
def test_wilson_interval_matches_known_values(
    successes: int, n: int, low: float, high: float
) -> None:
    lo, hi = wilson_interval(successes, n)
    assert lo == pytest.approx(low, abs=1e-4)
    assert hi == pytest.approx(high, abs=1e-4)


def test_wilson_interval_edges() -> None:
    assert wilson_interval(0, 0) == (0.0, 1.0)
    lo99, hi99 = wilson_interval(8, 10, confidence=0.99)
    lo95, hi95 = wilson_interval(8, 10)
    assert lo99 < lo95 and hi99 > hi95  # more confidence, wider interval
    with pytest.raises(ValueError):
        wilson_interval(11, 10)


def test_win_rates_count_ties_half() -> None:
    judgements = [
        Judgement("A", "B", "a"),
        Judgement("A", "B", "a"),
        Judgement("B", "A", "a"),  # B won, seen from the other side
        Judgement("A", "B", "tie"),
        Judgement("A", "B", "both_bad"),
        Judgement("A", "A", "a"),  # same variant on both sides: says nothing
    ]
    a, b = summarize(judgements)
    assert (a.variant, a.comparisons, a.wins, a.losses, a.ties) == ("A", 5, 2, 1, 2)
    assert a.win_rate == pytest.approx(3 / 5)
    assert b.win_rate == pytest.approx(2 / 5)
    assert (a.low, a.high) == pytest.approx(wilson_interval(3, 5))
    assert a.win_rate is not None and a.low < a.win_rate < a.high


def test_thumbs_and_stars_per_variant_in_the_given_order() -> None:
    scores = [
        Score("B", thumbs=1, stars=5),
        Score("B", thumbs=-1, stars=2),
        Score("B", thumbs=1),
        Score("A", stars=4),
    ]
    a, b, c = summarize([], scores, variants=["A", "B", "C"])
    assert (b.thumbs_up, b.thumbs_down, b.thumbs_up_share) == (2, 1, pytest.approx(2 / 3))
    assert (b.stars_mean, b.stars_count) == (3.5, 2)
    assert (a.stars_mean, a.thumbs_up_share) == (4.0, None)
    assert c.win_rate is None and (c.low, c.high) == (0.0, 1.0)
