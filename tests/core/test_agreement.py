"""Agreement statistics against values worked out by hand (shown in the comments) and an
independent matrix formula."""

from __future__ import annotations

import math

import pytest

from workbench.core.agreement import (
    agreement,
    average_ranks,
    cohen_kappa,
    kappa_label,
    pearson,
    spearman,
)


def test_kappa_textbook_two_by_two() -> None:
    # 50 items: yes/yes 20, yes/no 5, no/yes 10, no/no 15. po = 0.7; rater A says yes 25/50,
    # B 30/50: pe = 0.5*0.6 + 0.5*0.4 = 0.5; kappa = (0.7 - 0.5) / (1 - 0.5) = 0.4.
    a = ["yes"] * 25 + ["no"] * 25
    b = ["yes"] * 20 + ["no"] * 5 + ["yes"] * 10 + ["no"] * 15
    assert cohen_kappa(a, b) == pytest.approx(0.4)


def test_kappa_unweighted_and_quadratic_on_a_1_to_3_scale() -> None:
    a, b = [1, 2, 3, 3], [1, 2, 2, 3]
    # po = 3/4; pe = (1/4)(1/4) + (1/4)(2/4) + (2/4)(1/4) = 5/16; (3/4 - 5/16)/(11/16) = 7/11.
    assert cohen_kappa(a, b) == pytest.approx(7 / 11)
    # Quadratic weights (i-j)^2/4: observed disagreement 0.25/4 per item; chance 1.25/4;
    # 1 - 0.25/1.25 = 0.8.
    assert cohen_kappa(a, b, weights="quadratic") == pytest.approx(0.8)
    # Linear weights |i-j|/2: observed (counts) 0.5; chance sum(w * rows_i * cols_j / 4) = 1.75;
    # 1 - 0.5/1.75 = 5/7.
    assert cohen_kappa(a, b, weights="linear") == pytest.approx(5 / 7)


def _reference_weighted_kappa(a: list[int], b: list[int], k: int) -> float:
    # Textbook form: kappa_w = 1 - sum(w * O) / sum(w * E), E = outer(row totals, col totals) / n.
    n = len(a)
    o = [[sum(1 for x, y in zip(a, b, strict=True) if x == i and y == j) for j in range(1, k + 1)]
         for i in range(1, k + 1)]
    r = [sum(row) for row in o]
    c = [sum(o[i][j] for i in range(k)) for j in range(k)]
    w = [[(i - j) ** 2 / (k - 1) ** 2 for j in range(k)] for i in range(k)]
    num = sum(w[i][j] * o[i][j] for i in range(k) for j in range(k))
    den = sum(w[i][j] * r[i] * c[j] / n for i in range(k) for j in range(k))
    return 1 - num / den


def test_quadratic_kappa_on_a_fixed_1_to_5_rating_set() -> None:
    judge = [5, 4, 4, 2, 1, 3, 5, 2, 3, 4, 1, 5]
    human = [5, 5, 4, 2, 2, 3, 4, 1, 3, 4, 1, 4]
    got = cohen_kappa(judge, human, weights="quadratic", categories=[1, 2, 3, 4, 5])
    assert got == pytest.approx(_reference_weighted_kappa(judge, human, 5))
    assert got is not None and 0.8 < got < 1.0  # close ratings: strong weighted agreement
    plain = cohen_kappa(judge, human, categories=[1, 2, 3, 4, 5])
    assert plain is not None and plain < got  # exact-match kappa punishes 4-vs-5 fully


def test_kappa_edge_cases() -> None:
    assert cohen_kappa([], []) is None
    assert cohen_kappa([3, 3], [3, 3]) is None  # one category only: undefined
    assert cohen_kappa([1, 2], [1, 2]) == pytest.approx(1.0)
    assert cohen_kappa([1, 2], [2, 1]) == pytest.approx(-1.0)
    with pytest.raises(ValueError):
        cohen_kappa([1], [1, 2])
    with pytest.raises(ValueError):
        cohen_kappa([1, 7], [1, 2], categories=[1, 2, 3])


def test_spearman_textbook_example() -> None:
    # IQ vs hours of TV per week (the standard worked example): sum d^2 = 194, n = 10,
    # rho = 1 - 6*194 / (10 * 99) = -29/165.
    iq = [106, 100, 86, 101, 99, 103, 97, 113, 112, 110]
    tv = [7, 27, 2, 50, 28, 29, 20, 12, 6, 17]
    assert spearman(iq, tv) == pytest.approx(-29 / 165)


def test_spearman_with_ties_uses_average_ranks() -> None:
    assert average_ranks([1, 2, 2, 3]) == [1, 2.5, 2.5, 4]
    assert average_ranks([5, 5, 5]) == [2, 2, 2]
    # Ranks x = [1, 2.5, 2.5, 4], y = [1, 3, 2, 4]: covariance sum 4.5, variances 4.5 and 5,
    # rho = 4.5 / sqrt(22.5) = 3 / sqrt(10).
    assert spearman([1, 2, 2, 3], [1, 3, 2, 4]) == pytest.approx(3 / math.sqrt(10))


def test_pearson() -> None:
    assert pearson([1, 2, 3], [2, 4, 6]) == pytest.approx(1.0)
    assert pearson([1, 2, 3], [3, 2, 1]) == pytest.approx(-1.0)
    # x = [1,2,3,4], y = [2,1,4,3]: sxy = 3, sxx = syy = 5, r = 0.6.
    assert pearson([1, 2, 3, 4], [2, 1, 4, 3]) == pytest.approx(0.6)
    assert pearson([1, 1, 1], [1, 2, 3]) is None
    assert pearson([1], [1]) is None


def test_agreement_summary() -> None:
    result = agreement([1, 2, 3, 3], [1, 2, 2, 3])
    assert result.n == 4 and result.exact == pytest.approx(0.75)
    assert result.weighted_kappa is not None and result.kappa is not None
    assert result.kappa < result.weighted_kappa  # on a 1–5 scale a 3 vs 2 is a near miss
    assert result.verdict == kappa_label(result.weighted_kappa)
    assert kappa_label(None) == "not enough data" and kappa_label(0.9) == "almost perfect"
    with pytest.raises(ValueError):
        agreement([0], [1])
