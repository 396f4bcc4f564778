"""Batch jobs of a sweep against a local server speaking OpenAI's file and batch endpoints: a
job survives a restart (a new store, runner and service resume polling and land the answers),
answers become ordinary runs of their cells at the batch price, an expired or cancelled job
lands what was done, and the cells that failed are re-run live by the normal runner."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.backends.openai_batch_server import KEY, OpenAIBatchServer
from workbench.backends.batch import CANCELLED_KIND, EXPIRED_KIND
from workbench.backends.batch_openai import OpenAIBatches
from workbench.backends.config import BackendConfig
from workbench.core.errors import KnownError
from workbench.core.experiments import ExperimentSpec, TestCase, Variant
from workbench.core.models import Message, Params, PromptTemplate
from workbench.core.tools import Tool
from workbench.services.batch import BatchJobs, live_only
from workbench.services.comparison import save_comparison
from workbench.services.grid_runner import GridRunner, plan
from workbench.services.runner import Runner
from workbench.storage.repositories import Store, StoredExperiment
from workbench.storage.repositories.batch_jobs import BatchJobRepository
from workbench.storage.writer import StoreWriter

TEMPLATE = PromptTemplate(
    name="capital", messages=[Message(role="user", content="Capital of {{ country }}?")]
)
COUNTRIES = ["France", "Italy", "Spain"]


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[OpenAIBatchServer]:
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    with OpenAIBatchServer() as running:
        yield running


def _configs(server: OpenAIBatchServer) -> dict[str, BackendConfig]:
    options = {"base_url": server.base_url, "streaming": False}
    return {"openai": BackendConfig(name="openai", backend="openai_compat", options=options)}


def _spec() -> ExperimentSpec:
    return ExperimentSpec(
        name="capitals",
        variants=[
            Variant(label=f"t{t}", template=TEMPLATE, backend="openai", model="gpt-4o-mini",
                    params=Params(temperature=t, max_tokens=16))
            for t in (0.0, 1.0)
        ],
        tests=[TestCase(vars={"country": c}) for c in COUNTRIES],
    )


class _Session:
    """One process's store, runner and batch service (closed: the app quit)."""

    def __init__(self, path: Path, server: OpenAIBatchServer) -> None:
        self.store = Store.open(path)
        self.runner = Runner(configs=_configs(server))
        self.jobs = BatchJobs(self.store, self.runner)

    def close(self) -> None:
        self.runner.close()
        self.store.close()


def _texts(store: Store, experiment: StoredExperiment) -> dict[tuple[int, int], str]:
    variants = {v: i for i, v in enumerate(experiment.variant_ids)}
    tests = {t: i for i, t in enumerate(experiment.test_ids)}
    return {
        (variants[r.ref.variant_id or ""], tests[r.ref.test_case_id or ""]):
            r.result.text or f"error:{r.result.error_kind}"
        for r in store.runs.for_experiment(experiment.id)
    }


