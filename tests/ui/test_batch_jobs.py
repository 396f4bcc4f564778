"""Provider batch jobs in the app: Submit as batch next to Run sweep (greyed, with the reason, on
a backend without a batch API), the Batch jobs window listing jobs as the provider moves them,
Cancel, Fetch results and Re-run failed cells live; and an app restart mid-job: the next window
lists the job and polls it until it ends.

The provider is a local server speaking Anthropic's Message Batches endpoints and state machine
(tests/backends/batch_servers.py); the store, runner, batch service and windows are the real
ones."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import shiboken6
from PySide6.QtCore import Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMessageBox
from pytestqt.qtbot import QtBot

from tests.backends.batch_servers import KEY, AnthropicBatchServer
from tests.ui.windows import close_window, open_window, shot
from workbench.backends.base import CancelToken
from workbench.backends.batch_anthropic import AnthropicBatches
from workbench.backends.config import BackendConfig, add_config
from workbench.core.errors import KnownError
from workbench.core.experiments import ExperimentSpec, Variant
from workbench.core.models import Message, Params, PromptTemplate, Variable
from workbench.services.batch import BatchJobs
from workbench.services.comparison import saved_or_new
from workbench.services.evaluation import Evaluation
from workbench.services.runner import Runner
from workbench.storage.repositories import Store, StoredExperiment
from workbench.storage.repositories.batch_jobs import BatchJobRepository
from workbench.storage.writer import StoreWriter
from workbench.ui import theming
from workbench.ui.batch_jobs import BatchJobsWindow
from workbench.ui.batch_poller import BatchPoller
from workbench.ui.batch_rows import JobRow, JobsOfStore
from workbench.ui.child_windows import batch_poller
from workbench.ui.compare.sweep_view import SweepView
from workbench.ui.main_window import MainWindow

TEMPLATE = PromptTemplate(
    name="capital",
    messages=[Message(role="user", content="Capital of {{ country }}?")],
    variables=[Variable(name="country")],
)
POLL_MS = 100


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[AnthropicBatchServer]:
    monkeypatch.setenv("ANTHROPIC_API_KEY", KEY)
    srv = AnthropicBatchServer()
    try:
        yield srv
    finally:
        srv.close()


def claude(server: AnthropicBatchServer) -> BackendConfig:
    return BackendConfig(name="claude", backend="anthropic",
                         options={"base_url": server.url, "retry_backoff": 0.01})


def variant(backend: str = "claude", country: str = "France",
            model: str = "claude-test-1") -> Variant:
    return Variant(template=TEMPLATE, backend=backend, model=model,
                   variables={"country": country}, params=Params(max_tokens=20))


def sweep(store: Store, repeats: int = 2) -> StoredExperiment:
    spec = ExperimentSpec(name="capitals by batch",
                          variants=[variant(country="France"), variant(country="Peru")],
                          repeats=repeats)
    return saved_or_new(store, spec, "sweep")[0]


def row(window: BatchJobsWindow) -> JobRow:
    rows = window.shown()
    assert len(rows) == 1, rows
    return rows[0]


def batch_jobs_action(window: MainWindow) -> QAction:
    """Tools ▸ Batch jobs…"""
    return next(a for a in window.menus.named["&Tools"].actions() if a.text() == "Batch &jobs…")


def open_jobs(qtbot: QtBot, jobs: JobsOfStore) -> BatchJobsWindow:
    view = BatchJobsWindow(jobs, BatchPoller(jobs, poll_ms=POLL_MS))
    qtbot.addWidget(view)
    view.resize(1000, 360)
    view.show()
    qtbot.waitExposed(view)
    return view


@pytest.fixture
def runner(store: Store, server: AnthropicBatchServer) -> Iterator[Runner]:
    configs = {"claude": claude(server),
               "local": BackendConfig(name="local", backend="scripted",
                                      options={"script": [{"text": "Paris."}]})}
    writer = StoreWriter(store)
    runner = Runner(writer=writer, configs=configs)
    yield runner
    runner.close()
    assert writer.close()


def test_cancel_fetch_and_rerun_the_failed_cells_live(
    qtbot: QtBot, theme: theming.Theme, store: Store, runner: Runner,
    server: AnthropicBatchServer,
) -> None:
    experiment = sweep(store)
    [job] = BatchJobs(store, runner).submit(experiment)
    [batch_id] = job.remote_ids
    view = open_jobs(qtbot, JobsOfStore(store, runner))
    qtbot.waitUntil(lambda: len(view.shown()) == 1 and row(view).states == "in_progress")
    listed = row(view)
    assert (listed.provider, listed.backend, listed.models) == ("anthropic", "claude",
                                                                "claude-test-1")
    assert (listed.status, listed.total, listed.answered) == ("running", 4, 0)
    assert listed.experiment == "capitals by batch" and listed.submitted_at
    assert view.cancel_button.isEnabled() and view.fetch_button.isEnabled()
    assert view.refresh_button.isEnabled()
    assert not view.rerun_button.isEnabled()  # not before the job ended
    assert view.poller.active

    # Two answers arrive; Fetch results asks at once, without waiting for the next tick.
    view.poller.timer.setInterval(60_000)
    server.settle(batch_id, {"v0-r0": "succeeded", "v1-r0": "errored"})
    qtbot.mouseClick(view.fetch_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: row(view).answered == 1 and row(view).failed == 1)
    assert row(view).landed == 0  # answers land once the provider ends the batch

    qtbot.mouseClick(view.cancel_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: row(view).status == "cancelling")
    assert row(view).states == "cancelling" and not view.cancel_button.isEnabled()
    server.end(batch_id)  # the provider stops: what had not run is canceled
    view.poller.timer.setInterval(POLL_MS)
    qtbot.waitUntil(lambda: row(view).ended, timeout=10_000)
    ended = row(view)
    assert (ended.states, ended.answered, ended.failed, ended.landed) == ("cancelled", 1, 3, 4)
    assert ended.rerunnable == 3
    qtbot.waitUntil(lambda: not view.poller.active)  # nothing left to poll
    assert not view.refresh_button.isEnabled()  # (Refresh did nothing visible)
    assert view.refresh_button.toolTip().startswith("Nothing to poll")
    runs = store.runs.for_experiment(experiment.id)
    assert sorted(r.result.text for r in runs if r.result.text) == ["echo: Capital of France?"]
    assert all(r.result.cost is None for r in runs)  # no price known for a test model
    shot(view, "batch-jobs-ended")

    assert view.rerun_button.isEnabled()
    with qtbot.waitSignal(view.rerunFinished, timeout=20_000) as ran:
        qtbot.mouseClick(view.rerun_button, Qt.MouseButton.LeftButton)
    assert ran.args[1] == 3
    qtbot.waitUntil(lambda: row(view).rerunnable == 0)
    assert not view.rerun_button.isEnabled()
    runs = store.runs.for_experiment(experiment.id)
    answers = sorted(r.result.text for r in runs if r.result.error is None)
    assert answers == ["echo: Capital of France?"] * 2 + ["echo: Capital of Peru?"] * 2
    assert view.shutdown(10)


def test_submit_as_batch_next_to_run_sweep(
    qtbot: QtBot, theme: theming.Theme, store: Store, runner: Runner,
    server: AnthropicBatchServer,
) -> None:
    view = SweepView(runner)
    qtbot.addWidget(view)
    view.resize(1200, 760)
    view.show()
    view.rows.param.setCurrentText("temperature")
    view.rows.values.clear()
    qtbot.keyClicks(view.rows.values, "0, 1")
    with qtbot.waitSignal(view.estimated, timeout=30_000):
        view.set_base(variant(model="claude-sonnet-4-5"))  # a model with a list price
    qtbot.waitUntil(lambda: view.batch.terms is not None)
    assert view.batch.button.isEnabled()
    assert "anthropic: 50% of list price, within 24h" in view.batch.button.toolTip()
    assert view.estimate is not None  # the estimate says the batch's price and window
    assert f"≤ {view.estimate.costs['USD'] / 2:.4f} USD (50% of list price) through anthropic's" \
        in view.estimate_label.text()
    screenshot_path = shot(view, "sweep-submit-as-batch")
    assert screenshot_path.exists()

    with qtbot.waitSignal(view.batch.submitted, timeout=20_000) as sent:
        qtbot.mouseClick(view.batch.button, Qt.MouseButton.LeftButton)
    [job_id] = sent.args[0]
    job = store.batches.get(job_id)
    assert (job.provider, job.status) == ("anthropic", "running")
    sent_ids = [r["custom_id"] for r in server.created()[0]["requests"]]
    assert sent_ids == ["v0-r0", "v1-r0", "v2-r0", "v3-r0"]  # temperature × top_p
    # Its cells are waiting: Run sweep would pay for them twice, so it has nothing to send.
    qtbot.waitUntil(
        lambda: view.estimate_label.text().startswith("4 cells are waiting in a batch job"))
    assert not view.run_button.isEnabled()
    assert view.matrix.rowCount() == 2 and not any(view.matrix.values.values())

    # Answers land as the job is polled: the matrix fills without a live run.
    [batch_id] = job.remote_ids
    server.settle(batch_id, dict.fromkeys(sent_ids, "succeeded"))
    server.end(batch_id)
    JobsOfStore(store, runner).poll(job_id, CancelToken())
    view.show_landed()
    view.metric_box.setCurrentIndex(view.metric_box.findData("output_tokens"))
    assert sorted(view.matrix.values.values()) == [4, 4, 4, 4]
    shot(view, "sweep-batch-landed")

    # A backend without a batch API: greyed, and the tooltip says why.
    with qtbot.waitSignal(view.estimated, timeout=30_000):
        view.set_base(variant("local"))
    qtbot.waitUntil(lambda: view.batch.terms is not None)
    assert not view.batch.button.isEnabled()
    assert view.batch.button.toolTip().startswith("Not available: local: ")
    assert "no batch API here" in view.batch.button.toolTip()
    # ...and which backends have one (a first-time user could not tell)
    assert "OpenAI's API (an openai_compat backend), Anthropic's" in view.batch.button.toolTip()
    assert "Bedrock batch inference (a bedrock backend)" in view.batch.button.toolTip()
    assert view.shutdown(10)


def test_a_sweep_batch_that_cannot_be_confirmed_points_to_send_again(
    qtbot: QtBot, theme: theming.Theme, store: Store, runner: Runner,
    server: AnthropicBatchServer, tmp_path: Path,
) -> None:
    """Submit as batch; the create is answered 502 and two batches could be it: the sweep
    says so, pointing to the app's Send again… (not to a terminal's command)."""
    elsewhere(server, tmp_path, ExperimentSpec(
        name="elsewhere", variants=[variant(country="Chile"), variant(country="Japan")],
        repeats=2))
    view = SweepView(runner)
    qtbot.addWidget(view)
    view.rows.param.setCurrentText("temperature")
    view.rows.values.clear()
    qtbot.keyClicks(view.rows.values, "0, 1")
    with qtbot.waitSignal(view.estimated, timeout=30_000):
        view.set_base(variant())
    qtbot.waitUntil(lambda: view.batch.button.isEnabled())
    server.create_faults.append("502")
    with qtbot.waitSignal(view.batch.failed, timeout=20_000) as failed:
        qtbot.mouseClick(view.batch.button, Qt.MouseButton.LeftButton)
    [said] = failed.args
    assert said.startswith("Not submitted: batch job ") and "several batches that could" in said
    assert said.endswith("(once checked, Send again… in Batch jobs sends it again; Cancel job "
                         "gives it up)")
    assert "workbench batch" not in said and len(server.created()) == 2
    assert view.shutdown(10)


def test_a_job_is_polled_again_after_the_app_restarts(
    qtbot: QtBot, monkeypatch: pytest.MonkeyPatch, server: AnthropicBatchServer
) -> None:
    monkeypatch.setattr(
        MainWindow, "ask_unsaved", lambda _self, _name: QMessageBox.StandardButton.Discard
    )
    config = claude(server)
    add_config(config.name, config.backend, config.options)
    window = open_window(qtbot)
    workspace = window.workspace
    [job] = BatchJobs(workspace.store, workspace.runner).submit(sweep(workspace.store, 1))
    [batch_id] = job.remote_ids
    batch_jobs_action(window).trigger()
    jobs = next(w for w in window.child_windows.windows() if isinstance(w, BatchJobsWindow))
    qtbot.waitUntil(lambda: len(jobs.shown()) == 1 and row(jobs).states == "in_progress")
    server.settle(batch_id, {"v0-r0": "succeeded"})
    qtbot.mouseClick(jobs.refresh_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: row(jobs).answered == 1)
    close_window(window)  # the app quits with the job still at the provider

    server.settle(batch_id, {"v1-r0": "succeeded"})
    again = open_window(qtbot)
    try:
        poller = batch_poller(again)
        poller.timer.setInterval(POLL_MS)
        # polled at start: the job is still running, so the poller goes on
        qtbot.waitUntil(lambda: poller.jobs.rows()[0].answered == 2, timeout=10_000)
        qtbot.waitUntil(lambda: poller.timer.isActive())
        server.end(batch_id)
        batch_jobs_action(again).trigger()
        jobs = next(w for w in again.child_windows.windows() if isinstance(w, BatchJobsWindow))
        qtbot.waitUntil(lambda: len(jobs.shown()) == 1 and row(jobs).ended)
        assert (row(jobs).landed, row(jobs).answered, row(jobs).rerunnable) == (2, 2, 0)
        runs = again.workspace.store.runs.for_experiment(job.experiment_id)
        assert sorted(r.result.text for r in runs) == [
            "echo: Capital of France?", "echo: Capital of Peru?"]
        shot(jobs, "batch-jobs-after-restart")
    finally:
        close_window(again)


SUITE = """\
name: capitals
variants:
- label: terse
  prompt: "Capital of {{ country }}?"
  backend: claude
  model: claude-test-1
  params: {max_tokens: 20}
