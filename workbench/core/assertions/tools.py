"""Tool-call assertions: ``tool-call`` (a tool was called, optionally with arguments matching
values or a JSON schema) and promptfoo's ``tool-call-f1`` (F1 of the called tools' names against
the expected ones). Both read every call of the run's transcript: the calls of earlier turns
(in the request's assistant messages, a playground tool conversation) and the run's own."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from workbench.core.answers import JSONOutputError, SchemaDefinitionError, parse_json_output
from workbench.core.assertions.values import list_value
from workbench.core.evaluation import AssertionContext, Check, EvaluationError, kind
from workbench.core.experiments import AssertionSpec
from workbench.core.tool_transcript import transcript_calls
from workbench.core.tools import ToolCall

_WANTED_KEYS = {"name", "arguments", "schema"}


def calls_of(spec: AssertionSpec, ctx: AssertionContext) -> list[ToolCall]:
    """Every tool call of the run's transcript, in order."""
    if ctx.result is None:
        raise EvaluationError(f"{spec.type} needs the run's result (its tool calls)")
    return transcript_calls(ctx.result)


def _wanted(spec: AssertionSpec) -> dict[str, Any]:
    value = spec.value
    if value is None:
        return {}
    if isinstance(value, str):
        return {"name": value}
    if not isinstance(value, Mapping) or not set(value) <= _WANTED_KEYS:
        raise EvaluationError(
            f"{spec.type}: the value is a tool's name or a mapping of name, arguments (values "
            "the arguments must have) and schema (a JSON schema they must match)"
        )
    if "arguments" in value and not isinstance(value["arguments"], Mapping):
        raise EvaluationError(f"{spec.type}: arguments must be a mapping of argument values")
    return dict(value)


def _mismatch(call: ToolCall, wanted: dict[str, Any]) -> str | None:
    """Why ``call`` is not the wanted one (None: it is)."""
    if "name" in wanted and call.name != wanted["name"]:
        return f"{call.name} is not {wanted['name']}"
    if "schema" in wanted:
        try:
            parse_json_output(call.arguments or "{}", wanted["schema"])
        except SchemaDefinitionError as err:
            raise EvaluationError(f"tool-call: {err}") from None
        except JSONOutputError as err:
            return f"{call.name}'s arguments: {err.message}"
    if "arguments" in wanted:
        try:
            arguments = call.parsed_arguments()
        except ValueError:
            return f"{call.name}'s arguments are not JSON: {call.arguments[:80]!r}"
        for key, expected in wanted["arguments"].items():
            actual = arguments.get(key) if isinstance(arguments, dict) else None
            if actual != expected:
                return f"{call.name}'s {key} is {actual!r}, not {expected!r}"
    return None


@kind("tool-call", "a tool was called (value: its name, or name / arguments / schema to match)")
def tool_call(spec: AssertionSpec, ctx: AssertionContext) -> Check:
    calls = calls_of(spec, ctx)
    wanted = _wanted(spec)
    if not calls:
        return Check(False, reason="no tool was called")
    reasons = []
    for call in calls:
        why = _mismatch(call, wanted)
        if why is None:
            return Check(True, reason=f"called {call.name}({call.arguments})")
        reasons.append(why)
    return Check(False, reason="; ".join(reasons))


@kind("tool-call-f1", "F1 of the called tools' names against the expected ones (value: a list)",
      default_threshold=1.0)
def tool_call_f1(spec: AssertionSpec, ctx: AssertionContext) -> Check:
    expected = set(list_value(spec, ctx))
    called = {call.name for call in calls_of(spec, ctx)}
    hits = len(expected & called)
    precision = hits / len(called) if called else 0.0
    recall = hits / len(expected)
    f1 = 2 * precision * recall / (precision + recall) if hits else 0.0
    names = ", ".join(sorted(called)) or "none"
    return Check(None, f1, f"F1 {f1:.3f} (called {names}; precision {precision:.2f}, "
                 f"recall {recall:.2f})")
