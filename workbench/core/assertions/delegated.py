"""Kinds that run through a tool carried by the context: ``python`` (a restricted child process,
``services.python_eval``) and the LLM judges ``llm-rubric``, ``factuality`` and
``model-graded-closedqa`` (``services.judges``). Core never starts processes or picks a model:
without the tool the outcome is an ``error`` saying what to configure.

``python``'s value is an expression (``'Paris' in output``) or a function body with ``return``;
it sees ``output``, ``expected``, ``vars`` and ``context`` ({"vars", "expected"}). It may return a
bool, a number in [0, 1] (a score the threshold decides on; without a threshold, > 0 passes) or
``{"pass": ..., "score": ..., "reason": ...}``. Judges score 0..1 (rubric: (n - 1) / 4 for n on the
1–5 scale); ``llm-rubric`` passes at score >= 0.5 (n >= 3) unless a threshold is given.
"""

from __future__ import annotations

from workbench.core.assertions.values import reference, text_value
from workbench.core.evaluation import AssertionContext, Check, EvaluationError, Grader, kind
from workbench.core.experiments import AssertionSpec

_NO_JUDGE = (
    "no judge model chosen: LLM-graded assertions run on a backend you pick "
    "(the embedded local model or any configured backend); none is used by default"
)


def _judge(spec: AssertionSpec, ctx: AssertionContext) -> Grader:
    if ctx.judge is None:
        raise EvaluationError(f"{spec.type}: {_NO_JUDGE}", hint="choose a judge backend")
    return ctx.judge


@kind("python", "a Python expression or function body, run in a restricted child process")
def python(spec: AssertionSpec, ctx: AssertionContext) -> Check:
    if not isinstance(spec.value, str) or not spec.value.strip():
        raise EvaluationError("python needs its code as the value")
    if spec.value.strip().startswith("file://"):
        raise EvaluationError(
            f"python: {spec.value.strip()} is a file reference; the suite loader reads files "
            "into the value, this check cannot open files itself"
        )
    if ctx.python is None:
        raise EvaluationError(
            "python: no restricted evaluator was given to this evaluation",
            hint="pass services.python_eval.PythonEvaluator() as the context's 'python'",
        )
    return ctx.python(spec.value, output=ctx.output, expected=ctx.expected, vars=ctx.vars)


@kind("llm-rubric", "an LLM judge scores the output 1–5 against the rubric (the value)",
      default_threshold=0.5)
def llm_rubric(spec: AssertionSpec, ctx: AssertionContext) -> Check:
    rubric = text_value(spec, ctx)
    return _judge(spec, ctx).rubric(ctx.output, rubric, input=ctx.prompt, reference=ctx.expected)


@kind("factuality", "an LLM judge compares the output's facts with the reference (A–E)")
def factuality(spec: AssertionSpec, ctx: AssertionContext) -> Check:
    return _judge(spec, ctx).factuality(ctx.output, reference(spec, ctx), question=ctx.prompt)


@kind("model-graded-closedqa", "an LLM judge answers whether the output meets the criterion")
def closedqa(spec: AssertionSpec, ctx: AssertionContext) -> Check:
    criteria = text_value(spec, ctx)
    return _judge(spec, ctx).closedqa(ctx.output, criteria, question=ctx.prompt)