tests:
- vars: {country: France}
- vars: {country: Peru}
assert:
- {type: icontains, value: "{{ country }}"}
"""


def test_an_evaluation_goes_as_a_batch_and_is_finished_and_graded_live(
    qtbot: QtBot, monkeypatch: pytest.MonkeyPatch, server: AnthropicBatchServer, tmp_path: Path,
) -> None:
    monkeypatch.setattr(
        MainWindow, "ask_unsaved", lambda _self, _name: QMessageBox.StandardButton.Discard
    )
    config = claude(server)
    add_config(config.name, config.backend, config.options)
    local = BackendConfig(name="local", backend="scripted", options={"script": [{"text": "x"}]})
    add_config(local.name, local.backend, local.options)
    suite = tmp_path / "capitals.suite.yaml"
    suite.write_text(SUITE, encoding="utf-8")
    window = open_window(qtbot)
    try:
        evaluation = window.open_suite(suite)
        qtbot.waitUntil(lambda: evaluation.scorecard.isVisible(), timeout=30_000)  # run live
        qtbot.waitUntil(lambda: evaluation.batch.terms is not None)
        assert evaluation.batch.button.isEnabled()

        # On a backend without a batch API, greyed with the reason.
        evaluation.backend_box.setCurrentIndex(evaluation.backend_box.findData("local"))
        qtbot.waitUntil(lambda: evaluation.batch.terms is not None)
        assert not evaluation.batch.button.isEnabled()
        assert "local: " in evaluation.batch.button.toolTip()
        evaluation.backend_box.setCurrentIndex(0)  # the suite's own backends
        qtbot.waitUntil(lambda: evaluation.batch.button.isEnabled())
        shot(evaluation, "suite-submit-as-batch")

        qtbot.mouseClick(evaluation.batch.button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: any(isinstance(w, BatchJobsWindow)
                                    for w in window.child_windows.windows()), timeout=10_000)
        jobs = next(w for w in window.child_windows.windows() if isinstance(w, BatchJobsWindow))
        qtbot.waitUntil(lambda: len(jobs.shown()) == 1)
        listed = row(jobs)
        assert listed.suite == str(suite) and listed.total == 2
        [batch_id] = list(server.batches)
        server.settle(batch_id, {"v0-t0-r0": "succeeded"})  # Peru's expires
        server.end(batch_id)
        qtbot.mouseClick(jobs.refresh_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: row(jobs).ended, timeout=10_000)
        assert (row(jobs).landed, row(jobs).rerunnable) == (2, 1)

        with qtbot.waitSignal(jobs.evaluationFinished, timeout=30_000) as finished:
            qtbot.mouseClick(jobs.rerun_button, Qt.MouseButton.LeftButton)
        assert finished.args == [listed.experiment_id]
        store = window.workspace.store
        card = Evaluation.open(store, listed.experiment_id, window.workspace.runner).scorecard()
        # the landed answer and the one run live, both graded
        assert sorted(c.status for c in card.cells.values()) == ["pass", "pass"]
    finally:
        close_window(window)


def test_a_job_that_cannot_be_polled_does_not_stop_the_others(
    qtbot: QtBot, theme: theming.Theme, store: Store, runner: Runner,
    server: AnthropicBatchServer,
) -> None:
    """A job whose backend was removed since (newest, so polled first) fails its poll; the
    other jobs are still polled and land, and the window says which job failed and why."""
    [job] = BatchJobs(store, runner).submit(sweep(store))
    gone = claude(server).model_copy(update={"name": "gone"})
    elsewhere = Runner(configs={"gone": gone})
    try:
        spec = ExperimentSpec(name="on a backend removed since",
                              variants=[variant("gone", country="Chile")])
        [orphan] = BatchJobs(store, elsewhere).submit(saved_or_new(store, spec, "sweep")[0])
    finally:
        elsewhere.close()
    [batch_id] = job.remote_ids
    server.settle(batch_id, {"v0-r0": "succeeded", "v1-r0": "succeeded",
                             "v0-r1": "succeeded", "v1-r1": "succeeded"})
    server.end(batch_id)
    view = open_jobs(qtbot, JobsOfStore(store, runner))
    qtbot.waitUntil(lambda: len(view.shown()) == 2 and view.shown()[1].ended, timeout=10_000)
    assert [r.id for r in view.shown()] == [orphan.id, job.id]
    assert view.shown()[1].landed == 4 and not view.shown()[0].ended
    assert view.status.text().startswith("Cannot poll “on a backend removed since”: ")
    assert "gone" in view.status.text()
    assert view.shutdown(10)


class _Died(BaseException):
    """The process ends here."""


def test_a_batch_of_unknown_outcome_is_said_and_sent_again_after_asking(
    qtbot: QtBot, theme: theming.Theme, store: Store, runner: Runner,
    server: AnthropicBatchServer, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The process creating the batch ended before it was recorded, and Anthropic lists no
    batch that could be it: the next window says so, where to check, and sends it again only
    after asking (a batch already there would be paid for twice)."""
    def die(*_args: object, **_kwargs: object) -> None:
        raise _Died

    with monkeypatch.context() as patch:
        patch.setattr(AnthropicBatches, "submit", die)
        with pytest.raises(_Died):
            BatchJobs(store, runner).submit(sweep(store))
    view = open_jobs(qtbot, JobsOfStore(store, runner))
    qtbot.waitUntil(lambda: len(view.shown()) == 1 and row(view).unconfirmed)
    assert "anthropic may have created this batch of 4 requests" in view.status.text()
    assert f"Check the server's batch list ({server.url}/v1/messages/batches)" in (
        view.status.text())
    assert "Send again… in Batch jobs sends it again" in view.status.text()
    assert "workbench batch" not in view.status.text()  # a terminal's command, not the app's
    assert row(view).states == "unknown" and server.created() == []
    assert view.resend_button.isEnabled()

    asked: list[JobRow] = []
    monkeypatch.setattr(BatchJobsWindow, "ask_resend",
                        lambda _self, picked: asked.append(picked) or False)
    qtbot.mouseClick(view.resend_button, Qt.MouseButton.LeftButton)
    assert [r.id for r in asked] == [row(view).id] and server.created() == []
    monkeypatch.setattr(BatchJobsWindow, "ask_resend", lambda _self, _picked: True)
    qtbot.mouseClick(view.resend_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not row(view).unconfirmed and row(view).status == "running")
    assert len(server.batches) == 1 and not view.resend_button.isEnabled()
    assert view.shutdown(10)


