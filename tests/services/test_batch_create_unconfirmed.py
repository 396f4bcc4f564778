"""A batch is paid for once created, so a create whose outcome is unknown is never sent again on a
guess: against local servers speaking Anthropic's Message Batches and OpenAI's Batch API, a
create the server carried out and then answered 502 leaves exactly one batch, found and recorded;
a process that ended between the create and recording it leaves a mark that the next process
resolves from the provider's list without a second batch; when no single batch can be found the
part is unknown, said with the provider's console, and only a resend the person asks for (or a
cancel) moves it on."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.backends.batch_servers import KEY, AnthropicBatchServer
from tests.backends.openai_batch_server import KEY as OPENAI_KEY
from tests.backends.openai_batch_server import OpenAIBatchServer
from workbench.backends.base import CancelToken
from workbench.backends.batch import BatchUnconfirmed
from workbench.backends.batch_anthropic import AnthropicBatches
from workbench.backends.config import BackendConfig
from workbench.core.errors import KnownError
from workbench.core.experiments import ExperimentSpec, TestCase, Variant
from workbench.core.models import Message, Params, PromptTemplate
from workbench.services.batch import BatchJobs
from workbench.services.comparison import save_comparison
from workbench.services.runner import Runner
from workbench.storage.repositories import Store, StoredExperiment
from workbench.storage.repositories.batch_jobs import BatchJobRepository

TEMPLATE = PromptTemplate(
    name="capital", messages=[Message(role="user", content="Capital of {{ country }}?")]
)


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[AnthropicBatchServer]:
    monkeypatch.setenv("ANTHROPIC_API_KEY", KEY)
    running = AnthropicBatchServer()
    try:
        yield running
    finally:
        running.close()


def _spec(backend: str, model: str, countries: tuple[str, ...] = ("France", "Peru")
          ) -> ExperimentSpec:
    return ExperimentSpec(
        name="capitals",
        variants=[Variant(label="v", template=TEMPLATE, backend=backend, model=model,
                          params=Params(max_tokens=16))],
        tests=[TestCase(vars={"country": c}) for c in countries],
    )


class _Session:
    """One process's store, runner and batch service (closed: the process ended). The HTTP
    policy retries twice, as by default: a create must not be among what is retried."""

    def __init__(self, path: Path, config: BackendConfig) -> None:
        self.store = Store.open(path)
        self.runner = Runner(configs={config.name: config})
        self.jobs = BatchJobs(self.store, self.runner)

    def close(self) -> None:
        self.runner.close()
        self.store.close()


def _claude(server: AnthropicBatchServer) -> BackendConfig:
    return BackendConfig(name="claude", backend="anthropic",
                         options={"base_url": server.url, "retry_backoff": 0.01})


def _anthropic(path: Path, server: AnthropicBatchServer) -> tuple[_Session, StoredExperiment]:
    session = _Session(path, _claude(server))
    return session, save_comparison(session.store, _spec("claude", "claude-test-1"))


class _Died(BaseException):
    """The process ends here: nothing after this line runs."""


def _die(*_args: object, **_kwargs: object) -> None:
    raise _Died


def test_a_create_answered_502_after_the_batch_was_made_is_found_and_recorded(
    server: AnthropicBatchServer, tmp_path: Path
) -> None:
    session, experiment = _anthropic(tmp_path / "runs.db", server)
    try:
        server.create_faults.append("502")
        (job,) = session.jobs.submit(experiment)
        assert len(server.created()) == 1 and len(server.batches) == 1
        (batch_id,) = server.batches
        assert (job.status, job.parts[0].remote_id) == ("running", batch_id)
        assert "found at anthropic after its create was not confirmed" in job.parts[0].message
        assert "HTTP 502" in job.parts[0].message
        server.settle(batch_id, {"v0-t0-r0": "succeeded", "v0-t1-r0": "succeeded"})
        server.end(batch_id)
        assert session.jobs.refresh(job.id).status == "ended"
        assert len(session.store.runs.for_experiment(experiment.id)) == 2
    finally:
        session.close()


def test_a_process_that_died_after_the_create_does_not_send_a_second_batch(
    server: AnthropicBatchServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, experiment = _anthropic(tmp_path / "runs.db", server)
    with monkeypatch.context() as patch:
        patch.setattr(BatchJobRepository, "submitted", _die)  # after the create returned
        with pytest.raises(_Died):
            first.jobs.submit(experiment)
    first.close()
    (batch_id,) = server.batches  # created at Anthropic, its id never recorded

    second = _Session(tmp_path / "runs.db", _claude(server))
    try:
        (job,) = second.jobs.unfinished()
        assert (job.status, job.parts[0].state, job.parts[0].remote_id) == (
            "submitting", "sending", None)
        resumed = second.jobs.refresh(job.id)
        assert len(server.created()) == 1 and list(server.batches) == [batch_id]
        assert (resumed.status, resumed.parts[0].remote_id) == ("running", batch_id)
        assert "the process creating it ended before its batch was recorded" in (
            resumed.parts[0].message)
    finally:
        second.close()


def test_a_create_of_unknown_outcome_is_said_and_sent_again_only_when_asked(
    server: AnthropicBatchServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The process died while creating; the list then shows no batch of ours (the create never
    arrived, or Anthropic has not listed it yet): nothing is sent again on that guess."""
    first, experiment = _anthropic(tmp_path / "runs.db", server)
    with monkeypatch.context() as patch:
        patch.setattr(AnthropicBatches, "submit", _die)  # before anything was sent
        with pytest.raises(_Died):
            first.jobs.submit(experiment)
    first.close()

    second = _Session(tmp_path / "runs.db", _claude(server))
    try:
        (job,) = second.jobs.unfinished()
        unknown = second.jobs.refresh(job.id)
        assert server.created() == [] and unknown.status == "submitting"
        part = unknown.parts[0]
        assert part.state == "unknown" and part.remote_id is None
        assert "anthropic may have created this batch of 2 requests" in part.message
        assert f"Check the server's batch list ({server.url}/v1/messages/batches)" in part.message
        assert "workbench batch" not in part.message  # each front end says what to do
        assert second.jobs.refresh(job.id) == unknown and server.created() == []
        with pytest.raises(BatchUnconfirmed, match="nothing to send") as raised:
            second.jobs.submit(second.store.experiments.get(experiment.id))
        assert f"job {job.id[:8]} may have a batch at its provider" in raised.value.message
        assert f"'workbench batch resend {job.id[:8]}' sends it again" in raised.value.hint
        assert second.jobs.wait(job.id, CancelToken()).parts[0].state == "unknown"  # returns

        resent = second.jobs.resend(job.id)  # the person checked: there is none
        (batch_id,) = server.batches
        assert (resent.status, resent.parts[0].remote_id) == ("running", batch_id)
        with pytest.raises(KnownError, match="no batch of unknown outcome"):
            second.jobs.resend(job.id)
    finally:
        second.close()


