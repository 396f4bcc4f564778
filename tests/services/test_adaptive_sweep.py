"""Adaptive concurrency end to end: sweeps through the openai_compat backend against a local
server that runs K requests at once and answers 429 with Retry-After beyond that (identified as
a vLLM, which batches: an unidentified server runs one at a time), and against the real
llama-cpp-python server, which cuts off the answer streaming when another request arrives."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.backends.conftest import llama_server  # noqa: F401 - the real server fixture, reused
from tests.backends.fault_server import (
    OPENAI_SCENARIOS,
    Capped,
    Exchange,
    Scenario,
    ScriptedServer,
)
from workbench.backends.config import BackendConfig
from workbench.core.experiments import ExperimentSpec, TestCase, Variant
from workbench.core.models import Message, Params, PromptTemplate
from workbench.services.comparison import save_comparison
from workbench.services.evaluation import Evaluation
from workbench.services.grid_runner import GridRunner
from workbench.services.pace import PaceBook
from workbench.services.runner import Runner
from workbench.storage.repositories import Store
from workbench.storage.writer import StoreWriter

TEMPLATE = PromptTemplate(
    name="echo", messages=[Message(role="user", content="Say {{ n }}")]
)


#: vLLM's own endpoints at the root of the port (what identifies it), beside the scenario.
VLLM: dict[str, Scenario] = {
    "version": lambda ex: ex.send_json(200, {"version": "0.8.4"}),
    "v1": lambda ex: ex.send_json(
        200, {"object": "list", "data": [{"id": "fault-model", "owned_by": "vllm"}]}
    ),
}


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store.open(tmp_path / "runs.db") as store:
        yield store


def local(scripted: ScriptedServer) -> dict[str, BackendConfig]:
    """Backend "local" on the scripted server's "capped" path, no concurrency set."""
    options = {"base_url": scripted.url("capped"), "default_model": "fault-model",
               "max_retries": 5}
    return {"local": BackendConfig(name="local", backend="openai_compat", options=options)}


def cells(calls: int) -> ExperimentSpec:
    return ExperimentSpec(
        name="adaptive",
        variants=[Variant(label="local", template=TEMPLATE, backend="local")],
        tests=[TestCase(vars={"n": str(i)}) for i in range(calls)],
    )


def sweep(store: Store, server: Scenario, calls: int, pace: PaceBook) -> Runner:
    """Run ``calls`` cells on a backend with no concurrency set; the runner is returned closed
    (its limiter keeps what it learned)."""
    scripted = ScriptedServer({"capped": server, **VLLM})
    spec = cells(calls)
    try:
        with StoreWriter(store) as writer:
            runner = Runner(writer=writer, configs=local(scripted), pace=pace)
            report = GridRunner(runner, store).run(save_comparison(store, spec))
            runner.close()
    finally:
        scripted.close()
    assert report.counts == {"ok": calls, "error": 0, "cancelled": 0}
    return runner


def test_a_server_that_takes_three_at_once_is_used_at_three_with_few_refusals(
    store: Store, tmp_path: Path
) -> None:
    server = Capped(limit=3, latency=0.02, retry_after="0.2")
    runner = sweep(store, server, 200, PaceBook(tmp_path / "pace.json"))
    limiter = runner.limits.peek("local")
    assert limiter is not None and limiter.controller is not None
    assert 2 <= limiter.limit <= 4  # near its capacity (a probe of one more may be under way)
    later = server.refused[50:]
    assert sum(later) <= 0.03 * len(later), f"{sum(later)} of {len(later)} refused after 50"
    assert server.peak == 3  # it was used at its capacity


def test_a_server_that_takes_sixteen_sees_the_limit_climb(store: Store, tmp_path: Path) -> None:
    server = Capped(limit=16, latency=0.03, retry_after="0.2")
    pace = PaceBook(tmp_path / "pace.json")
    runner = sweep(store, server, 200, pace)
    assert server.peak >= 12  # from 4 at first
    limiter = runner.limits.peek("local")
    assert limiter is not None and limiter.limit >= 12
    # What was learned is kept for the next estimate: the level reached and the latency.
    saved = PaceBook(tmp_path / "pace.json")
    assert saved.last_reached("local") == limiter.limit
    latency = saved.latency("local", "")  # the variant names no model: the default one
    assert latency is not None and 0.03 <= latency < 1.0
    # The next run (a new process: a new runner) starts at the level this one reached.
    again = sweep(store, Capped(limit=16, latency=0.03), 1, saved)
    limiter = again.limits.peek("local")
    assert limiter is not None and limiter.limit >= 12