def elsewhere(server: AnthropicBatchServer, tmp_path: Path, spec: ExperimentSpec) -> None:
    """A batch of ``spec``'s requests made at the server by another tool: a create of as many
    requests answered 502 then has two batches that could be it."""
    other_store = Store.open(tmp_path / "other.sqlite3")
    other = Runner(configs={"claude": claude(server)})
    try:
        BatchJobs(other_store, other).submit(saved_or_new(other_store, spec, "sweep")[0])
    finally:
        other.close()
        other_store.close()


def test_a_poll_that_cannot_confirm_a_batch_says_so_with_the_apps_words(
    qtbot: QtBot, theme: theming.Theme, store: Store, runner: Runner,
    server: AnthropicBatchServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
) -> None:
    """The submitting process ended between its two batches; the window's poll sends the
    second, its create is answered 502, and two batches at Anthropic could be it (another
    tool made one meanwhile): the job's row says so with Send again…, not as a poll failure
    naming a terminal command; so does a resend that cannot be confirmed either."""
    elsewhere(server, tmp_path, ExperimentSpec(
        name="elsewhere", variants=[variant(country="Chile")], repeats=2))
    monkeypatch.setattr(AnthropicBatches, "max_lines", 2)  # 4 cells: two batches of 2
    claim = BatchJobRepository.sending

    def dies_at_the_second(repo: BatchJobRepository, job_id: str, part: int,
                           **how: str) -> bool:
        if part == 1:
            raise _Died
        return claim(repo, job_id, part, **how)

    with monkeypatch.context() as patch:
        patch.setattr(BatchJobRepository, "sending", dies_at_the_second)
        with pytest.raises(_Died):
            BatchJobs(store, runner).submit(sweep(store))
    server.create_faults.append("502")
    view = open_jobs(qtbot, JobsOfStore(store, runner))
    qtbot.waitUntil(lambda: len(view.shown()) == 1 and row(view).unconfirmed, timeout=10_000)
    qtbot.waitUntil(lambda: not view.poller.busy)
    text = view.status.text()
    assert "several batches that could be it" in text and "Cannot poll" not in text
    assert "Send again… in Batch jobs sends it again" in text and "workbench batch" not in text

    server.create_faults.append("502")
    monkeypatch.setattr(BatchJobsWindow, "ask_resend", lambda _self, _picked: True)
    qtbot.mouseClick(view.resend_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: len(server.created()) == 4)  # elsewhere, part 0, part 1, resend
    qtbot.waitUntil(lambda: view.resend_button.isEnabled() and row(view).unconfirmed)
    assert "Send again… in Batch jobs" in view.status.text()
    assert "workbench batch" not in view.status.text()
    assert view.shutdown(10)


