"""Adaptive concurrency end to end: sweeps through the openai_compat backend against a local
server that runs K requests at once and answers 429 with Retry-After beyond that."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.backends.fault_server import Capped, ScriptedServer
from workbench.backends.config import BackendConfig
from workbench.core.experiments import ExperimentSpec, TestCase, Variant
from workbench.core.models import Message, PromptTemplate
from workbench.services.comparison import save_comparison
from workbench.services.grid_runner import GridRunner
from workbench.services.pace import PaceBook
from workbench.services.runner import Runner
from workbench.storage.repositories import Store
from workbench.storage.writer import StoreWriter

TEMPLATE = PromptTemplate(
    name="echo", messages=[Message(role="user", content="Say {{ n }}")]
)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store.open(tmp_path / "runs.db") as store:
        yield store


def sweep(store: Store, server: Capped, calls: int, pace: PaceBook) -> Runner:
    """Run ``calls`` cells on a backend with no concurrency set; the runner is returned closed
    (its limiter keeps what it learned)."""
    scripted = ScriptedServer({"capped": server})
    config = BackendConfig(
        name="local",
        backend="openai_compat",
        options={"base_url": scripted.url("capped"), "default_model": "fault-model",
                 "max_retries": 5},
    )
    spec = ExperimentSpec(
        name="adaptive",
        variants=[Variant(label="local", template=TEMPLATE, backend="local")],
        tests=[TestCase(vars={"n": str(i)}) for i in range(calls)],
    )
    try:
        with StoreWriter(store) as writer:
            runner = Runner(writer=writer, configs={"local": config}, pace=pace)
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
