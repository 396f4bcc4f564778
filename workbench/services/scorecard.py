"""Scorecards: pass rate and mean score per variant and per assertion, with 95% confidence
intervals, dataset-level criteria and the regression check between two evaluations.

Built incrementally from light ``CellResult``s (status and scores, never the output text), so an
evaluation of any size is summarised in constant memory per cell. Errors (the backend failed, a
check could not be made) are counted apart and never as failures: a pass rate is
``passed / (passed + failed)``. Rates get Wilson score intervals (sane at 0% and 100% and for
small n); mean scores get Student-t intervals.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from statistics import NormalDist
from typing import Literal

from workbench.core.errors import KnownError

Status = Literal["pass", "fail", "error"]
Z95 = NormalDist().inv_cdf(0.975)


# --- statistics ----------------------------------------------------------------------------------


def wilson(successes: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval of a proportion; (0, 1) when there is no data."""
    if n <= 0:
        return 0.0, 1.0
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    low = 0.0 if successes == 0 else max(0.0, centre - half)  # exact ends, no rounding dust
    high = 1.0 if successes == n else min(1.0, centre + half)
    return low, high


def _t_two_sided(t: float, df: int) -> float:
    """P(|T| < t) for Student's t with integer ``df`` (Abramowitz & Stegun 26.7.3-4)."""
    theta = math.atan(t / math.sqrt(df))
    c2 = math.cos(theta) ** 2
    if df % 2:
        term = total = 1.0
        for k in range(3, df - 1, 2):  # 1 + 2/3 c2 + (2*4)/(3*5) c2^2 + ...
            term *= (k - 1) / k * c2
            total += term
        extra = math.sin(theta) * math.cos(theta) * total if df > 1 else 0.0
        return 2 / math.pi * (theta + extra)
    term = total = 1.0
    for k in range(2, df - 1, 2):  # 1 + 1/2 c2 + (1*3)/(2*4) c2^2 + ...
        term *= (k - 1) / k * c2
        total += term
    return math.sin(theta) * total


def t_quantile(p: float, df: int) -> float:
    """Student-t quantile (0.5 < p < 1): the exact distribution inverted by bisection up to
    1,000 degrees of freedom, the Cornish-Fisher expansion beyond (error below 1e-9 there)."""
    if df < 1:
        raise ValueError("degrees of freedom must be at least 1")
    z = NormalDist().inv_cdf(p)
    if df > 1000:
        g1 = (z**3 + z) / 4
        g2 = (5 * z**5 + 16 * z**3 + 3 * z) / 96
        return z + g1 / df + g2 / df**2
    target = 2 * p - 1
    low, high = 0.0, 1.0
    while _t_two_sided(high, df) < target:
        high *= 2
    for _ in range(100):
        mid = (low + high) / 2
        if _t_two_sided(mid, df) < target:
            low = mid
        else:
            high = mid
        if high - low < 1e-10:
            break
    return (low + high) / 2


@dataclass
class RateStat:
    """Pass/fail/error counts; ``rate`` and ``ci`` over judged (non-error) cases only."""

    passed: int = 0
    failed: int = 0
    errors: int = 0

    def add(self, status: Status) -> None:
        if status == "pass":
            self.passed += 1
        elif status == "fail":
            self.failed += 1
        else:
            self.errors += 1

    @property
    def judged(self) -> int:
        return self.passed + self.failed

    @property
    def total(self) -> int:
        return self.judged + self.errors

    @property
    def rate(self) -> float | None:
        return self.passed / self.judged if self.judged else None

    @property
    def ci(self) -> tuple[float, float] | None:
        return wilson(self.passed, self.judged) if self.judged else None

    @property
    def error_rate(self) -> float | None:
        return self.errors / self.total if self.total else None


@dataclass
class ScoreStat:
    """Scores in [0, 1]: mean with a 95% t interval, and the values for a distribution chart."""

    values: list[float] = field(default_factory=list)

    def add(self, score: float | None) -> None:
        if score is not None and math.isfinite(score):
            self.values.append(score)

    @property
    def n(self) -> int:
        return len(self.values)

    @property
    def mean(self) -> float | None:
        return sum(self.values) / self.n if self.values else None

    @property
    def ci(self) -> tuple[float, float] | None:
        n, mean = self.n, self.mean
        if mean is None:
            return None
        if n < 2:
            return mean, mean
        var = sum((v - mean) ** 2 for v in self.values) / (n - 1)
        half = t_quantile(0.975, n - 1) * math.sqrt(var / n)
        return max(0.0, mean - half), min(1.0, mean + half)

    def histogram(self, bins: int = 10) -> list[int]:
        """Counts of scores in ``bins`` equal bins over [0, 1), then one more bin for exactly
        1.0: pass/fail scores pile up there, and a bar labelled by its lower edge ("0.9") would
        show them as 0.9."""
        counts = [0] * (bins + 1)
        for v in self.values:
            counts[bins if v >= 1 else max(0, int(v * bins))] += 1
        return counts


