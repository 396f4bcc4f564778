"""A sweep's batch job on Bedrock through the batch service: boto3 against the local S3 and
Bedrock control-plane server (tests/backends/bedrock_batch_server.py), the job recorded in
SQLite, polled by a later process and its answers landed as runs at the batch price; a sweep
with too few cells of a model is refused before anything is recorded or uploaded."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.backends.bedrock_batch_server import ROLE, BedrockBatchServer
from tests.backends.test_bedrock import aws_profile  # noqa: F401 - fixture
from workbench.backends.batch_bedrock import BedrockBatches
from workbench.backends.config import BackendConfig
from workbench.core.errors import KnownError
from workbench.core.experiments import ExperimentSpec, TestCase, Variant
from workbench.core.models import Message, Params, PromptTemplate
from workbench.services.batch import BatchJobs
from workbench.services.comparison import save_comparison
from workbench.services.runner import Runner
from workbench.storage.repositories import Store

pytest.importorskip("boto3", reason="boto3 is the optional 'bedrock' extra (in the test extra)")

MODEL = "anthropic.claude-3-haiku-20240307-v1:0"
TEMPLATE = PromptTemplate(name="n", messages=[Message(role="user", content="Say {{ n }}.")])


@pytest.fixture
def server() -> Iterator[BedrockBatchServer]:
    with BedrockBatchServer() as running:
        yield running


def _spec(cases: int) -> ExperimentSpec:
    return ExperimentSpec(
        name="numbers",
        variants=[Variant(label="v", template=TEMPLATE, backend="aws", model=MODEL,
                          params=Params(max_tokens=16))],
        tests=[TestCase(vars={"n": str(i)}) for i in range(cases)],
    )


class _Session:
    """One process's store, runner and batch service."""

    def __init__(self, path: Path, server: BedrockBatchServer, max_retries: int = 0) -> None:
        options = {"profile": "wbtest", "endpoint_url": server.url,
                   "s3_endpoint_url": server.url, "max_retries": max_retries,
                   "batch_s3_uri": "s3://wb-batches/jobs", "batch_role_arn": ROLE}
        self.store = Store.open(path)
        self.runner = Runner(configs={"aws": BackendConfig(name="aws", backend="bedrock",
                                                           options=options)})
        self.jobs = BatchJobs(self.store, self.runner)

    def close(self) -> None:
        self.runner.close()
        self.store.close()


def test_a_bedrock_job_lands_its_answers_as_runs(
    server: BedrockBatchServer, tmp_path: Path
) -> None:
    first = _Session(tmp_path / "runs.db", server)
    experiment = save_comparison(first.store, _spec(100))
    (job,) = first.jobs.submit(experiment)
    assert (job.provider, job.backend_name, job.completion_window) == ("bedrock", "aws", "24h")
    assert [p.state for p in job.parts] == ["validating"] and job.status == "running"
    first.close()  # the app quits mid-job

    [arn] = server.jobs
    server.start(arn)
    second = _Session(tmp_path / "runs.db", server)
    (resumed,) = second.jobs.unfinished()
    assert second.jobs.refresh(resumed.id).parts[0].state == "in_progress"
    server.settle(arn, {f"v0-t{i}-r0": "ok" for i in range(100)} | {"v0-t5-r0": "error"})
    server.finish(arn)
    ended = second.jobs.refresh(resumed.id)
    assert ended.status == "ended" and ended.parts[0].state == "completed"
    runs = second.store.runs.for_experiment(experiment.id)
    texts = {r.ref.variables["n"]: r.result.text or r.result.error_kind for r in runs}
    assert len(texts) == 100
    assert texts["0"] == "echo: Say 0." and texts["99"] == "echo: Say 99."
    assert texts["5"] == "BadRequestError"
    ok = next(r for r in runs if r.result.text)
    assert ok.result.request.backend == "bedrock" and ok.result.request.backend_name == "aws"
    assert second.jobs.refresh(resumed.id) == ended  # nothing lands twice
    second.close()


@pytest.mark.parametrize(("cases", "max_lines", "small"), [(30, 50_000, 30), (170, 150, 20)])
def test_too_few_cells_of_a_model_are_refused_before_anything_is_sent(
    server: BedrockBatchServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    cases: int, max_lines: int, small: int,
) -> None:
    """Also when only the last of a job's batches is too small: sending the others would leave
    that one failing at every refresh."""
    monkeypatch.setattr(BedrockBatches, "max_lines", max_lines)
    session = _Session(tmp_path / "runs.db", server)
    try:
        experiment = save_comparison(session.store, _spec(cases))
        with pytest.raises(KnownError) as raised:
            session.jobs.submit(experiment)
        assert (f"takes at least 100 requests a batch; a batch of aws's job would have {small} "
                f"cells of {MODEL}") in str(raised.value)
        assert "live" in raised.value.hint
        assert session.jobs.unfinished() == [] and server.requests == []
    finally:
        session.close()


def test_a_create_answered_502_after_the_job_was_made_is_found_and_recorded(
    server: BedrockBatchServer, tmp_path: Path
) -> None:
    """boto3 retries a 5xx (twice here); a 502 once Bedrock created the job would make and
    bill a second one. The job is found by its records' digest and recorded instead."""
    session = _Session(tmp_path / "runs.db", server, max_retries=2)
    try:
        experiment = save_comparison(session.store, _spec(100))
        server.create_faults.append("502")
        (job,) = session.jobs.submit(experiment)
        assert len(server.created()) == 1 and len(server.jobs) == 1
        assert job.parts[0].remote_id == next(iter(server.jobs)) and job.status == "running"
        assert "found at bedrock after its create was not confirmed" in job.parts[0].message
    finally:
        session.close()
