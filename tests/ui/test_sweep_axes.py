"""Sweeps over models, template versions and variable sets, driven like a person: pick the
setting of each axis, tick models (listed from the backends off the GUI thread) and versions,
type sets of values, check the estimate, run, cancel and resume, reopen. The fast tests run on
scripted backends configured like any backend; the slow one on two llama.cpp configurations of
the embedded SmolLM2 model."""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QLineEdit, QListWidget, QTableWidget, QTableWidgetItem
from pytestqt.qtbot import QtBot

from tests.ui.runs import screenshot
from tests.ui.test_compare_view import ANSWERS, TEMPLATE, configs, variant
from tests.ui.windows import close_window, open_window, press_save
from workbench.backends.config import BackendConfig
from workbench.backends.local_models import EMBEDDED_ID
from workbench.core.experiments import Variant
from workbench.core.grid import TemplateChoice
from workbench.core.models import Message, Params
from workbench.services.runner import Runner
from workbench.storage.repositories import Store
from workbench.storage.writer import StoreWriter
from workbench.ui import theming
from workbench.ui.compare.sweep_axes import AxisEditor
from workbench.ui.compare.sweep_view import SweepView
from workbench.ui.main_window import MainWindow

#: A second version of the template: a longer system prompt, so its prompts are recognisable.
TEMPLATE_V2 = TEMPLATE.model_copy(update={"messages": [
    Message(role="system", content="You are a geography teacher. Answer in one short sentence "
                                   "and name the river the capital stands on."),
    TEMPLATE.messages[1],
]})
VERSIONS = [TemplateChoice(template=TEMPLATE, key="capital", version=1),
            TemplateChoice(template=TEMPLATE_V2, key="capital", version=2)]


@pytest.fixture
def runner(store: Store) -> Iterator[Runner]:
    slow = BackendConfig(
        name="slow",
        backend="scripted",
        options={"script": [{"text": "one "}, {"delay_s": 0.4}, {"text": "two"}],
                 "concurrency": 1, "models": ["slow"]},
    )
    broken = BackendConfig(
        name="broken",
        backend="scripted",
        options={"script": [{"error": "the model is overloaded", "error_kind": "BadRequestError"}],
                 "models": ["broken"]},
    )
    writer = StoreWriter(store)
    runner = Runner(writer=writer, configs={**configs(), "slow": slow, "broken": broken})
    yield runner
    runner.close()
    assert writer.close()


def make_view(qtbot: QtBot, runner: Runner) -> SweepView:
    view = SweepView(runner)
    qtbot.addWidget(view)
    view.resize(1200, 800)
    view.show()
    qtbot.waitExposed(view)
    view.activateWindow()  # typed keys reach the active window only
    qtbot.waitUntil(lambda: QApplication.activeWindow() is view)
    return view


@pytest.fixture
def view(qtbot: QtBot, theme: theming.Theme, runner: Runner) -> Iterator[SweepView]:
    view = make_view(qtbot, runner)
    yield view
    assert view.shutdown(10)


def choose(qtbot: QtBot, editor: AxisEditor, setting: str) -> None:
    """Pick what the axis sweeps from its combo with the keyboard, as a person would."""
    box = editor.param
    box.setFocus()
    target = box.findText(setting)
    assert target >= 0, f"{setting} is not offered"
    while box.currentIndex() != target:
        key = Qt.Key.Key_Down if box.currentIndex() < target else Qt.Key.Key_Up
        qtbot.keyClick(box, key)


def _offered(checklist: QListWidget, text: str) -> bool:
    return bool(checklist.findItems(text, Qt.MatchFlag.MatchExactly))


def tick(qtbot: QtBot, checklist: QListWidget, *texts: str) -> None:
    """Tick items by selecting each and pressing Space."""
    for text in texts:
        qtbot.waitUntil(partial(_offered, checklist, text), timeout=20_000)
        item = checklist.findItems(text, Qt.MatchFlag.MatchExactly)[0]
        checklist.setFocus()
        checklist.setCurrentItem(item)
        qtbot.keyClick(checklist, Qt.Key.Key_Space)
        assert item.checkState() == Qt.CheckState.Checked


