"""The sweep view: typed axes, the pre-run estimate before anything runs, Run with progress, the
colour-scaled matrix and the metric chart, cancel and resume, reopen; and a real 3×3 sweep on the
embedded model whose estimate is checked against the calls and tokens it really used."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QTableWidgetItem
from pytestqt.qtbot import QtBot

from tests.ui.runs import screenshot
from tests.ui.test_compare_view import ANSWERS, TEMPLATE, configs, variant
from workbench.backends.config import BackendConfig
from workbench.core.experiments import AssertionSpec, TestCase, Variant
from workbench.core.grid import ModelChoice, SweepSpec
from workbench.core.models import Params
from workbench.services.comparison import saved_or_new
from workbench.services.grid_runner import GridRunner
from workbench.services.runner import Runner
from workbench.storage.repositories import Store
from workbench.storage.writer import StoreWriter
from workbench.ui import theming
from workbench.ui.compare.sweep_axes import parse_values
from workbench.ui.compare.sweep_chart import SCALE, contrast, scale_colour, text_on
from workbench.ui.compare.sweep_pane import EMPTY_STATE
from workbench.ui.compare.sweep_view import SweepView


@pytest.fixture
def runner(store: Store) -> Iterator[Runner]:
    slow = BackendConfig(
        name="slow",
        backend="scripted",
        options={
            "script": [{"text": "one "}, {"delay_s": 0.15}, {"text": "two"}],
            "concurrency": 1,
        },
    )
    writer = StoreWriter(store)
    runner = Runner(writer=writer, configs={**configs(), "slow": slow})
    yield runner
    runner.close()
    assert writer.close()


@pytest.fixture
def view(qtbot: QtBot, theme: theming.Theme, runner: Runner) -> Iterator[SweepView]:
    view = SweepView(runner)
    qtbot.addWidget(view)
    view.resize(1200, 760)
    view.show()
    qtbot.waitExposed(view)
    yield view
    assert view.shutdown(10)


def set_axes(qtbot: QtBot, view: SweepView, rows: tuple[str, str], cols: tuple[str, str]) -> None:
    for editor, (name, values) in ((view.rows, rows), (view.cols, cols)):
        editor.param.setCurrentText(name)
        editor.values.clear()
        qtbot.keyClicks(editor.values, values)


def estimate_for(qtbot: QtBot, view: SweepView, base: Variant) -> None:
    with qtbot.waitSignal(view.estimated, timeout=60_000):
        view.set_base(base)


def run(qtbot: QtBot, view: SweepView, timeout: int = 60_000) -> None:
    assert view.run_button.isEnabled()
    with qtbot.waitSignal(view.sweepFinished, timeout=timeout):
        qtbot.mouseClick(view.run_button, Qt.MouseButton.LeftButton)


def _text(item: QTableWidgetItem | None) -> str:
    assert item is not None, "the matrix has no item there"
    return item.text()


def test_parse_values() -> None:
    assert parse_values("0, 0.4,0.8 , 1") == [0, 0.4, 0.8, 1]
    assert parse_values("a, 2,") == ["a", 2]


def test_colour_scale_text_stays_readable_in_both_themes() -> None:
    for dark in (False, True):
        assert scale_colour(0, dark).name() == SCALE[dark][0]
        assert scale_colour(1, dark).name() == SCALE[dark][1]
        for step in range(11):
            background = scale_colour(step / 10, dark)
            assert contrast(background, text_on(background)) >= 4.5


def test_estimate_before_running_then_matrix_and_chart(
    qtbot: QtBot, view: SweepView, store: Store
) -> None:
    set_axes(qtbot, view, ("temperature", "0, 0.6, 1.2"), ("top_p", "0.5, 0.9, 1"))
    estimate_for(qtbot, view, variant(max_tokens=32))
    estimate = view.estimate
    assert estimate is not None and estimate.calls == 9
    text = view.estimate_label.text()
    assert "calls:          9" in text and "output tokens:  ≤ 288" in text
    assert "\nconcurrency:    " in text and " at once (set)" in text  # the scripted backend's 1
    assert "wall time:      unknown" in text  # nothing of this model measured yet
    assert store.experiments.summaries() == []  # nothing saved or run before Run
    run(qtbot, view)
    assert not view.progress.isVisible()
    matrix = view.matrix
    assert (matrix.rowCount(), matrix.columnCount()) == (3, 3)
    assert _text(matrix.verticalHeaderItem(1)) == "temperature 0.6"
    assert _text(matrix.horizontalHeaderItem(2)) == "top_p 1"
    view.metric_box.setCurrentIndex(view.metric_box.findData("output_tokens"))
    assert {_text(matrix.item(r, c)) for r in range(3) for c in range(3)} == {"11 tok"}
    view.metric_box.setCurrentIndex(view.metric_box.findData("total_s"))
    assert all(v is not None for v in matrix.values.values())
    assert len(view.chart.series) == 3 and all(s.count() == 3 for s in view.chart.series)
    assert [s.name() for s in view.chart.series] == ["top_p 0.5", "top_p 0.9", "top_p 1"]
    assert view.chart.series[0].at(2).x() == 1.2
    runs = store.runs.for_experiment(view.experiment.id if view.experiment else "")
    assert len(runs) == 9 and {r.result.request.sent_params["top_p"] for r in runs} == {0.5, 0.9, 1}
    screenshot(view, "sweep-matrix-chart-light")


def test_dark_screenshot_and_reopen(
    qtbot: QtBot, view: SweepView, runner: Runner, theme: theming.Theme
) -> None:
    theme.set_mode("dark")
    set_axes(qtbot, view, ("temperature", "0, 0.5, 1, 1.5"), ("top_p", "0.5, 0.9"))
    estimate_for(qtbot, view, variant(max_tokens=16))
    run(qtbot, view)
    view.metric_box.setCurrentIndex(view.metric_box.findData("total_s"))
    screenshot(view, "sweep-matrix-chart-dark")
    assert view.experiment is not None
    again = SweepView(runner)
    qtbot.addWidget(again)
    again.open_sweep(view.experiment.id)
    again.metric_box.setCurrentIndex(again.metric_box.findData("total_s"))
    assert again.values() == view.values()
    assert again.matrix.rowCount() == 4 and again.matrix.columnCount() == 2


def test_a_new_view_says_what_to_do_and_a_finished_sweep_says_done(
    qtbot: QtBot, view: SweepView
) -> None:
    assert view.empty_state.isVisible() and view.empty_state.text() == EMPTY_STATE
    assert "Run sweep (Ctrl+Enter)" in EMPTY_STATE
    assert not view.matrix.isVisible() and not view.chart.isVisible()
    screenshot(view, "sweep-empty-state")
    set_axes(qtbot, view, ("temperature", "0, 1"), ("top_p", "0.5, 0.9"))
    estimate_for(qtbot, view, variant(max_tokens=16))
    run(qtbot, view)
    assert view.matrix.isVisible() and not view.empty_state.isVisible()
    # The estimate after the run sees every cell done: nothing to resume.
    qtbot.waitUntil(lambda: view.run_button.text() == "Done", timeout=20_000)
    assert not view.run_button.isEnabled()
    assert view.run_button.toolTip() == "Every cell of this sweep has a result"
    assert view.estimate_label.text().startswith("all 4 cells done")
    assert "calls:" not in view.estimate_label.text()
    screenshot(view, "sweep-complete")
    view.cols.values.clear()
    qtbot.keyClicks(view.cols.values, "0.5, 0.9, 1")  # another sweep: its six cells to run
    qtbot.waitUntil(lambda: view.run_button.text() == "Run sweep", timeout=20_000)
    assert view.run_button.isEnabled() and "calls:          6" in view.estimate_label.text()
    assert "wall time:      ≈ " in view.estimate_label.text()  # from the calls measured above


def test_the_matrix_reads_answers_and_agreement_and_a_finished_cell_never_waits(
    qtbot: QtBot, view: SweepView
) -> None:
    """A temperature sweep is read for quality: each cell shows its most common answer's first
    line with the repeats' agreement, a click shows its answers whole; a finished cell without
    the chosen figure (a scripted model has no cost) reads "–", never "…"."""
    set_axes(qtbot, view, ("temperature", "0, 1"), ("top_p", "0.5, 0.9"))
    view.repeats.setValue(2)
    estimate_for(qtbot, view, variant(max_tokens=16))
    run(qtbot, view)
    matrix = view.matrix
    assert view.current_metric_key() == "answer"  # answers first, speed on demand
    cells = {_text(matrix.item(r, c)) for r in range(2) for c in range(2)}
    assert cells == {f"{ANSWERS['paris']}\nagree 100%"}
    rect = matrix.visualItemRect(matrix.item(1, 1))
    qtbot.mouseClick(matrix.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    detail = view.detail.toPlainText()
    assert detail.startswith("temperature 1 × top_p 0.9: 2 runs · agree 100%")
    assert f"── ×2 ──\n{ANSWERS['paris']}" in detail
    screenshot(view, "sweep-matrix-answers")
    view.metric_box.setCurrentIndex(view.metric_box.findData("cost"))
    assert {_text(matrix.item(r, c)) for r in range(2) for c in range(2)} == {"–"}
    assert "no cost for these runs" in (matrix.item(0, 0) or QTableWidgetItem()).toolTip()


def test_assertion_scores_per_cell(qtbot: QtBot, view: SweepView, store: Store,
                                   runner: Runner) -> None:
    """A sweep whose variable sets carry assertions scores each cell: pass counts in the
    answers, the score metric, and why an answer did not pass in the cell's detail."""
    cases = [TestCase(description="France", vars={"country": "France"},
                      assertions=[AssertionSpec(type="icontains", value="paris")])]
    sweep = SweepSpec(name="scored", base=variant("paris"), repeats=2, variable_sets=cases,
                      models=[ModelChoice(backend="paris", model="paris"),
                              ModelChoice(backend="lyon", model="lyon")])
    stored, _created = saved_or_new(store, sweep.to_experiment())
    GridRunner(runner, store).run(stored)
    runner.writer.submit(lambda _s: None).result(10)  # type: ignore[union-attr]
    view.open_sweep(stored.id)
    matrix = view.matrix
    assert _text(matrix.item(0, 0)).endswith("agree 100% · pass 2/2")
    assert _text(matrix.item(1, 0)).endswith("agree 100% · pass 0/2")
    view.metric_box.setCurrentIndex(view.metric_box.findData("score"))
    assert _text(matrix.item(0, 0)) == "100%" and _text(matrix.item(1, 0)) == "0%"
    matrix.setCurrentCell(1, 0)
    assert "not passed: icontains:" in view.detail.toPlainText()
    screenshot(view, "sweep-matrix-scores")