def test_two_batches_that_could_be_it_are_not_guessed_between(
    server: AnthropicBatchServer, tmp_path: Path
) -> None:
    """Another batch of as many requests was created meanwhile (another tool, another
    machine): which one is ours cannot be told, so neither is taken; a cancel then frees the
    cells, saying that a batch it may have become cannot be stopped from here."""
    other = _Session(tmp_path / "other.db", _claude(server))
    try:
        (elsewhere,) = other.jobs.submit(save_comparison(
            other.store, _spec("claude", "claude-test-1", ("Chile", "Japan"))))
    finally:
        other.close()
    session, experiment = _anthropic(tmp_path / "runs.db", server)
    try:
        server.create_faults.append("502")
        with pytest.raises(KnownError, match="several batches that could be it"):
            session.jobs.submit(experiment)
        assert len(server.batches) == 2
        (job,) = session.jobs.unfinished()
        assert job.parts[0].state == "unknown" and job.remote_ids == []
        cancelled = session.jobs.cancel(job.id)
        assert cancelled.status == "ended" and len(server.batches) == 2
        assert "cannot be stopped from here" in cancelled.parts[0].message
        assert {c.outcome for c in session.store.batches.cells(job.id)} == {"missing"}
        (again,) = session.jobs.submit(experiment)  # the cells are free to send
        assert again.remote_ids and len(server.batches) == 3
        assert elsewhere.remote_ids[0] not in again.remote_ids
    finally:
        session.close()


def test_an_openai_create_answered_502_is_found_by_its_digest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", OPENAI_KEY)
    with OpenAIBatchServer() as server:
        options = {"base_url": server.base_url, "streaming": False, "retry_backoff": 0.01}
        session = _Session(tmp_path / "runs.db", BackendConfig(
            name="openai", backend="openai_compat", options=options))
        try:
            experiment = save_comparison(session.store, _spec("openai", "gpt-4o-mini"))
            server.create_faults.append("502")
            (job,) = session.jobs.submit(experiment)
            assert len(server.batches) == 1
            assert job.parts[0].remote_id == next(iter(server.batches))
            assert "found at openai" in job.parts[0].message
        finally:
            session.close()
