"""Bedrock batch inference through real boto3 against a local server speaking S3's object
endpoints and Bedrock's model-invocation-job endpoints with their state machine
(tests/backends/bedrock_batch_server.py), so signing, S3 uploads and the control plane's REST
shapes all run for real."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from tests.backends.bedrock_batch_server import ROLE, BedrockBatchServer
from tests.backends.test_bedrock import aws_profile  # noqa: F401 - fixture
from workbench.backends.anthropic import AnthropicBackend, AnthropicOptions
from workbench.backends.base import CancelToken
from workbench.backends.batch import (
    CANCELLED_KIND,
    CLOCK_MARGIN,
    EXPIRED_KIND,
    BatchUnsupported,
    RemoteBatch,
    batch_provider,
    supports_batch,
)
from workbench.backends.batch_bedrock import BedrockBatches
from workbench.backends.bedrock import BedrockBackend, BedrockOptions
from workbench.core.errors import ErrorCode, KnownError, NotFoundError, UnconfirmedError
from workbench.core.models import Params, RenderedMessage, RunRequest, SentRequest

pytest.importorskip("boto3", reason="boto3 is the optional 'bedrock' extra (in the test extra)")

MODEL = "anthropic.claude-3-haiku-20240307-v1:0"
S3_URI = "s3://wb-batches/jobs/"


@pytest.fixture
def server() -> Iterator[BedrockBatchServer]:
    with BedrockBatchServer() as running:
        yield running


def backend(url: str, **options: object) -> BedrockBackend:
    values: dict[str, object] = {
        "profile": "wbtest",
        "endpoint_url": url,
        "s3_endpoint_url": url,
        "max_retries": 0,
        "batch_s3_uri": S3_URI,
        "batch_role_arn": ROLE,
        **options,
    }
    return BedrockBackend(BedrockOptions(**values))


def provider(url: str, **options: object) -> BedrockBatches:
    client = batch_provider(backend(url, **options))
    assert isinstance(client, BedrockBatches)
    return client


def request(text: str, model: str = MODEL, **extra: object) -> RunRequest:
    return RunRequest(
        backend="bedrock",
        model=model,
        messages=[RenderedMessage(role="system", content="Be brief."),
                  RenderedMessage(role="user", content=text)],
        **extra,
    )


def submit(client: BedrockBatches, count: int) -> tuple[RemoteBatch, dict[str, SentRequest]]:
    lines = [client.line_for(f"c{i}", request(f"q{i}")) for i in range(count)]
    return client.submit(lines, CancelToken()), {line.custom_id: line.sent for line in lines}


def test_the_provider_is_found_for_a_bedrock_backend() -> None:
    b = backend("http://127.0.0.1:1", batch_timeout_hours=72)
    assert supports_batch(b)
    client = batch_provider(b)
    assert isinstance(client, BedrockBatches)
    assert (client.name, client.completion_window, client.discount) == ("bedrock", "72h", 0.5)
    assert (client.bucket, client.prefix) == ("wb-batches", "jobs/")


@pytest.mark.parametrize(
    ("options", "missing"),
    [({"batch_s3_uri": ""}, "batch_s3_uri"), ({"batch_role_arn": ""}, "batch_role_arn")],
)
def test_a_missing_option_says_which_to_set(options: dict[str, str], missing: str) -> None:
    with pytest.raises(BatchUnsupported) as raised:
        batch_provider(backend("http://127.0.0.1:1", **options))
    assert f"need the backend option {missing}" in str(raised.value)
    assert f"--option {missing}=" in raised.value.hint


def test_a_malformed_s3_uri_is_refused() -> None:
    with pytest.raises(BatchUnsupported, match="must look like s3://bucket/prefix"):
        batch_provider(backend("http://127.0.0.1:1", batch_s3_uri="wb-batches/jobs"))


def test_model_input_is_claudes_messages_body_for_bedrock() -> None:
    """A record's modelInput is the body a live Anthropic run sends, with Bedrock's
    anthropic_version instead of the model and the stream flag."""
    req = request("Name a fox.", params=Params(temperature=0.2, max_tokens=50, stop=["\n"],
                                               top_k=5, seed=3))
    line = provider("http://127.0.0.1:1").line_for("c-1", req)
    anthropic = AnthropicBackend(AnthropicOptions(streaming=True), api_key="sk-ant-unused")
    _, live = anthropic.batch_params(req.model_copy(update={"backend": "anthropic"}))
    assert live.pop("model") == MODEL
    assert line.line == {
        "recordId": "c-1",
        "modelInput": {"anthropic_version": "bedrock-2023-05-31", **live},
    }
    assert line.line["modelInput"]["system"] == "Be brief."
    assert line.line["modelInput"]["stop_sequences"] == ["\n"]
    assert "stream" not in line.line["modelInput"]
    assert line.sent.backend == "bedrock" and line.sent.model == MODEL
    assert line.sent.sent_params == {"temperature": 0.2, "max_tokens": 50, "stop": ["\n"],
                                     "top_k": 5}
    assert line.sent.ignored_params == {"seed": 3}
    # A run that sets no max_tokens sends Anthropic's default (InvokeModel requires one).
    plain = provider("http://127.0.0.1:1").line_for("c-2", request("x"))
    assert plain.line["modelInput"]["max_tokens"] == 1024


def test_other_model_families_are_refused() -> None:
    with pytest.raises(KnownError, match=r"supports Claude models; run meta\.llama3-8b live"):
        provider("http://127.0.0.1:1").line_for("c", request("x", model="meta.llama3-8b"))


def test_too_few_records_are_refused_before_anything_is_sent(
    server: BedrockBatchServer,
) -> None:
    with pytest.raises(KnownError) as raised:
        submit(provider(server.url), 99)
    assert "at least 100 records a job; this one has 99" in str(raised.value)
    assert "live" in raised.value.hint
    assert server.requests == [] and server.objects == {}


def test_a_job_runs_through_its_states(server: BedrockBatchServer) -> None:
    client = provider(server.url)
    batch, sent = submit(client, 100)
    [created] = server.created()
    assert created["roleArn"] == ROLE and created["modelId"] == MODEL
    assert created["timeoutDurationInHours"] == 24
    input_uri = created["inputDataConfig"]["s3InputDataConfig"]["s3Uri"]
    assert input_uri == batch.input_file_id and input_uri.startswith("s3://wb-batches/jobs/")
    assert created["outputDataConfig"]["s3OutputDataConfig"]["s3Uri"] == batch.extra["output"]
    records = server.records(batch.batch_id)
    assert [r["recordId"] for r in records] == [f"c{i}" for i in range(100)]
    assert records[0]["modelInput"]["messages"] == [{"role": "user", "content": "q0"}]

    assert client.poll(batch).state == "validating"
    server.start(batch.batch_id)
    assert client.poll(batch).state == "in_progress"
    with pytest.raises(KnownError, match="no results yet"):
        next(client.results(batch, sent))
    outcomes = {f"c{i}": "ok" for i in range(100)} | {"c7": "error"}
    server.settle(batch.batch_id, outcomes)
    server.finish(batch.batch_id)
    ended = client.poll(batch)
    assert ended.ended and (ended.state, ended.total, ended.succeeded, ended.failed) == (
        "completed", 100, 99, 1)
    items = {item.custom_id: item.result for item in client.results(batch, sent)}
    assert len(items) == 100
    assert items["c0"].text == "echo: q0" and items["c0"].finish_reason == "stop"
    assert items["c0"].usage.output_tokens == 4 and items["c0"].request == sent["c0"]
    assert items["c7"].finish_reason == "error"
    assert items["c7"].error_kind == ErrorCode.BAD_REQUEST
    assert "max_tokens: too large" in (items["c7"].error or "")
    # Read again (after a restart), and only the ids asked for.
    again = [i.custom_id for i in client.results(batch, {"c3": sent["c3"]})]
    assert again == ["c3"]


def test_a_stopped_job_delivers_what_was_done(server: BedrockBatchServer) -> None:
    client = provider(server.url)
    batch, sent = submit(client, 120)
    server.start(batch.batch_id)
    server.settle(batch.batch_id, {f"c{i}": "ok" for i in range(40)})
    assert client.cancel(batch).state == "cancelling"
    assert client.poll(batch).state == "cancelling"
    server.finish(batch.batch_id)
    ended = client.poll(batch)
    assert (ended.state, ended.succeeded) == ("cancelled", 40)
    assert client.cancel(batch).state == "cancelled"  # an ended job is not stopped again
    items = {i.custom_id: i.result for i in client.results(batch, sent)}
    assert len(items) == 120
    assert items["c39"].text == "echo: q39"
    assert (items["c40"].finish_reason, items["c40"].error_kind) == ("error", CANCELLED_KIND)


def test_an_expired_job_reports_what_it_left_undone(server: BedrockBatchServer) -> None:
    client = provider(server.url)
    batch, sent = submit(client, 100)
    server.start(batch.batch_id)
    server.settle(batch.batch_id, {"c0": "ok"})
    server.finish(batch.batch_id, expire=True)
    assert client.poll(batch).state == "expired"
    items = {i.custom_id: i.result for i in client.results(batch, sent)}
    assert items["c0"].text == "echo: q0"
    assert items["c99"].error_kind == EXPIRED_KIND


def test_a_job_bedrock_refuses_fails_with_its_message(server: BedrockBatchServer) -> None:
    """A job Bedrock's validation fails (here: a role it cannot assume) ends failed, saying
    why, and has no results to land."""
    client = provider(server.url, batch_role_arn="arn:aws:iam::123456789012:role/Nope")
    batch, sent = submit(client, 100)
    polled = client.poll(batch)
    assert (polled.state, polled.message) == ("failed", "the service role cannot be assumed")
    assert list(client.results(batch, sent)) == []


def test_records_sent_again_find_their_running_job(server: BedrockBatchServer) -> None:
    """The process ended after creating the job, before recording its ARN: the same records
    sent again find that job, not a second one paid for twice; once it ended, they make a new
    one."""
    client = provider(server.url)
    lines = [client.line_for(f"c{i}", request(f"q{i}")) for i in range(100)]
    first = client.submit(lines, CancelToken())
    again = client.submit(lines, CancelToken())
    assert again == first and len(server.jobs) == 1
    other = client.submit([*lines[:-1], client.line_for("c99", request("changed"))],
                          CancelToken())
    assert other.batch_id != first.batch_id
    server.start(first.batch_id)
    server.settle(first.batch_id, {f"c{i}": "ok" for i in range(100)})
    server.finish(first.batch_id)
    assert client.submit(lines, CancelToken()).batch_id not in (first.batch_id, other.batch_id)
    assert len(server.jobs) == 3


def test_an_unknown_job_is_bedrocks_404(server: BedrockBatchServer) -> None:
    with pytest.raises(NotFoundError):
        provider(server.url).poll(RemoteBatch(
            "arn:aws:bedrock:us-west-2:123456789012:model-invocation-job/nope", "s3://b/k",
            {"output": "s3://b/o/"}))


def test_a_create_answered_502_after_the_job_was_made_is_never_sent_again(
    server: BedrockBatchServer,
) -> None:
    """boto3 retries a 5xx (here up to twice); a 502 once Bedrock created the job would make
    (and bill) a second one. The job is found by its records' digest instead."""
    client = provider(server.url, max_retries=2)
    lines = [client.line_for(f"c{i}", request(f"q{i}")) for i in range(100)]
    since = datetime.now(UTC) - CLOCK_MARGIN
    server.create_faults.append("502")
    with pytest.raises(UnconfirmedError, match="Bedrock may have created the job"):
        client.submit(lines, CancelToken())
    assert len(server.created()) == 1 and len(server.jobs) == 1
    (arn,) = server.jobs
    assert [job.batch_id for job in client.find(lines, since)] == [arn]
    assert client.find(lines[1:], since) == []