def settle(qtbot: QtBot, view: SweepView) -> None:
    """Wait for the estimate of what is set now (edits restart its debounce)."""
    with qtbot.waitSignal(view.estimated, timeout=60_000):
        view.schedule_estimate()


def run(qtbot: QtBot, view: SweepView, timeout: int = 60_000) -> None:
    assert view.run_button.isEnabled(), view.estimate_label.text()
    with qtbot.waitSignal(view.sweepFinished, timeout=timeout):
        qtbot.mouseClick(view.run_button, Qt.MouseButton.LeftButton)


def headers(view: SweepView) -> tuple[list[str], list[str]]:
    matrix = view.matrix

    def text(item: QTableWidgetItem | None) -> str:
        assert item is not None
        return item.text()

    return ([text(matrix.verticalHeaderItem(r)) for r in range(matrix.rowCount())],
            [text(matrix.horizontalHeaderItem(c)) for c in range(matrix.columnCount())])


def models_by_versions(qtbot: QtBot, view: SweepView, base: Variant, backends: list[str],
                       models: list[str]) -> None:
    view.set_backends(backends)
    view.set_template_versions(VERSIONS)
    view.set_base(base)
    choose(qtbot, view.rows, "model")
    tick(qtbot, view.rows.models, *models)
    choose(qtbot, view.cols, "template version")
    tick(qtbot, view.cols.template_list, "v1", "v2")
    settle(qtbot, view)


def test_models_by_template_versions(
    qtbot: QtBot, view: SweepView, runner: Runner, store: Store
) -> None:
    models_by_versions(qtbot, view, variant("paris", max_tokens=32), ["paris", "lyon"],
                       ["paris · paris", "lyon · lyon"])
    estimate = view.estimate
    assert estimate is not None and estimate.calls == 4
    assert "calls:          4" in view.estimate_label.text()
    assert store.experiments.summaries() == []  # nothing saved before Run
    run(qtbot, view)
    experiment = view.experiment
    assert experiment is not None
    runs = store.runs.for_experiment(experiment.id)
    assert len(runs) == estimate.calls
    # every (model, version) pair ran once, with that version's prompt on that model
    sent = {(r.result.request.model, r.result.request.messages[0].content) for r in runs}
    assert sent == {(m, t.messages[0].content) for m in ("paris", "lyon")
                    for t in (c.template for c in VERSIONS)}
    assert headers(view) == (["paris", "lyon"], ["v1", "v2"])
    view.metric_box.setCurrentIndex(view.metric_box.findData("output_chars"))
    lengths = {k: len(v) for k, v in ANSWERS.items()}
    assert view.values() == {(0, 0): lengths["paris"], (0, 1): lengths["paris"],
                             (1, 0): lengths["lyon"], (1, 1): lengths["lyon"]}
    # a categorical row axis is drawn as bars: one set per version, one bar per model
    chart = view.chart
    assert chart.series == [] and [b.label() for b in chart.bars] == ["v1", "v2"]
    assert [chart.bars[0].at(i) for i in range(2)] == [lengths["paris"], lengths["lyon"]]
    assert chart.category_axis.categories() == ["paris", "lyon"]
    assert chart.category_axis.titleText() == "model"
    screenshot(view, "sweep-models-versions-light")

    again = make_view(qtbot, runner)
    again.open_sweep(experiment.id)
    again.metric_box.setCurrentIndex(again.metric_box.findData("output_chars"))
    assert headers(again) == (["paris", "lyon"], ["v1", "v2"])
    assert again.values() == view.values()
    # both axes back in the editors (the versions although this window was given none), so the
    # estimate is this sweep's: done
    assert again.rows.param.currentText() == "model"
    assert again.rows.models.checked_texts() == ["paris · paris", "lyon · lyon"]
    assert again.cols.param.currentText() == "template version"
    assert again.cols.template_list.checked_texts() == ["v1", "v2"]
    qtbot.waitUntil(lambda: again.run_button.text() == "Done", timeout=20_000)
    assert again.estimate is not None and again.estimate.skipped == 4
    assert again.shutdown(10)


