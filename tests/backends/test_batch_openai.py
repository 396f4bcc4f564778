"""OpenAI's Batch API against a local server speaking its file and batch endpoints: lines are the
live backend's own request bodies, the state machine is followed, answers and failures come
back by custom_id, an expired or cancelled batch still delivers what was done."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from tests.backends.openai_batch_server import KEY, OpenAIBatchServer
from workbench.backends.base import CancelToken
from workbench.backends.batch import (
    CANCELLED_KIND,
    CLOCK_MARGIN,
    EXPIRED_KIND,
    BatchUnsupported,
    batch_provider,
    supports_batch,
)
from workbench.backends.batch_openai import OpenAIBatches
from workbench.backends.openai_compat import OpenAICompatBackend, OpenAICompatOptions
from workbench.core.errors import ErrorCode, UnconfirmedError
from workbench.core.models import Params, RenderedMessage, RunRequest


@pytest.fixture
def server() -> Iterator[OpenAIBatchServer]:
    with OpenAIBatchServer() as running:
        yield running


def _backend(server: OpenAIBatchServer, **options: object) -> OpenAICompatBackend:
    return OpenAICompatBackend(
        OpenAICompatOptions(base_url=server.base_url, **options), api_key=KEY  # type: ignore[arg-type]
    )


def _request(question: str, **params: object) -> RunRequest:
    return RunRequest(
        backend="openai",
        model="gpt-4o-mini",
        messages=[RenderedMessage(role="system", content="Be brief."),
                  RenderedMessage(role="user", content=question)],
        params=Params(**params),  # type: ignore[arg-type]
    )


def _submitted(server: OpenAIBatchServer, questions: list[str]) -> tuple[OpenAIBatches, object]:
    provider = batch_provider(_backend(server))
    assert isinstance(provider, OpenAIBatches)
    lines = [provider.line_for(f"c{i}", _request(q, temperature=0.2, max_tokens=32))
             for i, q in enumerate(questions)]
    return provider, provider.submit(lines, CancelToken())


def test_a_batch_runs_through_its_states_and_answers_by_custom_id(
    server: OpenAIBatchServer,
) -> None:
    provider, remote = _submitted(server, ["France?", "Italy?", "Spain?"])
    batch_id = remote.batch_id  # type: ignore[attr-defined]
    line = server.lines(batch_id)[1]
    # The line is the live backend's body, unstreamed, sent to the batch's endpoint.
    assert line["url"] == "/v1/chat/completions" and line["method"] == "POST"
    assert line["body"] == {
        "model": "gpt-4o-mini",
        "messages": [{"role": "system", "content": "Be brief."},
                     {"role": "user", "content": "Italy?"}],
        "temperature": 0.2,
        "max_tokens": 32,
    }
    assert server.batches[batch_id]["status"] == "validating"
    polled = provider.poll(remote)  # type: ignore[arg-type]
    assert (polled.state, polled.total, polled.ended) == ("in_progress", 3, False)
    server.settle(batch_id, {"c0": "ok", "c1": "error"})
    assert provider.poll(remote).succeeded == 1  # type: ignore[arg-type]
    server.settle(batch_id, {"c2": "ok"})
    server.complete(batch_id)
    polled = provider.poll(remote)  # type: ignore[arg-type]
    assert (polled.state, polled.succeeded, polled.failed, polled.ended) == (
        "completed", 2, 1, True)
    sent = {f"c{i}": provider.line_for(f"c{i}", _request(q)).sent
            for i, q in enumerate(["France?", "Italy?", "Spain?"])}
    items = {item.custom_id: item.result for item in provider.results(remote, sent)}  # type: ignore[arg-type]
    assert items["c0"].text == "echo: France?" and items["c0"].finish_reason == "stop"
    assert (items["c0"].usage.input_tokens, items["c0"].usage.output_tokens) == (12, 5)
    assert items["c0"].request.backend_version == "fp_batch"
    assert items["c0"].timings.total_s is None  # not timed here
    assert items["c1"].finish_reason == "error" and items["c1"].error_kind == ErrorCode.BAD_REQUEST
    assert "max_tokens is too large" in (items["c1"].error or "")
    assert items["c2"].text == "echo: Spain?"


def test_an_expired_batch_delivers_what_was_done(server: OpenAIBatchServer) -> None:
    provider, remote = _submitted(server, ["France?", "Italy?"])
    batch_id = remote.batch_id  # type: ignore[attr-defined]
    provider.poll(remote)  # type: ignore[arg-type]
    server.settle(batch_id, {"c0": "ok"})
    server.expire(batch_id)
    assert provider.poll(remote).state == "expired"  # type: ignore[arg-type]
    sent = {line["custom_id"]: provider.line_for(line["custom_id"], _request("x")).sent
            for line in server.lines(batch_id)}
    items = {i.custom_id: i.result for i in provider.results(remote, sent)}  # type: ignore[arg-type]
    assert items["c0"].text == "echo: France?"
    assert (items["c1"].finish_reason, items["c1"].error_kind) == ("error", EXPIRED_KIND)


def test_a_cancel_stops_the_batch_and_keeps_what_was_done(server: OpenAIBatchServer) -> None:
    provider, remote = _submitted(server, ["France?", "Italy?"])
    batch_id = remote.batch_id  # type: ignore[attr-defined]
    provider.poll(remote)  # type: ignore[arg-type]
    server.settle(batch_id, {"c1": "ok"})
    assert provider.cancel(remote).state == "cancelling"  # type: ignore[arg-type]
    server.cancelled(batch_id)
    assert provider.poll(remote).ended  # type: ignore[arg-type]
    sent = {cid: provider.line_for(cid, _request("x")).sent for cid in ("c0", "c1")}
    items = {i.custom_id: i.result for i in provider.results(remote, sent)}  # type: ignore[arg-type]
    assert items["c1"].text == "echo: Italy?"
    assert items["c0"].error_kind == CANCELLED_KIND


def test_a_batch_of_mixed_endpoints_is_refused_before_anything_is_uploaded(
    server: OpenAIBatchServer,
) -> None:
    provider = batch_provider(_backend(server))
    chat = provider.line_for("a", _request("France?"))
    completion = provider.line_for(
        "b", RunRequest(backend="openai", model="gpt-4o-mini", prompt="Once upon")
    )
    with pytest.raises(Exception, match="one endpoint"):
        provider.submit([chat, completion], CancelToken())
    assert server.files == {}


def test_a_refused_key_and_a_pool_are_said_plainly(server: OpenAIBatchServer) -> None:
    wrong = OpenAICompatBackend(OpenAICompatOptions(base_url=server.base_url), api_key="sk-wrong")
    provider = batch_provider(wrong)
    line = provider.line_for("a", _request("France?"))
    with pytest.raises(Exception, match="refused the API key"):
        provider.submit([line], CancelToken())
    pool = _backend(server, base_urls=[server.base_url, f"{server.url}/other/v1"])
    assert supports_batch(pool)
    with pytest.raises(BatchUnsupported, match="pool"):
        batch_provider(pool)


def test_lines_sent_again_find_their_batch_still_running_instead_of_paying_twice(
    server: OpenAIBatchServer,
) -> None:
    """The process ended between creating the batch and recording its id: sending the same
    lines again (what the job does for a part it has no id for) finds that batch."""
    provider = batch_provider(_backend(server))
    lines = [provider.line_for(f"c{i}", _request(q)) for i, q in enumerate(["France?", "Peru?"])]
    first = provider.submit(lines, CancelToken())
    other = provider.submit(lines[:1], CancelToken())  # other lines: a batch of their own
    again = provider.submit(lines, CancelToken())
    assert again == first and other.batch_id != first.batch_id
    assert len(server.batches) == 2 and len(server.files) == 2  # nothing uploaded again
    server.expire(first.batch_id)  # once it cannot answer any more, the lines go again
    assert provider.submit(lines, CancelToken()).batch_id not in (first.batch_id, other.batch_id)


def test_a_batch_that_failed_validation_says_why_and_delivers_nothing(
    server: OpenAIBatchServer,
) -> None:
    provider = batch_provider(_backend(server))
    line = provider.line_for("same", _request("France?"))
    remote = provider.submit([line, line], CancelToken())
    polled = provider.poll(remote)
    assert (polled.state, polled.ended) == ("failed", True)
    assert polled.message == "line 2: The custom_id for this request is a duplicate."
    assert list(provider.results(remote, {"same": line.sent})) == []


def test_a_create_answered_502_after_the_batch_was_made_is_never_sent_again(
    server: OpenAIBatchServer,
) -> None:
    """A proxy's 502 once OpenAI created the batch: a retry would pay for a second one. The
    batch is found by its lines' digest instead."""
    provider = batch_provider(_backend(server, retry_backoff=0.01))
    lines = [provider.line_for(f"c{i}", _request(q)) for i, q in enumerate(["France?", "Peru?"])]
    since = datetime.now(UTC) - CLOCK_MARGIN
    server.create_faults.append("502")
    with pytest.raises(UnconfirmedError, match="502"):
        provider.submit(lines, CancelToken())
    assert len(server.batches) == 1
    (batch_id,) = server.batches
    server.expire(batch_id)  # found even once it ended: it was created since the send
    assert [b.batch_id for b in provider.find(lines, since)] == [batch_id]
    assert provider.find(lines[:1], since) == []
