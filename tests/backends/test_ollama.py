"""The ollama backend on Ollama's native API, against a local server speaking its documented
NDJSON endpoints (tests/backends/local_servers.py): options by Ollama's names, format with a
schema, think, keep_alive, load time apart; faults: server down, an error line mid-stream, a
cancel mid-stream, an unknown model."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.backends.conftest import cancel_while_reading, free_port, stream_all
from tests.backends.local_servers import WORDS, OllamaServer
from workbench.backends.ollama import OllamaBackend, OllamaOptions, think_value
from workbench.core.errors import ServerError
from workbench.core.models import Params, RenderedMessage, ResponseFormat, RunRequest
from workbench.core.params import ParamCapability

MESSAGES = [
    RenderedMessage(role="system", content="Be brief."),
    RenderedMessage(role="user", content="Say the sentence."),
]


@pytest.fixture(scope="module")
def server() -> Iterator[OllamaServer]:
    with OllamaServer() as ollama:
        yield ollama


def backend(server: OllamaServer, **options: Any) -> OllamaBackend:
    return OllamaBackend(OllamaOptions(base_url=server.url, **options))


def request(model: str = "tiny:latest", **fields: Any) -> RunRequest:
    return RunRequest(backend="ollama", model=model, **{"messages": MESSAGES, **fields})


def test_a_streamed_chat_with_options_format_think_and_keep_alive(server: OllamaServer) -> None:
    schema = {"type": "object", "properties": {"answer": {"type": "string"}}}
    ollama = backend(
        server, num_ctx=8192, keep_alive="10m", think=True, model_options={"num_thread": 2}
    )
    params = Params(
        temperature=0.2,
        top_p=0.9,
        top_k=40,
        max_tokens=64,
        stop=["\n\n"],
        seed=7,
        repetition_penalty=1.1,
        n=2,
    )
    events, result = stream_all(
        ollama,
        request(
            params=params, response_format=ResponseFormat(type="json_schema", json_schema=schema)
        ),
    )
    ollama.close()
    assert result.error is None and result.finish_reason == "stop"
    assert result.text == "".join(WORDS)  # the thinking is not part of the answer
    assert [e.text for e in events if e.kind == "text"] == WORDS
    assert [e.text for e in events if e.kind == "reasoning"] == ["Let", " me", " think"]
    assert result.reasoning == "Let me think"
    assert result.usage.input_tokens == 12 and result.usage.output_tokens == len(WORDS)
    assert result.timings.load_s == pytest.approx(0.6)  # load_duration, apart from generation
    assert result.request.backend_version == "0.6.2"
    assert result.request.ignored_params == {"n": 2}
    body = server.bodies("/api/chat")[-1]
    assert body["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Say the sentence."},
    ]
    assert body["options"] == {
        "temperature": 0.2,
        "top_p": 0.9,
        "top_k": 40,
        "num_predict": 64,
        "stop": ["\n\n"],
        "seed": 7,
        "repeat_penalty": 1.1,
        "num_ctx": 8192,
        "num_thread": 2,
    }
    assert body["format"] == schema and body["think"] is True and body["keep_alive"] == "10m"
    assert body["stream"] is True


def test_num_predict_reached_is_a_length_finish_and_json_object_is_format_json(
    server: OllamaServer,
) -> None:
    ollama = backend(server, keep_alive="0")
    _, result = stream_all(
        ollama,
        request(params=Params(max_tokens=3), response_format=ResponseFormat(type="json_object")),
    )
    assert result.finish_reason == "length" and result.text == "".join(WORDS[:3])
    body = server.bodies("/api/chat")[-1]
    assert body["format"] == "json" and body["keep_alive"] == 0
    assert "think" not in body


def test_not_streaming(server: OllamaServer) -> None:
    _, result = stream_all(backend(server, streaming=False), request())
    assert result.text == "".join(WORDS) and result.finish_reason == "stop"
    assert result.timings.ttft_s is None and result.timings.load_s == pytest.approx(0.6)
    assert server.bodies("/api/chat")[-1]["stream"] is False


def test_a_completion_prompt_goes_to_generate_raw(server: OllamaServer) -> None:
    req = RunRequest(backend="ollama", model="tiny:latest", prompt="Once upon a time")
    _, result = stream_all(backend(server), req)
    assert result.text == "".join(WORDS)
    body = server.bodies("/api/generate")[-1]
    assert body["prompt"] == "Once upon a time" and body["raw"] is True


def test_models_with_their_context_length(server: OllamaServer) -> None:
    models = {m.id: m for m in backend(server).list_models()}
    assert models["tiny:latest"].context_window == 8192
    assert models["seeing:latest"].context_window == 131072
    assert models["seeing:latest"].description == "gemma3 4.3B Q4_K_M"


def test_server_down_names_the_url() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    ollama = OllamaBackend(OllamaOptions(base_url=url, max_retries=0))
    _, result = stream_all(ollama, request())
    assert result.finish_reason == "error"
    assert f"{url}/api/chat" in (result.error or "")


def test_an_unknown_model_names_it_and_the_base_url(server: OllamaServer) -> None:
    _, result = stream_all(backend(server), request("missing:latest"))
    assert result.error_kind and "not found" in (result.error or "")
    assert "missing:latest" in (result.error or "")


def test_an_error_line_mid_stream_fails_and_keeps_the_partial_text(server: OllamaServer) -> None:
    _, result = stream_all(backend(server), request("broken:latest"))
    assert result.finish_reason == "error"
    assert result.text == "".join(WORDS[:3])
    assert f"{server.url}/api/chat reported an error" in (result.error or "")
    assert "error was encountered while running the model" in (result.error or "")


def test_cancel_mid_stream_stops_at_once(server: OllamaServer) -> None:
    result = cancel_while_reading(backend(server), request("slow:latest"), words=2, delay_s=0.05)
    assert result.finish_reason == "cancelled"
    assert result.text.startswith("".join(WORDS[:2])) and result.text != "".join(WORDS)


def test_options_refuse_what_the_run_parameters_set() -> None:
    with pytest.raises(ValueError, match="num_predict"):
        OllamaOptions(model_options={"num_predict": 5})
    assert OllamaOptions(base_url="http://127.0.0.1:11434/api/").base_url == (
        "http://127.0.0.1:11434"
    )


def test_a_model_list_is_asked_once_not_retried() -> None:
    """The picker and `workbench backends` ask interactively: an Ollama that is down or failing
    is said at once (a closed default port cost 2.7 s of retries)."""
    from tests.backends.local_servers import LocalServer

    def failing(h: Any, _body: Any) -> None:
        h.send_json(503, {"error": "server busy"})

    with LocalServer({("GET", "/api/tags"): failing}) as server:
        ollama = OllamaBackend(OllamaOptions(base_url=server.url, retry_backoff=0))
        with pytest.raises(ServerError, match=f"{server.url}/api/tags"):
            ollama.list_models()
        assert len(server.requests) == 1
        ollama.close()


def test_an_effort_goes_to_thinking_models_as_think_and_no_budget_is_taken() -> None:
    caps = OllamaBackend(OllamaOptions()).capabilities()
    assert caps.status("reasoning_effort") == "supported"
    assert "sent as think" in caps.params["reasoning_effort"].note
    assert caps.status("thinking_budget") == "ignored"


def test_a_thinking_model_takes_an_effort_as_think_and_others_are_greyed(
    server: OllamaServer,
) -> None:
    ollama = backend(server, think=True)
    shows = len(server.bodies("/api/show"))
    assert ollama.model_capabilities("seeing:latest").status("reasoning_effort") == "supported"
    tiny = ollama.model_capabilities("tiny:latest")
    assert tiny.params["reasoning_effort"] == ParamCapability(
        supported=False,
        note="tiny:latest does not think: its /api/show lists no thinking capability",
    )
    _events, high = stream_all(ollama, request("seeing:latest",
                                               params=Params(reasoning_effort="high")))
    _events, off = stream_all(ollama, request("seeing:latest",
                                              params=Params(reasoning_effort="minimal")))
    _events, plain = stream_all(ollama, request(params=Params(reasoning_effort="high")))
    ollama.close()
    chats = server.bodies("/api/chat")[-3:]
    assert [c.get("think") for c in chats] == [True, False, True]  # the last: the think option
    assert high.reasoning == "Let me think" and off.reasoning == ""
    assert high.request.sent_params["reasoning_effort"] == "high"
    assert plain.request.ignored_params == {"reasoning_effort": "high"}
    assert len(server.bodies("/api/show")) == shows + 2  # asked once per model


def test_a_model_taking_levels_gets_the_level() -> None:
    assert think_value("high", "gpt-oss:20b") == "high"
    assert think_value("minimal", "gpt-oss:20b") == "low"  # its lowest
    assert think_value("low", "qwen3:8b") is True and think_value("minimal", "qwen3:8b") is False


def test_a_server_that_cannot_be_asked_keeps_the_backends_table() -> None:
    ollama = OllamaBackend(OllamaOptions(base_url=f"http://127.0.0.1:{free_port()}"))
    assert ollama.model_capabilities("qwen3:8b") == ollama.capabilities()
    ollama.close()