def test_rows_stay_rows_when_reopened(qtbot: QtBot, view: SweepView, runner: Runner) -> None:
    """Versions down the rows and models across: a reopened sweep knows only its variants, which
    are saved with the row axis slowest."""
    view.set_backends(["paris", "lyon"])
    view.set_template_versions(VERSIONS)
    view.set_base(variant("paris", max_tokens=8))
    choose(qtbot, view.rows, "template version")
    tick(qtbot, view.rows.template_list, "v2", "v1")
    choose(qtbot, view.cols, "model")
    tick(qtbot, view.cols.models, "lyon · lyon", "paris · paris")
    settle(qtbot, view)
    run(qtbot, view)
    assert view.experiment is not None
    assert headers(view) == (["v1", "v2"], ["paris", "lyon"])  # the lists' order
    again = make_view(qtbot, runner)
    again.open_sweep(view.experiment.id)
    assert headers(again) == headers(view)
    assert again.values() == view.values()
    assert again.shutdown(10)


def test_a_backend_that_cannot_list_offers_its_default_model(
    qtbot: QtBot, view: SweepView
) -> None:
    view.set_backends(["paris", "no-such-backend"])
    view.set_base(variant("paris"))
    choose(qtbot, view.rows, "model")
    tick(qtbot, view.rows.models, "no-such-backend · default model")
    item = view.rows.models.findItems("no-such-backend · default model",
                                      Qt.MatchFlag.MatchExactly)[0]
    assert "Cannot list its models" in item.toolTip()
    qtbot.waitUntil(lambda: not view.rows.model_note.isVisible(), timeout=20_000)


def test_a_model_whose_runs_fail_reads_failed_with_the_error(
    qtbot: QtBot, view: SweepView
) -> None:
    view.set_backends(["paris", "broken"])
    view.set_base(variant("paris"))
    choose(qtbot, view.rows, "model")
    tick(qtbot, view.rows.models, "paris · paris", "broken · broken")
    choose(qtbot, view.cols, "(none)")
    settle(qtbot, view)
    run(qtbot, view)
    assert headers(view) == (["paris", "broken"], ["answers"])
    ok, failed = view.matrix.item(0, 0), view.matrix.item(1, 0)
    assert ok is not None and failed is not None
    assert ok.text() == ANSWERS["paris"] and failed.text() == "failed"
    view.metric_box.setCurrentIndex(view.metric_box.findData("tokens_per_s"))
    assert headers(view) == (["paris", "broken"], ["tokens/s"])
    ok, failed = view.matrix.item(0, 0), view.matrix.item(1, 0)
    assert ok is not None and failed is not None
    assert ok.text().endswith("tok/s") and failed.text() == "failed"
    assert "overloaded" in failed.toolTip()
    assert view.chart.category_axis.categories() == ["paris", "broken"]


def _message(qtbot: QtBot, window: MainWindow, text: str) -> None:
    editor = window.editor.editor_for("messages[0] (user)")
    assert editor is not None
    editor.setFocus()
    editor.selectAll()
    qtbot.keyClicks(editor, text)
    qtbot.waitUntil(lambda: window.editor.template().messages[0].content == text)


