"""is-json and contains-json, with and without a JSON schema."""

from __future__ import annotations

from tests.core.assertions.support import check

SCHEMA = {
    "type": "object",
    "required": ["latitude", "longitude"],
    "properties": {
        "latitude": {"type": "number", "minimum": -90, "maximum": 90},
        "longitude": {"type": "number", "minimum": -180, "maximum": 180},
    },
}


def test_is_json() -> None:
    assert check("is-json", '{"a": 1}').status == "pass"
    assert check("is-json", "[1, 2]").status == "pass"
    failed = check("is-json", 'Here: {"a": 1}')
    assert failed.status == "fail" and "not JSON" in failed.reason
    assert check("not-is-json", "plain text").status == "pass"


def test_is_json_with_schema() -> None:
    assert check("is-json", '{"latitude": 10, "longitude": 20}', SCHEMA).status == "pass"
    failed = check("is-json", '{"latitude": 100, "longitude": 20}', SCHEMA)
    assert failed.status == "fail" and "latitude" in failed.reason
    assert check("is-json", '{"latitude": 1}', SCHEMA).status == "fail"
    as_text = '{"type": "object", "required": ["a"]}'
    assert check("is-json", '{"a": 1}', as_text).status == "pass"


def test_contains_json() -> None:
    text = 'Sure! ```json\n{"latitude": 1.5, "longitude": 2}\n``` Anything else?'
    assert check("contains-json", text).status == "pass"
    assert check("contains-json", text, SCHEMA).status == "pass"
    assert check("contains-json", "no json at all").status == "fail"
    assert check("contains-json", 'x {"latitude": "north"} y', SCHEMA).status == "fail"


def test_bad_schema_is_an_error_not_a_fail() -> None:
    assert check("is-json", "{}", {"type": "no-such-type"}).status == "error"
    assert check("is-json", "{}", "not json").status == "error"
    assert check("is-json", "{}", [1]).status == "error"