def test_the_pace_kept_for_estimates_leaves_out_a_retry_after_waited_away(
    store: Store, tmp_path: Path
) -> None:
    """A call refused once waits out a Retry-After of 1 s holding no place: the estimate's wall
    time (calls x seconds per call / concurrency) must not count that second as the call's
    (after a burst of refusals, an estimate said 9.6 s for a sweep of 4.8 s)."""
    pace = PaceBook(tmp_path / "pace.json")
    scenario = OPENAI_SCENARIOS["429-then-ok"]  # Retry-After: 1
    began = time.perf_counter()
    sweep(store, scenario, 1, pace)
    assert time.perf_counter() - began >= 1.0  # it did wait the second out
    latency = pace.latency("local", "")
    assert latency is not None and latency < 1.0


def test_a_sweep_starts_threads_as_its_limit_grows_not_its_ceiling(
    store: Store, tmp_path: Path
) -> None:
    """A lane's threads follow the limit (one per request at the server or waiting out a
    Retry-After, and a spare): against a server that takes 3, not one per cell up to the
    adaptive ceiling of 64 (all 60 were started at once before)."""
    server = Capped(limit=3, latency=0.01, retry_after="0.2")
    seen: list[int] = []

    def counting(ex: Exchange) -> None:
        seen.append(sum(t.name.startswith("sweep-") for t in threading.enumerate()))
        server(ex)

    runner = sweep(store, counting, 60, PaceBook(tmp_path / "pace.json"))
    limiter = runner.limits.peek("local")
    assert limiter is not None and limiter.limit <= 4
    assert 3 <= max(seen) <= 10, seen


def test_an_evaluation_starts_threads_as_its_limit_grows_not_its_ceiling(
    store: Store, tmp_path: Path
) -> None:
    """An evaluation's workers follow its backends' limits too (all 60 cells' threads were
    started at once before: the adaptive ceiling of 64)."""
    server = Capped(limit=3, latency=0.01, retry_after="0.2")
    seen: list[int] = []

    def counting(ex: Exchange) -> None:
        seen.append(sum(t.name.startswith("eval-") for t in threading.enumerate()))
        server(ex)

    scripted = ScriptedServer({"capped": counting, **VLLM})
    try:
        with StoreWriter(store) as writer:
            runner = Runner(writer=writer, configs=local(scripted),
                            pace=PaceBook(tmp_path / "pace.json"))
            card = Evaluation.create(store, cells(60), runner).run()
            runner.close()
    finally:
        scripted.close()
    assert len(card.cells) == 60 and all(c.run_id for c in card.cells.values())
    assert 3 <= max(seen) <= 10, seen


def _answers(store: Store, runner: Runner, spec: ExperimentSpec) -> list[tuple[str, str]]:
    report = GridRunner(runner, store).run(save_comparison(store, spec))
    assert report.counts == {"ok": len(spec.tests), "error": 0, "cancelled": 0}
    outcomes = sorted(report.outcomes, key=lambda o: o.key.test or 0)
    return [(o.run.result.finish_reason, o.run.result.text) for o in outcomes if o.run]


@pytest.mark.slow
def test_a_sweep_on_llama_cpp_python_server_gets_whole_answers(
    store: Store, tmp_path: Path, llama_server: str  # noqa: F811 - the fixture
) -> None:
    """It serves one request at a time and ends the one streaming when another arrives: with
    no concurrency set it is asked what it is and run one at a time, so every answer is the
    one the same prompt gets alone (temperature 0); at 4 at once they came back cut off."""
    options = {"base_url": llama_server, "default_model": "smollm2"}
    configs = {
        "server": BackendConfig(name="server", backend="openai_compat", options=options),
        "serial": BackendConfig(
            name="serial", backend="openai_compat", options={**options, "concurrency": 1}
        ),
    }
    template = PromptTemplate(
        name="story", messages=[Message(role="user", content="Tell a story about a {{ n }}.")]
    )
    params = Params(temperature=0, max_tokens=24)
    tests = [TestCase(vars={"n": n}) for n in ("fox", "owl", "eel", "cat")]
    answers = {}
    with StoreWriter(store) as writer:
        runner = Runner(writer=writer, configs=configs, pace=PaceBook(tmp_path / "pace.json"))
        for name in ("server", "serial"):  # one after the other: never two sweeps at once
            spec = ExperimentSpec(
                name=name,
                variants=[Variant(label=name, template=template, backend=name, params=params)],
                tests=tests,
            )
            if name == "server":
                estimate = "\n".join(GridRunner(runner, store).estimate(spec).lines())
            answers[name] = _answers(store, runner, spec)
        runner.close()
    assert "server: 1 at once (llama-cpp-python server: one request at a time)" in estimate
    assert answers["server"] == answers["serial"]
    assert all(reason == "length" and text for reason, text in answers["serial"])
