"""Kinds that run through a tool carried by the context: ``python`` (a restricted child process,
``services.python_eval``), ``javascript`` (a sandboxed JavaScript worker, ``services.js_eval``;
promptfoo's semantics, see ``core.js_source``) and the LLM judges ``llm-rubric``, ``factuality`` and
``model-graded-closedqa`` (``services.judges``). Core never starts processes or picks a model:
without the tool the outcome is an ``error`` saying what to configure.

``python``'s value is an expression (``'Paris' in output``) or a function body with ``return``;
it sees ``output``, ``expected``, ``vars`` and ``context`` ({"vars", "expected"}). It may return a
bool, a number in [0, 1] (a score the threshold decides on; without a threshold, > 0 passes) or
``{"pass": ..., "score": ..., "reason": ...}``. Judges score 0..1 (rubric: (n - 1) / 4 for n on the
1–5 scale); ``llm-rubric`` passes at score >= 0.5 (n >= 3) unless a threshold is given.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from workbench.core.assertions.values import reference, text_value
from workbench.core.evaluation import (
    AssertionContext,
    Check,
    EvaluationError,
    Grader,
    GraderChoice,
    kind,
)
from workbench.core.experiments import AssertionSpec, ScriptFile

NO_JUDGE = (
    "no judge model chosen: LLM-graded assertions run on a backend you pick "
    "(the embedded local model or any configured backend); none is used by default"
)


def _judge(spec: AssertionSpec, ctx: AssertionContext) -> Grader:
    """The evaluation's judge, or the one the assertion's ``provider`` names."""
    if spec.provider is not None:
        if not isinstance(ctx.judge, GraderChoice):
            raise EvaluationError(f"{spec.type}: this evaluation cannot grade with "
                                  f"'{spec.provider}'", hint="run it as a suite")
        return ctx.judge.choose(spec.provider)
    if ctx.judge is None:
        raise EvaluationError(f"{spec.type}: {NO_JUDGE}", hint="choose a judge backend")
    return ctx.judge


@kind("python", "a Python expression or function body, run in a restricted child process")
def python(spec: AssertionSpec, ctx: AssertionContext) -> Check:
    script = script_file(spec.value)
    if script is not None:  # promptfoo's file://check.py[:name]: get_assert(output, context)
        if script.language != "python":
            raise EvaluationError(f"python: {script.path} is not a Python file")
        name = script.function or "get_assert"
        spec = spec.model_copy(update={
            "value": f"{script.source}\nreturn {name}(output, context)"})
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


def script_file(value: Any) -> ScriptFile | None:
    """A ``ScriptFile`` value (as stored: a mapping), or None for inline code."""
    if not isinstance(value, dict):
        return None
    try:
        return ScriptFile.model_validate(value)
    except ValidationError as err:
        raise EvaluationError(f"not a script file reference: {err.errors()[0]['msg']}") from None


def js_context(spec: AssertionSpec, ctx: AssertionContext) -> dict[str, Any]:
    """promptfoo's ``context`` argument: ``vars``, ``prompt``, ``test`` and the assertion's
    ``config``; ``logProbs`` and the provider are not known here, so they are undefined."""
    test: dict[str, Any] = {"vars": dict(ctx.vars)}
    if ctx.test is not None:
        test |= {"description": ctx.test.description, "metadata": ctx.test.metadata}
        if ctx.test.transform is not None:
            test["options"] = {"transform": ctx.test.transform if isinstance(
                ctx.test.transform, str) else f"file://{ctx.test.transform.path}"}
    context = {"vars": dict(ctx.vars), "prompt": ctx.prompt, "test": test}
    if spec.config is not None:
        context["config"] = spec.config
    return context


@kind("javascript", "a JavaScript expression, function body or file, run sandboxed",
      own_threshold=True)
def javascript(spec: AssertionSpec, ctx: AssertionContext) -> Check:
    code = script_file(spec.value)
    if code is None:
        source = text_value(spec, ctx)
        if not source.strip():
            raise EvaluationError("javascript needs its code as the value")
        if source.strip().startswith("file://"):
            raise EvaluationError(
                f"javascript: {source.strip()} is a file reference that was not read; files are "
                "read when the suite is loaded, from inside its folder"
            )
    elif code.language != "javascript":
        raise EvaluationError(f"javascript: {code.path} is not a JavaScript file")
    if ctx.javascript is None:
        raise EvaluationError(
            "javascript: no JavaScript evaluator was given to this evaluation",
            hint="pass services.js_eval.JavaScriptEvaluator() as the context's 'javascript'",
        )
    output = ctx.output if ctx.value is None else ctx.value
    return ctx.javascript.check(code or source, output=output, context=js_context(spec, ctx),
                                threshold=spec.threshold)


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
