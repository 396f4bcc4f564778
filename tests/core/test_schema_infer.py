"""Inferring a strict JSON schema from an example answer."""

from __future__ import annotations

import jsonschema

from workbench.core.schema_infer import infer_schema

EXAMPLE = {
    "name": "Ada", "age": 36, "score": 9.5, "admin": False, "nickname": None,
    "address": {"city": "London", "zip": "N1"},
    "tags": ["math", "poetry"],
    "jobs": [{"title": "analyst", "years": 3}, {"title": "author"}],
    "mixed": [1, "two"],
    "empty": [],
}


def test_every_key_is_required_and_typed_and_the_example_validates() -> None:
    schema = infer_schema(EXAMPLE)
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.validate(EXAMPLE, schema)
    props = schema["properties"]
    assert schema["required"] == list(EXAMPLE) and schema["additionalProperties"] is False
    assert [props[k]["type"] for k in ("name", "age", "score", "admin", "nickname")] == [
        "string", "integer", "number", "boolean", "null"]
    assert props["address"]["required"] == ["city", "zip"]
    assert props["tags"] == {"type": "array", "items": {"type": "string"}}
    # items differing in shape: keys not in every item are optional, types become a union
    assert props["jobs"]["items"]["required"] == ["title"]
    assert set(props["jobs"]["items"]["properties"]) == {"title", "years"}
    assert props["mixed"]["items"] == {"type": ["integer", "string"]}
    assert props["empty"] == {"type": "array"}


def test_a_strict_schema_refuses_what_the_example_does_not_have() -> None:
    schema = infer_schema({"a": 1})
    assert not jsonschema.Draft202012Validator(schema).is_valid({"a": 1, "b": 2})
    assert not jsonschema.Draft202012Validator(schema).is_valid({})
    assert infer_schema([]) == {"type": "array"} and infer_schema("x") == {"type": "string"}