def test_a_sweep_from_the_window_offers_its_backends_and_saved_versions(qtbot: QtBot) -> None:
    window = open_window(qtbot)
    try:
        qtbot.keyClick(window, Qt.Key.Key_N, Qt.KeyboardModifier.ControlModifier)
        for number, text in enumerate(("Name a colour.", "Name two colours."), 1):
            _message(qtbot, window, text)
            press_save(qtbot, window)  # the first save asks for a name: the one proposed
            qtbot.waitUntil(lambda n=number: window.version == n and not window.dirty,
                            timeout=30_000)
        _message(qtbot, window, "Name three colours.")  # an edit not saved as a version
        sweep = window.open_sweep(window.current_variant())
        choose(qtbot, sweep.rows, "template version")
        checklist = sweep.rows.template_list
        assert [checklist.item(i).text() for i in range(checklist.count())] == [
            "edited template", "v1", "v2"]
        choose(qtbot, sweep.cols, "model")
        tick(qtbot, sweep.cols.models, f"llamacpp · {EMBEDDED_ID}")
        tick(qtbot, checklist, "edited template", "v1")
        settle(qtbot, sweep)
        assert sweep.estimate is not None and sweep.estimate.calls == 2
        assert sweep.planned is not None
        assert [v.template.messages[0].content for v in sweep.planned.variants] == [
            "Name three colours.", "Name a colour."]
    finally:
        close_window(window)


def test_the_same_setting_on_both_axes_is_refused(qtbot: QtBot, view: SweepView) -> None:
    view.set_backends(["paris", "lyon"])
    view.set_base(variant("paris"))
    choose(qtbot, view.rows, "model")
    choose(qtbot, view.cols, "model")
    qtbot.waitUntil(lambda: "swept twice" in view.estimate_label.text(), timeout=5000)
    assert not view.run_button.isEnabled()
    choose(qtbot, view.cols, "(none)")
    qtbot.waitUntil(lambda: "pick at least one model" in view.estimate_label.text(),
                    timeout=5000)
    assert not view.run_button.isEnabled()
    assert not view.cols.values.isEnabled()  # (none) takes no values (it looked editable)
    choose(qtbot, view.cols, "temperature")
    assert view.cols.values.isEnabled()


def _cell_is(table: QTableWidget, row: int, text: str) -> bool:
    item = table.item(row, 0)
    return item is not None and item.text() == text


def type_sets(qtbot: QtBot, editor: AxisEditor, *countries: str) -> None:
    """Add a set per country and type the country over the editor's value."""
    table = editor.sets.table
    for country in countries:
        qtbot.mouseClick(editor.sets.add_button, Qt.MouseButton.LeftButton)
        row = table.rowCount() - 1
        table.setCurrentCell(row, 0)
        table.setFocus()
        qtbot.keyClick(table, Qt.Key.Key_F2)  # edit the cell
        line = QApplication.focusWidget()
        assert isinstance(line, QLineEdit)
        line.selectAll()
        qtbot.keyClicks(line, country)
        qtbot.keyClick(line, Qt.Key.Key_Return)  # the delegate commits on the next turn
        qtbot.waitUntil(partial(_cell_is, table, row, country), timeout=5000)


def sets_by_models(qtbot: QtBot, view: SweepView) -> None:
    """Three typed variable sets down the rows, a slow and a fast model across, twice each."""
    view.set_backends(["slow", "paris"])
    view.set_base(variant("slow"))
    choose(qtbot, view.rows, "variable set")
    type_sets(qtbot, view.rows, "Peru", "Japan", "Chad")
    assert view.rows.sets.names() == ["country"]
    choose(qtbot, view.cols, "model")
    tick(qtbot, view.cols.models, "slow · slow", "paris · paris")
    view.repeats.setValue(2)
    settle(qtbot, view)


