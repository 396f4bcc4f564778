"""Anthropic's Message Batches provider against a local server speaking the documented endpoints
and state machine (tests/backends/batch_servers.py)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from tests.backends.batch_servers import KEY, AnthropicBatchServer
from tests.backends.fault_server import ScriptedServer
from tests.backends.wire_servers import ANTHROPIC_SCENARIOS
from workbench.backends import batch_anthropic
from workbench.backends.anthropic import AnthropicBackend, AnthropicOptions
from workbench.backends.base import CancelToken
from workbench.backends.batch import (
    CANCELLED_KIND,
    CLOCK_MARGIN,
    EXPIRED_KIND,
    BatchProvider,
    RemoteBatch,
    batch_provider,
    supports_batch,
)
from workbench.backends.batch_anthropic import AnthropicBatches
from workbench.core.errors import ErrorCode, NotFoundError, ProtocolError, UnconfirmedError
from workbench.core.models import (
    Params,
    RenderedMessage,
    ResponseFormat,
    RunRequest,
    SentRequest,
)


@pytest.fixture
def server() -> Iterator[AnthropicBatchServer]:
    srv = AnthropicBatchServer()
    try:
        yield srv
    finally:
        srv.close()


def backend(url: str, key: str | None = KEY) -> AnthropicBackend:
    return AnthropicBackend(AnthropicOptions(base_url=url, retry_backoff=0.01), api_key=key)


def provider(url: str) -> BatchProvider:
    return batch_provider(backend(url))


def request(text: str, **extra: object) -> RunRequest:
    return RunRequest(
        backend="anthropic",
        model="claude-test-1",
        messages=[RenderedMessage(role="system", content="Be brief."),
                  RenderedMessage(role="user", content=text)],
        **extra,
    )


def submit(
    client: BatchProvider, texts: dict[str, str]
) -> tuple[RemoteBatch, dict[str, SentRequest]]:
    lines = [client.line_for(cid, request(text)) for cid, text in texts.items()]
    return client.submit(lines, CancelToken()), {line.custom_id: line.sent for line in lines}


def test_the_provider_is_found_for_an_anthropic_backend() -> None:
    b = backend("http://127.0.0.1:1")
    assert supports_batch(b)
    client = batch_provider(b)
    assert isinstance(client, AnthropicBatches)
    assert (client.name, client.completion_window, client.discount) == ("anthropic", "24h", 0.5)


def test_lines_carry_the_live_body_unstreamed() -> None:
    """A batch line is exactly what a live run POSTs to /v1/messages, minus ``stream``."""
    req = request("Name a fox.", params=Params(temperature=0.2, max_tokens=50, stop=["\n"]))
    live = ScriptedServer(ANTHROPIC_SCENARIOS)
    try:
        url = live.url("ok", "")
        list(backend(url).stream(req, CancelToken()))
        live_body = live.requests(url)[-1].body
    finally:
        live.close()
    line = provider("http://127.0.0.1:1").line_for("c-1", req)
    assert live_body.pop("stream") is True
    assert line.line == {"custom_id": "c-1", "params": live_body}
    assert line.sent.sent_params == {"temperature": 0.2, "max_tokens": 50, "stop": ["\n"]}


def test_a_batch_runs_through_its_states(server: AnthropicBatchServer) -> None:
    client = provider(server.url)
    batch, sent = submit(client, {"c0": "one", "c1": "two", "c2": "three", "c3": "four"})
    assert client.poll(batch).state == "in_progress"
    assert server.created()[0]["requests"][1]["custom_id"] == "c1"
    seen = server.headers_seen[-1]
    assert seen["x-api-key"] == KEY and seen["anthropic-version"] == "2023-06-01"

    server.settle(batch.batch_id, {"c0": "succeeded", "c1": "errored"})
    partial = client.poll(batch)
    assert (partial.state, partial.total, partial.succeeded, partial.failed) == (
        "in_progress", 4, 1, 1)
    with pytest.raises(ProtocolError, match="no results yet"):
        next(client.results(batch, sent))

    server.settle(batch.batch_id, {"c2": "succeeded"})
    server.end(batch.batch_id)
    ended = client.poll(batch)
    assert ended.ended and (ended.state, ended.succeeded, ended.failed) == ("expired", 2, 2)
    items = {item.custom_id: item.result for item in client.results(batch, sent)}
    assert items["c0"].text == "echo: one"
    assert items["c0"].finish_reason == "stop"
    assert items["c0"].usage.output_tokens == 4
    assert items["c0"].request == sent["c0"]
    assert items["c1"].error_kind == ErrorCode.BAD_REQUEST
    assert "max_tokens: too large" in (items["c1"].error or "")
    assert (items["c3"].finish_reason, items["c3"].error_kind) == ("error", EXPIRED_KIND)
    # Results read again (after a restart) are the same.
    assert [i.custom_id for i in client.results(batch, sent)] == ["c0", "c1", "c2", "c3"]


def test_a_batch_with_every_request_answered_is_completed(server: AnthropicBatchServer) -> None:
    client = provider(server.url)
    batch, sent = submit(client, {"a": "x", "b": "y"})
    server.settle(batch.batch_id, {"a": "succeeded", "b": "succeeded"})
    server.end(batch.batch_id)
    assert client.poll(batch).state == "completed"
    assert {i.result.text for i in client.results(batch, {"a": sent["a"]})} == {"echo: x"}


def test_cancel_keeps_what_finished(server: AnthropicBatchServer) -> None:
    client = provider(server.url)
    batch, sent = submit(client, {"a": "a", "b": "b"})
    server.settle(batch.batch_id, {"a": "succeeded"})
    assert client.cancel(batch).state == "cancelling"
    assert client.poll(batch).state == "cancelling"
    server.end(batch.batch_id)
    ended = client.poll(batch)
    assert (ended.state, ended.succeeded, ended.failed) == ("cancelled", 1, 1)
    items = {i.custom_id: i.result for i in client.results(batch, sent)}
    assert items["a"].text == "echo: a"
    assert (items["b"].finish_reason, items["b"].error_kind) == ("error", CANCELLED_KIND)


def test_an_unknown_batch_is_the_servers_404(server: AnthropicBatchServer) -> None:
    with pytest.raises(NotFoundError):
        provider(server.url).poll(RemoteBatch("msgbatch_9999"))


def test_a_response_format_reads_back_from_the_forced_tool() -> None:
    """The forced tool's input is the answer in a batch result as in a live run."""
    client = provider("http://127.0.0.1:1")
    schema = {"type": "object", "properties": {"animal": {"type": "string"}}}
    fmt = ResponseFormat(type="json_schema", name="answer", json_schema=schema)
    line = client.line_for("f", request("fox", response_format=fmt))
    assert line.line["params"]["tool_choice"] == {"type": "tool", "name": "answer"}
    message = {
        "content": [{"type": "tool_use", "id": "t1", "name": "answer",
                     "input": {"animal": "fox"}}],
        "stop_reason": "tool_use", "usage": {"input_tokens": 3, "output_tokens": 2},
    }
    assert isinstance(client, AnthropicBatches)
    result = client.backend.message_result(line.sent, message, "test")
    assert (result.text, result.finish_reason) == ('{"animal": "fox"}', "stop")