def test_invalid_values_are_refused_with_the_reason(qtbot: QtBot, view: SweepView) -> None:
    view.set_base(variant())
    set_axes(qtbot, view, ("temperature", "0, 5"), ("(none)", ""))
    qtbot.waitUntil(lambda: "temperature" in view.estimate_label.text(), timeout=5000)
    assert "less than or equal to 2" in view.estimate_label.text()
    assert not view.run_button.isEnabled()


def test_cancelled_sweep_resumes_without_rerunning_finished_cells(
    qtbot: QtBot, view: SweepView, store: Store
) -> None:
    set_axes(qtbot, view, ("seed", "1, 2, 3"), ("temperature", "0, 1"))
    estimate_for(qtbot, view, variant("slow"))
    qtbot.mouseClick(view.run_button, Qt.MouseButton.LeftButton)
    assert view.progress.isVisible()
    qtbot.waitUntil(lambda: sum(map(len, view.cells.runs.values())) >= 2, timeout=20_000)
    with qtbot.waitSignal(view.sweepFinished, timeout=20_000):
        qtbot.mouseClick(view.progress.cancel_button, Qt.MouseButton.LeftButton)
    experiment = view.experiment
    assert experiment is not None
    # stopped: no cell waits for a result that will not come
    shown = {_text(view.matrix.item(r, c)) for r in range(3) for c in range(2)}
    assert "…" not in shown and shown & {"not run", "cancelled"}
    done = {
        (r.ref.variant_id, r.ref.repeat_index)
        for r in store.runs.for_experiment(experiment.id)
        if r.status == "ok"
    }
    assert 2 <= len(done) < 6
    qtbot.waitUntil(lambda: view.run_button.text() == "Resume sweep", timeout=20_000)
    assert view.estimate is not None and view.estimate.skipped == len(done)
    assert view.estimate.calls == 6 - len(done)
    run(qtbot, view)
    ok = [r for r in store.runs.for_experiment(experiment.id) if r.status == "ok"]
    assert len(ok) == 6  # the finished cells were not run again
    assert len({(r.ref.variant_id, r.ref.repeat_index) for r in ok}) == 6
    assert view.experiment is not None and view.experiment.id == experiment.id


