"""The progress strip over real N-run batches and background tasks: step, time left, cancel."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from tests.ui.runs import REQUEST, screenshot, scripted
from workbench.backends.base import CancelToken
from workbench.backends.scripted import Step
from workbench.ui import theming
from workbench.ui.background import Progress, Reporter, TaskRunner, TaskWorker
from workbench.ui.widgets.progress_strip import ProgressStrip
from workbench.ui.workers import RepeatRunner, RunManager

pytestmark = pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints")


@pytest.fixture
def strip(qtbot: QtBot, qapp: QApplication) -> Iterator[ProgressStrip]:
    saved = qapp.palette()
    theming.install(qapp, "light")
    strip = ProgressStrip()
    qtbot.addWidget(strip)
    strip.resize(520, 28)
    yield strip
    qapp.setPalette(saved)


def test_n_runs_show_step_and_time_left(qtbot: QtBot, strip: ProgressStrip) -> None:
    manager = RunManager()
    backend = scripted(Step(text="ok"), Step(delay_s=0.05))
    runner = RepeatRunner(manager, backend, REQUEST, 4)
    strip.track_repeat(runner)
    assert strip.isVisible() and strip.label.text() == "Run 1 of 4"
    labels: list[str] = []
    runner.progress.connect(lambda _p: labels.append(strip.label.text() + " · " + strip.eta.text()))
    runner.start()
    qtbot.waitUntil(lambda: strip.label.text() == "Run 3 of 4", timeout=10_000)
    assert "left" in strip.eta.text() and strip.bar.value() == 500
    screenshot(strip, "progress-runs-light")
    qtbot.waitUntil(lambda: not strip.isVisible(), timeout=10_000)
    assert labels[-1].startswith("4 of 4 done")
    assert manager.shutdown(5)


def test_task_with_expected_duration_moves_and_cancels(qtbot: QtBot, strip: ProgressStrip) -> None:
    runner = TaskRunner()

    def load(report: Reporter, cancel: CancelToken) -> None:
        cancel.wait(30)  # a model load that reports no steps

    worker: TaskWorker[object] = TaskWorker(load)
    strip.track_task(worker, "Loading SmolLM2-135M", expected_s=4.0)
    runner.start(worker)
    qtbot.waitUntil(lambda: strip.bar.value() > 0 and "left" in strip.eta.text(), timeout=5_000)
    assert strip.label.text() == "Loading SmolLM2-135M"
    with qtbot.waitSignal(worker.signals.cancelled, timeout=5_000):
        strip.cancel_button.click()
    assert not strip.isVisible()
    assert runner.shutdown(5)


def test_unknown_duration_is_a_busy_bar(strip: ProgressStrip) -> None:
    strip.begin("Contacting the server")
    assert strip.bar.maximum() == 0 and not strip.cancel_action.isEnabled()
    strip.end()
    assert not strip.active and not strip.isVisible()


def test_a_counted_task_shows_its_count_and_a_steady_time_left(
    qtbot: QtBot, strip: ProgressStrip
) -> None:
    """The bug: an evaluation said only "Evaluating" and its time left jumped 13 s → 59 s → 26 s
    as cells finished in bursts. Now "12 of 40 cells", and the time left moves smoothly."""
    worker: TaskWorker[object] = TaskWorker(lambda _report, _cancel: None)
    strip.track_task(worker, "Evaluating", unit="cell")
    shown: list[float] = []
    for done, eta in ((12, 13.0), (13, 59.0), (14, 26.0)):
        worker.signals.progress.emit(Progress(done, 40, 5.0, eta))
        shown.append(float(strip.eta.text().split()[1]))
    assert strip.label.text() == "Evaluating: 14 of 40 cells"
    assert shown[0] == 13 and max(shown) < 30, shown
    worker.signals.progress.emit(Progress(1, 1, 5.0, 0.0))
    assert strip.label.text() == "Evaluating: 1 of 1 cell"
