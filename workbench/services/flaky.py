"""Repeated cases: which are flaky, and their pass@k and pass^k.

An evaluation with ``repeats`` N runs every (variant, dataset row) N times. Per case, over its
*judged* repeats (errors are no evidence either way and are left out, as everywhere in the
scorecard):

- **flaky**: at least one repeat passed and at least one failed;
- **passing** / **failing**: every judged repeat passed / failed (a failing case is never
  flaky: it fails the same way every time);
- **error**: no repeat could be judged.

pass@k is the chance that at least one of k samples passes, pass^k that all k pass. With n
judged repeats of which c passed, both are estimated without bias from the n samples (for k <=
n): pass@k = 1 - C(n-c, k) / C(n, k) (Chen et al. 2021, "Evaluating Large Language Models
Trained on Code", the Codex paper) and pass^k = C(c, k) / C(n, k) (Yao et al. 2024, tau-bench).
When k = n they are exactly "one passed" and "all passed".
"""

from __future__ import annotations

from dataclasses import dataclass
from math import comb
from typing import Literal

from workbench.services.scorecard import Scorecard

CaseVerdict = Literal["passing", "flaky", "failing", "error"]


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k from n samples with c passes (k <= n)."""
    _check(n, c, k)
    if n - c < k:
        return 1.0
    return 1.0 - comb(n - c, k) / comb(n, k)


def pass_hat_k(n: int, c: int, k: int) -> float:
    """Unbiased pass^k (all of k samples pass) from n samples with c passes (k <= n)."""
    _check(n, c, k)
    return comb(c, k) / comb(n, k)


def _check(n: int, c: int, k: int) -> None:
    if not 0 <= c <= n or not 1 <= k <= n:
        raise ValueError(f"need 0 <= c <= n and 1 <= k <= n (n={n}, c={c}, k={k})")


@dataclass(frozen=True)
class CaseRepeats:
    """One (variant, row) over its repeats."""

    variant: int
    test: int
    passed: int
    failed: int
    errors: int

    @property
    def judged(self) -> int:
        return self.passed + self.failed

    @property
    def verdict(self) -> CaseVerdict:
        if not self.judged:
            return "error"
        if self.passed and self.failed:
            return "flaky"
        return "passing" if self.passed else "failing"

    @property
    def flaky(self) -> bool:
        return self.verdict == "flaky"

    def at_k(self, k: int) -> tuple[float, float] | None:
        """(pass@k, pass^k) over the judged repeats, k capped at their number; None if none."""
        n = self.judged
        if not n:
            return None
        k = min(k, n)
        return pass_at_k(n, self.passed, k), pass_hat_k(n, self.passed, k)


@dataclass(frozen=True)
class RepeatSummary:
    """A variant's cases by verdict, with the mean pass@k and pass^k over its judged cases."""

    label: str
    k: int
    passing: int
    flaky: int
    failing: int
    errors: int
    pass_at_k: float | None
    pass_hat_k: float | None


def case_repeats(card: Scorecard) -> list[CaseRepeats]:
    """Every (variant, row) with a cell on the scorecard, in (variant, row) order."""
    counts: dict[tuple[int, int], list[int]] = {}
    for (v, t, _r), cell in card.cells.items():
        slot = counts.setdefault((v, t), [0, 0, 0])
        slot[("pass", "fail", "error").index(cell.status)] += 1
    return [CaseRepeats(v, t, *counts[v, t]) for v, t in sorted(counts)]


def summarise(card: Scorecard, k: int) -> list[RepeatSummary]:
    """Per variant: passing, flaky, failing and error cases, and mean pass@k / pass^k."""
    cases = case_repeats(card)
    out = []
    for v, stats in enumerate(card.variants):
        mine = [c for c in cases if c.variant == v]
        figures = [f for c in mine if (f := c.at_k(k)) is not None]
        verdicts = [c.verdict for c in mine]
        out.append(
            RepeatSummary(
                stats.label,
                k,
                verdicts.count("passing"),
                verdicts.count("flaky"),
                verdicts.count("failing"),
                verdicts.count("error"),
                sum(f[0] for f in figures) / len(figures) if figures else None,
                sum(f[1] for f in figures) / len(figures) if figures else None,
            )
        )
    return out