@pytest.mark.slow
def test_real_3x3_sweep_matches_its_estimate(qtbot: QtBot, view: SweepView, store: Store) -> None:
    from workbench.backends.local_models import EMBEDDED_ID

    base = Variant(
        template=TEMPLATE,
        backend="llamacpp",
        model=EMBEDDED_ID,
        variables={"country": "France"},
        params=Params(seed=1),
    )
    set_axes(qtbot, view, ("max_tokens", "2, 4, 6"), ("temperature", "0, 0.5, 1"))
    estimate_for(qtbot, view, base)
    estimate = view.estimate
    assert estimate is not None and estimate.calls == 9 and estimate.input_exact
    run(qtbot, view, timeout=300_000)
    runs = store.runs.for_experiment(view.experiment.id if view.experiment else "")
    assert len(runs) == estimate.calls
    assert sum(r.result.usage.input_tokens or 0 for r in runs) == estimate.input_tokens
    used = sum(r.result.usage.output_tokens or 0 for r in runs)
    assert used <= estimate.output_tokens == 3 * (2 + 4 + 6)
    view.metric_box.setCurrentIndex(view.metric_box.findData("output_tokens"))
    assert [_text(view.matrix.item(r, 0)) for r in range(3)] == ["2 tok", "4 tok", "6 tok"]
    screenshot(view, "sweep-smollm2-light")


