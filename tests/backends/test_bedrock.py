"""The Bedrock backend through real boto3 against a local server speaking Bedrock's wire format
(REST JSON for Converse, the binary AWS event stream for ConverseStream), so request signing,
the profile and region options, and botocore's event-stream parser all run for real."""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.backends.conftest import free_port, stream_all
from tests.backends.fault_server import WORDS, ScriptedServer
from tests.backends.wire_servers import (
    ANSWER,
    BEDROCK_SCENARIOS,
    THOUGHT_PIECES,
    TOOL_INPUT,
    TOOL_PIECES,
)
from workbench.backends.base import CancelToken, StreamEvent
from workbench.backends.bedrock import BedrockBackend, BedrockOptions
from workbench.core.errors import KnownError
from workbench.core.models import Params, RenderedMessage, ResponseFormat, RunRequest, RunResult

pytest.importorskip("boto3", reason="boto3 is the optional 'bedrock' extra (in the test extra)")

MODEL = "anthropic.claude-test-v1"
THINKER = "us.anthropic.claude-3-7-sonnet-20250219-v1:0"  # extended thinking
MESSAGES = [
    RenderedMessage(role="system", content="Be brief."),
    RenderedMessage(role="user", content="Name an animal."),
]


@pytest.fixture(scope="module")
def server() -> Iterator[ScriptedServer]:
    srv = ScriptedServer(BEDROCK_SCENARIOS)
    yield srv
    srv.close()


@pytest.fixture(autouse=True)
def aws_profile(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A private AWS config with one profile; nothing from this machine's AWS setup leaks in."""
    config, creds = tmp_path / "aws-config", tmp_path / "aws-credentials"
    config.write_text("[profile wbtest]\nregion = us-west-2\n")
    creds.write_text(
        "[wbtest]\naws_access_key_id = AKIDWBTEST\n"
        "aws_secret_access_key = wbtest-secret-access-key\n"
    )
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(creds))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    for name in (
        "AWS_PROFILE",
        "AWS_DEFAULT_PROFILE",
        "AWS_REGION",
        "AWS_DEFAULT_REGION",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
    ):
        monkeypatch.delenv(name, raising=False)


def make(url: str, **options: object) -> BedrockBackend:
    values: dict[str, object] = {
        "profile": "wbtest",
        "endpoint_url": url,
        "max_retries": 0,
        **options,
    }
    return BedrockBackend(BedrockOptions(**values))


def run(
    backend: BedrockBackend,
    params: Params | None = None,
    cancel: CancelToken | None = None,
    model: str = MODEL,
) -> tuple[list[StreamEvent], RunResult]:
    req = RunRequest(backend="bedrock", model=model, messages=MESSAGES, params=params or Params())
    return stream_all(backend, req, cancel)


def test_converse_stream_with_profile_and_region(server: ScriptedServer) -> None:
    url = server.url("ok", "")
    events, result = run(
        make(url), Params(temperature=0.2, top_p=0.9, top_k=30, stop=["END"], max_tokens=50, seed=3)
    )
    assert result.finish_reason == "stop" and result.text == "".join(WORDS)
    assert [e.kind for e in events].count("text") == len(WORDS)
    assert result.usage.input_tokens == 9 and result.usage.output_tokens == len(WORDS)
    seen = server.requests(url)[0]
    assert seen.path.endswith(f"/model/{MODEL}/converse-stream")
    assert "Credential=AKIDWBTEST/" in seen.headers["Authorization"]
    assert "/us-west-2/bedrock/aws4_request" in seen.headers["Authorization"]
    assert seen.body["system"] == [{"text": "Be brief."}]
    assert seen.body["messages"] == [{"role": "user", "content": [{"text": "Name an animal."}]}]
    assert seen.body["inferenceConfig"] == {
        "temperature": 0.2,
        "topP": 0.9,
        "stopSequences": ["END"],
        "maxTokens": 50,
    }
    assert seen.body["additionalModelRequestFields"] == {"top_k": 30}
    assert result.request.ignored_params == {"seed": 3}
    assert result.request.backend_version.startswith("botocore ")


