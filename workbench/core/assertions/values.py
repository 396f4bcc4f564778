"""Reading an assertion's ``value``: text, lists of text, the reference, numbers.

String values may use the test's variables (``'{{ expected }}'``), rendered in the same sandbox as
templates, as promptfoo renders assertion values with the test's vars.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from workbench.core.errors import TemplateError
from workbench.core.evaluation import AssertionContext, EvaluationError
from workbench.core.experiments import AssertionSpec
from workbench.core.templates import render_text


def _render(value: str, ctx: AssertionContext, spec: AssertionSpec) -> str:
    if "{{" not in value and "{%" not in value:
        return value
    try:
        return render_text(value, {**ctx.vars, "expected": ctx.expected or ""},
                           where=f"{spec.type} value")
    except TemplateError as err:
        raise EvaluationError(str(err)) from None


def _scalar(item: Any, spec: AssertionSpec) -> str:
    if isinstance(item, bool) or item is None or isinstance(item, (dict, list)):
        raise EvaluationError(f"{spec.type}: expected text, got {type(item).__name__}")
    return str(item)  # numbers are compared as text, like promptfoo


def text_value(spec: AssertionSpec, ctx: AssertionContext) -> str:
    """The value as text; required."""
    if spec.value is None:
        raise EvaluationError(f"{spec.type} needs a value")
    return _render(_scalar(spec.value, spec), ctx, spec)


def list_value(spec: AssertionSpec, ctx: AssertionContext) -> list[str]:
    """A list of strings; a single string is split on commas (promptfoo's compact form)."""
    value = spec.value
    if isinstance(value, str):
        items = [part.strip() for part in _render(value, ctx, spec).split(",")]
    elif isinstance(value, list):
        items = [_render(_scalar(v, spec), ctx, spec) for v in value]
    else:
        raise EvaluationError(f"{spec.type} needs a list of values")
    items = [i for i in items if i != ""]
    if not items:
        raise EvaluationError(f"{spec.type} needs at least one non-empty value")
    return items


def reference(spec: AssertionSpec, ctx: AssertionContext) -> str:
    """The reference text: the value if given, else the test's expected output."""
    if spec.value is not None:
        return text_value(spec, ctx)
    if ctx.expected is None:
        raise EvaluationError(f"{spec.type} needs a value or the test's expected output")
    return ctx.expected


def mapping_value(spec: AssertionSpec) -> Mapping[str, Any]:
    if not isinstance(spec.value, Mapping):
        raise EvaluationError(f"{spec.type} needs a mapping value")
    return spec.value


def number(value: Any, what: str) -> float:
    if isinstance(value, bool):
        raise EvaluationError(f"{what} must be a number")
    try:
        return float(value)
    except (TypeError, ValueError):
        raise EvaluationError(f"{what} must be a number, got {value!r}") from None
