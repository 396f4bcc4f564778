"""Helpers for assertion tests: run one spec on one output."""

from __future__ import annotations

from typing import Any

from workbench.core.evaluation import AssertionContext, Outcome, evaluate_one
from workbench.core.experiments import AssertionSpec, TestCase


def check(type_: str, output: str, value: Any = None, **spec: Any) -> Outcome:
    """Evaluate ``type_`` with ``value`` on ``output``; ``expected``/``vars``/``result``/``prompt``
    in ``spec`` go to the context."""
    ctx_keys = {"expected", "vars", "result", "prompt"}
    ctx_args = {k: spec.pop(k) for k in list(spec) if k in ctx_keys}
    test = TestCase(vars=ctx_args.pop("vars", {}), expected=ctx_args.pop("expected", None))
    ctx = AssertionContext(output=output, test=test, **ctx_args)
    return evaluate_one(AssertionSpec(type=type_, value=value, **spec), ctx)