def test_max_tokens_is_finish_reason_length(server: ScriptedServer) -> None:
    _, result = run(make(server.url("ok", "")), Params(max_tokens=3))
    assert result.finish_reason == "length" and result.text == "".join(WORDS[:3])


def test_non_streaming_converse(server: ScriptedServer) -> None:
    url = server.url("ok", "")
    _, result = run(make(url, streaming=False, region="eu-central-1"))
    assert result.finish_reason == "stop" and result.text == "".join(WORDS)
    assert result.usage.output_tokens == len(WORDS)
    seen = server.requests(url)[0]
    assert seen.path.endswith("/converse") and "/eu-central-1/" in seen.headers["Authorization"]


def test_access_denied_is_an_auth_error_naming_the_profile(server: ScriptedServer) -> None:
    _, result = run(make(server.url("denied", "")))
    assert result.error_kind == "AuthError"
    assert "AccessDeniedException" in (result.error or "")
    assert "profile 'wbtest'" in (result.error or "")


def test_an_unknown_model_names_it(server: ScriptedServer) -> None:
    _, result = run(make(server.url("missing", "")))
    assert result.error_kind == "NotFoundError" and MODEL in (result.error or "")


def test_an_exception_event_mid_stream(server: ScriptedServer) -> None:
    _, result = run(make(server.url("throttled-mid-stream", "")))
    assert result.error_kind == "RateLimitError" and "Rate exceeded" in (result.error or "")
    assert result.text == "".join(WORDS[:2])


def test_cancel_mid_stream_closes_the_connection(server: ScriptedServer) -> None:
    url = server.url("slow", "")
    cancel = CancelToken()
    events: list[StreamEvent] = []
    req = RunRequest(backend="bedrock", model=MODEL, messages=MESSAGES)
    for event in make(url).stream(req, cancel):
        events.append(event)
        if [e.kind for e in events].count("text") == 2:
            cancel.cancel()
    assert events[-1].kind == "cancelled"
    assert events[-1].result.text == "".join(WORDS[:2])
    assert server.requests(url)[0].disconnected.wait(10)


def test_cancel_interrupts_a_stalled_read(server: ScriptedServer) -> None:
    """The server goes quiet after one word; a cancel from another thread must not wait for
    the 600 s read timeout."""
    url = server.url("stall", "")
    cancel = CancelToken()
    first_word = threading.Event()
    events: list[StreamEvent] = []

    def consume() -> None:
        req = RunRequest(backend="bedrock", model=MODEL, messages=MESSAGES)
        for event in make(url, read_timeout=600).stream(req, cancel):
            events.append(event)
            if event.kind == "text":
                first_word.set()

    thread = threading.Thread(target=consume)
    thread.start()
    assert first_word.wait(10)
    cancel.cancel()
    thread.join(timeout=10)
    assert not thread.is_alive() and events[-1].kind == "cancelled"


def test_a_cancel_during_a_read_of_a_close_delimited_stream_is_cancelled(
    server: ScriptedServer,
) -> None:
    # botocore buffers such a body, so the cancel comes once the server is answering, not
    # after a word: the shut socket reads as the end of the body, which must not be an error.
    url = server.url("stall-unframed", "")
    cancel = CancelToken()

    def cancel_once_answering() -> None:
        server.wait_for_request(url)
        cancel.cancel()

    threading.Thread(target=cancel_once_answering).start()
    started = time.monotonic()
    _, result = run(make(url), cancel=cancel)
    assert (result.finish_reason, result.error_kind) == ("cancelled", None)
    assert time.monotonic() - started < 10  # not the server's 30 s


def test_no_credentials(server: ScriptedServer) -> None:
    url = server.url("ok", "")
    _, result = run(make(url, profile="", region="us-east-1"))
    assert result.error_kind == "AuthError" and "no AWS credentials" in (result.error or "")
    assert server.requests(url) == []


def test_an_unknown_profile_fails_before_sending(server: ScriptedServer) -> None:
    events, result = run(make(server.url("ok", ""), profile="nope"))
    assert [e.kind for e in events] == ["failed"]
    assert "AWS profile 'nope' not found" in (result.error or "")


