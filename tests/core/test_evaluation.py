"""The assertion protocol: lookup, not- negation, thresholds, weights, and error kept apart from
fail — a failed backend or an assertion that cannot run is never counted as a failure."""

from __future__ import annotations

import dataclasses

import pytest

from workbench.core import evaluation
from workbench.core.evaluation import (
    AssertionContext,
    Check,
    EvaluationError,
    Outcome,
    combine,
    evaluate,
    evaluate_one,
    registry,
    split_type,
    validate,
)
from workbench.core.experiments import AssertionSpec, TestCase
from workbench.core.models import RunResult, SentRequest, Timings

PROMPTFOO_TYPES = {
    "equals", "contains", "icontains", "contains-any", "contains-all", "icontains-any",
    "icontains-all", "starts-with", "regex", "is-json", "contains-json", "python",
    "levenshtein", "latency", "cost", "bleu", "rouge-n", "similar", "llm-rubric", "factuality",
    "model-graded-closedqa", "word-count", "finish-reason",
}


def _result(finish: str = "stop", **extra: object) -> RunResult:
    return RunResult.model_validate({
        "request": SentRequest(backend="scripted", model="m"), "text": "Paris",
        "finish_reason": finish, "timings": Timings(total_s=0.5), **extra,
    })


def spec(type_: str, value: object = None, **kw: object) -> AssertionSpec:
    return AssertionSpec.model_validate({"type": type_, "value": value, **kw})


def test_registry_has_promptfoos_types_and_every_kind_is_described() -> None:
    kinds = registry()
    assert set(kinds) >= PROMPTFOO_TYPES
    assert all(k.description for k in kinds.values())
    assert "javascript" in kinds


def test_javascript_without_an_evaluator_is_an_error_saying_what_to_pass() -> None:
    validate(spec("javascript", "output.length > 3"))
    outcome = evaluate_one(spec("javascript", "1"), AssertionContext(output="x"))
    assert outcome.status == "error" and "JavaScript evaluator" in outcome.reason


def test_unknown_type_and_bad_weight() -> None:
    with pytest.raises(EvaluationError, match="unknown assertion type 'contain'"):
        validate(spec("contain", "x"))
    assert evaluate_one(spec("contain", "x"), AssertionContext(output="x")).status == "error"
    with pytest.raises(EvaluationError, match="weight"):
        validate(spec("contains", "x", weight=-1))


def test_negation_prefix_flag_and_double_negation() -> None:
    assert split_type(spec("not-contains")) == ("contains", True)
    assert split_type(spec("contains", negate=True)) == ("contains", True)
    assert split_type(spec("not-contains", negate=True)) == ("contains", False)
    ctx = AssertionContext(output="Paris")
    assert evaluate_one(spec("not-contains", "Rome"), ctx).status == "pass"
    assert evaluate_one(spec("not-contains", "Paris"), ctx).status == "fail"
    assert evaluate_one(spec("not-contains", "Paris", negate=True), ctx).status == "pass"
    negated = evaluate_one(spec("not-contains-all", ["Paris", "Rome"]), ctx)
    assert negated.status == "pass" and negated.score == 0.5  # 1 - share found
    assert negated.reason.startswith("not: ")


def test_threshold_on_scores_and_on_measured_values() -> None:
    ctx = AssertionContext(output="kitten", expected="sitting")
    # at-least: score >= threshold
    assert evaluate_one(spec("edit-similarity", threshold=0.5), ctx).status == "pass"
    assert evaluate_one(spec("edit-similarity", threshold=0.6), ctx).status == "fail"
    # at-most: measured value <= threshold (edit distance 3)
    assert evaluate_one(spec("levenshtein", threshold=3), ctx).status == "pass"
    assert evaluate_one(spec("levenshtein", threshold=2), ctx).status == "fail"