def test_variable_sets_by_models_interrupted_then_resumed_in_a_new_window(
    qtbot: QtBot, view: SweepView, runner: Runner, store: Store
) -> None:
    sets_by_models(qtbot, view)
    assert view.estimate is not None and view.estimate.calls == 3 * 2 * 2
    qtbot.mouseClick(view.run_button, Qt.MouseButton.LeftButton)
    # the fast model's six cells finish at once; the slow one's queue one at a time (0.4 s
    # each, so stopping soon after its first leaves several of its cells to resume)
    qtbot.waitUntil(lambda: sum(map(len, view.cells.runs.values())) >= 7, timeout=20_000)
    view.close()  # the window (or the app) closes mid-sweep
    experiment = view.experiment
    assert experiment is not None
    ok = [r for r in store.runs.for_experiment(experiment.id) if r.status == "ok"]
    assert 7 <= len(ok) < 12

    again = make_view(qtbot, runner)  # the same sweep typed again later resumes it
    sets_by_models(qtbot, again)
    assert again.run_button.text() == "Resume sweep"
    assert again.estimate is not None and again.estimate.skipped == len(ok)
    assert again.estimate.calls == 12 - len(ok)
    run(qtbot, again)
    assert again.experiment is not None and again.experiment.id == experiment.id
    ok = [r for r in store.runs.for_experiment(experiment.id) if r.status == "ok"]
    cells = {(r.ref.variant_id, r.ref.test_case_id, r.ref.repeat_index) for r in ok}
    assert len(ok) == len(cells) == 12  # nothing ran twice
    assert {r.ref.variables["country"] for r in ok} == {"Peru", "Japan", "Chad"}
    assert {"Peru", "Japan", "Chad"} == {
        r.result.request.messages[1].content.split()[-1].rstrip("?") for r in ok}
    assert headers(again) == (["Peru", "Japan", "Chad"], ["slow", "paris"])
    again.metric_box.setCurrentIndex(again.metric_box.findData("output_chars"))
    assert again.values()[(2, 1)] == len(ANSWERS["paris"])
    assert again.values()[(0, 0)] == len("one two")
    assert again.shutdown(10)

    reopened = make_view(qtbot, runner)  # from the store: the sets and models come back
    reopened.open_sweep(experiment.id)
    assert reopened.rows.models.checked_texts() == ["slow · slow", "paris · paris"]
    assert reopened.cols.param.currentText() == "variable set"
    assert [s.vars["country"] for s in reopened.cols.sets.sets()] == ["Peru", "Japan", "Chad"]
    assert reopened.repeats.value() == 2
    qtbot.waitUntil(lambda: reopened.run_button.text() == "Done", timeout=20_000)
    assert reopened.shutdown(10)


def test_closing_the_window_stops_its_sweep(qtbot: QtBot, view: SweepView, store: Store) -> None:
    view.set_backends(["slow"])
    view.set_base(variant("slow"))
    choose(qtbot, view.rows, "model")
    tick(qtbot, view.rows.models, "slow · slow")
    choose(qtbot, view.cols, "seed")
    view.cols.values.selectAll()
    qtbot.keyClicks(view.cols.values, "1, 2, 3, 4, 5, 6")  # over the top_p values it had
    settle(qtbot, view)
    qtbot.mouseClick(view.run_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: view.handle is not None, timeout=10_000)  # saved, then started
    handle = view.handle
    assert handle is not None
    qtbot.waitUntil(lambda: bool(view.cells.runs), timeout=20_000)
    view.close()
    assert handle.done and handle.cancelled  # closed, not left running behind the window
    experiment = view.experiment
    assert experiment is not None
    ok = [r for r in store.runs.for_experiment(experiment.id) if r.status == "ok"]
    assert 1 <= len(ok) < 6


def test_variable_sets_loaded_from_a_dataset_file_in_the_dark(
    qtbot: QtBot, view: SweepView, theme: theming.Theme, tmp_path: Path
) -> None:
    theme.set_mode("dark")
    dataset = tmp_path / "countries.csv"
    dataset.write_text("country,capital\nPeru,Lima\nJapan,Tokyo\n", encoding="utf-8")
    view.set_backends(["paris", "lyon"])
    view.set_base(variant("paris", max_tokens=8))
    choose(qtbot, view.rows, "variable set")
    view.rows.sets.load_file(dataset)  # what Load… does with the file picked
    note = view.rows.sets.note.text()
    assert "2 sets from countries.csv" in note and "capital" in note
    view.rows.sets.load_file(tmp_path / "missing.csv")
    assert "cannot read" in view.rows.sets.note.text()
    choose(qtbot, view.cols, "model")
    tick(qtbot, view.cols.models, "paris · paris", "lyon · lyon")
    settle(qtbot, view)
    assert view.estimate is not None and view.estimate.calls == 4
    run(qtbot, view)
    assert headers(view) == (["Peru", "Japan"], ["paris", "lyon"])
    view.metric_box.setCurrentIndex(view.metric_box.findData("output_chars"))
    assert [b.label() for b in view.chart.bars] == ["paris", "lyon"]
    assert view.chart.category_axis.categories() == ["Peru", "Japan"]
    screenshot(view, "sweep-variable-sets-models-dark")


