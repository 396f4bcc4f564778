"""LLM-as-judge: rubric scoring, pairwise comparison with position-bias control, and
reference-based factuality, on any backend the runner can open — local ones included.

The judge's backend is always chosen: ``Judge(runner)`` uses the embedded local model
(``llamacpp``), and anything else must be named (``Judge(runner, backend="my-openai")``). Nothing
here looks for API keys or falls back to a cloud service. Judge runs go through
``Runner.execute`` like every other run (limited, priced, and stored if the runner has a writer).

Answers are JSON objects parsed with ``core.answers.parse_json_output`` (a ```json fence or prose
around it is tolerated), with a regex fallback for models that answer "Score: 4 — because ...".
An answer that still cannot be read is an ``error`` outcome (never a fail) that keeps the raw
text. The rationale is kept with every score (``Check.reason`` and ``details["reason"]``).

``Judge`` is the ``core.evaluation.Grader`` the ``llm-rubric``, ``factuality`` and
``model-graded-closedqa`` assertions call through ``AssertionContext.judge``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from workbench.core import judge_templates as jt
from workbench.core.agreement import Agreement, agreement
from workbench.core.answers import JSONOutputError, parse_json_output
from workbench.core.evaluation import Check, EvaluationError
from workbench.core.models import Params, RunResult
from workbench.services.runner import Runner, build_request

EMBEDDED_BACKEND = "llamacpp"

Winner = Literal["A", "B", "tie"]


@dataclass(frozen=True)
class JudgeAnswer:
    """One judge call: the parsed fields, the rationale and the raw text."""

    fields: Mapping[str, Any]
    reason: str
    raw: str


@dataclass(frozen=True)
class Rubric:
    """Criteria and what each point of the 1–5 scale means."""

    criteria: str
    scale: Mapping[int, str] = field(default_factory=lambda: dict(jt.DEFAULT_SCALE))

    def scale_text(self) -> str:
        return "\n".join(f"{k}: {v}" for k, v in sorted(self.scale.items()))


@dataclass(frozen=True)
class PairwiseResult:
    """A pair judged in both orders. ``winner`` is a tie when the two orders disagree
    (``position_bias`` True): the judge preferred a position, not a response."""

    winner: Winner
    consistent: bool
    position_bias: bool
    first_order: Winner  # verdict with A shown first
    second_order: Winner  # verdict with B shown first
    reasons: tuple[str, str]
    raw: tuple[str, str]


def _field(raw: str, name: str, pattern: str) -> tuple[dict[str, Any], str] | None:
    """``{name: value}`` and the reason, from JSON or, failing that, from ``pattern``."""
    try:
        data = parse_json_output(raw)
    except JSONOutputError:
        data = None
    if isinstance(data, dict) and name in data:
        return {name: data[name]}, str(data.get("reason", "")).strip()
    match = re.search(pattern, raw, re.IGNORECASE)
    if match is None:
        return None
    reason = re.sub(r"\s+", " ", raw[match.end():]).strip(" .:-—\"'}")
    value = next(g for g in match.groups() if g is not None)
    return {name: value}, reason


def reconcile(first: Winner, second: Winner) -> PairwiseResult:
    """Combine the two orders' verdicts (already mapped back to A/B)."""
    consistent = first == second
    return PairwiseResult(
        winner=first if consistent else "tie",
        consistent=consistent,
        position_bias=not consistent and "tie" not in (first, second),
        first_order=first,
        second_order=second,
        reasons=("", ""),
        raw=("", ""),
    )