@pytest.mark.slow
def test_a_temperature_sweep_on_the_embedded_model_reads_for_quality(
    qtbot: QtBot, view: SweepView
) -> None:
    """Journey 4's reading: answers, agreement over repeats, the whole answer on a click."""
    from workbench.backends.local_models import EMBEDDED_ID

    base = Variant(template=TEMPLATE, backend="llamacpp", model=EMBEDDED_ID,
                   variables={"country": "France"}, params=Params(max_tokens=12))
    set_axes(qtbot, view, ("temperature", "0, 1.5"), ("(none)", ""))
    view.repeats.setValue(3)
    estimate_for(qtbot, view, base)
    run(qtbot, view, timeout=300_000)
    summaries = view.summaries()
    greedy, hot = summaries[(0, 0)], summaries[(1, 0)]
    assert greedy.agreement == 1.0 and len(greedy.groups) == 1  # greedy: the same each time
    assert hot.agreement is not None and sum(g.count for g in hot.groups) == 3
    for row in range(2):
        text = _text(view.matrix.item(row, 0))
        assert text.split("\n")[0] and "agree " in text and text != "…"
    view.matrix.setCurrentCell(1, 0)
    assert hot.answer in view.detail.toPlainText()
    screenshot(view, "sweep-smollm2-answers")


def test_a_sweep_whose_cells_cannot_render_cannot_be_run(qtbot: QtBot, view: SweepView) -> None:
    base = variant()
    broken = base.model_copy(
        update={
            "template": base.template.model_copy(
                update={
                    "messages": [
                        base.template.messages[0].model_copy(update={"content": "{{ missing }}"})
                    ]
                }
            )
        }
    )
    view.set_base(broken)
    set_axes(qtbot, view, ("temperature", "0, 1"), ("(none)", ""))
    qtbot.waitUntil(lambda: "cannot render" in view.estimate_label.text(), timeout=5000)
    assert not view.run_button.isEnabled()
    assert "fix what the estimate lists" in view.run_button.toolTip()


