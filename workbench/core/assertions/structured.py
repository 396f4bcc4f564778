"""JSON assertions: ``is-json`` (the whole output is JSON) and ``contains-json`` (JSON somewhere in
it, a ```json fence or prose around it allowed), each optionally validated against a JSON schema
given as the value (promptfoo's semantics), through ``core.answers`` so the evaluator, the runner
and the CLI read JSON answers the same way.
"""

from __future__ import annotations

import json
from typing import Any

from workbench.core.answers import JSONOutputError, SchemaDefinitionError, parse_json_output
from workbench.core.evaluation import AssertionContext, Check, EvaluationError, kind
from workbench.core.experiments import AssertionSpec


def _schema(spec: AssertionSpec) -> dict[str, Any] | None:
    if spec.value is None:
        return None
    if isinstance(spec.value, str):  # a schema written as JSON text
        try:
            value = json.loads(spec.value)
        except ValueError as err:
            raise EvaluationError(f"{spec.type}: the schema is not valid JSON: {err}") from None
    else:
        value = spec.value
    if not isinstance(value, dict):
        raise EvaluationError(f"{spec.type}: the value must be a JSON schema (a mapping)")
    return value


def _validated(spec: AssertionSpec, text: str) -> Check:
    schema = _schema(spec)
    try:
        parse_json_output(text, schema)
    except SchemaDefinitionError as err:
        raise EvaluationError(f"{spec.type}: {err}") from None
    except JSONOutputError as err:
        return Check(False, reason=err.message, details={"problems": err.problems})
    return Check(True, reason="valid JSON" + (" matching the schema" if schema else ""))


@kind("is-json", "the whole output is JSON (value: an optional JSON schema it must match)")
def is_json(spec: AssertionSpec, ctx: AssertionContext) -> Check:
    try:
        json.loads(ctx.output)
    except ValueError as err:
        return Check(False, reason=f"output is not JSON: {err}")
    return _validated(spec, ctx.output)


@kind("contains-json", "the output contains JSON (value: an optional JSON schema it must match)")
def contains_json(spec: AssertionSpec, ctx: AssertionContext) -> Check:
    return _validated(spec, ctx.output)


#: The label of the check every output of a template with an ``output_schema`` gets in an
#: evaluation, whose pass rate is the variant's schema-valid rate.
SCHEMA_VALID = "schema-valid"


def schema_valid(output: str, schema: dict[str, Any]) -> Check:
    """``is-json`` against a template's ``output_schema``: the whole output is JSON matching it
    (``details["problems"]``: each violation at its JSON path). An invalid schema is an
    ``EvaluationError``."""
    return is_json(AssertionSpec(type="is-json", value=schema), AssertionContext(output=output))