def test_the_main_window_says_at_start_that_a_batch_may_be_at_the_provider(
    qtbot: QtBot, monkeypatch: pytest.MonkeyPatch, server: AnthropicBatchServer
) -> None:
    """The app ended while creating a job's batch; the next start's poll finds no batch that
    could be it at Anthropic: the main window's status bar names the job and what to do, once
    (not again at every poll)."""
    monkeypatch.setattr(
        MainWindow, "ask_unsaved", lambda _self, _name: QMessageBox.StandardButton.Discard
    )

    def die(*_args: object, **_kwargs: object) -> None:
        raise _Died

    config = claude(server)
    add_config(config.name, config.backend, config.options)
    window = open_window(qtbot)
    workspace = window.workspace
    with monkeypatch.context() as patch:
        patch.setattr(AnthropicBatches, "submit", die)
        with pytest.raises(_Died):
            BatchJobs(workspace.store, workspace.runner).submit(sweep(workspace.store))
    close_window(window)

    again = open_window(qtbot)
    try:
        bar = again.statusBar()
        qtbot.waitUntil(lambda: "“capitals by batch”" in bar.currentMessage(), timeout=10_000)
        assert bar.currentMessage() == (
            "The batch job of “capitals by batch” may have a batch at anthropic that could not "
            "be confirmed: check the provider's console, then Tools ▸ Batch jobs: Send again… "
            "sends it, Cancel job gives it up.")
        shot(again, "batch-unconfirmed-at-start")
        bar.clearMessage()
        poller = batch_poller(again)
        with qtbot.waitSignal(poller.unconfirmed, timeout=10_000) as round_:
            poller.poll()
        assert len(round_.args[0]) == 1 and bar.currentMessage() == ""
        assert server.created() == []
    finally:
        close_window(again)