# --- cells and the scorecard ---------------------------------------------------------------------


@dataclass(frozen=True)
class AssertionSummary:
    """One assertion's verdict on one cell, without its reason (that stays in the store)."""

    label: str  # the metric name, else the type as written ("not-contains")
    status: Status
    score: float | None


@dataclass(frozen=True)
class CellResult:
    """One output under its assertions: what the scorecard and the regression check need."""

    variant: int
    test: int
    repeat: int
    run_id: str | None
    status: Status
    score: float | None
    assertions: tuple[AssertionSummary, ...] = ()
    cost: float | None = None
    latency_s: float | None = None


@dataclass
class GroupStats:
    """A variant's (or an assertion's within a variant) rates and scores."""

    cases: RateStat = field(default_factory=RateStat)
    scores: ScoreStat = field(default_factory=ScoreStat)

    def add(self, status: Status, score: float | None) -> None:
        self.cases.add(status)
        if status != "error":
            self.scores.add(score)


@dataclass
class VariantStats:
    label: str
    overall: GroupStats = field(default_factory=GroupStats)
    assertions: dict[str, GroupStats] = field(default_factory=dict)
    cost: float = 0.0
    latency: ScoreStat = field(default_factory=ScoreStat)  # seconds (not bounded to [0, 1])


@dataclass
class Scorecard:
    """Per-variant statistics plus every cell's light result (for drill-down and regressions)."""

    variants: list[VariantStats]
    cells: dict[tuple[int, int, int], CellResult] = field(default_factory=dict)
    criteria: list[CriterionResult] = field(default_factory=list)

    @classmethod
    def empty(cls, labels: Sequence[str]) -> Scorecard:
        return cls([VariantStats(label) for label in labels])

    def add(self, cell: CellResult) -> None:
        """Fold in a cell; a cell already present (a resumed run) is replaced."""
        key = (cell.variant, cell.test, cell.repeat)
        if key in self.cells:
            self._rebuild({**self.cells, key: cell})
            return
        self.cells[key] = cell
        self._fold(cell)

    def _fold(self, cell: CellResult) -> None:
        stats = self.variants[cell.variant]
        stats.overall.add(cell.status, cell.score)
        for a in cell.assertions:
            stats.assertions.setdefault(a.label, GroupStats()).add(a.status, a.score)
        stats.cost += cell.cost or 0.0
        if cell.latency_s is not None:
            stats.latency.values.append(cell.latency_s)

    def _rebuild(self, cells: dict[tuple[int, int, int], CellResult]) -> None:
        self.variants = [VariantStats(v.label) for v in self.variants]
        self.cells = cells
        for cell in cells.values():
            self._fold(cell)

    def assertion_labels(self) -> list[str]:
        labels: list[str] = []
        for v in self.variants:
            labels += [label for label in v.assertions if label not in labels]
        return labels

    def check(self, criteria: Iterable[Criterion]) -> list[CriterionResult]:
        """Evaluate each criterion on each variant; keeps the results on the scorecard."""
        self.criteria = [c.evaluate(v, i) for c in criteria for i, v in enumerate(self.variants)]
        return self.criteria

    @property
    def met(self) -> bool:
        return all(r.met for r in self.criteria)


# --- criteria ------------------------------------------------------------------------------------

_OPS: dict[str, Callable[[float, float], bool]] = {
    ">=": operator.ge,
    "<=": operator.le,
    ">": operator.gt,
    "<": operator.lt,
    "==": operator.eq,
}
_CRITERION = re.compile(
    r"^\s*(?P<fn>[A-Za-z_][\w-]*)\s*(?:\[\s*(?P<sel>[^\]]+?)\s*\])?\s*(?P<op>>=|<=|==|>|<)\s*"
    r"(?P<num>-?\d+(?:\.\d+)?)\s*(?P<pct>%)?\s*$"
)
FUNCTIONS = ("pass_rate", "fail_rate", "error_rate", "mean_score")


class CriterionError(KnownError):
    """A criterion that cannot be read."""


