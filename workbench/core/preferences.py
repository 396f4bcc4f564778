"""Human judgements summarised per variant: A/B win rates with a confidence interval, thumbs and
1–5 star averages.

A handful of A/B picks says little, so every win rate comes with a Wilson score interval (95% by
default), which stays inside 0..1 and behaves for small counts and rates near 0 or 1, unlike the
normal approximation. A tie (or "both bad": neither preferred) counts half a win for each side.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from statistics import NormalDist
from typing import Literal

Choice = Literal["a", "b", "tie", "both_bad"]


@dataclass(frozen=True)
class Judgement:
    """One A/B pick between the outputs of variants ``a`` and ``b`` (variant keys: ids or
    labels, whatever the caller groups by)."""

    a: str
    b: str
    choice: Choice


@dataclass(frozen=True)
class Score:
    """One output's rating: thumbs (-1/1) and stars (1..5), either may be missing."""

    variant: str
    thumbs: int | None = None
    stars: int | None = None


def wilson_interval(successes: float, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for a proportion ``successes / n``; (0, 1) when ``n`` is 0.

    ``successes`` may be fractional (ties count half)."""
    if n <= 0:
        return (0.0, 1.0)
    if not 0 <= successes <= n:
        raise ValueError("successes must lie between 0 and n")
    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    p = successes / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    return (max(0.0, centre - half), min(1.0, centre + half))


@dataclass(frozen=True)
class VariantPreference:
    """How one variant fared: A/B record and interval, thumbs and stars."""

    variant: str
    comparisons: int
    wins: int
    losses: int
    ties: int  # "tie" and "both bad"
    win_rate: float | None  # (wins + ties / 2) / comparisons
    low: float  # Wilson interval of the win rate
    high: float
    thumbs_up: int
    thumbs_down: int
    stars_mean: float | None
    stars_count: int

    @property
    def thumbs_up_share(self) -> float | None:
        rated = self.thumbs_up + self.thumbs_down
        return self.thumbs_up / rated if rated else None


def summarize(
    judgements: Iterable[Judgement],
    scores: Iterable[Score] = (),
    *,
    variants: Iterable[str] = (),
    confidence: float = 0.95,
) -> list[VariantPreference]:
    """Per-variant summary, in the order of ``variants`` then first appearance.

    A judgement between two outputs of the same variant says nothing about it and is skipped.
    """
    order: dict[str, None] = dict.fromkeys(variants)
    record: dict[str, list[int]] = {}  # wins, losses, ties

    def row(variant: str) -> list[int]:
        order.setdefault(variant)
        return record.setdefault(variant, [0, 0, 0])

    for j in judgements:
        if j.a == j.b:
            continue
        a, b = row(j.a), row(j.b)
        if j.choice == "a":
            a[0] += 1
            b[1] += 1
        elif j.choice == "b":
            b[0] += 1
            a[1] += 1
        else:
            a[2] += 1
            b[2] += 1
    thumbs: dict[str, list[int]] = {}
    stars: dict[str, list[int]] = {}
    for s in scores:
        order.setdefault(s.variant)
        if s.thumbs is not None:
            counts = thumbs.setdefault(s.variant, [0, 0])
            counts[0 if s.thumbs > 0 else 1] += 1
        if s.stars is not None:
            stars.setdefault(s.variant, []).append(s.stars)
    out = []
    for variant in order:
        wins, losses, ties = record.get(variant, [0, 0, 0])
        n = wins + losses + ties
        points = wins + ties / 2
        low, high = wilson_interval(points, n, confidence)
        up, down = thumbs.get(variant, [0, 0])
        given = stars.get(variant, [])
        out.append(
            VariantPreference(
                variant=variant,
                comparisons=n,
                wins=wins,
                losses=losses,
                ties=ties,
                win_rate=points / n if n else None,
                low=low,
                high=high,
                thumbs_up=up,
                thumbs_down=down,
                stars_mean=sum(given) / len(given) if given else None,
                stars_count=len(given),
            )
        )
    return out
