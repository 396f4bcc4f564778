"""What one sweep cell says about quality, not only speed: its answers (collapsed, most common
first), how much its repeats agree, and its score under the suite's assertions.

A sweep matrix cell gathers the runs of one setting (every repeat, and every variable set when
the sets are not an axis). Reading a temperature sweep means reading these: does the answer
change, do repeats agree, does it still pass the checks. Assertions that need a judge or the
Python evaluator are scored only when one is given (``AssertionContext``); without one they are
errors, which never count as failures nor lower a score (``core.evaluation.combine``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from statistics import mean

from workbench.core.evaluation import AssertionContext, Grader, PythonRunner, combine, evaluate
from workbench.core.experiments import AssertionSpec, TestCase
from workbench.core.models import RunResult
from workbench.core.outcome import status_of
from workbench.core.stability import OutputGroup, stability


@dataclass(frozen=True)
class ScoredRun:
    """A finished run of a cell, with the test case it ran (None without variable sets)."""

    result: RunResult
    test: TestCase | None = None


@dataclass(frozen=True)
class CellSummary:
    """Answers, agreement and score of a cell's ended runs.

    ``agreement`` is the share of the most common answer (None with fewer than two answers);
    ``score`` the mean assertion score of the judged answers (None when nothing was judged) and
    ``passed``/``judged`` how many answers passed all their assertions; ``reasons`` why the
    others failed (or could not be judged)."""

    ended: int
    failed: int
    groups: tuple[OutputGroup, ...]
    agreement: float | None
    score: float | None
    passed: int
    judged: int
    reasons: tuple[str, ...]

    @property
    def answer(self) -> str:
        """The most common answer, whole ("" when no run gave one)."""
        return self.groups[0].text if self.groups else ""

    @property
    def first_line(self) -> str:
        """The most common answer's first non-blank line, as a matrix cell shows it."""
        return next((line.strip() for line in self.answer.splitlines() if line.strip()), "")

    def label(self) -> str:
        """One line under the answer: agreement and score, as far as they are known."""
        parts = []
        if self.agreement is not None:
            parts.append(f"agree {self.agreement:.0%}")
        if self.judged:
            parts.append(f"pass {self.passed}/{self.judged}")
        if self.failed:
            parts.append(f"{self.failed} failed")
        return " · ".join(parts)


def summarize_cell(
    runs: Sequence[ScoredRun],
    assertions: Sequence[AssertionSpec] = (),
    *,
    python: PythonRunner | None = None,
    judge: Grader | None = None,
) -> CellSummary:
    """The summary of a cell's ended runs; ``assertions`` apply to every answer (besides each
    test case's own)."""
    answered = [r for r in runs if status_of(r.result) == "ok"]  # failed or cancelled: none
    texts = [r.result.text for r in answered]
    found = stability(texts) if texts else None
    scores: list[float] = []
    passed = judged = 0
    reasons: dict[str, None] = {}
    for run in answered:
        specs = [*assertions, *(run.test.assertions if run.test is not None else [])]
        if not specs:
            continue
        verdict = combine(evaluate(specs, AssertionContext(
            output=run.result.text, test=run.test, result=run.result, python=python,
            judge=judge)))
        if verdict.score is not None:
            scores.append(verdict.score)
        if verdict.status != "error":
            judged += 1
            passed += verdict.status == "pass"
        if verdict.status != "pass":
            reasons.setdefault(verdict.reason)
    return CellSummary(
        ended=len(runs),
        failed=len(runs) - len(answered),
        groups=tuple(found.groups) if found is not None else (),
        agreement=found.output_agreement if found is not None and found.n > 1 else None,
        score=mean(scores) if scores else None,
        passed=passed,
        judged=judged,
        reasons=tuple(reasons),
    )
