"""A sweep reopened from the Experiments window comes back with all its axes in the editors
(models as well as parameters), so its estimate is this sweep's and Run finishes it in the same
experiment. Before, only parameter axes came back: a model × temperature sweep reopened with a
model axis the editors could not say, and the first edit (or Run) started another sweep.

Drives the real main window, the real SQLite store and scripted backends configured like any
backend: a fast one and a slow one queued one call at a time, so closing the sweep window
soon after the fast model's cells leaves the slow model's to resume."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QMessageBox
from pytestqt.qtbot import QtBot

from tests.ui.runs import screenshot
from tests.ui.test_compare_view import configs
from tests.ui.test_compare_view import variant as compare_variant
from tests.ui.test_sweep_axes import choose, headers, make_view, run, settle, tick
from tests.ui.windows import close_window, open_window
from workbench.backends.config import add_config
from workbench.core.experiments import Variant
from workbench.core.grid import ModelChoice, SweepSpec
from workbench.core.models import Message, Params, PromptTemplate, Variable
from workbench.services.comparison import saved_or_new
from workbench.services.runner import Runner
from workbench.storage.repositories import Store
from workbench.storage.writer import StoreWriter
from workbench.ui.compare.sweep_layout import MODEL
from workbench.ui.compare.sweep_view import SweepView
from workbench.ui.experiments_browser import ExperimentsBrowser
from workbench.ui.main_window import MainWindow

TEMPLATE = PromptTemplate(
    name="capital",
    messages=[Message(role="user", content="What is the capital of {{ country }}?")],
    variables=[Variable(name="country")],
)
SCREENSHOT = Path("/tmp/sweep_reopen.png")


@pytest.fixture
def window(qtbot: QtBot, monkeypatch: pytest.MonkeyPatch) -> Iterator[MainWindow]:
    monkeypatch.setattr(
        MainWindow, "ask_unsaved", lambda _self, _name: QMessageBox.StandardButton.Discard
    )
    add_config("paris", "scripted", {"script": [{"text": "Paris."}], "models": ["paris"]})
    add_config("slow", "scripted", {
        "script": [{"text": "Paris, "}, {"delay_s": 0.6}, {"text": "I think."}],
        "concurrency": 1, "models": ["slow"]})
    window = open_window(qtbot)
    window.picker.reload()
    yield window
    close_window(window)


def sweeps(window: MainWindow) -> list[SweepView]:
    return [w for w in window.child_windows if isinstance(w, SweepView)]


def reopen_from_experiments(qtbot: QtBot, window: MainWindow) -> SweepView:
    """Tools ▸ Experiments (Ctrl+Shift+E), the sweep picked, Enter: its window, estimated."""
    before = set(map(id, sweeps(window)))
    window.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window)
    qtbot.keyClick(window, Qt.Key.Key_E,
                   Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    browser = next(w for w in window.child_windows if isinstance(w, ExperimentsBrowser))
    qtbot.waitExposed(browser)
    qtbot.waitUntil(lambda: [o.kind for o in browser.shown()] == ["sweep"], timeout=5_000)
    browser.activateWindow()
    browser.view.setFocus()
    browser.view.setCurrentIndex(browser.proxy.index(0, 1))
    qtbot.keyClick(browser.view, Qt.Key.Key_Return)
    opened = [w for w in sweeps(window) if id(w) not in before]
    assert len(opened) == 1
    sweep = opened[0]
    qtbot.waitExposed(sweep)
    qtbot.waitUntil(lambda: not sweep._estimating, timeout=30_000)  # estimated, or refused
    assert sweep.estimate is not None, sweep.estimate_label.text()
    return sweep


def checked_models(sweep: SweepView, editor_name: str) -> list[str]:
    editor = getattr(sweep, editor_name)
    return list(editor.models.checked_texts())


def test_a_models_by_temperature_sweep_reopens_whole_and_resumes_into_itself(
    qtbot: QtBot, window: MainWindow
) -> None:
    store: Store = window.workspace.store
    base = Variant(template=TEMPLATE, backend="paris", model="paris",
                   variables={"country": "France"}, params=Params(max_tokens=16))
    first = window.open_sweep(base)
    choose(qtbot, first.rows, MODEL)
    tick(qtbot, first.rows.models, "paris · paris", "slow · slow")
    choose(qtbot, first.cols, "temperature")
    first.cols.values.clear()
    qtbot.keyClicks(first.cols.values, "0, 1")
    settle(qtbot, first)
    assert first.estimate is not None and first.estimate.calls == 4
    qtbot.mouseClick(first.run_button, Qt.MouseButton.LeftButton)
    # the fast model's two cells land at once; the slow one's take 0.6 s each, one at a time
    qtbot.waitUntil(lambda: sum(map(len, first.cells.runs.values())) >= 2, timeout=20_000)
    first.close()  # stops the sweep: the slow model's cells are left to resume
    shown = headers(first)
    assert shown == (["paris", "slow"], ["temperature 0", "temperature 1"])
    assert first.experiment is not None
    experiment_id = first.experiment.id
    ok = [r for r in store.runs.for_experiment(experiment_id) if r.status == "ok"]
    assert 2 <= len(ok) < 4

    sweep = reopen_from_experiments(qtbot, window)
    assert sweep.experiment is not None and sweep.experiment.id == experiment_id
    assert sweep.rows.param.currentText() == MODEL
    assert checked_models(sweep, "rows") == ["paris · paris", "slow · slow"]
    assert (sweep.cols.param.currentText(), sweep.cols.values.text()) == ("temperature", "0, 1")
    assert headers(sweep) == shown
    qtbot.waitUntil(lambda: sweep.run_button.text() == "Resume sweep", timeout=20_000)
    assert sweep.estimate is not None
    assert (sweep.estimate.skipped, sweep.estimate.calls) == (len(ok), 4 - len(ok))
    assert f"({len(ok)} cells already done, skipped)" in sweep.estimate_label.text()
    assert not sweep.reopen_note.isVisible()  # the editors hold all of it
    assert sweep.grab().save(str(SCREENSHOT))

    with qtbot.waitSignal(sweep.sweepFinished, timeout=30_000):
        qtbot.mouseClick(sweep.run_button, Qt.MouseButton.LeftButton)
    assert sweep.experiment is not None and sweep.experiment.id == experiment_id
    assert len(store.experiments.summaries()) == 1  # no second experiment
    runs = store.runs.for_experiment(experiment_id)
    ok = [r for r in runs if r.status == "ok"]
    cells = {(r.ref.variant_id, r.ref.repeat_index) for r in ok}
    assert len(ok) == len(cells) == 4  # every cell once: none ran twice
    asked = [(r.result.request.model, r.result.request.requested_params) for r in ok]
    assert {(model, params.temperature if params else None) for model, params in asked} == {
        (m, t) for m in ("paris", "slow") for t in (0.0, 1.0)}
    sweep.close()

    done = reopen_from_experiments(qtbot, window)
    qtbot.waitUntil(lambda: done.run_button.text() == "Done", timeout=20_000)
    assert done.estimate is not None and (done.estimate.skipped, done.estimate.calls) == (4, 0)
    assert done.estimate_label.text().startswith("all 4 cells done")
    assert not done.run_button.isEnabled()

    # an edit after reopening is an edit of a fresh sweep: one more temperature is a new sweep
    # of six cells, none done (a new experiment only when it runs)
    done.cols.values.setFocus()
    done.cols.values.end(False)
    qtbot.keyClicks(done.cols.values, ", 2")
    settle(qtbot, done)
    assert done.estimate is not None and (done.estimate.skipped, done.estimate.calls) == (0, 6)
    assert done.run_button.text() == "Run sweep"
    assert headers(done)[1] == ["temperature 0", "temperature 1", "temperature 2"]
    # and back to what it was: the finished sweep again
    done.cols.values.setText("0, 1")
    settle(qtbot, done)
    assert done.run_button.text() == "Done"
    assert len(store.experiments.summaries()) == 1


@pytest.fixture
def runner(store: Store) -> Iterator[Runner]:
    writer = StoreWriter(store)
    runner = Runner(writer=writer, configs=configs())
    yield runner
    runner.close()
    assert writer.close()


def test_a_sweep_the_axes_cannot_say_says_so_and_resumes_as_saved(
    qtbot: QtBot, runner: Runner, store: Store
) -> None:
    """A sweep file run by `workbench compare` may cross three settings: reopened, the editors
    show two of them, a note says why that is not the sweep, and Run runs the saved one (into
    it) until an axis is edited, which starts a new sweep from the editors."""
    spec = SweepSpec(name="capital three ways", base=compare_variant(max_tokens=8),
                     models=[ModelChoice(backend="paris", model="paris"),
                             ModelChoice(backend="lyon", model="lyon")],
                     parameters={"temperature": [0, 1], "top_p": [0.5, 0.9]}).to_experiment()
    saved, _ = saved_or_new(store, spec, "sweep")
    view = make_view(qtbot, runner)
    try:
        view.open_sweep(saved.id)
        assert view.reopen_note.isVisible()
        assert "it varies model, temperature and top_p: more than two axes hold" in (
            view.reopen_note.text())
        assert view.rows.param.currentText() == "model"
        assert view.cols.param.currentText() == "temperature"
        settle(qtbot, view)
        assert view.estimate is not None and view.estimate.calls == 8  # the saved sweep's
        screenshot(view, "sweep-reopened-three-axes")
        run(qtbot, view)
        assert view.experiment is not None and view.experiment.id == saved.id
        assert len(store.experiments.summaries()) == 1
        assert len([r for r in store.runs.for_experiment(saved.id) if r.status == "ok"]) == 8
        qtbot.waitUntil(lambda: view.run_button.text() == "Done", timeout=20_000)

        view.cols.values.setText("0, 0.5")  # an edit: the sweep typed from now on
        assert not view.reopen_note.isVisible()
        settle(qtbot, view)
        assert view.estimate is not None
        assert (view.estimate.skipped, view.estimate.calls) == (0, 4)
        assert view.run_button.text() == "Run sweep"
    finally:
        assert view.shutdown(10)