def test_backend_failure_is_an_error_for_every_assertion_never_a_fail() -> None:
    failed_run = _result("error", error="server said 500", error_kind="ServerError")
    ctx = AssertionContext(output="", result=failed_run)
    outcomes = evaluate([spec("contains", "Paris"), spec("not-contains", "Paris"),
                         spec("latency", threshold=1000), spec("is-json")], ctx)
    assert {o.status for o in outcomes} == {"error"}
    assert all("ServerError" in o.reason and "500" in o.reason for o in outcomes)
    verdict = combine(outcomes)
    assert (verdict.status, verdict.failed, verdict.errors, verdict.score) == ("error", 0, 4, None)
    cancelled = evaluate_one(spec("contains", "x"),
                             AssertionContext(output="", result=_result("cancelled")))
    assert cancelled.status == "error" and "cancelled" in cancelled.reason


def test_a_kind_that_crashes_is_an_error_with_the_cause(monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(spec_: AssertionSpec, ctx: AssertionContext) -> Check:
        raise ZeroDivisionError("division by zero")

    broken = dataclasses.replace(registry()["contains"], check=boom)
    monkeypatch.setitem(evaluation._REGISTRY, "contains", broken)
    outcome = evaluate_one(spec("contains", "x"), AssertionContext(output="x"))
    assert outcome.status == "error" and "ZeroDivisionError" in outcome.reason


def test_outcome_carries_type_metric_weight_and_serialises() -> None:
    outcome = evaluate_one(spec("not-icontains", "rome", weight=2, metric="no-rome"),
                           AssertionContext(output="Paris"))
    assert (outcome.type, outcome.metric, outcome.weight) == ("not-icontains", "no-rome", 2)
    data = outcome.as_dict()
    assert data["status"] == "pass" and data["metric"] == "no-rome"
    plain = evaluate_one(spec("contains", "P"), AssertionContext(output="Paris"))
    assert plain.metric == "contains"


def test_context_takes_expected_and_vars_from_the_test() -> None:
    ctx = AssertionContext(output="Hi Ada", test=TestCase(vars={"n": "Ada"}, expected="Hi Ada"))
    assert ctx.expected == "Hi Ada" and ctx.vars == {"n": "Ada"}
    assert evaluate_one(spec("equals"), ctx).status == "pass"
    override = AssertionContext(output="x", test=TestCase(expected="a"), expected="b")
    assert override.expected == "b"


def _o(status: str, score: float | None, weight: float = 1.0) -> Outcome:
    return Outcome(status, score, "r", type="t", weight=weight)  # type: ignore[arg-type]


def test_combine_weights_and_status_order() -> None:
    verdict = combine([_o("pass", 1.0, 3), _o("fail", 0.0, 1)])
    assert verdict.status == "fail" and verdict.score == pytest.approx(0.75)
    # An error does not lower the score or turn the cell into a fail.
    with_error = combine([_o("pass", 1.0), _o("error", None), _o("pass", 0.5)])
    assert (with_error.status, with_error.score, with_error.errors) == ("error", 0.75, 1)
    # A definite failure stays a failure even next to an error.
    assert combine([_o("fail", 0.0), _o("error", None)]).status == "fail"
    # Weight 0: recorded, neither scored nor deciding.
    assert combine([_o("pass", 1.0), _o("fail", 0.0, 0)]).status == "pass"
    assert combine([_o("pass", 1.0), _o("fail", 0.0, 0)]).score == 1.0
    assert combine([]).status == "pass" and combine([]).score is None


def test_end_to_end_weighted_cell() -> None:
    ctx = AssertionContext(output='{"city": "Paris"}', result=_result(cost=0.001))
    outcomes = evaluate([spec("is-json", weight=2), spec("contains", "Rome"),
                         spec("cost", weight=0)], ctx)
    assert [o.status for o in outcomes] == ["pass", "fail", "pass"]
    verdict = combine(outcomes)
    assert verdict.status == "fail" and verdict.score == pytest.approx(2 / 3)
    assert outcomes[2].value == 0.001