class Judge:
    """An LLM judge on one backend/model; implements ``core.evaluation.Grader``."""

    def __init__(self, runner: Runner, *, backend: str = EMBEDDED_BACKEND, model: str = "",
                 params: Params | None = None) -> None:
        self.runner = runner
        self.backend = backend
        self.model = model
        self.params = params

    def ask(self, template_name: str, values: Mapping[str, str]) -> tuple[str, RunResult]:
        """Render judge template ``template_name`` with ``values`` and run it."""
        template = jt.load(template_name)
        params = template.parameters.merged(self.params) if self.params else template.parameters
        request = build_request(template, values, backend=self.backend, model=self.model,
                                params=params)
        outcome = self.runner.execute(request)
        result = outcome.result
        if outcome.status != "ok":
            raise EvaluationError(
                f"the judge ({self.backend}) failed: {result.error or result.finish_reason}"
            )
        return result.text, result

    def _details(self, raw: str, result: RunResult, **extra: Any) -> dict[str, Any]:
        return {"judge": self.backend, "model": result.request.model, "raw": raw, **extra}

    def _unreadable(self, what: str, raw: str, result: RunResult) -> EvaluationError:
        return EvaluationError(
            f"the judge's answer has no readable {what}: {raw.strip()[:200]!r}",
            details=self._details(raw, result),
        )

    # --- rubric -------------------------------------------------------------------------------

    def score(self, output: str, rubric: Rubric, *, input: str = "",
              reference: str | None = None) -> Check:
        """Score ``output`` 1–5; the Check's score is (n - 1) / 4, its reason the rationale."""
        raw, result = self.ask(jt.RUBRIC, {
            "criteria": rubric.criteria, "scale": rubric.scale_text(), "input": input,
            "reference": reference or "", "output": output,
        })
        parsed = _field(raw, "score",
                        r"\bscore\b\W{0,4}([1-5])\b|\b([1-5])\s*(?:/|out of)\s*5\b")
        if parsed is None:
            raise self._unreadable("score", raw, result)
        value, reason = parsed
        try:
            n = int(float(value["score"]))
        except (TypeError, ValueError):
            raise self._unreadable("score", raw, result) from None
        if not 1 <= n <= 5:
            raise EvaluationError(f"the judge gave {n}, outside the 1-5 scale",
                                  details=self._details(raw, result))
        return Check(None, (n - 1) / 4, f"judge score {n}/5: {reason}",
                     details=self._details(raw, result, score=n, reason=reason))

    def rubric(self, output: str, rubric: str, *, input: str,
               reference: str | None) -> Check:
        return self.score(output, Rubric(rubric), input=input, reference=reference)

    # --- factuality and closed QA -------------------------------------------------------------

    def factuality(self, output: str, reference: str, *, question: str) -> Check:
        """promptfoo's factuality: categories A, B, C and E pass; D (a disagreement) fails."""
        raw, result = self.ask(jt.FACTUALITY, {"question": question, "reference": reference,
                                               "output": output})
        parsed = _field(raw, "category", r"(?:category\W{0,4}|\()([A-E])\b")
        category = str(parsed[0]["category"]).strip().strip("()").upper() if parsed else ""
        if parsed is None or category not in jt.FACTUALITY_CATEGORIES:
            raise self._unreadable("category (A-E)", raw, result)
        reason = parsed[1]
        passed = category != "D"
        return Check(passed, float(passed), f"({category}) {jt.FACTUALITY_CATEGORIES[category]} "
                     f"{reason}".strip(),
                     details=self._details(raw, result, category=category, reason=reason))

    def closedqa(self, output: str, criteria: str, *, question: str) -> Check:
        raw, result = self.ask(jt.CLOSEDQA, {"question": question, "output": output,
                                             "criteria": criteria})
        parsed = _field(raw, "answer", r"\banswer\b\W{0,4}(Y|N|yes|no)\b")
        answer = str(parsed[0]["answer"]).strip().upper()[:1] if parsed else ""
        if parsed is None or answer not in ("Y", "N"):
            raise self._unreadable("Y/N answer", raw, result)
        reason = parsed[1]
        return Check(answer == "Y", float(answer == "Y"),
                     f"judge says {'Y' if answer == 'Y' else 'N'}: {reason}",
                     details=self._details(raw, result, answer=answer, reason=reason))

    # --- pairwise -----------------------------------------------------------------------------

    def _prefer(self, first: str, second: str, criteria: str, input: str) -> tuple[str, str, str]:
        raw, result = self.ask(jt.PAIRWISE, {"criteria": criteria, "input": input,
                                             "first": first, "second": second})
        parsed = _field(raw, "winner", r"\b(?:winner|response)\b\W{0,4}(1|2|tie)\b")
        winner = str(parsed[0]["winner"]).strip().lower() if parsed else ""
        if parsed is None or winner not in ("1", "2", "tie"):
            raise self._unreadable("winner (1, 2 or tie)", raw, result)
        return winner, parsed[1], raw

    def compare(self, output_a: str, output_b: str, *, criteria: str,
                input: str = "") -> PairwiseResult:
        """Judge the pair in both orders; a judge that only prefers a position yields a tie."""
        w1, reason1, raw1 = self._prefer(output_a, output_b, criteria, input)
        w2, reason2, raw2 = self._prefer(output_b, output_a, criteria, input)
        as_ab: dict[str, Winner] = {"1": "A", "2": "B", "tie": "tie"}
        as_ba: dict[str, Winner] = {"1": "B", "2": "A", "tie": "tie"}
        verdict = reconcile(as_ab[w1], as_ba[w2])
        return PairwiseResult(verdict.winner, verdict.consistent, verdict.position_bias,
                              verdict.first_order, verdict.second_order, (reason1, reason2),
                              (raw1, raw2))


# --- meta-evaluation ----------------------------------------------------------------------------


@dataclass(frozen=True)
class RatedOutput:
    """An output a person rated 1–5 (``store.ratings`` stars), to judge again."""

    output: str
    stars: int
    input: str = ""
    reference: str | None = None


@dataclass(frozen=True)
class Calibration:
    """How the judge's rubric scores agree with the person's stars on the same outputs."""

    agreement: Agreement
    pairs: list[tuple[int, int]]  # (judge, person) for every output the judge could score
    unreadable: list[str]  # why the judge could not score the others


def calibrate(judge: Judge, rubric: Rubric, rated: Iterable[RatedOutput]) -> Calibration:
    """Judge every rated output with ``rubric`` and measure agreement (kappa, Spearman, ...)
    with the person's stars, so a user can see whether to trust the judge."""
    pairs: list[tuple[int, int]] = []
    unreadable: list[str] = []
    for item in rated:
        try:
            check = judge.score(item.output, rubric, input=item.input, reference=item.reference)
        except EvaluationError as err:
            unreadable.append(str(err))
            continue
        pairs.append((int(check.details["score"]), item.stars))
    return Calibration(agreement([j for j, _ in pairs], [h for _, h in pairs]), pairs,
                       unreadable)
