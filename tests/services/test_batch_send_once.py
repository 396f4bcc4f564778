"""A batch part is sent by one actor only: the app's poll round (or ``workbench batch status``
in a terminal) refreshes a job still being submitted, and while the submit loop's create of
part 0 is in flight (held by the local Anthropic server), the poll sends the later parts; the
submit loop then finds them claimed and leaves them. Every part is created exactly once, part 0
in flight is neither looked up nor called unknown by the poll, and the job ends up running.
Raced on two threads over one store (the app) and over two stores of one file (two
processes); real SQLite, real HTTP."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.backends.batch_servers import KEY, AnthropicBatchServer
from workbench.backends.batch_anthropic import AnthropicBatches
from workbench.backends.config import BackendConfig
from workbench.core.experiments import ExperimentSpec, TestCase, Variant
from workbench.core.models import Message, Params, PromptTemplate
from workbench.services.batch import BatchJobs
from workbench.services.comparison import save_comparison
from workbench.services.runner import Runner
from workbench.storage.repositories import Store
from workbench.storage.repositories.batch_jobs import BatchJob

TEMPLATE = PromptTemplate(
    name="capital", messages=[Message(role="user", content="Capital of {{ country }}?")]
)
COUNTRIES = ("France", "Peru", "Chile", "Japan")


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[AnthropicBatchServer]:
    monkeypatch.setenv("ANTHROPIC_API_KEY", KEY)
    monkeypatch.setattr(AnthropicBatches, "max_lines", 1)  # a part (remote batch) per cell
    running = AnthropicBatchServer()
    try:
        yield running
    finally:
        running.close()


def _runner(server: AnthropicBatchServer) -> Runner:
    return Runner(configs={"claude": BackendConfig(
        name="claude", backend="anthropic",
        options={"base_url": server.url, "retry_backoff": 0.01})})


def _spec() -> ExperimentSpec:
    return ExperimentSpec(
        name="capitals",
        variants=[Variant(label="v", template=TEMPLATE, backend="claude",
                          model="claude-test-1", params=Params(max_tokens=16))],
        tests=[TestCase(vars={"country": c}) for c in COUNTRIES],
    )


def _race(server: AnthropicBatchServer, submitter: BatchJobs, poller: BatchJobs) -> BatchJob:
    """Submit on a thread; while its first create is held at the server, refresh the job as
    the app's poll round does; then let the create through. The job as it ended."""
    experiment = save_comparison(submitter.store, _spec())
    arrived, release = server.hold_next_create()
    submitted: list[BatchJob] = []
    failed: list[BaseException] = []

    def submit() -> None:
        try:
            submitted.extend(submitter.submit(experiment))
        except BaseException as err:  # said by the test (its thread would swallow it)
            failed.append(err)
            release.set()

    thread = threading.Thread(target=submit)
    thread.start()
    try:
        assert arrived.wait(10), failed
        (job,) = poller.unfinished()
        polled = poller.refresh(job.id)  # the poll round, while part 0 is in flight
        first = polled.parts[0]
        assert (first.state, first.remote_id, first.message) == ("sending", None, "")
        assert all(p.remote_id for p in polled.parts[1:]), polled.parts
    finally:
        release.set()
        thread.join(30)
    assert not thread.is_alive() and not failed, failed
    (done,) = submitted
    return poller.refresh(done.id)


def _sent_once(server: AnthropicBatchServer, job: BatchJob) -> None:
    created = [[r["custom_id"] for r in body["requests"]] for body in server.created()]
    assert sorted(created) == [[f"v0-t{t}-r0"] for t in range(len(COUNTRIES))], created
    assert len(server.batches) == len(COUNTRIES)
    assert job.status == "running"
    assert sorted(job.remote_ids) == sorted(server.batches)


def test_a_poll_during_the_submit_loop_sends_no_part_twice(
    server: AnthropicBatchServer, tmp_path: Path
) -> None:
    """One process: the submit loop and the poller on two threads, one store and runner."""
    store = Store.open(tmp_path / "runs.db")
    runner = _runner(server)
    try:
        job = _race(server, BatchJobs(store, runner), BatchJobs(store, runner))
        _sent_once(server, job)
    finally:
        runner.close()
        store.close()


def test_a_terminal_refreshing_while_the_app_submits_sends_no_part_twice(
    server: AnthropicBatchServer, tmp_path: Path
) -> None:
    """Two processes' view: the app submits, ``workbench batch status`` refreshes, each with
    its own store (connection) on the database file and its own runner."""
    app, terminal = Store.open(tmp_path / "runs.db"), Store.open(tmp_path / "runs.db")
    app_runner, terminal_runner = _runner(server), _runner(server)
    try:
        job = _race(server, BatchJobs(app, app_runner), BatchJobs(terminal, terminal_runner))
        _sent_once(server, job)
        assert app.batches.get(job.id) == job
    finally:
        for runner in (app_runner, terminal_runner):
            runner.close()
        app.close()
        terminal.close()
