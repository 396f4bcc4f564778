"""The compare view driven like a person: add variants by changing one thing, run all, watch the
columns stream, cancel one or all, diff two, repeat, rate blind, save and reopen.

Runs go through the real ``services.Runner`` into a real SQLite store; the fast tests use the
scripted backend (configured like any backend), the slow ones the embedded SmolLM2 model and a
real ``llama_cpp.server``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QEvent, Qt
from pytestqt.qtbot import QtBot

from tests.backends.conftest import llama_server  # noqa: F401 - the real server fixture, reused
from tests.ui.runs import screenshot
from workbench.backends.config import BackendConfig
from workbench.core.experiments import Variant
from workbench.core.grid import TemplateChoice
from workbench.core.models import Message, Params, PromptTemplate, Variable
from workbench.services.runner import Runner
from workbench.storage.repositories import Store
from workbench.storage.writer import StoreWriter
from workbench.ui import theming
from workbench.ui.compare.compare_view import CompareView
from workbench.ui.compare.diff_view import COLOURS
from workbench.ui.workers import RunManager

TEMPLATE = PromptTemplate(
    name="capital",
    messages=[
        Message(role="system", content="Answer in one short sentence."),
        Message(role="user", content="What is the capital of {{ country }}?"),
    ],
    variables=[Variable(name="country")],
)
ANSWERS = {
    "paris": "The capital of France is Paris, a city on the Seine.",
    "lyon": "The capital of France is Lyon, a city on the Rhône.",
}


def _words(text: str, delay: float = 0.0) -> list[dict[str, object]]:
    steps: list[dict[str, object]] = []
    for word in text.split(" "):
        steps.append({"text": word + " "})
        if delay:
            steps.append({"delay_s": delay})
    steps[-2 if delay else -1]["text"] = str(steps[-2 if delay else -1]["text"]).rstrip()
    return steps


def configs() -> dict[str, BackendConfig]:
    def config(name: str, script: list[dict[str, object]], concurrency: int = 8) -> BackendConfig:
        return BackendConfig(
            name=name,
            backend="scripted",
            options={"script": script, "concurrency": concurrency, "models": [name]},
        )

    return {
        "paris": config("paris", _words(ANSWERS["paris"], 0.002)),
        "lyon": config("lyon", _words(ANSWERS["lyon"], 0.002)),
        "hang": config("hang", [{"text": "Thinking "}, {"hang": True}]),
        "queue": config("queue", [{"text": "first "}, {"hang": True}], concurrency=1),
    }


def variant(backend: str = "paris", **params: object) -> Variant:
    return Variant(
        template=TEMPLATE,
        template_version=1,
        backend=backend,
        model=backend,
        variables={"country": "France"},
        params=Params(**params),
    )


@pytest.fixture
def manager(store: Store) -> Iterator[RunManager]:
    writer = StoreWriter(store)
    runner = Runner(writer=writer, configs=configs())
    manager = RunManager(runner=runner, max_threads=16)
    yield manager
    assert manager.shutdown(10)
    runner.close()
    assert writer.close()


@pytest.fixture
def make_view(
    qtbot: QtBot, theme: theming.Theme, manager: RunManager
) -> Callable[..., CompareView]:
    def make(*variants: Variant, width: int = 1366, height: int = 720) -> CompareView:
        view = CompareView(manager)
        qtbot.addWidget(view)
        for v in variants:
            view.add_variant(v)
        view.resize(width, height)
        view.show()
        qtbot.waitExposed(view)
        view.activateWindow()
        qtbot.waitUntil(view.isActiveWindow, timeout=5000)
        return view

    return make


def press(
    qtbot: QtBot,
    view: CompareView,
    key: Qt.Key,
    modifiers: Qt.KeyboardModifier = Qt.KeyboardModifier.ControlModifier,
) -> None:
    """A shortcut typed while the reader's focus is in the first column's text."""
    target = view.columns[0].output.plain
    target.setFocus()
    qtbot.waitUntil(target.hasFocus, timeout=5000)
    qtbot.keyClick(target, key, modifiers)


CTRL_SHIFT = Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier


def run_all(qtbot: QtBot, view: CompareView, timeout: int = 20_000) -> None:
    with qtbot.waitSignal(view.runAllFinished, timeout=timeout):
        press(qtbot, view, Qt.Key.Key_Return)


def titles(view: CompareView) -> list[str]:
    return [view.columns[i].title.text() for i in view.order]


def test_add_variant_changes_one_parameter_and_names_it(
    qtbot: QtBot, make_view: Callable[..., CompareView]
) -> None:
    view = make_view(variant(temperature=0.7))
    press(qtbot, view, Qt.Key.Key_N, CTRL_SHIFT)
    editor = view.editor
    assert editor.isVisible() and editor.param.currentText() == "temperature"
    assert editor.param_value.text() == "0.7"
    editor.param_value.clear()
    qtbot.keyClicks(editor.param_value, "1.2")
    qtbot.keyClick(editor.param_value, Qt.Key.Key_Return)
    assert len(view.columns) == 2 and not editor.isVisible()
    assert view.columns[1].variant.params.temperature == 1.2
    assert titles(view)[1] == "temperature 1.2"
    assert view.columns[1].badge.text() == "B"
    assert "capital v1" in titles(view)[0] and "temperature 0.7" in titles(view)[0]


def test_a_column_that_greedy_decoding_cancels_is_named_before_running(
    qtbot: QtBot, make_view: Callable[..., CompareView]
) -> None:
    """Over a greedy base a "temperature 0.9" column sends A's very request: the view says so
    before anything runs (and not in blind mode, where it would name the columns)."""
    view = make_view(variant(greedy=True, max_tokens=8))
    press(qtbot, view, Qt.Key.Key_N, CTRL_SHIFT)
    view.editor.param_value.clear()
    qtbot.keyClicks(view.editor.param_value, "0.9")
    qtbot.keyClick(view.editor.param_value, Qt.Key.Key_Return)
    assert titles(view)[1] == "temperature 0.9"
    note = view.effects_note
    qtbot.waitUntil(note.isVisible)  # worked out off the GUI thread
    assert note.text() == ("Before running: temperature changes nothing: greedy decoding is on"
                           " · B sends the same request as A: expect the same answer")
    view.repeat_box.setValue(3)
    qtbot.waitUntil(lambda: note.text().endswith(
        "×3 repeats: greedy decoding gives the same answer each time"))
    screenshot(view, "compare-greedy-note")
    view.set_blind(True, seed=1)
    assert not note.isVisible()
    view.set_blind(False)
    qtbot.waitUntil(note.isVisible)
    view.remove_column(view.columns[1])
    view.repeat_box.setValue(1)
    qtbot.waitUntil(lambda: not note.isVisible())


def test_sweep_action_hands_over_the_last_column(
    qtbot: QtBot, make_view: Callable[..., CompareView]
) -> None:
    view = make_view(variant(), variant("lyon", temperature=0.4))
    with qtbot.waitSignal(view.sweepRequested, timeout=5000) as asked:
        press(qtbot, view, Qt.Key.Key_W, CTRL_SHIFT)
    assert asked.args[0] == view.columns[1].variant


def test_variant_editor_refuses_an_invalid_value_and_says_why(
    qtbot: QtBot, make_view: Callable[..., CompareView]
) -> None:
    view = make_view(variant())
    view.open_variant_editor()
    qtbot.keyClicks(view.editor.param_value, "7")  # temperature is 0..2
    qtbot.mouseClick(view.editor.add_button, Qt.MouseButton.LeftButton)
    assert len(view.columns) == 1
    assert "2" in view.editor.error.text()


def test_model_and_variable_changes_are_named(
    qtbot: QtBot, make_view: Callable[..., CompareView]
) -> None:
    view = make_view(variant())
    view.set_backends(["paris", "lyon"])
    view.open_variant_editor()
    view.editor.kind.setCurrentIndex(2)  # model
    view.editor.backend.setCurrentText("lyon")
    view.editor.model.setText("lyon")
    qtbot.keyClick(view.editor.model, Qt.Key.Key_Return)
    view.open_variant_editor()
    view.editor.kind.setCurrentIndex(3)  # variable
    view.editor.variable_value.setText("Italy")
    qtbot.keyClick(view.editor.variable_value, Qt.Key.Key_Return)
    # each new column copies the last one: C is B with another country
    assert titles(view)[1:] == ["lyon", "lyon · country = 'Italy'"]


def test_run_all_streams_every_column_with_figures_and_saves_runs(
    qtbot: QtBot, make_view: Callable[..., CompareView], store: Store
) -> None:
    view = make_view(variant(), variant("lyon"), variant(temperature=1.0), variant("lyon", seed=3))
    states: list[str] = []
    view.columns[0].output.stateChanged.connect(states.append)
    run_all(qtbot, view)
    assert "streaming" in states and states[-1] == "finished"
    for column, answer in zip(view.columns, ["paris", "lyon", "paris", "lyon"], strict=True):
        assert column.output.text() == ANSWERS[answer]
        assert column.output.state == "finished"
        metrics = column.metrics
        assert metrics.text("finish") == "stop"
        assert metrics.text("tokens").endswith(" tok")
        assert metrics.text("ttft").endswith(("ms", " s"))
        assert metrics.values["ttft"].alignment() & Qt.AlignmentFlag.AlignRight
        assert column.rating.isEnabled()
    assert view.experiment_id is not None
    runs = store.runs.for_experiment(view.experiment_id)
    assert len(runs) == 4
    assert {r.ref.variant_id for r in runs} == set(view.variant_ids)


def test_a_model_load_in_one_column_keeps_the_rows_of_every_column_aligned(
    qtbot: QtBot, make_view: Callable[..., CompareView]
) -> None:
    view = make_view(variant(), variant("lyon"), variant(temperature=1.0))
    run_all(qtbot, view)
    first = view.columns[0]
    assert first.shown is not None and first.shown.result is not None
    # Column A's run paid for loading the model; B's and C's found it loaded.
    result = first.shown.result
    loaded = result.model_copy(
        update={"timings": result.timings.model_copy(update={"load_s": 0.239})}
    )
    first.metrics.show_result(loaded)
    qtbot.waitUntil(lambda: first.metrics.values["load"].isVisible())
    assert first.metrics.text("load") == "239 ms"
    for column in view.columns[1:]:
        assert column.metrics.values["load"].isVisible() and column.metrics.text("load") == "–"

    def row_tops(key: str) -> set[int]:
        return {
            c.metrics.values[key].mapTo(view, c.metrics.values[key].rect().topLeft()).y()
            for c in view.columns
        }

    qtbot.waitUntil(lambda: len({c.output.height() for c in view.columns}) == 1)
    for key in ("ttft", "finish", "load"):
        assert len(row_tops(key)) == 1, f"the {key} rows are not level"
    screenshot(view, "compare-rows-aligned-with-model-load")


def test_cancel_one_column_while_the_others_finish(
    qtbot: QtBot, make_view: Callable[..., CompareView]
) -> None:
    view = make_view(variant(), variant("hang"))
    hanging = view.columns[1]
    with qtbot.waitSignal(
        hanging.output.stateChanged, timeout=10_000, check_params_cb=lambda s: s == "streaming"
    ):
        qtbot.mouseClick(view.toolbar.widgetForAction(view.run_action), Qt.MouseButton.LeftButton)
    assert view.cancel_action.isEnabled()
    with qtbot.waitSignal(view.runAllFinished, timeout=10_000):
        qtbot.mouseClick(hanging.output.cancel_button, Qt.MouseButton.LeftButton)
    assert hanging.output.state == "cancelled"
    assert hanging.output.text() == "Thinking "
    assert hanging.metrics.text("finish") == "cancelled"
    assert view.columns[0].output.state == "finished"
    assert view.run_action.isEnabled() and not view.cancel_action.isEnabled()


def test_cancel_all_stops_running_and_queued_columns(
    qtbot: QtBot, make_view: Callable[..., CompareView]
) -> None:
    # "queue" runs one request at a time, like a local model: the second column waits
    view = make_view(variant("queue"), variant("queue", temperature=1.0), variant("hang"))
    view.run_all()
    limiter = view.runner.limits.for_backend("queue", view.runner.backend("queue").options)
    queued = [view.columns[0].output, view.columns[1].output]
    qtbot.waitUntil(
        lambda: (
            limiter.waiting == 1 and sorted(o.state for o in queued) == ["running", "streaming"]
        ),
        timeout=10_000,
    )
    waiting = next(o for o in queued if o.state == "running")  # behind the other one
    with qtbot.waitSignal(view.runAllFinished, timeout=10_000):
        press(qtbot, view, Qt.Key.Key_Escape, CTRL_SHIFT)
    assert [c.output.state for c in view.columns] == ["cancelled"] * 3
    assert waiting.text() == ""


def test_diff_two_columns_side_by_side_and_inline(
    qtbot: QtBot, make_view: Callable[..., CompareView]
) -> None:
    view = make_view(variant(), variant("lyon"), width=1100, height=760)
    run_all(qtbot, view)
    press(qtbot, view, Qt.Key.Key_D)
    diff = view.diff_view
    assert diff.isVisible() and diff.left.currentText() == "A" and diff.right.currentText() == "B"
    assert diff.diff is not None
    assert diff.stats.text().startswith("−2 words  +2 words")
    left_html = diff.left_text.toHtml()
    assert COLOURS[False]["delete"][0] in left_html and "Paris" in diff.left_text.toPlainText()
    assert COLOURS[False]["insert"][0] in diff.right_text.toHtml()
    screenshot(view, "compare-diff-side-by-side")
    diff.left_text.setFocus()
    qtbot.waitUntil(diff.left_text.hasFocus, timeout=5000)
    qtbot.keyClick(diff.left_text, Qt.Key.Key_I, CTRL_SHIFT)
    assert diff.mode == "inline"
    assert "Paris" in diff.inline_text.toPlainText() and "Lyon" in diff.inline_text.toPlainText()
    screenshot(diff, "compare-diff-inline")
    diff.right.setCurrentIndex(0)  # a column against itself
    assert diff.stats.text() == "identical"


def test_repeats_collapse_identical_answers_with_counts(
    qtbot: QtBot, make_view: Callable[..., CompareView], store: Store
) -> None:
    view = make_view(variant(), variant("lyon"))
    view.repeat_box.setValue(3)
    run_all(qtbot, view)
    column = view.columns[0]
    assert column.repeats.isVisible()
    assert column.repeats.answer_rows() == [f"×3 ◆ {ANSWERS['paris']}"]
    figures = column.repeats.figures
    assert figures.text("repeats") == "3 · 1 distinct"
    assert (figures.text("agreement"), figures.text("similarity")) == ("100%", "100%")
    assert not figures.values["majority"].isVisible()  # the template has no answer pattern
    assert len(store.runs.for_experiment(view.experiment_id or "")) == 6
    repeats = sorted(
        r.ref.repeat_index for r in store.runs.for_experiment(view.experiment_id or "")
    )
    assert repeats == [0, 0, 1, 1, 2, 2]


def test_blind_rating_persists_and_summarises_per_variant(
    qtbot: QtBot, make_view: Callable[..., CompareView], store: Store
) -> None:
    view = make_view(variant(), variant("lyon"), variant(temperature=1.5))
    run_all(qtbot, view)
    press(qtbot, view, Qt.Key.Key_B)
    assert view.blind
    view.set_blind(True, seed=4)  # a known shuffle for the assertions below
    assert sorted(view.order) == [0, 1, 2] and view.order != [0, 1, 2]
    for position, index in enumerate(view.order):
        column = view.columns[index]
        assert column.badge.text() == f"Output {position + 1}"
        assert not column.title.isVisible() and not column.metrics.isVisible()
        assert column.eventFilter(column.output.status, QEvent(QEvent.Type.ToolTip))
    bar = view.preferences
    assert [bar.left.itemText(i) for i in range(3)] == ["Output 1", "Output 2", "Output 3"]
    screenshot(view, "compare-blind")
    # the person prefers whichever output is the Lyon one, twice, against the two others
    lyon = view.order.index(1)
    others = [p for p in range(3) if p != lyon]
    for other in others:
        bar.pick(lyon, other)
        bar.comment.setText("more surprising")
        qtbot.mouseClick(bar.buttons["a"], Qt.MouseButton.LeftButton)
    assert "won" not in bar.summary.text()  # results wait for the reveal
    # thumbs and stars under the Lyon column
    rating = view.columns[1].rating
    qtbot.mouseClick(rating.up, Qt.MouseButton.LeftButton)
    qtbot.mouseClick(rating.stars[3], Qt.MouseButton.LeftButton)
    view.writer.submit(lambda s: None).result(10)  # type: ignore[union-attr]
    lyon_run = view.columns[1].shown.run_id  # type: ignore[union-attr]
    saved = store.ratings.get(lyon_run or "")
    assert saved is not None and saved.thumbs == 1 and saved.stars == 4
    prefs = store.ratings.preferences(view.experiment_id)
    assert len(prefs) == 2 and all(p.run_a == lyon_run and p.choice == "a" for p in prefs)
    assert prefs[0].comment == "more surprising"
    press(qtbot, view, Qt.Key.Key_B)  # reveal
    assert not view.blind and view.order == [0, 1, 2]
    summary = bar.summary.text()
    assert summary.startswith("A: won 0% of 1") and "B: won 100% of 2 (95% CI 34%–100%)" in summary
    assert "★ 4.0" in summary


def test_blind_mode_shows_nothing_that_gives_the_columns_away(
    qtbot: QtBot, make_view: Callable[..., CompareView], store: Store
) -> None:
    """Ratings, thumbs and A/B results given before going blind (or saved with a reopened
    comparison) would point at the column they belong to: blind mode shows none of them, nor a
    win-rate line, until the columns are revealed."""
    view = make_view(variant(), variant("lyon"), variant(temperature=1.5))
    run_all(qtbot, view)
    rating = view.columns[1].rating
    qtbot.mouseClick(rating.up, Qt.MouseButton.LeftButton)
    qtbot.mouseClick(rating.stars[4], Qt.MouseButton.LeftButton)
    rating.comment.setText("the Lyon one")
    rating.comment.editingFinished.emit()
    view.preferences.pick(0, 1)
    qtbot.mouseClick(view.preferences.buttons["b"], Qt.MouseButton.LeftButton)
    assert "B: won 100% of 1" in view.preferences.summary.text()

    view.set_blind(True, seed=4)
    for column in view.columns:
        bar = column.rating
        assert bar.thumbs() is None and bar.star_count() == 0 and bar.comment.text() == ""
    summary = view.preferences.summary.text()
    assert not any(word in summary for word in ("won", "★", "thumbs", "Output", "A:", "B:"))
    # a repeat picked in blind mode does not bring the old rating back either
    view.judging.show_rating(view.columns[1], view.columns[1].shown.run_id)  # type: ignore[union-attr]
    assert view.columns[1].rating.star_count() == 0
    # ratings given blind are shown (they give nothing away)
    third = view.columns[2].rating
    qtbot.mouseClick(third.stars[1], Qt.MouseButton.LeftButton)
    assert third.star_count() == 2
    screenshot(view, "compare-blind-after-rating")

    view.set_blind(False)
    qtbot.waitUntil(lambda: view.columns[1].rating.star_count() == 5, timeout=5000)
    assert view.columns[1].rating.thumbs() == 1
    assert view.columns[1].rating.comment.text() == "the Lyon one"
    assert "B: won 100% of 1" in view.preferences.summary.text()


def test_save_and_reopen_shows_the_same_outputs_and_ratings(
    qtbot: QtBot, make_view: Callable[..., CompareView], store: Store
) -> None:
    view = make_view(variant(), variant("lyon"))
    run_all(qtbot, view)
    view.name_edit.setText("Paris or Lyon")
    qtbot.mouseClick(view.columns[0].rating.down, Qt.MouseButton.LeftButton)
    with qtbot.waitSignal(view.saved, timeout=5000) as saved:
        press(qtbot, view, Qt.Key.Key_S)
    experiment_id = saved.args[0]
    view.writer.submit(lambda s: None).result(10)  # type: ignore[union-attr]
    assert store.experiments.get(experiment_id).spec.name == "Paris or Lyon"
    reopened = make_view()
    reopened.open_experiment(experiment_id)
    assert [c.output.text() for c in reopened.columns] == [ANSWERS["paris"], ANSWERS["lyon"]]
    assert [c.output.state for c in reopened.columns] == ["finished", "finished"]
    assert titles(reopened) == titles(view)
    assert reopened.columns[0].rating.down.isChecked()
    assert reopened.columns[1].metrics.text("finish") == "stop"
    assert reopened.name_edit.text() == "Paris or Lyon"


def test_export_writes_the_outputs_with_the_column_names(
    qtbot: QtBot, make_view: Callable[..., CompareView], tmp_path: Path
) -> None:
    view = make_view(variant(), variant("lyon"))
    run_all(qtbot, view)
    view.preferences.pick(0, 1)
    qtbot.mouseClick(view.preferences.buttons["b"], Qt.MouseButton.LeftButton)
    report = tmp_path / "comparison.md"
    with qtbot.waitSignal(view.exported, timeout=10_000):  # saved and written off the GUI thread
        view.export(report)
    text = report.read_text(encoding="utf-8")
    assert ANSWERS["paris"] in text and ANSWERS["lyon"] in text
    assert "B: lyon" in text
    with qtbot.waitSignal(view.exported, timeout=10_000):
        view.export(tmp_path / "comparison.csv")
    assert ANSWERS["lyon"] in (tmp_path / "comparison.csv").read_text(encoding="utf-8")
    assert "Exported to" in view.notice.text()


def test_removing_a_saved_column_starts_a_new_experiment(
    qtbot: QtBot, make_view: Callable[..., CompareView], store: Store
) -> None:
    view = make_view(variant(), variant("lyon"), variant(temperature=1.0))
    run_all(qtbot, view)
    first = view.experiment_id
    qtbot.mouseClick(view.columns[1].remove_button, Qt.MouseButton.LeftButton)
    assert len(view.columns) == 2 and view.experiment_id is None
    run_all(qtbot, view)
    assert view.experiment_id not in (None, first)
    assert len(store.experiments.get(first or "").spec.variants) == 3


def test_a_template_that_does_not_render_is_reported_inline(
    qtbot: QtBot, make_view: Callable[..., CompareView]
) -> None:
    broken = variant().model_copy(update={"variables": {}})
    view = make_view(broken)
    view.run_all()
    assert view.notice.isVisible() and "country" in view.notice.text()
    assert view.columns[0].output.state == "idle"


@pytest.mark.parametrize("count", [2, 4, 8])
def test_screenshots_of_2_4_8_columns(
    qtbot: QtBot, make_view: Callable[..., CompareView], count: int
) -> None:
    temps = [0.0, 0.3, 0.6, 0.9, 1.2, 1.5, 1.8, 2.0]
    variants = [
        variant("paris" if i % 2 == 0 else "lyon", temperature=temps[i]) for i in range(count)
    ]
    view = make_view(*variants, width=1366, height=720)
    run_all(qtbot, view)
    qtbot.waitUntil(lambda: all(c.output.caught_up for c in view.columns), timeout=5000)
    assert view.area.horizontalScrollBar().maximum() == 0, "8 columns must fit 1366 px"
    for column in view.columns:
        assert column.width() >= 150
    screenshot(view, f"compare-{count}-columns-light")


def test_dark_screenshot_and_nine_columns_scroll(
    qtbot: QtBot, make_view: Callable[..., CompareView], theme: theming.Theme
) -> None:
    theme.set_mode("dark")
    view = make_view(*[variant("paris" if i % 2 else "lyon", seed=i) for i in range(8)])
    run_all(qtbot, view)
    qtbot.waitUntil(lambda: all(c.output.caught_up for c in view.columns), timeout=5000)
    screenshot(view, "compare-8-columns-dark")
    view.add_variant(variant(seed=99))
    qtbot.waitUntil(lambda: view.area.horizontalScrollBar().maximum() > 0, timeout=5000)


@pytest.mark.slow
def test_two_settings_by_two_template_versions_on_the_embedded_model(
    qtbot: QtBot, make_view: Callable[..., CompareView], store: Store, tmp_path: Path
) -> None:
    from workbench.backends.local_models import EMBEDDED_ID
    from workbench.storage.library import Library

    library = Library(store.db, tmp_path / "library")
    library.save(TEMPLATE, key="capital")
    terse = TEMPLATE.model_copy(
        update={
            "messages": [
                Message(role="system", content="You are a geography teacher. Answer briefly."),
                TEMPLATE.messages[1],
            ]
        }
    )
    library.save(terse, key="capital", message="a teacher's voice")
    versions = [TemplateChoice(template=v.template(), key=v.key, version=v.number,
                               message=v.message) for v in library.versions("capital")]
    assert [c.version for c in versions] == [1, 2]
    base = Variant(
        template=versions[1].template,
        template_key="capital",
        template_version=2,
        backend="llamacpp",
        model=EMBEDDED_ID,
        variables={"country": "France"},
        params=Params(max_tokens=12, seed=1, temperature=0.0),
    )
    view = make_view(base)
    view.set_template_versions(versions)
    editor = view.editor

    def add(kind: int, value: str) -> None:
        press(qtbot, view, Qt.Key.Key_N, CTRL_SHIFT)
        editor.kind.setCurrentIndex(kind)
        if kind == 0:
            editor.param_value.clear()
            qtbot.keyClicks(editor.param_value, value)
        else:
            editor.version.setCurrentText(value)
        qtbot.mouseClick(editor.add_button, Qt.MouseButton.LeftButton)

    add(0, "1.0")  # B: temperature 1
    add(1, "v1")  # C: v1 at temperature 1
    add(0, "0")  # D: v1 at temperature 0
    # Column A names its template, version and the version's message; the others what differs.
    assert titles(view)[0].startswith("capital v2 “a teacher's voice” · ")
    assert titles(view)[1:] == ["temperature 1", "v1 · temperature 1", "v1"]
    run_all(qtbot, view, timeout=300_000)
    # Every run records the library version it ran, as a number: restoring it reopens it.
    assert view.experiment_id is not None
    view.writer.submit(lambda s: None).result(10)  # type: ignore[union-attr]
    refs = [(r.ref.template_key, r.ref.template_version)
            for r in store.runs.for_experiment(view.experiment_id)]
    assert sorted(refs) == [("capital", 1), ("capital", 1), ("capital", 2), ("capital", 2)]
    for column in view.columns:
        assert column.output.state == "finished", column.output.error_label.text()
        assert column.output.text().strip()
        assert column.metrics.text("tokens").endswith(" tok")
        assert column.shown is not None and column.shown.run_id is not None
    sent = [c.shown.result.request for c in view.columns if c.shown and c.shown.result]
    assert "geography teacher" in sent[0].messages[0].content
    assert "geography teacher" not in sent[3].messages[0].content
    press(qtbot, view, Qt.Key.Key_D)
    view.show_diff(0, 3)
    assert view.diff_view.diff is not None
    assert view.diff_view.diff.b == view.columns[3].output.text()
    view.set_blind(True, seed=2)
    view.preferences.pick(0, 1)
    qtbot.mouseClick(view.preferences.buttons["b"], Qt.MouseButton.LeftButton)
    view.set_blind(False)
    screenshot(view, "compare-4-columns-smollm2")
    with qtbot.waitSignal(view.saved, timeout=10_000) as saved:
        view.save()
    experiment_id = saved.args[0]  # the preference given before is stored by then
    assert len(store.ratings.preferences(experiment_id)) == 1
    reopened = make_view()
    reopened.set_template_versions(versions)
    reopened.open_experiment(experiment_id)
    assert [c.output.text() for c in reopened.columns] == [c.output.text() for c in view.columns]
    assert titles(reopened) == titles(view)
    assert "won" in reopened.preferences.summary.text()


@pytest.mark.slow
def test_four_columns_on_a_real_openai_compatible_server(
    qtbot: QtBot,
    theme: theming.Theme,
    store: Store,
    llama_server: str,  # noqa: F811
) -> None:
    # llama_cpp.server serves one request at a time and, by default (interrupt_requests),
    # cuts a running stream off when another request arrives: its backend is configured with
    # concurrency 1, so the four columns queue in the client instead of truncating each other.
    server = BackendConfig(
        name="local-server",
        backend="openai_compat",
        options={
            "base_url": llama_server,
            "concurrency": 1,
            "param_names": {"repetition_penalty": "repeat_penalty"},
        },
    )
    writer = StoreWriter(store)
    runner = Runner(writer=writer, configs={"local-server": server})
    manager = RunManager(runner=runner)
    view = CompareView(manager)
    qtbot.addWidget(view)
    teacher = TEMPLATE.model_copy(
        update={
            "messages": [
                Message(role="system", content="You are a geography teacher."),
                TEMPLATE.messages[1],
            ]
        }
    )
    for template, version in ((TEMPLATE, 1), (teacher, 2)):
        for temperature in (0.0, 1.0):
            view.add_variant(
                Variant(
                    template=template,
                    template_version=version,
                    backend="local-server",
                    model="smollm2",
                    variables={"country": "Japan"},
                    params=Params(max_tokens=10, temperature=temperature, seed=3),
                )
            )
    view.resize(1366, 720)
    view.show()
    qtbot.waitExposed(view)
    try:
        with qtbot.waitSignal(view.runAllFinished, timeout=180_000):
            view.run_all()
        assert titles(view)[1:] == ["temperature 1", "v2", "v2 · temperature 1"]
        for column in view.columns:
            assert column.output.state == "finished", column.output.error_label.text()
            assert column.output.text().strip()
            result = column.result()
            assert result is not None and result.request.backend == "openai_compat"
            assert result.request.sent_params["max_tokens"] == 10
        screenshot(view, "compare-4-columns-llama-server")
    finally:
        assert manager.shutdown(10)
        runner.close()
        assert writer.close()


def test_a_version_column_runs_with_that_versions_own_parameters(
    qtbot: QtBot, make_view: Callable[..., CompareView]
) -> None:
    """Few-shot's stop sequence is part of its saved version: a column switched to that version
    sends it (it kept the copied column's parameters, and the few-shot answer ran on into
    made-up examples); what the comparison changed itself (a temperature) stays, and switching
    back drops the stop again."""
    own = Params(max_tokens=24)
    few = TEMPLATE.model_copy(update={"parameters": Params(max_tokens=24, stop=["\nReview:"])})
    plain = TEMPLATE.model_copy(update={"parameters": own})
    base = Variant(template=plain, template_key="capital", template_version=1, backend="paris",
                   model="paris", variables={"country": "France"},
                   params=own.merged(Params(temperature=0.9)))
    view = make_view(base)
    view.set_template_versions([TemplateChoice(template=plain, key="capital", version=1),
                                TemplateChoice(template=few, key="capital", version=2)])

    def add_version(label: str) -> Params:
        press(qtbot, view, Qt.Key.Key_N, CTRL_SHIFT)
        view.editor.kind.setCurrentIndex(1)
        view.editor.version.setCurrentText(label)
        qtbot.mouseClick(view.editor.add_button, Qt.MouseButton.LeftButton)
        return view.columns[-1].variant.params

    assert add_version("v2").model_dump() == Params(
        max_tokens=24, stop=["\nReview:"], temperature=0.9).model_dump()
    assert add_version("v1").model_dump() == base.params.model_dump()
    # "v2" says its own stop sequence; the temperature the comparison set is the same as A's
    assert titles(view)[1:] == ["v2", "same as A"]