_START = r"""
import sys
from PySide6.QtCore import QTimer
from workbench.app import create_application, open_main_window
from workbench.ui.child_windows import batch_poller
app = create_application()
window = open_main_window(first_run_demo=False)
def done():
    poller = batch_poller(window)
    if poller.busy:  # the start's round: let it end
        QTimer.singleShot(20, done)
        return
    print(sorted(m for m in sys.modules if m.startswith("workbench.services.batch")))
    window.close()
    window.workspace.close()
    app.quit()
QTimer.singleShot(0, done)
app.exec()
"""


def test_a_start_with_no_batch_job_loads_no_batch_service(workbench_home: Path) -> None:
    """The app polls batch jobs from its start, on the GUI thread's first turn: with no job to
    poll, the batch service (140 ms of imports: the grid runner, evaluations, suites) is not
    loaded there. (Loaded at every start before.)"""
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "WORKBENCH_HOME": str(workbench_home)}
    out = subprocess.run([sys.executable, "-c", _START], env=env, capture_output=True,
                         text=True, timeout=120, check=True, cwd=Path(__file__).parents[2])
    assert out.stdout.strip().splitlines()[-1] == "[]"


def test_a_closed_jobs_window_hears_nothing_more_from_the_apps_poller(
    qtbot: QtBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(
        MainWindow, "ask_unsaved", lambda _self, _name: QMessageBox.StandardButton.Discard
    )
    window = open_window(qtbot)
    try:
        batch_jobs_action(window).trigger()
        jobs = next(w for w in window.child_windows.windows() if isinstance(w, BatchJobsWindow))
        jobs.close()  # deleted on close; the app's poller goes on
        qtbot.waitUntil(lambda: not shiboken6.isValid(jobs))
        poller = batch_poller(window)
        poller.failed.emit(KnownError("the provider is down"))  # a slot of the gone window
        poller.polled.emit(0, [])
    finally:
        close_window(window)
