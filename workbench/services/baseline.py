"""Comparing an evaluation with its suite's baseline: a regression only when it is significant.

The two evaluations are paired case by case (same variant, same inputs: ``eval_history``);
cases missing from either, or not judged in either, are left out. Two one-sided paired tests:

- **pass/fail**: McNemar's exact test. Only the discordant cases count: b went pass -> fail, c
  went fail -> pass; under "no change" each discordant case is a fair coin, so
  p = P(X >= b) for X ~ Binomial(b + c, 1/2).
- **scores**: a sign test on each case's mean score (after minus before; ties left out): with
  d cases lower and u higher, p = P(X >= d) for X ~ Binomial(d + u, 1/2).

The check fails when either p is below alpha / 2 (Bonferroni over the two tests; alpha 0.05 by
default). A reshuffle (as many cases got better as got worse) or a case or two flipping is not a
regression; several cases going the same way is.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import comb

from workbench.services.eval_history import CaseOutcome, Snapshot, variant_map

ALPHA = 0.05
#: Score differences at most this large are ties.
TIE = 1e-9


def binomial_tail(k: int, n: int) -> float:
    """P(X >= k) for X ~ Binomial(n, 1/2), exactly; 1 when n is 0."""
    if k <= 0:
        return 1.0
    return sum(comb(n, i) for i in range(k, n + 1)) / 2**n


def mcnemar_exact(worse: int, better: int) -> float:
    """One-sided exact McNemar p-value that pass -> fail flips outnumber fail -> pass by
    chance."""
    return binomial_tail(worse, worse + better)


@dataclass(frozen=True)
class PairedCase:
    variant: str
    name: str
    before: CaseOutcome
    after: CaseOutcome

    @property
    def score_delta(self) -> float | None:
        if self.before.score is None or self.after.score is None:
            return None
        return self.after.score - self.before.score


@dataclass(frozen=True)
class BaselineCheck:
    """The candidate against the baseline: paired cases, both tests and the verdict."""

    baseline_id: str
    candidate_id: str
    pairs: list[PairedCase]
    alpha: float = ALPHA

    @property
    def pass_to_fail(self) -> list[PairedCase]:
        return [p for p in self.pairs if p.before.passes and p.after.passes is False]

    @property
    def fail_to_pass(self) -> list[PairedCase]:
        return [p for p in self.pairs if p.before.passes is False and p.after.passes]

    def _scores(self, sign: int) -> list[PairedCase]:
        return [
            p for p in self.pairs if (d := p.score_delta) is not None and d * sign > TIE
        ]

    @property
    def scores_down(self) -> list[PairedCase]:
        return self._scores(-1)

    @property
    def scores_up(self) -> list[PairedCase]:
        return self._scores(1)

    @property
    def p_pass(self) -> float:
        return mcnemar_exact(len(self.pass_to_fail), len(self.fail_to_pass))

    @property
    def p_score(self) -> float:
        return binomial_tail(len(self.scores_down), len(self.scores_down) + len(self.scores_up))

    @property
    def regressed(self) -> bool:
        """A significant regression (see the module docstring)."""
        return min(self.p_pass, self.p_score) < self.alpha / 2

    def worse_cases(self) -> list[PairedCase]:
        """The cases that went pass -> fail, then those that only scored lower."""
        flipped = self.pass_to_fail
        return flipped + [p for p in self.scores_down if p not in flipped]

    def summary(self) -> str:
        verdict = "significant regression" if self.regressed else "no significant regression"
        return (
            f"{len(self.pairs)} paired cases: {len(self.pass_to_fail)} pass -> fail, "
            f"{len(self.fail_to_pass)} fail -> pass (McNemar exact p = {self.p_pass:.3g}); "
            f"{len(self.scores_down)} scored lower, {len(self.scores_up)} higher (sign test "
            f"p = {self.p_score:.3g}); {verdict} at alpha {self.alpha:g}"
        )


def check_baseline(baseline: Snapshot, candidate: Snapshot, alpha: float = ALPHA) -> BaselineCheck:
    """Pair the candidate's judged cases with the baseline's and test them."""
    mapping = variant_map(baseline, candidate)
    pairs = []
    for (v, key), after in candidate.cases.items():
        if v not in mapping:
            continue
        before = baseline.cases.get((mapping[v], key))
        if before is None or before.passes is None or after.passes is None:
            continue
        pairs.append(PairedCase(candidate.labels[v], candidate.names[key], before, after))
    return BaselineCheck(baseline.evaluation_id, candidate.evaluation_id, pairs, alpha)
