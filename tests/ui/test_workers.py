"""Run workers: real streams through a thread pool, coalesced, with exactly one terminal signal."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from tests.backends.fault_server import OPENAI_SCENARIOS, WORDS, ScriptedServer
from tests.backends.local_servers import LocalServer, vllm_routes
from tests.ui.runs import REQUEST, Endless, Raising, Recorder, chunks, scripted
from workbench.backends.base import CancelToken
from workbench.backends.config import BackendConfig
from workbench.backends.scripted import Step
from workbench.core.errors import ConnectError, ErrorCode
from workbench.core.outcome import RunOutcome
from workbench.services.pace import PaceBook
from workbench.services.runner import Runner
from workbench.storage.repositories import Store
from workbench.storage.writer import StoreWriter
from workbench.ui.background import (
    INTERNAL_ERROR,
    Progress,
    TaskRunner,
    TaskWorker,
    estimate,
)
from workbench.ui.workers import RepeatRunner, RunManager


@pytest.fixture
def manager(qapp: object) -> Iterator[RunManager]:
    manager = RunManager()
    yield manager
    assert manager.shutdown(10)


def test_token_log_probabilities_cross_with_the_text_they_belong_to(
    qtbot: QtBot, manager: RunManager
) -> None:
    """The live token inspector's input: every token's log-probability reaches the GUI thread
    in the batches, in order, all of them before the end."""
    steps = [Step(text=f" w{i}", logprob=-0.01 * (i % 50), top=((f" w{i}", -0.01 * (i % 50)),))
             for i in range(2000)]
    worker = manager.start(scripted(*steps, Step(delay_s=0.2), Step(text="!", logprob=-3.0)),
                           REQUEST)
    rec = Recorder(worker)
    with qtbot.waitSignal(worker.signals.ended, timeout=20_000) as ended:
        pass
    batches = [p for n, p in rec.events if n == "chunk"]
    streamed = [t for batch in batches for t in batch.tokens]
    assert streamed == ended.args[0].result.logprobs and len(streamed) == 2001
    assert 1 < len(batches) < 2000  # coalesced like the text
    assert batches[-1].tokens[-1].token == "!"


def test_full_speed_stream_arrives_whole_in_order_coalesced_in_gui_thread(
    qtbot: QtBot, manager: RunManager
) -> None:
    steps = chunks(3000)
    backend = scripted(*steps)
    worker = manager.start(backend, REQUEST)
    rec = Recorder(worker)
    with qtbot.waitSignal(worker.signals.ended, timeout=20_000):
        pass
    assert rec.text() == "".join(s.text or "" for s in steps)
    names = rec.names()
    assert names[0] == "started"
    assert names[-2:] == ["finished", "ended"]
    assert rec.terminals() == ["finished"]
    # 3000 deltas, far fewer GUI events: the outbox hands over everything that accumulated
    assert 1 <= names.count("chunk") < 3000
    last = [p for n, p in rec.events if n == "chunk"][-1]
    assert last.total_deltas == 3000
    assert rec.threads == {threading.get_ident()}  # every signal arrives in the GUI thread
    assert manager.active() == []


def test_cancel_mid_stream_gives_exactly_one_cancelled(qtbot: QtBot, manager: RunManager) -> None:
    worker = manager.start(scripted(Step(text="Hel"), Step(text="lo"), Step(hang=True)), REQUEST)
    rec = Recorder(worker)
    qtbot.waitUntil(lambda: rec.text() == "Hello", timeout=10_000)
    with qtbot.waitSignal(worker.signals.ended, timeout=10_000) as ended:
        worker.cancel()
    outcome = ended.args[0]
    assert isinstance(outcome, RunOutcome) and outcome.status == "cancelled"
    result = outcome.result
    assert result.finish_reason == "cancelled"
    assert result.text == "Hello"
    assert rec.terminals() == ["cancelled"]
    assert rec.names().count("ended") == 1


def test_worker_stops_a_backend_that_ignores_cancel(qtbot: QtBot, manager: RunManager) -> None:
    backend = Endless()
    worker = manager.start(backend, REQUEST)
    rec = Recorder(worker)
    qtbot.waitUntil(lambda: len(rec.text()) > 100, timeout=10_000)
    with qtbot.waitSignal(worker.signals.cancelled, timeout=10_000) as cancelled:
        worker.cancel()
    assert backend.closed.wait(5)  # the generator was closed, not left running
    assert cancelled.args[0].text.startswith(rec.text())
    assert rec.terminals() == ["cancelled"]


def test_failed_run_carries_reason_and_kind(qtbot: QtBot, manager: RunManager) -> None:
    backend = scripted(
        Step(text="par"), Step(error="no server at 127.0.0.1:9", error_kind="ConnectError")
    )
    worker = manager.start(backend, REQUEST)
    rec = Recorder(worker)
    with qtbot.waitSignal(worker.signals.failed, timeout=10_000) as failed:
        pass
    result = failed.args[0].result
    assert result.error_kind == "ConnectError"
    assert "no server at 127.0.0.1:9" in (result.error or "")
    assert rec.terminals() == ["failed"]


def test_backend_bug_ends_the_run_and_goes_to_the_crash_dialog(
    qtbot: QtBot, manager: RunManager, caplog: pytest.LogCaptureFixture
) -> None:
    worker = manager.start(Raising(), REQUEST)
    with qtbot.capture_exceptions() as bugs:
        with qtbot.waitSignal(worker.signals.failed, timeout=10_000) as failed:
            pass
        qtbot.waitUntil(lambda: bool(bugs))
    result = failed.args[0].result
    assert result.error_kind == INTERNAL_ERROR
    assert "ZeroDivisionError" in (result.error or "")
    assert result.text == "part"
    assert [type(b[1]) for b in bugs] == [ZeroDivisionError]  # the excepthook got the bug
    assert any(r.exc_info for r in caplog.records), "the traceback must be logged"


def test_a_known_error_before_the_stream_is_a_failed_run_not_a_bug(
    qtbot: QtBot, tmp_path: Path
) -> None:
    """It was reported as 'internal error … this is a bug': a backend that is not installed is
    something the user fixes in Tools ▸ Backends."""
    runner = Runner(configs={"gone": BackendConfig(name="gone", backend="not-installed")})
    manager = RunManager(runner=runner)
    request = REQUEST.model_copy(update={"backend": "gone"})
    with qtbot.capture_exceptions() as bugs:
        worker = manager.start_run(request)
        with qtbot.waitSignal(worker.signals.failed, timeout=10_000) as failed:
            pass
    result = failed.args[0].result
    assert result.error_kind == ErrorCode.BACKEND_UNAVAILABLE
    assert "internal error" not in (result.error or "")
    assert bugs == []
    assert manager.shutdown(5)
    runner.close()


def test_run_worker_wait_is_bounded(qtbot: QtBot, manager: RunManager) -> None:
    worker = manager.start(scripted(Step(text="a"), Step(hang=True)), REQUEST)
    assert not worker.wait(0.05)  # still streaming
    worker.cancel()
    assert worker.wait(10)


def test_concurrency_limit_queues_second_run_until_first_ends(
    qtbot: QtBot, manager: RunManager
) -> None:
    backend = scripted(Step(text="a"), Step(hang=True))  # concurrency 1 by default
    workers = [manager.start(backend, REQUEST) for _ in range(2)]
    recs = [Recorder(w) for w in workers]
    limiter = manager.limits.for_backend(backend.id, backend.options)
    qtbot.waitUntil(lambda: limiter.waiting == 1 and limiter.in_flight == 1, timeout=10_000)
    qtbot.waitUntil(lambda: any(r.text() == "a" for r in recs), timeout=10_000)
    running = 0 if recs[0].text() == "a" else 1  # the pool decides which gets the slot first
    waiting = 1 - running
    assert recs[waiting].names() == []  # nothing sent while the only slot is taken
    with qtbot.waitSignal(workers[waiting].signals.started, timeout=10_000):
        workers[running].cancel()
    workers[waiting].cancel()
    qtbot.waitUntil(lambda: [r.terminals() for r in recs] == [["cancelled"], ["cancelled"]],
                    timeout=10_000)


def test_a_direct_run_starts_an_adaptive_limit_where_the_last_run_left_it(
    qtbot: QtBot, tmp_path: Path
) -> None:
    """Run ×N streams directly: its limiter, made first, is the one a sweep then uses and its
    estimate shows. It started at the kind's default (4), not at the 12 the last run reached
    and the estimate had said."""
    pace = PaceBook(tmp_path / "pace.json")
    pace.reached("local", 12)
    with LocalServer(vllm_routes()) as server:
        config = BackendConfig(name="local", backend="openai_compat",
                               options={"base_url": f"{server.url}/v1", "max_retries": 0})
        runner = Runner(configs={"local": config}, pace=pace)
        manager = RunManager(runner=runner)
        worker = manager.start(runner.backend("local"), REQUEST, name="local")
        with qtbot.waitSignal(worker.signals.ended, timeout=10_000):
            pass
        assert manager.shutdown(10)
        runner.close()
    limiter = runner.limits.peek("local")
    assert limiter is not None and limiter.limit == 12


def test_cancel_while_waiting_for_a_slot(qtbot: QtBot, manager: RunManager) -> None:
    backend = scripted(Step(hang=True))
    first = manager.start(backend, REQUEST)
    second = manager.start(backend, REQUEST)
    limiter = manager.limits.for_backend(backend.id, backend.options)
    qtbot.waitUntil(lambda: limiter.waiting == 1, timeout=10_000)
    with qtbot.waitSignal(second.signals.cancelled, timeout=10_000):
        second.cancel()
    with qtbot.waitSignal(first.signals.cancelled, timeout=10_000):
        first.cancel()


def test_shutdown_cancels_everything_and_waits(qtbot: QtBot) -> None:
    manager = RunManager()
    workers = [manager.start(scripted(Step(hang=True)), REQUEST) for _ in range(3)]
    recs = [Recorder(w) for w in workers]
    # one holds the backend's only slot (which one is up to the pool), two wait for it
    qtbot.waitUntil(lambda: any(r.names()[:1] == ["started"] for r in recs), timeout=10_000)
    assert manager.shutdown(timeout_s=10)
    qtbot.waitUntil(lambda: all(r.terminals() == ["cancelled"] for r in recs), timeout=10_000)


def test_repeat_runner_reports_progress_and_time_left(qtbot: QtBot, manager: RunManager) -> None:
    backend = scripted(Step(text="one "), Step(delay_s=0.02), Step(text="two"))
    runner = RepeatRunner(manager, backend, REQUEST, 5, parallel=2)
    seen: list[Progress] = []
    runner.progress.connect(seen.append)
    with qtbot.waitSignal(runner.done, timeout=20_000) as done:
        runner.start()
    results = done.args[0]
    assert [r.text for r in results] == ["one two"] * 5
    assert [p.done for p in seen] == [0, 1, 2, 3, 4, 5]
    assert seen[0].eta_s is None
    assert all(p.eta_s is not None for p in seen[1:])
    assert seen[-1].eta_s == 0 and seen[-1].fraction == 1.0


def test_repeat_runner_cancel_skips_the_rest(qtbot: QtBot, manager: RunManager) -> None:
    runner = RepeatRunner(manager, scripted(Step(text="x"), Step(hang=True)), REQUEST, 10)
    with qtbot.waitSignal(runner.runStarted, timeout=10_000):
        runner.start()
    with qtbot.waitSignal(runner.done, timeout=10_000) as done:
        runner.cancel()
    assert [r.result.finish_reason for r in done.args[0]] == ["cancelled"]


def test_estimate_uses_rate_then_expected_duration() -> None:
    assert estimate(5, 10, 2.0).eta_s == pytest.approx(2.0)
    assert estimate(0, 10, 0.5, expected_s=2.0).eta_s == pytest.approx(1.5)
    assert estimate(0, 10, 3.0, expected_s=2.0).eta_s == 0
    assert estimate(0, 10, 1.0).eta_s is None


def test_task_worker_reports_progress_and_result(qtbot: QtBot) -> None:
    runner = TaskRunner()

    def work(report: object, cancel: CancelToken) -> str:
        for i in range(1, 2001):
            report(i, 2000)  # type: ignore[operator]
        return "loaded"

    worker = TaskWorker(work, report_interval_s=0.0)
    seen: list[Progress] = []
    worker.signals.progress.connect(seen.append)
    with qtbot.waitSignal(worker.signals.finished, timeout=10_000) as finished:
        runner.start(worker)
    assert finished.args == ["loaded"]
    assert seen[-1].done == 2000 and seen[-1].eta_s == 0
    assert runner.running() == []
    assert runner.shutdown(5)


def test_task_worker_known_error_keeps_its_hint(qtbot: QtBot) -> None:
    runner = TaskRunner()

    def work(report: object, cancel: CancelToken) -> None:
        raise ConnectError("nothing answers at http://127.0.0.1:9", hint="start the server")

    worker = TaskWorker(work)
    with qtbot.waitSignal(worker.signals.failed, timeout=10_000) as failed:
        runner.start(worker)
    error = failed.args[0]  # the error itself, delivered on the GUI thread
    assert isinstance(error, ConnectError)
    assert error.code == ErrorCode.CONNECT and error.hint == "start the server"
    assert runner.shutdown(5)


def test_task_worker_bug_goes_to_the_crash_dialog_not_to_failed(qtbot: QtBot) -> None:
    """A bug used to come back as a KnownError ("internal error: …") shown inline."""
    runner = TaskRunner()
    failed: list[object] = []

    def work(report: object, cancel: CancelToken) -> None:
        raise ZeroDivisionError("bug")

    worker = TaskWorker(work)
    worker.signals.failed.connect(failed.append)
    ended = worker.signals.ended
    with qtbot.capture_exceptions() as bugs, qtbot.waitSignal(ended, timeout=10_000):
        runner.start(worker)
    assert failed == []
    assert [type(b[1]) for b in bugs] == [ZeroDivisionError]
    assert runner.running() == []
    assert runner.shutdown(5)


def test_on_gui_delivers_a_writer_result_on_the_gui_thread(qtbot: QtBot, tmp_path: Path) -> None:
    from PySide6.QtCore import QObject

    from workbench.storage.db import NotFoundError
    from workbench.ui.background import on_gui

    store = Store.open(tmp_path / "workbench.db")
    writer = StoreWriter(store)
    owner = QObject()
    got: list[tuple[object, int]] = []
    try:
        on_gui(writer.submit(lambda s: 42), owner, lambda v: got.append((v, threading.get_ident())))
        qtbot.waitUntil(lambda: bool(got))
        assert got == [(42, threading.get_ident())]

        def missing(_store: Store) -> None:
            raise NotFoundError("no run 'x'")

        errors: list[object] = []
        on_gui(writer.submit(missing), owner, got.append, errors.append)
        qtbot.waitUntil(lambda: bool(errors))
        assert isinstance(errors[0], NotFoundError) and len(got) == 1
    finally:
        assert writer.close()
        store.close()


def test_task_worker_cancel(qtbot: QtBot) -> None:
    runner = TaskRunner()
    started = threading.Event()

    def work(report: object, cancel: CancelToken) -> None:
        started.set()
        cancel.wait(30)

    worker = TaskWorker(work)
    runner.start(worker)
    assert started.wait(10)
    with qtbot.waitSignal(worker.signals.cancelled, timeout=10_000):
        worker.cancel()
    assert runner.shutdown(5)


@pytest.fixture
def store_runner(tmp_path: Path) -> Iterator[tuple[Store, Runner]]:
    """A real SQLite store behind the services Runner, with a scripted backend configured."""
    store = Store.open(tmp_path / "workbench.db")
    writer = StoreWriter(store)
    script = [{"text": "saved "}, {"text": "answer"}, {"delay_s": 0.01}, {"hang": True}]
    configs = {
        "scripted": BackendConfig(name="scripted", backend="scripted",
                                  options={"script": script[:2]}),
        "hanging": BackendConfig(name="hanging", backend="scripted", options={"script": script}),
    }
    runner = Runner(writer=writer, configs=configs)
    yield store, runner
    runner.close()
    assert writer.close()
    store.close()


def test_run_through_the_runner_is_saved_before_it_ends(
    qtbot: QtBot, store_runner: tuple[Store, Runner]
) -> None:
    store, runner = store_runner
    manager = RunManager(runner=runner)
    worker = manager.start_run(REQUEST)
    rec = Recorder(worker)
    with qtbot.waitSignal(worker.signals.finished, timeout=10_000) as finished:
        pass
    outcome = finished.args[0]
    assert outcome.text == "saved answer"
    assert outcome.run_id == store.runs.recent()[0].id  # the stored run's id comes back with it
    assert rec.text() == "saved answer"
    rows = store.runs.recent()
    assert [(r.status, r.response_preview) for r in rows] == [("ok", "saved answer")]
    assert manager.shutdown(5)


def test_cancel_through_the_runner_saves_a_cancelled_run(
    qtbot: QtBot, store_runner: tuple[Store, Runner]
) -> None:
    store, runner = store_runner
    manager = RunManager(runner=runner)
    worker = manager.start_run(REQUEST.model_copy(update={"backend": "hanging"}))
    rec = Recorder(worker)
    qtbot.waitUntil(lambda: rec.text() == "saved answer", timeout=10_000)
    with qtbot.waitSignal(worker.signals.ended, timeout=10_000):
        worker.cancel()
    assert rec.terminals() == ["cancelled"]
    assert [r.status for r in store.runs.recent()] == ["cancelled"]
    assert manager.shutdown(5)


def test_a_stream_faster_than_the_gui_waits_for_it(qtbot: QtBot) -> None:
    """Backpressure: a producer never gets more than HIGH_WATER events ahead of the GUI."""
    from workbench.ui.workers import HIGH_WATER, _Outbox

    cancel = CancelToken()
    outbox = _Outbox(cancel)
    produced: list[int] = []

    def produce() -> None:
        for i in range(HIGH_WATER * 3):
            outbox.put("x")
            produced.append(i)

    thread = threading.Thread(target=produce)
    thread.start()
    qtbot.waitUntil(lambda: outbox.total == HIGH_WATER, timeout=5_000)
    assert len(produced) == HIGH_WATER - 1  # the 256th put is waiting for the GUI
    taken = 0
    while thread.is_alive() or taken < HIGH_WATER * 3:
        batch = outbox.take()
        taken += batch.deltas if batch else 0
        thread.join(0.01)
    assert taken == HIGH_WATER * 3 and len(produced) == HIGH_WATER * 3


def test_cancel_releases_a_producer_waiting_for_the_gui(qtbot: QtBot) -> None:
    from workbench.ui.workers import HIGH_WATER, _Outbox

    cancel = CancelToken()
    outbox = _Outbox(cancel)
    thread = threading.Thread(target=lambda: [outbox.put("x") for _ in range(HIGH_WATER + 5)])
    thread.start()
    qtbot.waitUntil(lambda: outbox.total == HIGH_WATER, timeout=5_000)
    cancel.cancel()
    thread.join(5)
    assert not thread.is_alive()


def test_stop_while_a_server_stream_is_being_read_saves_a_cancelled_run(
    qtbot: QtBot, tmp_path: Path
) -> None:
    """The app's Stop on the openai_compat backend, while the worker waits in a read of a body
    that ends when the connection closes: the shut socket must not read as a server error."""
    server = ScriptedServer(OPENAI_SCENARIOS)
    config = BackendConfig(
        name="unframed",
        backend="openai_compat",
        options={"base_url": server.url("slow-unframed"), "default_model": "fault-model"},
    )
    store = Store.open(tmp_path / "workbench.db")
    writer = StoreWriter(store)
    runner = Runner(writer=writer, configs={"unframed": config})
    manager = RunManager(runner=runner)
    try:
        worker = manager.start_run(REQUEST.model_copy(update={"backend": "unframed"}))
        rec = Recorder(worker)
        qtbot.waitUntil(lambda: rec.text() == "".join(WORDS[:3]), timeout=10_000)
        with qtbot.waitSignal(worker.signals.ended, timeout=10_000) as ended:
            worker.cancel()  # what Stop and Esc do
        assert rec.terminals() == ["cancelled"]
        result = ended.args[0].result
        assert (result.finish_reason, result.error) == ("cancelled", None)
        (row,) = store.runs.recent()
        assert row.status == "cancelled"
        assert store.runs.get(row.id).result.text == "".join(WORDS[:3])
    finally:
        assert manager.shutdown(5)
        runner.close()
        assert writer.close()
        store.close()
        server.close()
