"""The shared HTTP policy against a scripted fault server on 127.0.0.1.

Every run must end in exactly one terminal event, within its timeout, with an error that names
what to fix. The OpenAI-compatible backend drives the policy (it is its thinnest user).
"""

from __future__ import annotations

import ipaddress
import itertools
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from tests.backends.conftest import cancel_while_reading, free_port, stream_all
from tests.backends.fault_server import OPENAI_SCENARIOS, WORDS, ScriptedServer
from workbench.backends.base import CancelToken, StreamEvent
from workbench.backends.http import HttpClient, HttpOptions
from workbench.backends.http_errors import (
    ErrorContext,
    error_detail,
    retry_after_seconds,
    safe_headers,
)
from workbench.backends.openai_compat import OpenAICompatBackend, OpenAICompatOptions
from workbench.backends.recording import RunCancelled
from workbench.backends.sse import SSEDecoder, SSEEvent
from workbench.core.errors import ConnectError, ProtocolError
from workbench.core.models import Params, RenderedMessage, RunRequest, RunResult

REQUEST = RunRequest(
    backend="openai_compat",
    model="fault-model",
    messages=[RenderedMessage(role="user", content="Say something.")],
    params=Params(max_tokens=50),
)


@pytest.fixture(scope="module")
def fault() -> Iterator[ScriptedServer]:
    server = ScriptedServer(OPENAI_SCENARIOS)
    yield server
    server.close()


def backend(url: str, **options: object) -> OpenAICompatBackend:
    defaults: dict[str, object] = {
        "retry_backoff": 0.01,
        "connect_timeout": 2.0,
        "read_timeout": 10.0,
        "total_timeout": 30.0,
    }
    return OpenAICompatBackend(OpenAICompatOptions(base_url=url, **{**defaults, **options}))


def run(
    url: str, cancel: CancelToken | None = None, **options: object
) -> tuple[list[StreamEvent], RunResult]:
    """All events of one run; asserts the contract: one terminal event, and it is the last."""
    return stream_all(backend(url, **options), REQUEST, cancel)


def texts(events: list[StreamEvent]) -> list[str]:
    return [e.text for e in events if e.kind == "text"]


def _run_in_thread(
    target_url: str, cancel: CancelToken, **options: object
) -> tuple[threading.Thread, list[RunResult]]:
    results: list[RunResult] = []
    thread = threading.Thread(target=lambda: results.append(run(target_url, cancel, **options)[1]))
    thread.start()
    return thread, results


def test_a_well_behaved_stream_finishes_with_text_usage_and_timings(fault: ScriptedServer) -> None:
    events, result = run(fault.url("ok"))
    assert [e.kind for e in events][:2] == ["started", "text"]
    assert texts(events) == WORDS and result.text == "".join(WORDS)
    assert result.finish_reason == "stop" and result.error is None
    assert result.usage.input_tokens == 7 and result.usage.output_tokens == len(WORDS)
    t = result.timings
    assert t.ttft_s is not None and t.total_s is not None and 0 < t.ttft_s <= t.total_s
    assert t.tokens_per_s is not None and t.tokens_per_s > 0
    assert result.request.backend_version == "fp_fault_1"


def test_429_waits_as_long_as_retry_after_says_then_succeeds(fault: ScriptedServer) -> None:
    url = fault.url("429-then-ok")
    _, result = run(url)
    assert result.finish_reason == "stop"
    first, second = fault.requests(url)
    assert second.at - first.at >= 0.95  # "Retry-After: 1" honoured (a lower bound, not speed)


def test_retry_after_as_an_http_date(fault: ScriptedServer) -> None:
    url = fault.url("429-date-then-ok")
    _, result = run(url)
    assert result.finish_reason == "stop"
    first, second = fault.requests(url)
    assert second.at - first.at >= 0.9


