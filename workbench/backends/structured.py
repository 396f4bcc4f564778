"""A run's response format, compiled into what each kind of backend enforces.

- llama.cpp (in process): a GBNF grammar, so only tokens that keep the answer valid can be sampled
  (a ``grammar`` format is the template's own grammar, sent as written).
- OpenAI-compatible servers: the ``response_format`` request field.
- Anthropic and Bedrock: one tool whose input schema is the schema, and a tool choice that forces
  it; the tool call's arguments are the answer.
"""

from __future__ import annotations

import functools
import json
from typing import Any

from workbench.backends.tool_wire import anthropic_tool, bedrock_tool
from workbench.core.errors import ParameterError
from workbench.core.gbnf import first_problem
from workbench.core.models import ResponseFormat

#: Any JSON object: the schema a ``json_object`` format is enforced as where only schemas exist.
ANY_OBJECT: dict[str, Any] = {"type": "object"}

_TOOL_DESCRIPTION = "Give the answer. Its input is the whole answer, in the required shape."


def schema_of(response_format: ResponseFormat) -> dict[str, Any]:
    """The JSON schema a response format asks for (any object for ``json_object``)."""
    return response_format.json_schema if response_format.json_schema is not None else ANY_OBJECT


@functools.lru_cache(maxsize=64)
def _grammar_text(schema_json: str) -> str:
    from llama_cpp.llama_grammar import json_schema_to_gbnf

    return json_schema_to_gbnf(schema_json)


def schema_grammar(schema: dict[str, Any]) -> str:
    """The GBNF grammar llama-cpp-python's converter makes of a JSON schema (the app's "From
    schema" starts a raw grammar from it).

    A schema the converter cannot turn into a grammar (an unknown ``$ref``, a type it does not
    know), or turns into one llama.cpp would refuse (and crash on), is a ``ParameterError``
    naming why, never a run that silently goes unconstrained.
    """
    try:
        text = _grammar_text(json.dumps(schema, sort_keys=False))
    except (ValueError, KeyError, TypeError, NotImplementedError, AssertionError) as err:
        raise ParameterError(
            f"the response schema cannot be compiled to a llama.cpp grammar: {err}"
        ) from None
    problem = first_problem(text)
    if problem is not None:
        raise ParameterError(f"the grammar made from the response schema is invalid: {problem}")
    return text


def gbnf(response_format: ResponseFormat) -> str:
    """The GBNF grammar that makes llama.cpp sample only answers of this format."""
    if response_format.grammar is not None:
        # Checked when the format was made, and again (cached): a copy made with model_copy is
        # not validated, and llama.cpp would crash on a grammar it refuses.
        problem = first_problem(response_format.grammar)
        if problem is not None:
            raise ParameterError(f"the grammar cannot be used: {problem}")
        return response_format.grammar
    if response_format.type == "json_object":
        from llama_cpp.llama_grammar import JSON_GBNF

        return str(JSON_GBNF)
    return schema_grammar(schema_of(response_format))


def openai_response_format(response_format: ResponseFormat) -> dict[str, Any]:
    """The ``response_format`` field of an OpenAI chat completions request."""
    if response_format.type == "json_object":
        return {"type": "json_object"}
    return {
        "type": "json_schema",
        "json_schema": {
            "name": response_format.name,
            "schema": schema_of(response_format),
            "strict": response_format.strict,
        },
    }


def anthropic_forced_tool(response_format: ResponseFormat) -> dict[str, Any]:
    """``tools`` and ``tool_choice`` of an Anthropic Messages request forcing the answer's shape."""
    tool = anthropic_tool(response_format.name, _TOOL_DESCRIPTION, schema_of(response_format))
    return {"tools": [tool], "tool_choice": {"type": "tool", "name": response_format.name}}


def bedrock_forced_tool(response_format: ResponseFormat) -> dict[str, Any]:
    """``toolConfig`` of a Bedrock Converse request forcing the answer's shape."""
    tool = bedrock_tool(response_format.name, _TOOL_DESCRIPTION, schema_of(response_format))
    return {"tools": [tool], "toolChoice": {"tool": {"name": response_format.name}}}