def test_the_estimate_says_which_cells_leave_this_computer_and_to_where(
    qtbot: QtBot, theme: theming.Theme, store: Store
) -> None:
    """Issue 11 #6: the estimate names where remote calls go (local cells say nothing more)."""
    cloud = BackendConfig(name="cloud", backend="openai_compat",
                          options={"base_url": "https://llm.example.net/v1"})
    writer = StoreWriter(store)
    runner = Runner(writer=writer, configs={**configs(), "cloud": cloud})
    view = SweepView(runner)
    qtbot.addWidget(view)
    try:
        set_axes(qtbot, view, ("temperature", "0, 1"), ("top_p", "0.5"))
        estimate_for(qtbot, view, variant("cloud").model_copy(update={"model": "gpt-4o-mini"}))
        text = view.estimate_label.text()
        assert "sent away:      cloud → llm.example.net: 2 calls, ≤ " in text
        estimate_for(qtbot, view, variant("paris"))
        assert "sent away" not in view.estimate_label.text()
    finally:
        assert view.shutdown(10)
        runner.close()
        assert writer.close()


def test_the_same_sweep_in_a_second_window_is_refused_while_the_first_runs(
    qtbot: QtBot, view: SweepView, runner: Runner, store: Store, theme: theming.Theme
) -> None:
    second = SweepView(runner)
    qtbot.addWidget(second)
    second.resize(1200, 760)
    second.show()
    for each in (view, second):
        set_axes(qtbot, each, ("temperature", "0, 0.6"), ("top_p", "0.5, 0.9"))
        estimate_for(qtbot, each, variant(backend="slow", max_tokens=16))
    with qtbot.waitSignal(view.sweepFinished, timeout=60_000):
        qtbot.mouseClick(view.run_button, Qt.MouseButton.LeftButton)
        qtbot.mouseClick(second.run_button, Qt.MouseButton.LeftButton)  # while the first runs
        # saved on the writer thread, then refused
        qtbot.waitUntil(second.run_button.isEnabled, timeout=10_000)
        assert second.handle is None
        assert second.estimate_label.text().startswith(
            "Not started: this sweep is already running in another window of this app."
        )
        screenshot(second, "sweep-refused-while-running")
    assert view.experiment is not None and second.experiment is not None
    assert second.experiment.id == view.experiment.id
    run(qtbot, second)  # once the first ended: it resumes, with nothing left to run
    runs = store.runs.for_experiment(view.experiment.id)
    assert len(runs) == 4  # no cell ran twice
    assert second.shutdown(10)


def test_a_reopened_sweep_shows_its_axes_and_resumes_only_the_missing_cells(
    qtbot: QtBot, view: SweepView, store: Store, runner: Runner
) -> None:
    """Reopened from the store (Tools ▸ Experiments), a sweep shows its own axes and repeats,
    so its estimate and Resume are for it: it showed the default axes, and Run started another
    sweep instead of finishing this one."""
    set_axes(qtbot, view, ("seed", "1, 2, 3"), ("temperature", "0, 1"))
    view.repeats.setValue(2)
    estimate_for(qtbot, view, variant("slow"))
    qtbot.mouseClick(view.run_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: sum(map(len, view.cells.runs.values())) >= 3, timeout=20_000)
    with qtbot.waitSignal(view.sweepFinished, timeout=20_000):
        view.cancel()
    assert view.experiment is not None
    saved = store.experiments.get(view.experiment.id)
    done = len([r for r in store.runs.for_experiment(saved.id) if r.status == "ok"])
    assert 3 <= done < 12

    again = SweepView(runner)  # as the Experiments browser opens it
    qtbot.addWidget(again)
    again.set_base(saved.spec.variants[0])
    again.name.setText(saved.spec.name)
    with qtbot.waitSignal(again.estimated, timeout=20_000):
        again.open_sweep(saved.id)
    try:
        assert (again.rows.param.currentText(), again.rows.values.text()) == ("seed", "1, 2, 3")
        assert (again.cols.param.currentText(), again.cols.values.text()) == (
            "temperature", "0, 1")
        assert again.repeats.value() == 2
        qtbot.waitUntil(lambda: again.run_button.text() == "Resume sweep", timeout=20_000)
        assert again.estimate is not None and again.estimate.skipped == done
        assert again.estimate.calls == 12 - done
        run(qtbot, again)
        ok = [r for r in store.runs.for_experiment(saved.id) if r.status == "ok"]
        assert len(ok) == 12 and len({(r.ref.variant_id, r.ref.repeat_index) for r in ok}) == 12
        assert again.experiment is not None and again.experiment.id == saved.id
    finally:
        assert again.shutdown(10)