@pytest.mark.slow
def test_real_models_by_versions_estimate_overflow_and_reopen(
    qtbot: QtBot, theme: theming.Theme, store: Store
) -> None:
    """Two llama.cpp configurations of the embedded model (a 256-token window and a 2,048-token
    one) × two template versions: the estimate names the cell whose prompt cannot fit, counts
    the calls that run, and the runs' real token counts match it."""
    long_v2 = TEMPLATE.model_copy(update={"messages": [
        Message(role="system", content="Answer in one short sentence. " + "Be accurate. " * 80),
        TEMPLATE.messages[1],
    ]})
    smol = {
        name: BackendConfig(name=name, backend="llamacpp", options={"n_ctx": n_ctx})
        for name, n_ctx in (("smol-256", 256), ("smol-2k", 2048))
    }
    writer = StoreWriter(store)
    runner = Runner(writer=writer, configs=smol)
    view = make_view(qtbot, runner)
    try:
        view.set_backends(list(smol))
        view.set_template_versions([TemplateChoice(template=TEMPLATE, version=1),
                                    TemplateChoice(template=long_v2, version=2)])
        base = Variant(template=TEMPLATE, backend="smol-2k", model=EMBEDDED_ID,
                       variables={"country": "France"}, params=Params(seed=1, max_tokens=4))
        view.set_base(base)
        choose(qtbot, view.rows, "model")
        tick(qtbot, view.rows.models, f"smol-256 · {EMBEDDED_ID}", f"smol-2k · {EMBEDDED_ID}")
        choose(qtbot, view.cols, "template version")
        tick(qtbot, view.cols.template_list, "v1", "v2")
        settle(qtbot, view)
        estimate = view.estimate
        assert estimate is not None and estimate.calls == 4 and estimate.input_exact
        overflowing = estimate.overflowing
        assert [(c.backend, c.context_window) for c in overflowing] == [("smol-256", 256)]
        # the cell is named as the matrix names it, not by its key (v1.r0 would read as 'v1')
        assert "does not fit:   smol-256 × v2 (smol-256:" in view.estimate_label.text()
        run(qtbot, view, timeout=300_000)
        assert view.experiment is not None
        runs = store.runs.for_experiment(view.experiment.id)
        assert len(runs) == estimate.calls
        fitted = [r for r in runs if r.status == "ok"]
        assert len(fitted) == 3  # the overflowing cell fails; the others answer
        by_cell = {c.key: c for c in estimate.cells}
        assert all(by_cell[k].fits is not False for k in by_cell if k not in
                   {c.key for c in overflowing})
        assert sum(r.result.usage.input_tokens or 0 for r in fitted) == sum(
            c.input_tokens or 0 for c in estimate.cells if c.fits is not False)
        assert headers(view) == (["smol-256", "smol-2k"], ["v1", "v2"])
        view.metric_box.setCurrentIndex(view.metric_box.findData("input_tokens"))
        values = view.values()
        assert values[(0, 1)] is None  # no answer where it did not fit
        failed = view.matrix.item(0, 1)
        assert failed is not None and failed.text() == "failed" and failed.toolTip()
        assert values[(1, 1)] is not None and values[(1, 0)] is not None
        assert values[(1, 1)] > values[(1, 0)]  # v2's longer prompt
        screenshot(view, "sweep-smollm2-models-versions-light")
        again = make_view(qtbot, runner)
        again.open_sweep(view.experiment.id)
        again.metric_box.setCurrentIndex(again.metric_box.findData("input_tokens"))
        assert headers(again) == headers(view) and again.values() == values
        assert again.shutdown(10)
    finally:
        assert view.shutdown(30)
        runner.close()
        assert writer.close()
