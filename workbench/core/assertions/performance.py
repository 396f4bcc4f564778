"""Run assertions: ``latency`` (milliseconds) and ``cost`` (dollars) at most the threshold, and
``finish-reason`` (promptfoo's types). Without a threshold, ``latency`` and ``cost`` only record
the figure (pass, with the value kept) — promptfoo's "weight 0 cost metric".
"""

from __future__ import annotations

from workbench.core.assertions.values import text_value
from workbench.core.evaluation import AssertionContext, Check, EvaluationError, kind
from workbench.core.experiments import AssertionSpec
from workbench.core.models import RunResult


def _result(spec: AssertionSpec, ctx: AssertionContext) -> RunResult:
    if ctx.result is None:
        raise EvaluationError(f"{spec.type} needs the run's result")
    return ctx.result


@kind("latency", "total run time in milliseconds is at most the threshold", direction="at-most")
def latency(spec: AssertionSpec, ctx: AssertionContext) -> Check:
    total = _result(spec, ctx).timings.total_s
    if total is None:
        raise EvaluationError("latency: the backend did not report the run's duration")
    ms = total * 1000.0
    return Check(True if spec.threshold is None else None, reason=f"took {ms:.0f} ms", value=ms)


@kind("cost", "the run's cost in dollars is at most the threshold", direction="at-most")
def cost(spec: AssertionSpec, ctx: AssertionContext) -> Check:
    dollars = _result(spec, ctx).cost
    if dollars is None:
        raise EvaluationError(
            "cost: the run's cost is unknown (no price for this model, or no token counts)",
            hint="add the model's price to the model table",
        )
    return Check(True if spec.threshold is None else None, reason=f"cost ${dollars:.6f}",
                 value=dollars)


@kind("finish-reason", "the model stopped for the given reason (stop, length, ...)")
def finish_reason(spec: AssertionSpec, ctx: AssertionContext) -> Check:
    wanted = text_value(spec, ctx).strip().lower()
    actual = _result(spec, ctx).finish_reason
    return Check(actual == wanted, reason=f"finished with '{actual}'")
