"""Meta-evaluation: how far a judge agrees with a person's own ratings.

Cohen's kappa (chance-corrected agreement on categories; quadratic weights for ordinal scales such
as 1–5, where 4 vs 5 is a smaller disagreement than 1 vs 5), Spearman's rank correlation (ties get
their average rank, then Pearson on the ranks) and Pearson's correlation. Undefined values (fewer
than two pairs, a constant series, chance agreement of 1) are ``None``, never NaN, so a UI can say
"not enough data" instead of showing a number.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Literal

Weights = Literal["linear", "quadratic"]


def _pairs(a: Sequence[object], b: Sequence[object]) -> int:
    if len(a) != len(b):
        raise ValueError(f"the two rating lists differ in length ({len(a)} vs {len(b)})")
    return len(a)


def cohen_kappa(
    a: Sequence[Hashable],
    b: Sequence[Hashable],
    *,
    weights: Weights | None = None,
    categories: Sequence[Hashable] | None = None,
) -> float | None:
    """Cohen's kappa between two raters' labels of the same items.

    ``weights`` ("linear" or "quadratic") makes it the weighted kappa for ordered categories:
    ``categories`` gives their order (default: the sorted labels seen), and the penalty for a
    disagreement grows with the distance between the two categories.
    """
    n = _pairs(a, b)
    if n == 0:
        return None
    cats = list(categories) if categories is not None else sorted(set(a) | set(b))  # type: ignore[type-var]
    index = {c: i for i, c in enumerate(cats)}
    missing = (set(a) | set(b)) - set(index)
    if missing:
        raise ValueError(f"ratings outside the categories: {sorted(map(str, missing))}")
    k = len(cats)
    observed = [[0.0] * k for _ in range(k)]
    for x, y in zip(a, b, strict=True):
        observed[index[x]][index[y]] += 1
    rows = [sum(r) for r in observed]
    cols = [sum(observed[i][j] for i in range(k)) for j in range(k)]

    def weight(i: int, j: int) -> float:
        if weights is None:
            return 0.0 if i == j else 1.0
        d = abs(i - j) / (k - 1) if k > 1 else 0.0
        return d if weights == "linear" else d * d

    disagreement = sum(weight(i, j) * observed[i][j] for i in range(k) for j in range(k)) / n
    chance = sum(weight(i, j) * rows[i] * cols[j] for i in range(k) for j in range(k)) / (n * n)
    if chance == 0:
        return None  # both raters used one and the same category: agreement is undefined
    return 1.0 - disagreement / chance


def average_ranks(values: Sequence[float]) -> list[float]:
    """1-based ranks; tied values share the mean of the ranks they span."""
    order = sorted(range(len(values)), key=lambda i: values[i])
    ranks = [0.0] * len(values)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        for m in range(i, j + 1):
            ranks[order[m]] = (i + j) / 2 + 1
        i = j + 1
    return ranks


def pearson(x: Sequence[float], y: Sequence[float]) -> float | None:
    """Pearson's r; ``None`` for fewer than two pairs or a constant series."""
    n = _pairs(x, y)
    if n < 2:
        return None
    mx, my = sum(x) / n, sum(y) / n
    sxy = sum((a - mx) * (b - my) for a, b in zip(x, y, strict=True))
    sxx = sum((a - mx) ** 2 for a in x)
    syy = sum((b - my) ** 2 for b in y)
    if sxx == 0 or syy == 0:
        return None
    return max(-1.0, min(1.0, sxy / math.sqrt(sxx * syy)))


def spearman(x: Sequence[float], y: Sequence[float]) -> float | None:
    """Spearman's rho with ties handled by average ranks (Pearson on the ranks)."""
    _pairs(x, y)
    return pearson(average_ranks(x), average_ranks(y))


def kappa_label(kappa: float | None) -> str:
    """Landis & Koch (1977)'s words for a kappa value."""
    if kappa is None:
        return "not enough data"
    for bound, label in ((0.0, "poor"), (0.2, "slight"), (0.4, "fair"), (0.6, "moderate"),
                         (0.8, "substantial")):
        if kappa <= bound:
            return label
    return "almost perfect"


@dataclass(frozen=True)
class Agreement:
    """A judge's agreement with a person on the same items."""

    n: int
    exact: float | None  # share of identical ratings
    kappa: float | None
    weighted_kappa: float | None  # quadratic
    spearman: float | None
    pearson: float | None

    @property
    def verdict(self) -> str:
        return kappa_label(self.weighted_kappa if self.weighted_kappa is not None else self.kappa)


def agreement(judge: Sequence[int], human: Sequence[int],
              scale: Sequence[int] = (1, 2, 3, 4, 5)) -> Agreement:
    """Every agreement figure for two ratings of the same items on an ordinal ``scale``."""
    n = _pairs(judge, human)
    exact = sum(x == y for x, y in zip(judge, human, strict=True)) / n if n else None
    counts = Counter(judge) + Counter(human)
    if set(counts) - set(scale):
        raise ValueError(f"ratings outside the scale {list(scale)}")
    return Agreement(
        n=n,
        exact=exact,
        kappa=cohen_kappa(judge, human, categories=scale),
        weighted_kappa=cohen_kappa(judge, human, weights="quadratic", categories=scale),
        spearman=spearman([float(v) for v in judge], [float(v) for v in human]),
        pearson=pearson([float(v) for v in judge], [float(v) for v in human]),
    )
