"""The assertion protocol: one output in, one ``Outcome`` out (pass | fail | error).

How to use it (the evaluation run, the CLI and the scorecard go through these three calls)::

    from workbench.core.evaluation import AssertionContext, evaluate, combine

    ctx = AssertionContext(output=result.text, test=case, result=result, prompt=prompt_text,
                           python=PythonEvaluator(), judge=Judge(runner, backend="llamacpp"))
    outcomes = evaluate(case.assertions, ctx)      # one Outcome per AssertionSpec, same order
    verdict = combine(outcomes)                    # the cell: status, weighted score, counts

Semantics (promptfoo's where promptfoo has them):

- ``AssertionSpec.type`` is a registered name (``registry()``); a ``not-`` prefix negates it, as
  does ``negate=True`` (both together cancel out).
- Transforms (promptfoo's): the test's ``transform`` rewrites the output every assertion of the
  row sees, then an assertion's own ``transform`` rewrites what that one sees. Inline transforms
  are JavaScript (``ctx.javascript``); ``ScriptFile`` transforms are JavaScript or Python
  (``ctx.python``). A transform's result may be any JSON value: ``javascript`` checks see it as
  is, other kinds as text (JSON for non-strings). A failing transform is an ``error``.
- Each kind returns a ``Check``: ``passed`` (or ``None`` when a threshold decides), a ``score`` in
  [0, 1] and, for measured quantities (latency ms, cost $, edit distance), a ``value``.
  ``threshold`` is applied once, here: kinds that measure *down* (``latency``, ``cost``,
  ``levenshtein``, ``prompt-injection`` risk) pass when ``value <= threshold``; all
  others pass when ``score >= threshold`` (a threshold on a boolean kind with a partial score, e.g.
  ``contains-all``, turns it into "at least this share"). A kind's default threshold applies when
  the spec has none (``bleu`` 0.5, ``rouge-n`` 0.75, ``similar`` 0.75, promptfoo's defaults).
- Negation flips pass and fail and turns a score ``s`` into ``1 - s``. It never touches ``error``.
- ``error`` means the output could not be judged: the backend failed or was cancelled (every
  assertion on such a run is an error), the assertion is misconfigured, or it could not be
  computed (no judge chosen, optional extra missing, evaluator timed out). An error is NEVER a fail:
  ``combine`` counts it apart, and a cell with an error and no failure is ``error``, not ``fail``.
- ``weight`` scales an assertion in the cell's weighted mean score. ``weight: 0`` records a
  measurement (e.g. cost) that neither scores nor decides pass/fail.

Kinds that need the outside world get it through the context, never by reaching for it: ``python``
uses ``ctx.python`` (``services.python_eval.PythonEvaluator``); ``llm-rubric``, ``factuality``
and ``model-graded-closedqa`` use ``ctx.judge`` (``services.judges.Judge``). Without one they give
an ``error`` that says what to configure — a judge never defaults to some cloud key.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal, Protocol, runtime_checkable

from workbench.core.errors import KnownError
from workbench.core.experiments import AssertionSpec, ScriptFile, TestCase, Transform
from workbench.core.models import RunResult

log = logging.getLogger(__name__)

Status = Literal["pass", "fail", "error"]
Direction = Literal["at-least", "at-most"]

NEGATION_PREFIX = "not-"
#: Kinds an LLM judge decides: the ones an assertion's ``provider`` (who grades) applies to.
JUDGED_KINDS = frozenset({"llm-rubric", "factuality", "model-graded-closedqa", "select-best"})


class EvaluationError(KnownError):
    """An assertion that cannot be computed: misconfigured, or a tool it needs is missing.

    Raised inside a kind's ``check``; ``evaluate`` turns it into an ``error`` outcome, keeping
    ``details`` (e.g. a judge's unreadable raw answer).
    """

    def __init__(self, message: str, *, hint: str = "",
                 details: Mapping[str, Any] | None = None) -> None:
        super().__init__(message, hint=hint)
        self.details: Mapping[str, Any] = details or {}


@dataclass(frozen=True)
class Check:
    """What a kind measured, before threshold and negation.

    ``passed`` None means "the threshold decides". ``score`` is in [0, 1] (higher is better);
    ``value`` is the raw measured quantity the threshold is compared with when it is not the score.
    ``details`` holds anything worth keeping (a judge's raw answer, matched guardrail signals).
    """

    passed: bool | None
    score: float | None = None
    reason: str = ""
    value: float | None = None
    details: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Outcome:
    """The verdict of one assertion on one output."""

    status: Status
    score: float | None
    reason: str
    type: str = ""  # the type as written, "not-" included
    metric: str = ""  # spec.metric, else the type: what the scorecard groups by
    weight: float = 1.0
    value: float | None = None
    details: Mapping[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON-able data, for storage and ``--json`` output."""
        return {
            "status": self.status,
            "score": self.score,
            "reason": self.reason,
            "type": self.type,
            "metric": self.metric,
            "weight": self.weight,
            "value": self.value,
            "details": dict(self.details),
        }


class PythonRunner(Protocol):
    """Runs a user's Python check out of process (``services.python_eval.PythonEvaluator``)."""

    def __call__(
        self, code: str, *, output: str, expected: str | None, vars: Mapping[str, Any]
    ) -> Check: ...

    def value(
        self, code: str, *, output: Any, expected: str | None, vars: Mapping[str, Any],
        context: Mapping[str, Any] | None = None,
    ) -> Any:
        """What ``code`` returns (a Python transform's new output)."""


class JavaScriptRunner(Protocol):
    """Runs JavaScript checks and transforms in a sandbox (``services.js_eval``)."""

    def check(self, code: str | ScriptFile, *, output: Any, context: Mapping[str, Any],
              threshold: float | None) -> Check: ...

    def transform(self, code: str | ScriptFile, *, output: Any,
                  context: Mapping[str, Any]) -> Any: ...


class Grader(Protocol):
    """An LLM judge (``services.judges.Judge``); each method returns a 0..1-scored ``Check``."""

    def rubric(self, output: str, rubric: str, *, input: str, reference: str | None) -> Check: ...

    def factuality(self, output: str, reference: str, *, question: str) -> Check: ...

    def closedqa(self, output: str, criteria: str, *, question: str) -> Check: ...


@runtime_checkable
class GraderChoice(Protocol):
    """A judge that can also hand out the judge an assertion's ``provider`` names
    (``services.grader_pool.JudgePool``)."""

    def choose(self, provider: str) -> Grader: ...


@dataclass(frozen=True)
class AssertionContext:
    """Everything an assertion may look at besides the spec.

    ``prompt`` is the rendered input (messages joined, or the completion prompt); guardrails on
    inputs and judges read it. ``result`` gives latency, cost and whether the backend failed.
    ``value`` is the output as a transform left it when that is not text (``output`` is then its
    JSON text); ``transformed`` says the test's transform was applied already.
    """

    output: str
    test: TestCase | None = None
    expected: str | None = None  # defaults to test.expected
    result: RunResult | None = None
    prompt: str = ""
    vars: Mapping[str, str] = field(default_factory=dict)  # defaults to test.vars
    python: PythonRunner | None = None
    judge: Grader | None = None
    javascript: JavaScriptRunner | None = None
    value: Any = None
    transformed: bool = False

    def __post_init__(self) -> None:
        if self.test is not None:
            if self.expected is None:
                object.__setattr__(self, "expected", self.test.expected)
            if not self.vars:
                object.__setattr__(self, "vars", dict(self.test.vars))


CheckFn = Callable[[AssertionSpec, AssertionContext], Check]


@dataclass(frozen=True)
class AssertionKind:
    """A registered assertion type."""

    name: str
    check: CheckFn
    description: str
    direction: Direction = "at-least"
    default_threshold: float | None = None
    own_threshold: bool = False  # the check applies ``spec.threshold`` itself (script kinds)


_REGISTRY: dict[str, AssertionKind] = {}


def register(kind: AssertionKind) -> AssertionKind:
    """Add a kind; a second kind with the same name is a bug."""
    if kind.name in _REGISTRY and _REGISTRY[kind.name] is not kind:
        raise ValueError(f"assertion type '{kind.name}' is registered twice")
    if kind.name.startswith(NEGATION_PREFIX):
        raise ValueError(f"assertion type '{kind.name}' cannot start with '{NEGATION_PREFIX}'")
    _REGISTRY[kind.name] = kind
    return kind


def kind(
    name: str,
    description: str,
    *,
    direction: Direction = "at-least",
    default_threshold: float | None = None,
    own_threshold: bool = False,
) -> Callable[[CheckFn], CheckFn]:
    """Decorator form of ``register`` for a check function."""

    def wrap(fn: CheckFn) -> CheckFn:
        register(AssertionKind(name, fn, description, direction, default_threshold,
                               own_threshold))
        return fn

    return wrap


def registry() -> Mapping[str, AssertionKind]:
    """Every assertion type, by name (the built-in kinds are loaded on first call)."""
    _load_builtins()
    return dict(_REGISTRY)


def _load_builtins() -> None:
    # Imported for their registrations; late so this module stays importable on its own.
    from workbench.core import assertions  # noqa: F401


def split_type(spec: AssertionSpec) -> tuple[str, bool]:
    """The base type and whether it is negated (``not-`` prefix XOR ``negate``)."""
    name, negate = spec.type.strip(), spec.negate
    if name.startswith(NEGATION_PREFIX):
        name, negate = name[len(NEGATION_PREFIX):], not negate
    return name, negate


def validate(spec: AssertionSpec) -> None:
    """Raise ``EvaluationError`` for a spec that can never be evaluated (unknown type, negative
    weight): suites check this when they load, before any run."""
    name, _ = split_type(spec)
    _load_builtins()
    if name not in _REGISTRY:
        raise EvaluationError(
            f"unknown assertion type '{spec.type}'", hint=f"one of {', '.join(sorted(_REGISTRY))}"
        )
    if spec.weight < 0 or not math.isfinite(spec.weight):
        raise EvaluationError(f"{spec.type}: weight must be a finite number >= 0")
    if spec.threshold is not None and not math.isfinite(spec.threshold):
        raise EvaluationError(f"{spec.type}: threshold must be a finite number")


def _backend_error(result: RunResult | None) -> str | None:
    if result is None:
        return None
    if result.finish_reason == "error":
        kind_ = f" ({result.error_kind})" if result.error_kind else ""
        return f"the backend failed{kind_}: {result.error or 'no message'}"
    if result.finish_reason == "cancelled":
        return "the run was cancelled before it finished"
    return None


def evaluate_one(spec: AssertionSpec, ctx: AssertionContext) -> Outcome:
    """Evaluate one assertion: lookup, threshold, negation and error handling, once for all."""
    name, negate = split_type(spec)
    base: dict[str, Any] = {
        "type": spec.type, "metric": spec.metric or spec.type, "weight": spec.weight
    }
    failed_run = _backend_error(ctx.result)
    if failed_run is not None:
        return Outcome("error", None, failed_run, **base)
    try:
        ctx = transformed(ctx)
        if spec.transform is not None:
            ctx = transformed(ctx, spec.transform)
        validate(spec)
        kind_ = _REGISTRY[name]
        check = kind_.check(spec, ctx)
    except EvaluationError as err:
        return Outcome("error", None, str(err), details=err.details, **base)
    except Exception as err:  # a bug in a kind: keep the evaluation going, keep the traceback
        log.exception("assertion %s raised", spec.type)
        return Outcome("error", None, f"internal error in '{name}': {type(err).__name__}: {err}",
                       **base)
    return _verdict(kind_, spec, check, negate, base)


def _verdict(
    kind_: AssertionKind, spec: AssertionSpec, check: Check, negate: bool, base: dict[str, Any]
) -> Outcome:
    threshold = spec.threshold if spec.threshold is not None else kind_.default_threshold
    passed = check.passed
    reason = check.reason
    if kind_.own_threshold:
        measured = check.value if check.value is not None else check.score
    elif kind_.direction == "at-most":
        measured = check.value
        if threshold is not None and measured is not None:
            passed = measured <= threshold
            reason = f"{reason} ({_num(measured)} {'<=' if passed else '>'} {_num(threshold)})"
    else:
        measured = check.value if check.value is not None else check.score
        if threshold is not None and check.score is not None and (
            passed is None or spec.threshold is not None
        ):
            passed = check.score >= threshold
            reason = f"{reason} (score {_num(check.score)} {'>=' if passed else '<'} " \
                f"threshold {_num(threshold)})"
    if passed is None:
        return Outcome("error", check.score, f"{spec.type} needs a threshold", value=measured,
                       details=check.details, **base)
    score = check.score if check.score is not None else float(passed)
    if negate:
        passed, score = not passed, 1.0 - score
        reason = f"not: {reason}"
    return Outcome("pass" if passed else "fail", score, reason.strip(), value=measured,
                   details=check.details, **base)


def _num(x: float) -> str:
    return f"{x:.4g}"


def evaluate(specs: Iterable[AssertionSpec], ctx: AssertionContext) -> list[Outcome]:
    """One outcome per spec, in order; the test's transform is applied first (once)."""
    _load_builtins()
    specs = list(specs)
    try:
        ctx = transformed(ctx)
    except EvaluationError as err:
        return [Outcome("error", None, str(err), type=s.type, metric=s.metric or s.type,
                        weight=s.weight) for s in specs]
    return [evaluate_one(spec, ctx) for spec in specs]


def transformed(ctx: AssertionContext, transform: Transform | None = None) -> AssertionContext:
    """The context with its output rewritten by ``transform`` (default: the test's own, once).
    A failed run is left alone: its assertions are errors anyway."""
    if transform is None:
        if ctx.transformed or ctx.test is None or ctx.test.transform is None:
            return ctx
        transform = ctx.test.transform
    if _backend_error(ctx.result) is not None:
        return ctx
    if isinstance(transform, str) and transform.startswith("file://"):
        raise EvaluationError(f"transform {transform} was not read: files are read when the "
                              "suite is loaded, from inside its folder")
    output = ctx.output if ctx.value is None else ctx.value
    context = {"vars": dict(ctx.vars), "prompt": {"raw": ctx.prompt, "label": ctx.prompt}}
    if isinstance(transform, ScriptFile) and transform.language == "python":
        if ctx.python is None:
            raise EvaluationError("a Python transform needs the restricted Python evaluator")
        name = transform.function or "get_transform"  # promptfoo's default function name
        code = f"{transform.source}\nreturn {name}(output, context)"
        value = ctx.python.value(code, output=output, expected=ctx.expected, vars=ctx.vars,
                                 context=context)
    else:
        if ctx.javascript is None:
            raise EvaluationError("a JavaScript transform needs the JavaScript evaluator",
                                  hint="pass services.js_eval.JavaScriptEvaluator() as "
                                  "the context's 'javascript'")
        value = ctx.javascript.transform(transform, output=output, context=context)
    if value is None:
        raise EvaluationError("transform failed: it returned no value")
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False,
                                                           separators=(",", ":"))
    return replace(ctx, output=text, value=None if isinstance(value, str) else value,
                   transformed=True)


@dataclass(frozen=True)
class Verdict:
    """A cell (one output under all its assertions)."""

    status: Status
    score: float | None  # weighted mean of the non-error, weighted outcomes' scores
    passed: int
    failed: int
    errors: int
    reason: str


def combine(outcomes: Sequence[Outcome]) -> Verdict:
    """Fold a cell's outcomes: ``fail`` if any weighted assertion failed, else ``error`` if any
    errored, else ``pass``. Errors never count as failures and never lower the score."""
    counted = [o for o in outcomes if o.weight > 0]
    passed = sum(o.status == "pass" for o in counted)
    failed = [o for o in counted if o.status == "fail"]
    errored = [o for o in counted if o.status == "error"]
    scored = [o for o in counted if o.status != "error" and o.score is not None]
    total = sum(o.weight for o in scored)
    score = sum(o.weight * (o.score or 0.0) for o in scored) / total if total else None
    if failed:
        status: Status = "fail"
        reason = "; ".join(f"{o.type}: {o.reason}" for o in failed)
    elif errored:
        status, reason = "error", "; ".join(f"{o.type}: {o.reason}" for o in errored)
    else:
        status, reason = "pass", f"{passed} assertion(s) passed" if counted else "no assertions"
    return Verdict(status, score, passed, len(failed), len(errored), reason)