def test_retry_after_beyond_the_cap_fails_at_once(fault: ScriptedServer) -> None:
    url = fault.url("429-long")
    _, result = run(url, retry_after_cap=30)
    assert result.error_kind == "RateLimitError"
    assert "3600 s" in (result.error or "") and "30 s cap" in (result.error or "")
    assert len(fault.requests(url)) == 1


@pytest.mark.parametrize("status", [408, 409, 500, 502])
def test_a_retryable_status_then_success(fault: ScriptedServer, status: int) -> None:
    url = fault.url(f"{status}-then-ok")
    _, result = run(url)
    assert result.finish_reason == "stop" and result.text == "".join(WORDS)
    assert len(fault.requests(url)) == 2


def test_a_persistent_5xx_gives_up_after_max_retries(fault: ScriptedServer) -> None:
    url = fault.url("503-always")
    _, result = run(url, max_retries=2)
    assert result.error_kind == "ServerError" and result.finish_reason == "error"
    assert "HTTP 503" in (result.error or "") and "after 2 retries" in (result.error or "")
    assert url in (result.error or "")
    assert len(fault.requests(url)) == 3


def test_401_names_the_key_source_and_is_not_retried(
    fault: ScriptedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-rejected-0123456789abcdef")
    url = fault.url("401")
    _, result = run(url)
    assert result.error_kind == "AuthError"
    assert "refused the API key" in (result.error or "")
    assert "environment variable OPENAI_API_KEY" in (result.error or "")
    assert "sk-test-rejected" not in (result.error or "")  # the server echoed it; we redact
    assert fault.requests(url)[0].headers["Authorization"].endswith("0123456789abcdef")
    assert len(fault.requests(url)) == 1


def test_401_without_any_key_says_how_to_set_one(
    fault: ScriptedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    _, result = run(fault.url("401"))
    assert "no API key was sent" in (result.error or "")
    assert "OPENAI_API_KEY" in (result.error or "")


def test_403_is_an_auth_error_with_the_servers_reason(fault: ScriptedServer) -> None:
    url = fault.url("403")
    _, result = run(url)
    assert result.error_kind == "AuthError" and "denied access (HTTP 403" in (result.error or "")
    assert "Project does not have access to model" in (result.error or "")
    assert len(fault.requests(url)) == 1


def test_404_names_the_model_and_the_base_url(fault: ScriptedServer) -> None:
    url = fault.url("404")
    _, result = run(url)
    assert result.error_kind == "NotFoundError"
    assert "'fault-model'" in (result.error or "") and url in (result.error or "")


def test_400_is_a_bad_request_with_the_server_message(fault: ScriptedServer) -> None:
    _, result = run(fault.url("400"))
    assert result.error_kind == "BadRequestError"
    assert "Unrecognized request argument supplied: top_k" in (result.error or "")


def test_a_reset_mid_stream_keeps_the_partial_text_and_is_not_retried(
    fault: ScriptedServer,
) -> None:
    url = fault.url("reset-mid-stream")
    events, result = run(url)
    assert texts(events) == WORDS[:3] and result.text == "".join(WORDS[:3])
    assert result.error_kind == "ProtocolError" and "broke off" in (result.error or "")
    assert len(fault.requests(url)) == 1


def test_a_reset_before_any_answer_is_retried(fault: ScriptedServer) -> None:
    url = fault.url("reset-then-ok")
    _, result = run(url)
    assert result.finish_reason == "stop"
    assert len(fault.requests(url)) == 2


def test_malformed_sse_is_a_protocol_error(fault: ScriptedServer) -> None:
    events, result = run(fault.url("malformed"))
    assert result.error_kind == "ProtocolError" and "not JSON" in (result.error or "")
    assert texts(events) == WORDS[:2]


def test_a_stream_that_ends_without_finishing_is_truncated(fault: ScriptedServer) -> None:
    _, result = run(fault.url("truncated"))
    assert result.error_kind == "ProtocolError"
    assert "ended before the answer was complete" in (result.error or "")
    assert result.text == "".join(WORDS[:4])


def test_a_stream_with_no_answer_and_no_finish_reason_fails(fault: ScriptedServer) -> None:
    _, result = run(fault.url("dropped"))
    assert result.finish_reason == "error" and result.error_kind == "ProtocolError"
    assert "without an answer" in (result.error or "") and result.text == ""


def test_an_html_page_instead_of_an_event_stream(fault: ScriptedServer) -> None:
    _, result = run(fault.url("html"))
    assert result.error_kind == "ProtocolError" and "text/html" in (result.error or "")


def test_an_error_object_mid_stream(fault: ScriptedServer) -> None:
    _, result = run(fault.url("mid-stream-error"))
    assert result.error_kind == "ServerError" and "out of memory" in (result.error or "")
    assert result.text == "".join(WORDS[:2])
    # Like every other error, it says what to do (issue 15 item 7: it had no hint).
    assert (result.error or "").endswith(
        "(the server failed mid-answer and the partial text is kept; it may pass on a retry, "
        "or see the server's log)"
    )


def test_a_server_that_never_answers_times_out_naming_url_and_limit(fault: ScriptedServer) -> None:
    url = fault.url("silent")
    _, result = run(url, read_timeout=0.5)
    assert result.error_kind == "BackendTimeoutError"
    assert f"{url}/chat/completions sent nothing for 0.5 s" in (result.error or "")
    assert len(fault.requests(url)) == 1  # the server has the request: no pile-up of retries


def test_a_slow_trickle_is_stopped_by_the_total_timeout(fault: ScriptedServer) -> None:
    thread, results = _run_in_thread(fault.url("trickle"), CancelToken(), total_timeout=1.0)
    thread.join(timeout=30)  # the trickle never ends by itself
    assert not thread.is_alive()
    result = results[0]
    assert result.error_kind == "BackendTimeoutError"
    assert "did not finish within 1 s (total timeout)" in (result.error or "")
    assert result.text, "the words that arrived in time are kept"


def test_a_server_that_ignores_stream_true_still_works(fault: ScriptedServer) -> None:
    events, result = run(fault.url("no-stream"))
    assert result.finish_reason == "stop" and result.text == "".join(WORDS)
    assert len(texts(events)) == 1 and result.usage.output_tokens == len(WORDS)


def test_connection_refused_names_the_url() -> None:
    url = f"http://127.0.0.1:{free_port()}/v1"
    _, result = run(url, max_retries=0)
    assert result.error_kind == "ConnectError"
    assert f"nothing is answering at {url}/chat/completions (connection refused)" in (
        result.error or ""
    )


def test_a_redirect_names_the_new_address(fault: ScriptedServer) -> None:
    _, result = run(fault.url("redirect"))
    assert result.error_kind == "BackendError"
    assert "redirects (HTTP 301) to https://example.test/v1" in (result.error or "")


def test_an_invalid_url_is_a_clear_error() -> None:
    with pytest.raises(ValidationError, match="Invalid IPv6 URL"):
        OpenAICompatOptions(base_url="http://[::1/v1")
    client = HttpClient(HttpOptions(), ErrorContext("test", "http://a"))
    with pytest.raises(ConnectError, match="is not a valid URL"):
        client.request_json("GET", "http://a\x01b/v1/models")
    client.close()


def test_tls_failure_is_reported_as_such(fault: ScriptedServer) -> None:
    url = fault.url("ok").replace("http://", "https://")
    _, result = run(url)
    assert result.error_kind == "ConnectError"
    assert (result.error or "").startswith(f"TLS failed with {url}/chat/completions")


def _self_signed(folder: Path) -> ssl.SSLContext:
    """A TLS server context with a fresh self-signed certificate for 127.0.0.1."""
    x509 = pytest.importorskip("cryptography.x509")
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(x509.oid.NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    certfile, keyfile = folder / "cert.pem", folder / "key.pem"
    certfile.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    keyfile.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(certfile, keyfile)
    return context


def test_an_untrusted_certificate_is_named_and_verify_tls_off_accepts_it(tmp_path: Path) -> None:
    server = ScriptedServer(OPENAI_SCENARIOS, tls=_self_signed(tmp_path))
    try:
        url = server.url("ok")
        assert url.startswith("https://")
        _, result = run(url)
        assert result.error_kind == "ConnectError"
        assert "certificate verify failed" in (result.error or "")
        assert "verify_tls" in (result.error or "")  # the hint names the setting
        _, result = run(server.url("ok"), verify_tls=False)
        assert result.finish_reason == "stop" and result.text == "".join(WORDS)
    finally:
        server.close()


def test_cancel_mid_stream_closes_the_connection(fault: ScriptedServer) -> None:
    url = fault.url("slow")
    cancel = CancelToken()
    events: list[StreamEvent] = []
    for event in backend(url).stream(REQUEST, cancel):
        events.append(event)
        if len(texts(events)) == 3:
            cancel.cancel()
    assert events[-1].kind == "cancelled"
    result = events[-1].result
    assert result.finish_reason == "cancelled" and result.text == "".join(WORDS[:3])
    assert fault.requests(url)[0].disconnected.wait(10), "the server saw the client go away"


def test_cancel_while_waiting_for_response_headers_is_immediate(fault: ScriptedServer) -> None:
    url = fault.url("silent")
    cancel = CancelToken()
    thread, results = _run_in_thread(url, cancel, read_timeout=600, total_timeout=600)
    fault.wait_for_request(url)
    cancel.cancel()
    thread.join(timeout=10)  # far below the 600 s read timeout the run would otherwise wait
    assert not thread.is_alive() and results[0].finish_reason == "cancelled"


def test_cancel_during_a_backoff_wait(fault: ScriptedServer) -> None:
    url = fault.url("503-always")
    cancel = CancelToken()
    thread, results = _run_in_thread(url, cancel, retry_backoff=60, max_retries=5)
    fault.wait_for_request(url)
    cancel.cancel()
    thread.join(timeout=10)
    assert not thread.is_alive() and results[0].finish_reason == "cancelled"
    assert len(fault.requests(url)) == 1


def test_cancel_before_start_sends_nothing(fault: ScriptedServer) -> None:
    url = fault.url("ok")
    cancel = CancelToken()
    cancel.cancel()
    _, result = run(url, cancel)
    assert result.finish_reason == "cancelled" and fault.requests(url) == []


def test_the_client_itself_raises_only_workbench_errors(fault: ScriptedServer) -> None:
    client = HttpClient(HttpOptions(max_retries=0), ErrorContext("test", "http://127.0.0.1"))
    with pytest.raises(ConnectError):
        client.request_json("GET", f"http://127.0.0.1:{free_port()}/x")
    cancel = CancelToken()
    cancel.cancel()
    with pytest.raises(RunCancelled):
        client.request_json("GET", fault.url("ok") + "/models", cancel=cancel)
    assert client.request_json("GET", fault.url("ok") + "/models")["data"][0]["id"] == "fault-model"
    client.close()


# --- pieces of the policy ----------------------------------------------------------------------


def test_retry_after_forms() -> None:
    now = datetime(2025, 1, 1, 12, 0, 0, tzinfo=UTC)
    assert retry_after_seconds({"retry-after": "3"}) == 3
    assert retry_after_seconds({"retry-after": "Wed, 01 Jan 2025 12:00:30 GMT"}, now) == 30
    assert retry_after_seconds({"retry-after": "Wed, 01 Jan 2025 11:00:00 GMT"}, now) == 0
    assert retry_after_seconds({"retry-after-ms": "250", "retry-after": "9"}) == 0.25
    assert retry_after_seconds({"retry-after": "soon"}) is None
    assert retry_after_seconds({}) is None


def test_error_detail_reads_common_error_shapes() -> None:
    assert error_detail(b'{"error": {"message": "bad  model"}}') == "bad model"
    assert (
        error_detail(
            b'{"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}'
        )
        == "Overloaded"
    )
    assert error_detail(b'{"detail": [{"msg": "field required"}]}') == '[{"msg": "field required"}]'
    assert error_detail(b"plain text") == "plain text"
    assert error_detail(b"") == "(no details)"
    assert len(error_detail(b"x" * 5000)) <= 301


def test_secret_headers_are_masked_and_refused_in_settings() -> None:
    assert safe_headers({"Authorization": "Bearer sk-1", "X-Api-Key": "k", "Accept": "a"}) == {
        "Authorization": "[redacted]",
        "X-Api-Key": "[redacted]",
        "Accept": "a",
    }
    with pytest.raises(ValidationError, match="keyring"):
        HttpOptions(extra_headers={"Authorization": "Bearer sk-secret"})
    assert HttpOptions(extra_headers={"OpenAI-Organization": "org-1"}).extra_headers


def test_a_port_that_accepts_but_is_not_http(fault: ScriptedServer) -> None:
    """A raw TCP listener that closes at once: a clear connection error, not a crash."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]

        def close_each() -> None:
            for _ in range(3):
                conn, _ = listener.accept()
                conn.close()

        closer = threading.Thread(target=close_each, daemon=True)
        closer.start()
        _, result = run(f"http://127.0.0.1:{port}/v1", max_retries=2)
        closer.join(timeout=10)
    assert result.error_kind == "ConnectError"
    assert "closed the connection without answering" in (result.error or "")


# --- the SSE decoder ---------------------------------------------------------------------------

SSE_STREAM = (
    b": keep-alive comment\r\n"
    b'event: message_start\r\ndata: {"a": 1}\r\n\r\n'
    b"data: first line\ndata:second line\nid: 7\nretry: 100\nunknown: x\n\n"
    + "data: caf\u00e9 \u2615\r\r".encode()
    + b"data: [DONE]"
)
SSE_EVENTS = [
    SSEEvent("message_start", '{"a": 1}'),
    SSEEvent("message", "first line\nsecond line", "7"),
    SSEEvent("message", "caf\u00e9 \u2615", "7"),  # the last event id carries over (spec)
    SSEEvent("message", "[DONE]", "7"),
]


def _decode(chunks: list[bytes]) -> list[SSEEvent]:
    decoder = SSEDecoder()
    events = [event for chunk in chunks for event in decoder.feed(chunk)]
    return events + decoder.close()


def test_sse_decoder_reads_fields_comments_and_line_endings() -> None:
    assert _decode([SSE_STREAM]) == SSE_EVENTS


@given(st.lists(st.integers(min_value=0, max_value=len(SSE_STREAM)), max_size=12))
def test_sse_decoder_is_independent_of_how_the_bytes_are_split(cuts: list[int]) -> None:
    """Network reads split anywhere: inside a CRLF, inside a UTF-8 character, inside a field."""
    bounds = [0, *sorted(cuts), len(SSE_STREAM)]
    chunks = [SSE_STREAM[a:b] for a, b in itertools.pairwise(bounds)]
    assert _decode(chunks) == SSE_EVENTS


#: Events as servers write them, each ended by a blank line: data lines (some holding CR,
#: colons, non-ASCII), named events, ids, comments; CRLF or LF line ends.
SSE_STREAMS = st.lists(
    st.lists(
        st.one_of(
            st.text(st.sampled_from('ab :{}"\r\u00e9\u2615'), max_size=6).map(
                lambda t: f"data: {t}"
            ),
            st.text(st.sampled_from("ab:"), max_size=4).map(lambda t: f"data:{t}"),
            st.sampled_from(["event: named", "id: 3", ": ping", "retry: 5"]),
        ),
        min_size=1,
        max_size=3,
    ),
    max_size=8,
)


@settings(max_examples=300)
@given(SSE_STREAMS, st.sampled_from(["\n", "\r\n"]))
def test_sse_one_event_per_chunk_decodes_as_line_by_line(events: list[list[str]], end: str) -> None:
    """Chunks holding one whole event each (the decoder's shortcut for nearly every chunk of a
    streamed answer) give the same events as the same bytes fed one at a time (no shortcut)."""
    chunks = ["".join(f"{line}{end}" for line in [*lines, ""]).encode() for lines in events]
    stream = b"".join(chunks)
    assert _decode(chunks) == _decode([stream[i : i + 1] for i in range(len(stream))])


def test_sse_decoder_rejects_invalid_utf8() -> None:
    with pytest.raises(ProtocolError, match="not valid UTF-8"):
        _decode([b"data: \xff\xfe\n\n"])


def test_a_cancel_during_a_read_of_a_close_delimited_stream_is_cancelled(
    fault: ScriptedServer,
) -> None:
    # The cancel shuts the socket under the read; a body that ends when the connection closes
    # then reads as a clean end, which was reported as "the server closed the stream early".
    result = cancel_while_reading(backend(fault.url("slow-unframed")), REQUEST)
    assert (result.finish_reason, result.error, result.error_kind) == ("cancelled", None, None)
    assert result.text == "".join(WORDS[:3])


def test_sse_decoder_is_linear_in_a_line_split_over_many_chunks() -> None:
    """A 50 MB event line in 16 KB network reads took 18.5 s: the pending bytes were copied
    again for every chunk. Kept as a list and joined once, it takes a fraction of a second."""
    payload = b"x" * (50 * 1024 * 1024)
    stream = b"data: " + payload + b"\n\ndata: after\n\n"
    chunks = [stream[i : i + 16384] for i in range(0, len(stream), 16384)]
    decoder = SSEDecoder()
    start = time.perf_counter()
    events = [event for chunk in chunks for event in decoder.feed(chunk)]
    elapsed = time.perf_counter() - start
    assert [len(e.data) for e in events] == [len(payload), 5]
    assert elapsed < 3.0, f"{elapsed:.1f} s for a 50 MB line"


SECRET_HEADERS_SEEN = [
    ("X-Goog-Api-Key", "AIzaSyA-abcdefghijklmnopqrstuvwxyz012"),
    ("x-goog-api-key", "anything"),
    ("X-Api-Key", "k"),
    ("api-key", "k"),
    ("X-Auth-Token", "t"),
    ("Ocp-Apim-Subscription-Key", "0123"),
    ("Cookie", "session=abc"),
    ("X-Custom", "Bearer abc.def.ghi"),
    ("X-Custom", "sk-proj-abcdefghijklmnop"),
    ("X-Custom", "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig"),
    ("X-Custom", "Zx8Qw2Lr5Tn7Vb1Mk9Pd3Hs6Jf4Gc0Ya2"),
    ("X-Custom", "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b"),
]
INNOCENT_HEADERS = {
    "OpenAI-Organization": "org-AbC123dEf456GhI789jKl012",
    "OpenAI-Project": "proj_AbC123dEf456GhI789jKl012",
    "anthropic-beta": "prompt-caching-2024-07-31",
    "HTTP-Referer": "https://example.org/my-app",
    "X-Title": "Prompt Workbench",
    "Idempotency-Key": "123e4567-e89b-12d3-a456-426614174000",
    "X-Request-Id": "123E4567-E89B-12D3-A456-426614174000",
}


@pytest.mark.parametrize(("name", "value"), SECRET_HEADERS_SEEN)
def test_credential_looking_headers_are_refused_by_name_or_value(name: str, value: str) -> None:
    """``extra_headers`` took X-Goog-Api-Key (and any header but four names) and saved it in
    plain text in backends.yaml."""
    with pytest.raises(ValidationError, match="keyring"):
        HttpOptions(extra_headers={name: value})
    assert safe_headers({name: value}) == {name: "[redacted]"}


def test_ordinary_headers_are_kept() -> None:
    assert HttpOptions(extra_headers=INNOCENT_HEADERS).extra_headers == INNOCENT_HEADERS
    assert safe_headers(INNOCENT_HEADERS) == INNOCENT_HEADERS
