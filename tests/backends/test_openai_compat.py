"""The OpenAI-compatible backend against a real third-party server: llama-cpp-python's own
``llama_cpp.server`` serving the embedded SmolLM2 model on 127.0.0.1.

Assertions are on behaviour (events, finish reasons, what was sent, determinism), never on the
model's words.
"""

from __future__ import annotations

import json
import threading

import jsonschema
import pytest

from tests.backends.conftest import stream_all
from workbench.backends.base import TERMINAL, CancelToken, StreamEvent
from workbench.backends.openai_compat import (
    CHAT_CAPABILITIES,
    EXTENSION_PARAMS,
    STANDARD_PARAMS,
    OpenAICompatBackend,
    OpenAICompatOptions,
)
from workbench.core.models import Params, RenderedMessage, ResponseFormat, RunRequest, RunResult
from workbench.core.params import ParamCapability

pytestmark = pytest.mark.slow

MESSAGES = [RenderedMessage(role="user", content="Write one sentence about the sea.")]
# llama-cpp-python names repetition_penalty "repeat_penalty" and ignores unknown keys.
LLAMA_CPP = {"param_names": {"repetition_penalty": "repeat_penalty"}}


def make(base_url: str, **options: object) -> OpenAICompatBackend:
    values: dict[str, object] = {"base_url": base_url, **LLAMA_CPP, **options}
    return OpenAICompatBackend(OpenAICompatOptions(**values))


def run(
    backend: OpenAICompatBackend, params: Params, cancel: CancelToken | None = None, **req: object
) -> tuple[list[StreamEvent], RunResult]:
    request = RunRequest(backend="openai_compat", **{"messages": MESSAGES, "params": params, **req})
    return stream_all(backend, request, cancel)


def deltas(events: list[StreamEvent]) -> list[str]:
    return [e.text for e in events if e.kind == "text"]


def test_lists_the_served_model(llama_server: str) -> None:
    assert [m.id for m in make(llama_server).list_models()] == ["smollm2"]


def test_streaming_chat(llama_server: str) -> None:
    events, result = run(make(llama_server), Params(max_tokens=12, temperature=0.7, seed=11))
    assert events[0].kind == "started" and len(deltas(events)) >= 2
    assert result.text == "".join(deltas(events)) and result.text.strip()
    assert result.finish_reason in ("stop", "length") and result.error is None
    assert result.request.model == "smollm2"  # the server's only model, chosen for us
    assert result.request.sent_params == {"temperature": 0.7, "max_tokens": 12, "seed": 11}
    assert result.request.seed == 11
    t = result.timings
    assert t.ttft_s is not None and t.total_s is not None and 0 < t.ttft_s <= t.total_s
    # this server ignores stream_options.include_usage: the counts stay unknown, not invented
    assert result.usage.output_tokens is None and result.timings.tokens_per_s is None


def test_non_streaming_chat_reports_usage(llama_server: str) -> None:
    events, result = run(make(llama_server, streaming=False), Params(max_tokens=8))
    assert len(deltas(events)) == 1 and result.text.strip()
    assert result.usage.input_tokens and result.usage.input_tokens > 5
    assert result.usage.output_tokens is not None and 0 < result.usage.output_tokens <= 8
    assert result.timings.tokens_per_s is not None and result.timings.tokens_per_s > 0


def test_max_tokens_is_honoured_with_finish_reason_length(llama_server: str) -> None:
    _, result = run(make(llama_server, streaming=False), Params(max_tokens=3, temperature=0))
    assert result.finish_reason == "length" and result.usage.output_tokens == 3


