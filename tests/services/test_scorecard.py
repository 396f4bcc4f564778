"""Scorecard statistics, criteria and the regression check."""

from __future__ import annotations

import pytest

from workbench.services.scorecard import (
    AssertionSummary,
    CellResult,
    Criterion,
    CriterionError,
    RateStat,
    Scorecard,
    ScoreStat,
    compare,
    t_quantile,
    wilson,
)


def cell(
    test: int, status: str, score: float | None, *, variant: int = 0, **assertions: str
) -> CellResult:
    return CellResult(
        variant=variant,
        test=test,
        repeat=0,
        run_id=None,
        status=status,  # type: ignore[arg-type]
        score=score,
        assertions=tuple(
            AssertionSummary(name, s, 1.0 if s == "pass" else 0.0)  # type: ignore[arg-type]
            for name, s in assertions.items()
        ),
    )


def test_wilson_interval_matches_the_formula() -> None:
    low, high = wilson(8, 10)
    assert low == pytest.approx(0.4902, abs=1e-4) and high == pytest.approx(0.9433, abs=1e-4)
    assert wilson(0, 10)[0] == 0.0 and wilson(10, 10)[1] == 1.0
    assert wilson(0, 10)[1] == pytest.approx(0.2775, abs=1e-4)
    assert wilson(0, 0) == (0.0, 1.0)


@pytest.mark.parametrize(
    ("df", "expected"),
    [
        (1, 12.7062),
        (2, 4.3027),
        (3, 3.1824),
        (5, 2.5706),
        (10, 2.2281),
        (30, 2.0423),
        (999, 1.9623),
        (5000, 1.9604),
    ],
)
def test_t_quantile_matches_tables(df: int, expected: float) -> None:
    assert t_quantile(0.975, df) == pytest.approx(expected, abs=1e-4)


def test_mean_score_interval_is_a_t_interval() -> None:
    stat = ScoreStat([0.2, 0.4, 0.6, 0.8])
    assert stat.mean == pytest.approx(0.5)
    low, high = stat.ci or (0, 0)
    assert low == pytest.approx(0.0892, abs=2e-3) and high == pytest.approx(0.9108, abs=1e-4)
    assert ScoreStat([0.7]).ci == (0.7, 0.7)
    assert ScoreStat().ci is None
    assert ScoreStat([0.0, 0.05, 0.5, 0.99, 1.0]).histogram(4) == [2, 0, 1, 1, 1]


def test_errors_are_counted_apart_never_as_failures() -> None:
    rates = RateStat()
    for status in ("pass", "fail", "error", "error"):
        rates.add(status)  # type: ignore[arg-type]
    assert (rates.passed, rates.failed, rates.errors) == (1, 1, 2)
    assert rates.rate == 0.5 and rates.error_rate == 0.5
    card = Scorecard.empty(["a"])
    card.add(cell(0, "pass", 1.0, contains="pass"))
    card.add(cell(1, "error", None, contains="error"))
    overall = card.variants[0].overall
    assert overall.cases.rate == 1.0 and overall.cases.errors == 1
    assert overall.scores.values == [1.0]  # an error has no score to lower the mean
    assert card.variants[0].assertions["contains"].cases.errors == 1


def test_a_cell_added_again_replaces_the_old_one() -> None:
    card = Scorecard.empty(["a"])
    card.add(cell(0, "error", None))
    card.add(cell(0, "pass", 1.0))
    stats = card.variants[0].overall
    assert (stats.cases.passed, stats.cases.errors) == (1, 0) and len(card.cells) == 1


def test_criteria_parse() -> None:
    c = Criterion.parse("pass_rate >= 0.9")
    assert (c.function, c.selector, c.op, c.threshold) == ("pass_rate", None, ">=", 0.9)
    c = Criterion.parse("unsafe < 5%")
    assert (c.function, c.selector, c.threshold) == ("fail_rate", "unsafe", 0.05)
    c = Criterion.parse("mean_score[rouge-l] > 0.4")
    assert (c.function, c.selector) == ("mean_score", "rouge-l")
    assert Criterion.parse("accuracy >= 0.8").function == "pass_rate"
    for bad in ("pass rate >= 1", "pass_rate => 1", "frob[x] > 1", "pass_rate >= high"):
        with pytest.raises(CriterionError):
            Criterion.parse(bad)


def test_criteria_are_met_or_not_per_variant() -> None:
    card = Scorecard.empty(["good", "bad"])
    for t in range(10):
        card.add(cell(t, "pass", 1.0, contains="pass", unsafe="pass"))
        status = "fail" if t < 3 else "pass"
        card.add(cell(t, status, 0.0 if t < 3 else 1.0, variant=1, contains=status, unsafe=status))
    card.add(cell(10, "error", None, variant=1))
    results = card.check(
        [
            Criterion.parse("pass_rate >= 0.9"),
            Criterion.parse("unsafe < 0.05"),
            Criterion.parse("error_rate == 0"),
            Criterion.parse("mean_score[missing] > 0"),
        ]
    )
    by = {(r.criterion.text, r.variant_label): r for r in results}
    assert by[("pass_rate >= 0.9", "good")].met
    assert not by[("pass_rate >= 0.9", "bad")].met
    assert by[("pass_rate >= 0.9", "bad")].value == pytest.approx(0.7)
    assert by[("unsafe < 0.05", "good")].met and not by[("unsafe < 0.05", "bad")].met
    assert by[("error_rate == 0", "good")].met and not by[("error_rate == 0", "bad")].met
    missing = by[("mean_score[missing] > 0", "good")]
    assert not missing.met and missing.value is None and "no 'missing' results" in missing.detail
    assert not card.met
    assert "NOT met" in by[("pass_rate >= 0.9", "bad")].line()


def test_regression_check_sorts_cases_into_improved_worse_and_unchanged() -> None:
    before, after = Scorecard.empty(["v"]), Scorecard.empty(["v"])
    pairs = [
        (("fail", 0.0), ("pass", 1.0)),  # improved
        (("pass", 1.0), ("fail", 0.0)),  # got worse
        (("pass", 1.0), ("pass", 1.0)),  # unchanged
        (("pass", 0.6), ("pass", 0.8)),  # same status, better score
        (("fail", 0.0), ("error", None)),  # could no longer be judged: worse
    ]
    for t, (b, a) in enumerate(pairs):
        before.add(cell(t, *b))
        after.add(cell(t, *a))
    after.add(cell(9, "pass", 1.0))
    report = compare(before, after)
    assert [c.key[1] for c in report.improved] == [0, 3]
    assert [c.key[1] for c in report.regressed] == [1, 4]
    assert [c.key[1] for c in report.unchanged] == [2]
    assert [c.key[1] for c in report.of("new")] == [9]
    assert report.summary() == "2 improved, 2 got worse, 1 unchanged"