def test_the_estimate_warns_that_repeats_with_a_fixed_seed_are_identical(
    qtbot: QtBot, view: SweepView
) -> None:
    set_axes(qtbot, view, ("temperature", "0.4, 1.2"), ("top_p", "0.5, 0.9"))
    estimate_for(qtbot, view, variant(max_tokens=16, seed=1))
    assert "fixed seed" not in view.estimate_label.text()  # one run per cell
    with qtbot.waitSignal(view.estimated, timeout=60_000):
        view.repeats.setValue(3)
    assert ("×3 repeats: repeats with a fixed seed give identical answers; remove seed or "
            "vary it") in view.estimate_label.text()


def test_a_finished_sweep_typed_with_1_0_reopens_done(
    qtbot: QtBot, view: SweepView, runner: Runner, store: Store
) -> None:
    """Values typed "0, 0.7, 1.0" come back as "0, 0.7, 1": the reopened sweep is the same one,
    done (it ran all of it again as a second experiment of the same name)."""
    set_axes(qtbot, view, ("temperature", "0, 0.7, 1.0"), ("(none)", ""))
    estimate_for(qtbot, view, variant())
    run(qtbot, view)
    assert view.experiment is not None
    saved = store.experiments.get(view.experiment.id)
    again = SweepView(runner)  # as the Experiments browser opens it
    qtbot.addWidget(again)
    again.set_base(saved.spec.variants[0])
    again.name.setText(saved.spec.name)
    again.open_sweep(saved.id)
    assert again.rows.values.text() == "0, 0.7, 1"
    qtbot.waitUntil(lambda: again.run_button.text() == "Done", timeout=20_000)
    assert not again.run_button.isEnabled()
    assert len(store.experiments.summaries()) == 1