def test_greedy_decoding_is_deterministic_and_stop_cuts_the_answer(llama_server: str) -> None:
    backend = make(llama_server)
    greedy = Params(greedy=True, max_tokens=24)
    _, first = run(backend, greedy)
    _, second = run(backend, greedy)
    assert first.text == second.text and len(first.text) > 8
    assert first.request.sent_params["top_k"] == 1  # an extension field, sent as such
    # Stop at a piece of the greedy answer: the server must end right before it.
    stop = first.text[len(first.text) // 2 :][:3]
    _, stopped = run(backend, Params(greedy=True, max_tokens=24, stop=[stop]))
    assert stopped.finish_reason == "stop"
    assert stopped.text == first.text[: first.text.index(stop)]


def test_extension_parameters_go_by_the_servers_names(llama_server: str) -> None:
    params = Params(
        max_tokens=4,
        top_k=20,
        min_p=0.05,
        repetition_penalty=1.3,
        presence_penalty=0.5,
        frequency_penalty=0.2,
        top_p=0.9,
    )
    _, result = run(make(llama_server), params)
    assert result.error is None
    assert result.request.sent_params == params.set_values()
    assert set(EXTENSION_PARAMS) <= set(result.request.sent_params)


def test_capability_overrides_make_a_parameter_ignored_not_sent(llama_server: str) -> None:
    backend = make(llama_server, capability_overrides={"seed": ParamCapability(supported=False)})
    _, result = run(backend, Params(max_tokens=4, seed=5))
    assert result.request.ignored_params == {"seed": 5} and "seed" not in result.request.sent_params
    assert backend.capabilities().status("seed") == "ignored"


def test_n_above_one_is_refused_before_sending(llama_server: str) -> None:
    events, result = run(make(llama_server), Params(n=3, max_tokens=4))
    assert [e.kind for e in events] == ["failed"] and result.error_kind == "ParameterError"


def test_a_completion_prompt_goes_to_the_completions_endpoint(llama_server: str) -> None:
    _, result = run(
        make(llama_server), Params(max_tokens=6), messages=[], prompt="Once upon a time"
    )
    assert result.error is None and result.text and result.finish_reason == "length"
    assert result.request.prompt == "Once upon a time" and result.request.messages == []


def test_the_chat_endpoint_can_take_a_prompt_as_one_user_message(llama_server: str) -> None:
    _, result = run(
        make(llama_server, endpoint="chat"), Params(max_tokens=4), messages=[], prompt="Hello"
    )
    assert result.error is None
    assert [(m.role, m.content) for m in result.request.messages] == [("user", "Hello")]


def test_cancel_mid_stream_then_the_server_is_still_usable(llama_server: str) -> None:
    backend = make(llama_server)
    cancel = CancelToken()
    events: list[StreamEvent] = []
    request = RunRequest(backend="openai_compat", messages=MESSAGES, params=Params(max_tokens=300))
    for event in backend.stream(request, cancel):
        events.append(event)
        if len(deltas(events)) == 2:
            cancel.cancel()
    assert events[-1].kind == "cancelled"
    assert events[-1].result.text == "".join(deltas(events))
    assert len(deltas(events)) == 2
    _, after = run(backend, Params(max_tokens=4))
    assert after.error is None and after.text


def test_a_new_request_interrupting_a_stream_is_reported_not_hidden(llama_server: str) -> None:
    """llama_cpp.server cuts an in-flight stream when another request arrives (its default
    interrupt_requests). The first run must still end in exactly one terminal event with its
    partial text, and the second must succeed."""
    backend = make(llama_server)
    first_delta = threading.Event()
    first: list[RunResult] = []

    def long_run() -> None:
        request = RunRequest(
            backend="openai_compat", messages=MESSAGES, params=Params(max_tokens=200)
        )
        events = []
        for event in backend.stream(request, CancelToken()):
            events.append(event)
            if event.kind == "text":
                first_delta.set()
        assert sum(isinstance(e, TERMINAL) for e in events) == 1
        first.append(events[-1].result)  # type: ignore[union-attr]

    thread = threading.Thread(target=long_run)
    thread.start()
    assert first_delta.wait(60)
    _, second = run(backend, Params(max_tokens=4))
    thread.join(timeout=120)
    assert not thread.is_alive() and second.error is None
    interrupted = first[0]
    assert interrupted.text
    assert interrupted.finish_reason != "cancelled"
    if interrupted.finish_reason == "error":
        assert interrupted.error_kind == "ProtocolError"


def test_the_capability_table_declares_standard_and_extension_parameters() -> None:
    assert set(STANDARD_PARAMS).isdisjoint(EXTENSION_PARAMS)
    for name in (*STANDARD_PARAMS, *EXTENSION_PARAMS):
        assert CHAT_CAPABILITIES.status(name) == "supported"
    for name in EXTENSION_PARAMS:
        assert "extension" in CHAT_CAPABILITIES.params[name].note
    assert CHAT_CAPABILITIES.status("best_of") == "ignored"


PERSON = {
    "type": "object",
    "properties": {"name": {"type": "string", "maxLength": 30},
                   "mood": {"type": "string", "enum": ["happy", "sad"]},
                   "tags": {"type": "array", "items": {"type": "string", "maxLength": 12},
                            "minItems": 1, "maxItems": 2}},
    "required": ["name", "mood", "tags"],
    "additionalProperties": False,
}


@pytest.mark.parametrize("streaming", [True, False])
def test_a_response_schema_is_enforced_by_the_server(llama_server: str, streaming: bool) -> None:
    fmt = ResponseFormat(type="json_schema", json_schema=PERSON)
    backend = make(llama_server, schema_format="json_object_schema", streaming=streaming)
    for seed in (1, 2):
        _, result = run(backend, Params(max_tokens=120, seed=seed, temperature=0.8),
                        response_format=fmt)
        assert result.error is None, result.error
        jsonschema.validate(json.loads(result.text), PERSON)
        assert result.request.response_format == fmt


def test_openais_json_schema_shape_is_sent_and_this_server_rejects_it(llama_server: str) -> None:
    """llama-cpp-python's server knows only json_object (with a schema): what the
    ``schema_format`` option is for. The request went out in OpenAI's documented shape."""
    fmt = ResponseFormat(type="json_schema", json_schema=PERSON)
    _, result = run(make(llama_server), Params(max_tokens=8), response_format=fmt)
    assert result.finish_reason == "error", result.text
    assert "json_schema" in (result.error or ""), result.error
    assert result.request.response_format == fmt


def test_a_json_object_format_and_the_completions_endpoint(llama_server: str) -> None:
    ask = [RenderedMessage(role="user", content='Reply with {"sea": "blue"}.')]
    _, result = run(make(llama_server), Params(max_tokens=60, temperature=0.0),
                    messages=ask, response_format=ResponseFormat(type="json_object"))
    assert isinstance(json.loads(result.text), dict), result.text
    # The completions endpoint takes no response_format: dropped and recorded, still run.
    _, plain = run(make(llama_server), Params(max_tokens=4), messages=[], prompt="The sea is",
                   response_format=ResponseFormat(type="json_object"))
    assert plain.error is None and plain.request.response_format is None
    assert plain.request.ignored_params == {"response_format": "json_object"}
