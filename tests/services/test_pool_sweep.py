"""A sweep through a server pool: three local servers speaking OpenAI's SSE chat stream, one
killed mid-sweep. Every cell ends exactly once: the cells sent after the kill go to the two
left, and a cell whose answer was being streamed when its server died fails with its partial
text, never answered a second time."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.backends.pool_servers import ChatServer
from tests.waiting import wait_until
from workbench.backends.config import BackendConfig
from workbench.core.experiments import ExperimentSpec, TestCase, Variant
from workbench.core.models import Message, PromptTemplate
from workbench.services.comparison import save_comparison
from workbench.services.grid_runner import GridRunner
from workbench.services.runner import Runner
from workbench.storage.repositories import Store
from workbench.storage.writer import StoreWriter

TEMPLATE = PromptTemplate(name="echo", messages=[Message(role="user", content="cell {{ n }}")])
CELLS = 60


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store.open(tmp_path / "runs.db") as store:
        yield store


def test_three_servers_one_killed_mid_sweep_every_cell_ends_once(store: Store) -> None:
    servers = [ChatServer(f"s{i}", delay=0.02) for i in range(3)]
    victim = servers[1]
    config = BackendConfig(
        name="fleet",
        backend="openai_compat",
        options={
            "base_urls": ",".join(s.url for s in servers),
            "default_model": "pool-model",
            "concurrency": 6,
            "pool_cooldown": 600,
        },
    )
    spec = ExperimentSpec(
        name="pool",
        variants=[Variant(label="fleet", template=TEMPLATE, backend="fleet")],
        tests=[TestCase(vars={"n": str(i)}) for i in range(CELLS)],
    )
    killed_after: list[int] = []

    def kill_when_busy() -> None:
        wait_until(lambda: sum(len(s.answered) for s in servers) >= 15 and victim.in_flight, 30)
        killed_after.append(len(victim.answered))
        victim.kill()

    killer = threading.Thread(target=kill_when_busy)
    killer.start()
    try:
        with StoreWriter(store) as writer:
            runner = Runner(writer=writer, configs={"fleet": config})
            try:
                report = GridRunner(runner, store).run(save_comparison(store, spec))
                pool = getattr(runner.backend("fleet"), "pool", None)
                figures = pool.figures() if pool is not None else []
            finally:
                runner.close()
    finally:
        killer.join()
        for server in servers:
            server.close()
    assert killed_after, "the victim was never busy after 15 answers"
    assert len(report.outcomes) == CELLS
    assert len({o.key for o in report.outcomes}) == CELLS  # each cell ended exactly once
    answered = Counter(p for s in servers for p in s.answered)
    assert all(count == 1 for count in answered.values())  # no cell answered twice
    cut = [o for o in report.outcomes if o.status != "ok"]
    for outcome in report.outcomes:
        result = outcome.result
        assert result is not None
        prompt = result.request.messages[-1].content
        if outcome.status == "ok":
            assert answered[prompt] == 1
            server = next(s for s in servers if s.url == result.request.server)
            assert prompt in server.answered and result.text.startswith(server.name)
        else:  # accepted by the victim (2xx) when it died: the partial text kept, not re-sent
            assert result.request.server == victim.url and answered[prompt] == 0
            assert result.error is not None and victim.url in result.error
    assert len(cut) <= 6  # at most what was in flight on it
    assert sum(answered.values()) + len(cut) == CELLS
    assert 0 < killed_after[0] < CELLS // 3  # killed well before its share was done
    by_url = {f.url: f for f in figures}
    assert not by_url[victim.url].healthy and by_url[victim.url].failures >= 1
    others = [by_url[s.url] for s in servers if s is not victim]
    assert all(f.healthy and f.failures == 0 and f.requests >= 15 for f in others)
    assert sum(f.requests - f.failures for f in figures) == CELLS - len(cut)
