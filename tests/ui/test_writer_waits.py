"""The GUI thread never waits for the store writer: starting a comparison or a sweep while the
writer is busy (committing a grid's runs, a large import) returns at once, and the runs carry
the ids the writer gave once it answers. Both used to block on ``future.result()``."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
from pytestqt.qtbot import QtBot

from workbench.backends.config import BackendConfig
from workbench.core.experiments import Variant
from workbench.core.models import Message, Params, PromptTemplate
from workbench.services.runner import Runner
from workbench.storage.repositories import Store
from workbench.storage.writer import StoreWriter
from workbench.ui.compare.compare_view import CompareView
from workbench.ui.compare.sweep_view import SweepView
from workbench.ui.workers import RunManager

WRITER_BUSY_S = 10.0  # how long the old code blocked the GUI thread
RETURNS_WITHIN_S = 1.0

VARIANT = Variant(
    template=PromptTemplate(name="hi", messages=[Message(role="user", content="Say hi")]),
    backend="quick",
    model="quick",
    params=Params(temperature=0.2),
)


@pytest.fixture
def runner(store: Store) -> Iterator[Runner]:
    writer = StoreWriter(store)
    config = BackendConfig(name="quick", backend="scripted",
                           options={"script": [{"text": "hi"}], "concurrency": 8})
    runner = Runner(writer=writer, configs={"quick": config})
    yield runner
    runner.close()
    assert writer.close()


def busy_writer(runner: Runner) -> threading.Event:
    """Hold the writer thread until the returned event is set (or the old code's wait ends)."""
    assert runner.writer is not None
    gate, holding = threading.Event(), threading.Event()

    def hold(_store: Store) -> None:
        holding.set()
        gate.wait(WRITER_BUSY_S)

    runner.writer.submit(hold)
    assert holding.wait(10)
    return gate


def test_running_a_comparison_does_not_wait_for_a_busy_writer(
    qtbot: QtBot, runner: Runner, store: Store
) -> None:
    manager = RunManager(runner=runner)
    view = CompareView(manager)
    qtbot.addWidget(view)
    view.add_variant(VARIANT)
    view.add_variant(VARIANT.model_copy(update={"params": Params(temperature=0.9)}))
    gate = busy_writer(runner)
    started = time.perf_counter()
    view.run_all()
    assert time.perf_counter() - started < RETURNS_WITHIN_S
    assert not view.run_action.isEnabled()  # a second Ctrl+Enter cannot start it twice
    with qtbot.waitSignal(view.runAllFinished, timeout=20_000):
        gate.set()
    assert view.experiment_id is not None and len(view.variant_ids) == 2
    stored = store.runs.for_experiment(view.experiment_id)
    assert sorted(r.id for r in stored) == sorted(
        run.run_id for column in view.columns for run in column.runs if run.run_id)
    assert {r.ref.variant_id for r in stored} == set(view.variant_ids)
    assert manager.shutdown(10)


def test_running_a_sweep_does_not_wait_for_a_busy_writer(
    qtbot: QtBot, runner: Runner, store: Store
) -> None:
    view = SweepView(runner)
    qtbot.addWidget(view)
    view.set_backends(["quick"])
    view.set_base(VARIANT)
    qtbot.waitUntil(lambda: view.run_button.isEnabled() and view.estimate is not None,
                    timeout=10_000)
    assert view.estimate is not None
    calls = view.estimate.calls
    gate = busy_writer(runner)
    started = time.perf_counter()
    view.run()
    assert time.perf_counter() - started < RETURNS_WITHIN_S
    assert not view.progress.isHidden() and not view.run_button.isEnabled()
    with qtbot.waitSignal(view.sweepFinished, timeout=20_000):
        gate.set()
    assert view.experiment is not None
    assert len(store.runs.for_experiment(view.experiment.id)) == calls > 0
    view.close()