@dataclass(frozen=True)
class Criterion:
    """A dataset-level target such as ``pass_rate >= 0.9`` or ``fail_rate[unsafe] < 5%``.

    Functions: ``pass_rate``, ``fail_rate`` (over judged cases, errors apart), ``error_rate``
    (over all cases), ``mean_score``; ``[NAME]`` narrows to the assertions whose metric (or type)
    is NAME. A bare NAME is that metric's share of failed checks when the name reads as a
    hazard (``unsafe``, ``toxic``, ``pii``…: see ``HAZARD_WORDS``), else its pass rate; so
    ``unsafe < 0.05`` holds when fewer than 5% of the cases failed the ``unsafe`` checks.
    """

    text: str
    function: str
    selector: str | None
    op: str
    threshold: float

    @classmethod
    def parse(cls, text: str) -> Criterion:
        m = _CRITERION.match(text)
        if m is None:
            raise CriterionError(
                f"cannot read the criterion '{text}'",
                hint="write e.g. 'pass_rate >= 0.9', 'mean_score[rouge-l] > 0.4', 'unsafe < 5%'",
            )
        fn, sel = m["fn"], m["sel"]
        threshold = float(m["num"]) / (100 if m["pct"] else 1)
        if fn not in FUNCTIONS:
            if sel is not None:
                raise CriterionError(
                    f"unknown function '{fn}' in '{text}'", hint=", ".join(FUNCTIONS)
                )
            fn, sel = ("fail_rate" if _is_hazard(fn) else "pass_rate"), fn
        return cls(text.strip(), fn, sel, m["op"], threshold)

    def value(self, stats: VariantStats) -> float | None:
        if self.selector is None:
            group: GroupStats | None = stats.overall
        else:
            group = stats.assertions.get(self.selector)
        if group is None:
            return None
        if self.function == "mean_score":
            return group.scores.mean
        if self.function == "error_rate":
            return group.cases.error_rate
        rate = group.cases.rate
        if rate is None:
            return None
        return rate if self.function == "pass_rate" else 1.0 - rate

    def evaluate(self, stats: VariantStats, variant: int = 0) -> CriterionResult:
        value = self.value(stats)
        if value is None:
            what = f"no '{self.selector}' results" if self.selector else "no judged cases"
            return CriterionResult(self, variant, stats.label, None, False, what)
        met = _OPS[self.op](value, self.threshold)
        return CriterionResult(
            self,
            variant,
            stats.label,
            value,
            met,
            f"{_fmt(value)} {self.op} {_fmt(self.threshold)}"
            if met
            else f"{_fmt(value)} is not {self.op} {_fmt(self.threshold)}",
        )


HAZARD_WORDS = ("unsafe", "toxic", "harm", "pii", "leak", "injection", "jailbreak", "blocked")


def _is_hazard(name: str) -> bool:
    lowered = name.lower()
    return any(word in lowered for word in HAZARD_WORDS)


def _fmt(x: float) -> str:
    return f"{x:.3g}"


@dataclass(frozen=True)
class CriterionResult:
    criterion: Criterion
    variant: int
    variant_label: str
    value: float | None
    met: bool
    detail: str

    def line(self) -> str:
        state = "met" if self.met else "NOT met"
        return f"{self.variant_label}: {self.criterion.text} {state} ({self.detail})"


# --- regression check ----------------------------------------------------------------------------

_RANK = {"error": 0, "fail": 1, "pass": 2}
Change = Literal["improved", "regressed", "unchanged", "new", "missing"]


@dataclass(frozen=True)
class CaseChange:
    key: tuple[int, int, int]
    change: Change
    before: CellResult | None
    after: CellResult | None


@dataclass
class RegressionReport:
    """How each case moved between a baseline evaluation and a candidate."""

    changes: list[CaseChange]

    def of(self, change: Change) -> list[CaseChange]:
        return [c for c in self.changes if c.change == change]

    @property
    def improved(self) -> list[CaseChange]:
        return self.of("improved")

    @property
    def regressed(self) -> list[CaseChange]:
        return self.of("regressed")

    @property
    def unchanged(self) -> list[CaseChange]:
        return self.of("unchanged")

    def summary(self) -> str:
        return (
            f"{len(self.improved)} improved, {len(self.regressed)} got worse, "
            f"{len(self.unchanged)} unchanged"
        )


def compare(
    baseline: Scorecard, candidate: Scorecard, *, tolerance: float = 1e-9
) -> RegressionReport:
    """Match cells by (variant, test, repeat): a better status improves; at equal status a
    higher score improves. Errors rank below fails: an output that could not be judged is no
    evidence, so fail -> error is a regression of the run, not of the prompt's quality."""
    changes = []
    for key in sorted(baseline.cells.keys() | candidate.cells.keys()):
        before, after = baseline.cells.get(key), candidate.cells.get(key)
        if before is None or after is None:
            changes.append(CaseChange(key, "new" if before is None else "missing", before, after))
            continue
        delta = _RANK[after.status] - _RANK[before.status]
        if delta == 0 and before.score is not None and after.score is not None:
            diff = after.score - before.score
            delta = 0 if abs(diff) <= tolerance else (1 if diff > 0 else -1)
        change: Change = "improved" if delta > 0 else "regressed" if delta < 0 else "unchanged"
        changes.append(CaseChange(key, change, before, after))
    return RegressionReport(changes)
