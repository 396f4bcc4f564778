"""The Experiments browser in the real main window: a comparison run, rated and voted on in the
compare view, a sweep and an evaluation are listed with their name, template, cells and best
variant, and each reopens in its own window with its results; then the app quits cleanly.

Runs go through the real runner and SQLite store on scripted backends configured like any
backend (the model's words do not matter here)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QMessageBox
from pytestqt.qtbot import QtBot

from tests.ui.windows import close_window, open_window, shot
from workbench.backends.config import add_config
from workbench.core.experiments import AssertionSpec, ExperimentSpec, TestCase, Variant
from workbench.core.models import (
    Message,
    Params,
    PromptTemplate,
    RenderedMessage,
    RunResult,
    SentRequest,
    Variable,
)
from workbench.services.experiments_overview import default_name, overview, what_varies
from workbench.storage.repositories import EvaluationRecord, RunRef
from workbench.ui.compare.compare_view import CompareView
from workbench.ui.compare.sweep_view import SweepView
from workbench.ui.evaluation.saved_evaluation import SavedEvaluationWindow
from workbench.ui.experiments_browser import ExperimentsBrowser
from workbench.ui.main_window import MainWindow

TEMPLATE = PromptTemplate(
    name="capital",
    messages=[Message(role="user", content="What is the capital of {{ country }}?")],
    variables=[Variable(name="country")],
)


def scripted(name: str, answer: str) -> None:
    add_config(name, "scripted", {"script": [{"text": answer}], "models": [name]})


@pytest.fixture
def window(qtbot: QtBot, monkeypatch: pytest.MonkeyPatch) -> Iterator[MainWindow]:
    monkeypatch.setattr(
        MainWindow, "ask_unsaved", lambda _self, _name: QMessageBox.StandardButton.Discard
    )
    scripted("paris", "Paris.")
    scripted("lyon", "Lyon, I think.")
    window = open_window(qtbot)
    yield window
    close_window(window)


def variant(backend: str, **params: object) -> Variant:
    return Variant(template=TEMPLATE, backend=backend, model=backend,
                   variables={"country": "France"}, params=Params(**params))


def result(answer: str) -> RunResult:
    request = SentRequest(backend="scripted", model="paris",
                          messages=[RenderedMessage(role="user", content="Capital of France?")])
    return RunResult(request=request, text=answer, finish_reason="stop")


def saved_evaluation(window: MainWindow) -> str:
    """An evaluation as ``workbench eval`` stores one: two variants, two cases, outcomes."""
    store = window.workspace.store
    check = AssertionSpec(type="icontains", value="paris")
    spec = ExperimentSpec(name="capitals suite", variants=[
        variant("paris").model_copy(update={"label": "terse"}),
        variant("lyon").model_copy(update={"label": "chatty"})],
        tests=[TestCase(vars={"country": "France"}), TestCase(vars={"country": "France "})],
        default_assertions=[check])
    stored = store.experiments.create(spec)
    for v, answer in enumerate(("Paris.", "Lyon.")):
        for t in range(2):
            run_id = store.runs.add(result(answer), RunRef(
                stored.id, stored.variant_ids[v], stored.test_ids[t]))
            outcome = "pass" if answer == "Paris." else "fail"
            store.evaluations.record(run_id, [EvaluationRecord(check, outcome, None)])
    return stored.id


def test_default_names_say_template_what_varies_and_when() -> None:
    from datetime import datetime

    when = datetime(2026, 3, 3, 14, 5)
    variants = [variant("paris"), variant("lyon", temperature=0.9)]
    assert what_varies(variants) == "models, temperature"
    assert default_name("compare", "capital", what_varies(variants), when) == (
        "capital · models, temperature · Mar 3 14:05")
    assert default_name("sweep", "", "", when) == "Sweep · Mar 3 14:05"
    # a version's own settings (few-shot's stop sequence) are the version: not named apart
    few = TEMPLATE.model_copy(update={"parameters": Params(stop=["\nReview:"])})
    versions = [variant("paris").model_copy(update={"template_version": 1}),
                variant("paris").model_copy(update={
                    "template": few, "template_version": 2, "params": few.parameters})]
    assert what_varies(versions) == "versions"


def test_saved_experiments_reopen_with_their_results(
    qtbot: QtBot, qapp: QApplication, window: MainWindow
) -> None:
    store = window.workspace.store
    # The first preview loads the local model's tokenizer: let it finish before the app quits.
    qtbot.waitUntil(lambda: "tokens" in window.token_summary.text(), timeout=60_000)
    window.picker.reload()
    compare = window.open_compare()
    for column in list(compare.columns):
        compare.remove_column(column)
    compare.add_variant(variant("paris"))
    compare.add_variant(variant("lyon"))
    with qtbot.waitSignal(compare.runAllFinished, timeout=20_000):
        compare.run_action.trigger()
    assert compare.name.startswith("capital · models · ")  # named when first saved
    qtbot.mouseClick(compare.columns[1].rating.up, Qt.MouseButton.LeftButton)
    compare.preferences.pick(0, 1)
    qtbot.mouseClick(compare.preferences.buttons["b"], Qt.MouseButton.LeftButton)
    experiment_id = compare.experiment_id
    assert experiment_id is not None
    compare.writer.submit(lambda s: None).result(10)  # type: ignore[union-attr]
    # (Windows stay open until the app quits: closing one first crashed the quit, issue 11 #1.)
    sweep_spec = ExperimentSpec(name="capital · temperature", variants=[
        variant("paris", temperature=t) for t in (0.0, 0.5, 1.0)], repeats=2)
    sweep = store.experiments.create(sweep_spec, "sweep")
    store.runs.add(result("Paris."), RunRef(sweep.id, sweep.variant_ids[1]))
    evaluation_id = saved_evaluation(window)

    # History tells the hand, compare, sweep and evaluation runs apart.
    window.history.refresh()
    qtbot.waitUntil(lambda: len(window.history.run_ids()) == 7, timeout=5_000)
    assert {r.source for r in window.history.model.rows} == {"compare", "sweep", "eval"}
    window.history.filters.source.setCurrentIndex(
        window.history.filters.source.findData("compare"))
    qtbot.waitUntil(lambda: len(window.history.run_ids()) == 2, timeout=5_000)
    # The two columns ran together: newest first, whichever finished last.
    assert sorted(r.output for r in window.history.model.rows) == ["Lyon, I think.", "Paris."]
    shot(window, "main-window-history-compare-filter")
    window.history.filters.clear()

    listed = {o.id: o for o in overview(store)}
    assert listed[experiment_id].best.startswith("B: lyon (won 1 of 1)")
    assert listed[evaluation_id].best == "terse (passed 2 of 2)"
    assert listed[sweep.id].best == "" and listed[sweep.id].summary.cells == 6

    window.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window)
    qtbot.keyClick(window, Qt.Key.Key_E,
                   Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    browsers = [w for w in window.child_windows if isinstance(w, ExperimentsBrowser)]
    assert len(browsers) == 1
    browser = browsers[0]
    qtbot.waitExposed(browser)
    qtbot.waitUntil(lambda: len(browser.shown()) == 3, timeout=5_000)
    qtbot.waitUntil(browser.view.hasFocus)  # Enter opens the picked row at once
    rows = {o.summary.kind: [browser.model.index(r, c).data() for c in range(7)]
            for r, o in enumerate(browser.model.rows)}
    assert rows["compare"][0] == "Comparison" and rows["compare"][3] == "capital"
    assert rows["compare"][4:6] == ["2", "2"] and rows["compare"][6].startswith("B: lyon")
    assert rows["eval"][0::6] == ["Evaluation", "terse (passed 2 of 2)"]
    assert rows["sweep"][4:7] == ["6", "1", "–"]
    shot(browser, "experiments-browser")

    browser.kind_box.setFocus()
    qtbot.keyClick(browser.kind_box, Qt.Key.Key_End)  # Evaluations
    qtbot.waitUntil(lambda: [o.kind for o in browser.shown()] == ["eval"])
    assert browser.status.text() == "1 of 3 experiments shown."
    browser.view.setFocus()
    browser.view.setCurrentIndex(browser.proxy.index(0, 1))
    qtbot.keyClick(browser.view, Qt.Key.Key_Return)
    scorecards = [w for w in window.child_windows if isinstance(w, SavedEvaluationWindow)]
    assert len(scorecards) == 1
    qtbot.waitUntil(lambda: not scorecards[0].busy, timeout=10_000)
    assert scorecards[0].loaded is not None, scorecards[0].status.text()
    card = scorecards[0].loaded.card  # type: ignore[union-attr]
    assert [v.overall.cases.passed for v in card.variants] == [2, 0]
    assert scorecards[0].scorecard.isVisible()

    qtbot.keyClick(browser.kind_box, Qt.Key.Key_Home)  # All kinds
    qtbot.keyClicks(browser.search, "models")  # the comparison's default name
    qtbot.waitUntil(lambda: [o.kind for o in browser.shown()] == ["compare"])
    rect = browser.view.visualRect(browser.proxy.index(0, 1))
    qtbot.mouseClick(browser.view.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    qtbot.mouseDClick(browser.view.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    views = [w for w in window.child_windows if isinstance(w, CompareView) and w is not compare]
    assert len(views) == 1
    reopened = views[0]
    assert reopened.experiment_id == experiment_id
    assert [c.output.text() for c in reopened.columns] == ["Paris.", "Lyon, I think."]
    assert reopened.columns[1].rating.up.isChecked()
    assert "B: won 100% of 1" in reopened.preferences.summary.text()
    assert reopened.name_edit.text() == compare.name
    shot(reopened, "experiments-reopened-comparison")

    browser.search.clear()
    qtbot.keyClicks(browser.search, "temperature")
    qtbot.waitUntil(lambda: [o.kind for o in browser.shown()] == ["sweep"])
    browser.open(browser.proxy.index(0, 0))
    sweeps = [w for w in window.child_windows if isinstance(w, SweepView)]
    assert len(sweeps) == 1 and sweeps[0].experiment is not None
    assert sweeps[0].experiment.id == sweep.id
    assert sweeps[0].results_stack.currentIndex() == 1  # the matrix, not the empty state

    # Something runs while the list is open (a sweep window, a terminal): the list follows,
    # without a refresh asked for, and the row picked stays picked.
    browser.search.clear()
    qtbot.waitUntil(lambda: len(browser.shown()) == 3, timeout=5_000)
    store.runs.add(result("Paris."), RunRef(sweep.id, sweep.variant_ids[2]))
    store.experiments.create(ExperimentSpec(name="later", variants=[variant("paris")]), "compare")
    qtbot.waitUntil(lambda: len(browser.shown()) == 4, timeout=5_000)
    counts = {o.kind: browser.model.index(r, 5).data() for r, o in enumerate(browser.model.rows)}
    assert counts["sweep"] == "2"  # runs done: one more than when the list was opened
    picked = browser.view.currentIndex().siblingAtColumn(0).data(Qt.ItemDataRole.UserRole)
    assert picked.id == sweep.id


def test_a_reopened_comparison_asks_before_sending_a_column_away(
    qtbot: QtBot, window: MainWindow
) -> None:
    """A comparison reopened from the store was not set up in its window: Run all shows what a
    remote column would send where, and "Don't send" runs nothing."""
    from PySide6.QtCore import QTimer

    from workbench.ui import child_windows

    add_config("cloud", "openai_compat", {"base_url": "https://llm.example.net/v1"})
    store = window.workspace.store
    spec = ExperimentSpec(name="local or cloud", variants=[variant("paris"), variant("cloud")])
    saved = store.experiments.create(spec, "compare")
    view = child_windows.open_experiment(window, "compare", saved.id)
    assert isinstance(view, CompareView)
    qtbot.waitExposed(view)
    asked: list[str] = []

    def answer() -> None:
        box = QApplication.activeModalWidget()
        if isinstance(box, QMessageBox):
            timer.stop()
            asked.append(box.informativeText())
            qtbot.mouseClick(next(b for b in box.buttons() if b.text() == "Don't send"),
                             Qt.MouseButton.LeftButton)

    timer = QTimer()
    timer.timeout.connect(answer)
    timer.start(50)
    view.run_action.trigger()
    qtbot.waitUntil(lambda: bool(asked), timeout=10_000)
    assert asked[0].startswith("cloud → llm.example.net: 1 call, ")
    assert view.notice.text() == "Nothing was sent."
    assert not any(c.busy for c in view.columns)
    assert store.runs.count() == 0