def test_nothing_listening_names_the_endpoint() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    _, result = run(make(url))
    assert result.error_kind == "ConnectError" and url in (result.error or "")


def test_list_models(server: ScriptedServer) -> None:
    models = make(server.url("ok", "")).list_models()
    assert [m.id for m in models] == [MODEL] and models[0].description == "Anthropic Claude Test"


def test_without_boto3_the_error_says_to_install_the_extra(
    monkeypatch: pytest.MonkeyPatch, server: ScriptedServer
) -> None:
    monkeypatch.setitem(sys.modules, "boto3", None)  # makes `import boto3` fail
    backend = make(server.url("ok", ""))
    _, result = run(backend)
    assert result.error_kind == "KnownError" and "prompt-workbench[bedrock]" in (result.error or "")
    with pytest.raises(KnownError, match="needs boto3"):
        backend.list_models()


@pytest.mark.parametrize("streaming", [True, False])
def test_a_response_format_is_a_forced_tool_whose_input_is_the_answer(
    server: ScriptedServer, streaming: bool
) -> None:
    url = server.url("tool", "")
    schema = {"type": "object", "properties": {"animal": {"type": "string"}}}
    fmt = ResponseFormat(type="json_schema", json_schema=schema, name="animal_answer")
    req = RunRequest(backend="bedrock", model=MODEL, messages=MESSAGES, response_format=fmt)
    events, result = stream_all(make(url, streaming=streaming), req)
    assert json.loads(result.text) == TOOL_INPUT and result.finish_reason == "stop"
    if streaming:
        assert [e.text for e in events if e.kind == "text"] == TOOL_PIECES
    assert result.request.response_format == fmt
    config = server.requests(url)[0].body["toolConfig"]
    assert config["toolChoice"] == {"tool": {"name": "animal_answer"}}
    assert config["tools"][0]["toolSpec"]["inputSchema"] == {"json": schema}
    assert config["tools"][0]["toolSpec"]["name"] == "animal_answer"


@pytest.mark.parametrize("streaming", [True, False])
def test_an_anthropic_models_thinking_goes_through_additional_fields_and_comes_back_apart(
    server: ScriptedServer, streaming: bool
) -> None:
    url = server.url("thinking", "")
    params = Params(thinking_budget=1024, max_tokens=2048, top_k=40)
    events, result = run(make(url, streaming=streaming), params, model=THINKER)
    body = server.requests(url)[0].body
    assert body["additionalModelRequestFields"] == {
        "thinking": {"type": "enabled", "budget_tokens": 1024}
    }
    assert body["inferenceConfig"] == {"maxTokens": 2048}
    assert result.request.ignored_params == {"top_k": 40}  # refused while thinking
    assert (result.reasoning, result.text) == ("".join(THOUGHT_PIECES), ANSWER)
    if streaming:
        assert [e.text for e in events if e.kind == "reasoning"] == THOUGHT_PIECES


def test_a_model_without_extended_thinking_gets_no_budget(server: ScriptedServer) -> None:
    backend = make(server.url("ok", ""))
    nova = backend.model_capabilities("amazon.nova-pro-v1:0")
    assert nova.status("thinking_budget") == "ignored"
    assert "amazon.nova-pro-v1:0 takes no thinking budget" in nova.params["thinking_budget"].note
    assert backend.model_capabilities(THINKER).status("thinking_budget") == "supported"
    url = server.url("ok", "")
    _events, result = run(make(url), Params(thinking_budget=1024, max_tokens=2048, top_k=40),
                          model="amazon.nova-pro-v1:0")
    body = server.requests(url)[0].body
    assert "thinking" not in json.dumps(body.get("additionalModelRequestFields", {}))
    assert result.request.ignored_params["thinking_budget"] == 1024
    assert result.finish_reason == "stop"


def test_a_thinking_budget_without_max_tokens_is_refused_before_sending(
    server: ScriptedServer,
) -> None:
    url = server.url("thinking", "")
    _events, result = run(make(url), Params(thinking_budget=1024), model=THINKER)
    assert result.finish_reason == "error"
    assert "thinking_budget 1024 needs max_tokens set above it" in (result.error or "")
    assert server.requests(url) == []
