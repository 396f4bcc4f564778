"""The response format in the contract: validation, the template key, capabilities' split, and
what each backend family is sent for it."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from workbench.backends.structured import (
    anthropic_forced_tool,
    bedrock_forced_tool,
    gbnf,
    openai_response_format,
)
from workbench.core.errors import ParameterError
from workbench.core.models import Message, PromptTemplate, ResponseFormat
from workbench.core.params import Capabilities, ParamCapability
from workbench.core.template_files import dumps, loads
from workbench.services.runner import build_request

SCHEMA = {"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]}


def template(**fields: object) -> PromptTemplate:
    return PromptTemplate(name="t", messages=[Message(role="user", content="hi")], **fields)


def test_a_schema_goes_with_json_schema_and_only_with_it() -> None:
    with pytest.raises(ValidationError, match="needs a schema"):
        ResponseFormat(type="json_schema")
    with pytest.raises(ValidationError, match="takes no schema"):
        ResponseFormat(type="json_object", json_schema=SCHEMA)
    with pytest.raises(ValidationError, match="needs an output_schema"):
        template(response_format="json_schema")


def test_the_template_key_decides_what_runs_send() -> None:
    guided = template(output_schema=SCHEMA)  # the schema only guides the prompt
    assert build_request(guided, {}, backend="b").response_format is None
    sent = build_request(template(output_schema=SCHEMA, response_format="json_schema"), {},
                         backend="b")
    assert sent.response_format == ResponseFormat(type="json_schema", json_schema=SCHEMA)
    obj = build_request(template(response_format="json_object"), {}, backend="b")
    assert obj.response_format == ResponseFormat(type="json_object")


def test_the_template_key_round_trips_through_the_file_and_is_omitted_when_text() -> None:
    structured = template(output_schema=SCHEMA, response_format="json_schema")
    assert "response_format: json_schema" in dumps(structured)
    assert loads(dumps(structured)) == structured
    assert "response_format" not in dumps(template(output_schema=SCHEMA))


def test_a_format_the_backend_cannot_enforce_is_dropped_and_recorded() -> None:
    plain = Capabilities.supporting("temperature")
    fmt = ResponseFormat(type="json_schema", json_schema=SCHEMA)
    assert plain.split_format(fmt) == (None, {"response_format": "json_schema"})
    assert plain.format_support("json_schema").note == "this backend cannot enforce it"
    assert plain.format_support("text").supported
    able = plain.with_formats(json_schema=ParamCapability(note="grammar"))
    assert able.split_format(fmt) == (fmt, {})
    assert able.split_format(None) == (None, {})
    assert able.params == plain.params  # formats are added beside the parameters


def test_each_backend_family_gets_its_own_shape() -> None:
    fmt = ResponseFormat(type="json_schema", json_schema=SCHEMA, name="answer", strict=False)
    assert openai_response_format(fmt) == {"type": "json_schema", "json_schema": {
        "name": "answer", "schema": SCHEMA, "strict": False}}
    assert openai_response_format(ResponseFormat(type="json_object")) == {"type": "json_object"}
    anthropic = anthropic_forced_tool(fmt)
    assert anthropic["tool_choice"] == {"type": "tool", "name": "answer"}
    assert anthropic["tools"][0]["input_schema"] == SCHEMA
    bedrock = bedrock_forced_tool(ResponseFormat(type="json_object"))
    assert bedrock["toolChoice"] == {"tool": {"name": "response"}}
    assert bedrock["tools"][0]["toolSpec"]["inputSchema"] == {"json": {"type": "object"}}


def test_a_schema_compiles_to_a_grammar_or_fails_naming_why() -> None:
    grammar = gbnf(ResponseFormat(type="json_schema", json_schema=SCHEMA))
    assert grammar.count("root ::=") == 1 and '\\"a\\"' in grammar
    with pytest.raises(ParameterError, match="cannot be compiled"):
        gbnf(ResponseFormat(type="json_schema", json_schema={"$ref": "#/$defs/missing"}))