def test_ctrl_enter_right_after_typing_runs_the_sweep(qtbot: QtBot, view: SweepView) -> None:
    """Ctrl+Enter pressed while the estimate of what was just typed is still coming runs the
    sweep once it is there (it did nothing: Run was greyed until the estimate arrived), from
    any field of the window, keypad Enter too."""
    estimate_for(qtbot, view, variant(max_tokens=16))
    view.rows.param.setCurrentText("temperature")
    view.rows.values.clear()
    qtbot.keyClicks(view.rows.values, "0, 1")
    assert not view.run_button.isEnabled()  # the estimate of the new values is on its way
    with qtbot.waitSignal(view.sweepFinished, timeout=60_000):
        qtbot.keyClick(view.rows.values, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    first = view.experiment
    assert first is not None and view.cells.runs
    view.name.setFocus()
    qtbot.keyClicks(view.name, "again")
    with qtbot.waitSignal(view.sweepFinished, timeout=60_000):
        qtbot.keyClick(view.name, Qt.Key.Key_Enter, Qt.KeyboardModifier.ControlModifier
                       | Qt.KeyboardModifier.KeypadModifier)
    assert view.experiment is not None and view.experiment.id != first.id  # the renamed one


def _cells(view: SweepView) -> list[str]:
    matrix = view.matrix
    return [_text(matrix.item(r, c))
            for r in range(matrix.rowCount()) for c in range(matrix.columnCount())]


def _rows(view: SweepView) -> list[str]:
    return [_text(view.matrix.verticalHeaderItem(r)) for r in range(view.matrix.rowCount())]


def _type_rows(qtbot: QtBot, view: SweepView, values: str) -> None:
    """Type new row values as a person does: select all, type."""
    view.rows.values.setFocus()
    qtbot.keyClick(view.rows.values, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClicks(view.rows.values, values)


def _retype(qtbot: QtBot, view: SweepView, values: str, rows: list[str]) -> None:
    """Type new row values and wait for the matrix to have these rows."""
    _type_rows(qtbot, view, values)
    qtbot.waitUntil(lambda: _rows(view) == rows, timeout=20_000)


def test_an_axis_edited_after_a_sweep_shows_its_own_grid_never_the_last_results(
    qtbot: QtBot, view: SweepView, store: Store
) -> None:
    """Edited after a run, an axis showed the last sweep's results under the editors of the new
    one (seen by a first-time user). The matrix shows the sweep typed, the one the estimate is
    for: a new one's cells are empty (its 0 cell runs again, in the new sweep), the one that
    ran shows its results again when typed back, another parameter shows none."""
    set_axes(qtbot, view, ("temperature", "0.0, 1.0"), ("(none)", ""))
    estimate_for(qtbot, view, variant(max_tokens=16))
    run(qtbot, view)
    first = view.experiment
    assert first is not None
    assert _rows(view) == ["temperature 0", "temperature 1"]
    assert all(cell.startswith(ANSWERS["paris"]) for cell in _cells(view))
    qtbot.waitUntil(lambda: view.run_button.text() == "Done", timeout=20_000)

    _retype(qtbot, view, "0.0, 0.5", ["temperature 0", "temperature 0.5"])
    assert view.matrix.isVisible() and not view.empty_state.isVisible()
    assert _cells(view) == ["not run", "not run"]  # neither is this sweep's result
    assert "No result yet" in (view.matrix.item(1, 0) or QTableWidgetItem()).toolTip()
    assert view.experiment is None and view.legend.text() == ""
    assert all(series.count() == 0 for series in view.chart.series)
    assert (view.chart.y_axis.min(), view.chart.y_axis.max()) == (0.0, 1.0)
    view.matrix.setCurrentCell(0, 0)
    assert view.detail.toPlainText() == "temperature 0: 0 runs"  # not the last sweep's answer
    qtbot.waitUntil(lambda: view.run_button.text() == "Run sweep", timeout=20_000)
    assert view.estimate is not None and view.estimate.calls == 2  # what the matrix says
    view.metric_box.setCurrentIndex(view.metric_box.findData("total_s"))
    assert set(_cells(view)) == {"not run"}
    view.metric_box.setCurrentIndex(view.metric_box.findData("answer"))
    view.activateWindow()
    screenshot(view, "sweep-axis-edited")
    assert view.grab().save("/tmp/sweep_stale.png")

    # Typed back, the sweep that ran is found in the store and shown as it is reopened.
    _retype(qtbot, view, "0.0, 1.0", ["temperature 0", "temperature 1"])
    assert all(cell.startswith(ANSWERS["paris"]) for cell in _cells(view))
    assert view.experiment is not None and view.experiment.id == first.id
    qtbot.waitUntil(lambda: view.run_button.text() == "Done", timeout=20_000)

    # Another parameter on the same values: another sweep, none of those results.
    view.rows.param.setCurrentText("presence_penalty")
    rows = ["presence_penalty 0", "presence_penalty 1"]
    qtbot.waitUntil(lambda: _rows(view) == rows, timeout=20_000)
    assert _cells(view) == ["not run", "not run"]

    # Values that make no sweep: no matrix, the estimate says why.
    _type_rows(qtbot, view, "0, 5")
    qtbot.waitUntil(view.empty_state.isVisible, timeout=20_000)
    assert not view.matrix.isVisible() and view.summaries() == {}
    assert len(store.experiments.summaries()) == 1  # nothing saved by editing


def test_an_axis_edited_while_a_sweep_runs_leaves_its_matrix_until_it_ends(
    qtbot: QtBot, view: SweepView
) -> None:
    """The running sweep's answers land in its own cells; the edited axes' grid shows once it
    has ended, not before (its runs would land in the new grid's cells)."""
    seeds = [f"seed {n}" for n in range(1, 9)]
    set_axes(qtbot, view, ("seed", "1, 2, 3, 4, 5, 6, 7, 8"), ("(none)", ""))
    estimate_for(qtbot, view, variant("slow"))  # one at a time, 0.15 s each
    with qtbot.waitSignal(view.sweepFinished, timeout=60_000):
        qtbot.mouseClick(view.run_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: view.handle is not None, timeout=20_000)
        with qtbot.waitSignal(view.estimated, timeout=20_000):
            _type_rows(qtbot, view, "10, 11, 12")
        assert view.handle is not None  # still running
        assert _rows(view) == seeds
    assert _rows(view) == seeds and _cells(view) == ["one two"] * 8
    qtbot.waitUntil(lambda: _rows(view) == ["seed 10", "seed 11", "seed 12"], timeout=20_000)
    assert _cells(view) == ["not run"] * 3