@pytest.mark.parametrize("fault", ["502", "drop"])
def test_a_create_that_failed_after_the_batch_was_made_is_never_sent_again(
    server: AnthropicBatchServer, fault: str
) -> None:
    """A proxy's 502, or a connection dropped, once Anthropic created the batch: a retry would
    create (and bill) a second one. The batch is found in the list instead."""
    client = provider(server.url)
    lines = [client.line_for(cid, request(text)) for cid, text in (("a", "x"), ("b", "y"))]
    since = datetime.now(UTC) - CLOCK_MARGIN
    server.create_faults.append(fault)
    with pytest.raises(UnconfirmedError, match="may have taken the request") as raised:
        client.submit(lines, CancelToken())
    assert "not sent again" in raised.value.hint
    assert len(server.created()) == 1 and len(server.batches) == 1
    assert client.find(lines, since) == [RemoteBatch(next(iter(server.batches)))]


def test_a_rate_limited_create_is_sent_again(server: AnthropicBatchServer) -> None:
    """A 429 created nothing: it is retried as any call."""
    server.rate_limited = 1
    batch, _ = submit(provider(server.url), {"a": "x"})
    assert len(server.created()) == 2 and list(server.batches) == [batch.batch_id]


def test_find_lists_the_batches_created_since_with_as_many_requests(
    server: AnthropicBatchServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(batch_anthropic, "_PAGE", 1)  # one batch a page: the pages are followed
    client = provider(server.url)
    older, _ = submit(client, {"a": "x", "b": "y"})
    since = datetime.now(UTC)
    same, _ = submit(client, {"c": "x", "d": "z"})
    submit(client, {"e": "x"})  # another size
    lines = [client.line_for(cid, request(text)) for cid, text in (("a", "x"), ("b", "y"))]
    assert client.find(lines, since) == [same]
    assert client.find(lines, since - CLOCK_MARGIN) == [same, older]
    listed = [p for _, p, _ in server.requests if p.startswith("/v1/messages/batches?")]
    assert listed[:2] == ["/v1/messages/batches?limit=1",
                          "/v1/messages/batches?limit=1&after_id=msgbatch_0003"]