def test_a_job_survives_a_restart_and_its_answers_land_as_runs(
    server: OpenAIBatchServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(OpenAIBatches, "max_lines", 4)  # 6 cells: two remote batches
    first = _Session(tmp_path / "runs.db", server)
    experiment = save_comparison(first.store, _spec())
    (job,) = first.jobs.submit(experiment)
    assert (job.provider, job.backend_name, job.completion_window) == ("openai", "openai", "24h")
    assert [p.state for p in job.parts] == ["validating", "validating"] and job.status == "running"
    assert len(server.lines(job.parts[0].remote_id or "")) == 4
    with pytest.raises(KnownError, match="nothing to send"):
        first.jobs.submit(experiment)  # every cell is waiting in the job
    first.close()  # the app quits mid-job

    a, b = (p.remote_id or "" for p in job.parts)
    second = _Session(tmp_path / "runs.db", server)
    (resumed,) = second.jobs.unfinished()
    assert second.jobs.refresh(resumed.id).parts[0].state == "in_progress"
    server.settle(a, {"v0-t0-r0": "ok", "v1-t0-r0": "ok", "v0-t1-r0": "ok", "v1-t1-r0": "error"})
    server.complete(a)
    server.settle(b, {"v0-t2-r0": "ok", "v1-t2-r0": "ok"})
    server.complete(b)
    ended = second.jobs.refresh(resumed.id)
    assert ended.status == "ended" and all(p.fetched for p in ended.parts)
    texts = _texts(second.store, experiment)
    assert texts == {
        (0, 0): "echo: Capital of France?", (1, 0): "echo: Capital of France?",
        (0, 1): "echo: Capital of Italy?", (1, 1): "error:BadRequestError",
        (0, 2): "echo: Capital of Spain?", (1, 2): "echo: Capital of Spain?",
    }
    runs = second.store.runs.for_experiment(experiment.id)
    ok = next(r for r in runs if r.result.text)
    # 12 input and 5 output tokens of gpt-4o-mini, at half its list price.
    assert ok.result.cost == pytest.approx((12 * 0.15 + 5 * 0.60) / 1e6 * 0.5)
    assert ok.result.request.backend_name == "openai"
    assert ok.result.request.requested_params == Params(temperature=0.0, max_tokens=16)
    assert ok.ref.variables == {"country": "France"}
    assert second.jobs.refresh(resumed.id) == ended  # nothing lands twice
    assert len(second.store.runs.for_experiment(experiment.id)) == 6
    second.close()

    # The failed cell is re-run live by the normal runner; the landed ones are skipped.
    with Store.open(tmp_path / "runs.db") as store, StoreWriter(store) as writer:
        runner = Runner(writer=writer, configs=_configs(server))
        try:
            report = GridRunner(runner, store).run(store.experiments.get(experiment.id))
        finally:
            runner.close()
        assert [str(o.key) for o in report.outcomes] == ["v1.t1.r0"]
        assert [b["messages"][-1]["content"] for b in server.live] == ["Capital of Italy?"]


def test_an_expired_job_lands_what_was_done_and_a_cancelled_one_too(
    server: OpenAIBatchServer, tmp_path: Path
) -> None:
    session = _Session(tmp_path / "runs.db", server)
    try:
        experiment = save_comparison(session.store, _spec())
        (job,) = session.jobs.submit(experiment, backend="openai")
        remote = job.parts[0].remote_id or ""
        session.jobs.refresh(job.id)
        server.settle(remote, {"v0-t0-r0": "ok"})
        server.expire(remote)
        ended = session.jobs.refresh(job.id)
        assert (ended.status, ended.parts[0].state) == ("ended", "expired")
        texts = _texts(session.store, experiment)
        assert texts[(0, 0)] == "echo: Capital of France?"
        assert texts[(1, 2)] == f"error:{EXPIRED_KIND}"

        # The five expired cells are sent again; this job is cancelled after one answer.
        (again,) = session.jobs.submit(experiment)
        remote = again.parts[0].remote_id or ""
        assert len(server.lines(remote)) == 5
        session.jobs.refresh(again.id)
        server.settle(remote, {"v1-t2-r0": "ok"})
        cancelling = session.jobs.cancel(again.id)
        assert (cancelling.status, cancelling.parts[0].state) == ("cancelling", "cancelling")
        server.cancelled(remote)
        assert session.jobs.refresh(again.id).status == "ended"
        latest = _texts(session.store, experiment)  # the later run of a cell wins
        assert latest[(1, 2)] == "echo: Capital of Spain?"
        assert latest[(0, 1)] == f"error:{CANCELLED_KIND}"
    finally:
        session.close()


def test_the_estimate_offers_the_batch_price_and_window(
    server: OpenAIBatchServer, tmp_path: Path
) -> None:
    configs = {**_configs(server), "script": BackendConfig(name="script", backend="scripted")}
    spec = _spec()
    spec.variants.append(Variant(label="scripted", template=TEMPLATE, backend="script"))
    with Store.open(tmp_path / "runs.db") as store:
        runner = Runner(configs=configs)
        try:
            estimate = GridRunner(runner, store).estimate(spec)
        finally:
            runner.close()
    (offer,) = estimate.batch  # the scripted backend has no batch API
    live = sum(c.cost or 0.0 for c in estimate.cells if c.backend == "openai")
    assert (offer.backend, offer.provider, offer.calls, offer.window) == (
        "openai", "openai", 6, "24h")
    assert offer.costs["USD"] == pytest.approx(live * 0.5) and live > 0
    line = next(t for t in estimate.lines() if t.startswith("batch:"))
    assert "50% of list price" in line and "within 24h" in line
    assert estimate.to_dict()["batch"][0]["completion_window"] == "24h"


def test_cells_of_several_requests_are_left_to_the_live_run(
    server: OpenAIBatchServer, tmp_path: Path
) -> None:
    """A template whose tool calls are answered by mocks runs turn after turn: one batch line
    would store its first turn as the cell's answer."""
    tools = TEMPLATE.model_copy(update={"tools": [Tool(name="lookup", mock="Paris")]})
    spec = _spec()
    spec.variants[1] = spec.variants[1].model_copy(update={"template": tools})
    session = _Session(tmp_path / "runs.db", server)
    try:
        experiment = save_comparison(session.store, spec)
        (job,) = session.jobs.submit(experiment)
        sent = [line["custom_id"] for line in server.lines(job.parts[0].remote_id or "")]
        assert sent == ["v0-t0-r0", "v0-t1-r0", "v0-t2-r0"]
        assert "tool calls" in (live_only(plan(experiment.spec)[1]) or "")
        with pytest.raises(KnownError, match="only run live"):
            session.jobs.submit(experiment)
    finally:
        session.close()


class _Died(BaseException):
    """The process ends here: nothing after this line runs."""


def test_a_process_that_died_before_recording_its_batch_resumes_without_a_second_one(
    server: OpenAIBatchServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def die(*_args: object, **_kwargs: object) -> None:
        raise _Died

    first = _Session(tmp_path / "runs.db", server)
    experiment = save_comparison(first.store, _spec())
    with monkeypatch.context() as patch:
        patch.setattr(BatchJobRepository, "submitted", die)
        patch.setattr(BatchJobRepository, "discard", die)
        with pytest.raises(_Died):
            first.jobs.submit(experiment)
    first.close()
    assert len(server.batches) == 1  # created at the provider, its id never recorded

    second = _Session(tmp_path / "runs.db", server)
    try:
        (job,) = second.jobs.unfinished()
        assert (job.status, job.parts[0].remote_id) == ("submitting", None)
        resumed = second.jobs.refresh(job.id)
        assert resumed.status == "running"
        assert resumed.parts[0].remote_id == next(iter(server.batches))
        assert len(server.batches) == 1
    finally:
        second.close()


def test_a_part_that_failed_leaves_its_cells_missing_and_rerunnable(
    server: OpenAIBatchServer, tmp_path: Path
) -> None:
    session = _Session(tmp_path / "runs.db", server)
    try:
        experiment = save_comparison(session.store, _spec())
        (job,) = session.jobs.submit(experiment)
        batch = server.batches[job.parts[0].remote_id or ""]
        batch["status"], batch["errors"] = "failed", [{"code": "token_limit_exceeded",
                                                       "message": "Enqueued token limit reached"}]
        ended = session.jobs.refresh(job.id)
        assert (ended.status, ended.parts[0].message) == ("ended", "Enqueued token limit reached")
        outcomes = {c.outcome for c in session.store.batches.cells(job.id)}
        assert outcomes == {"missing"}
        assert session.store.runs.for_experiment(experiment.id) == []
        (again,) = session.jobs.submit(experiment)  # missing cells can be sent again
        assert len(server.lines(again.parts[0].remote_id or "")) == 6
    finally:
        session.close()


def test_a_live_run_leaves_the_cells_waiting_in_a_job_to_it(
    server: OpenAIBatchServer, tmp_path: Path
) -> None:
    """Run sweep after Submit as batch: the cells the job carries are not paid for twice."""
    session = _Session(tmp_path / "runs.db", server)
    try:
        experiment = save_comparison(session.store, _spec())
        (job,) = session.jobs.submit(experiment)
        grid = GridRunner(session.runner, session.store)
        est = grid.estimate(experiment)
        assert (est.calls, est.skipped, est.waiting) == (0, 0, 6)
        assert "6 cells waiting in a batch job, not sent again" in est.lines()[0]
        assert grid.run(experiment).outcomes == [] and server.live == []

        a = job.parts[0].remote_id or ""
        session.jobs.refresh(job.id)  # validating -> in progress
        server.settle(a, {"v0-t0-r0": "ok", "v1-t0-r0": "error"})
        server.expire(a)  # the rest never ran: those cells are the live run's again
        session.jobs.refresh(job.id)
        assert grid.estimate(experiment).waiting == 0
        report = grid.run(experiment)
        assert len(report.outcomes) == 5 and len(server.live) == 5
    finally:
        session.close()
