"""Journey 3, side by side: a prompt saved as zero-shot, few-shot and chain-of-thought versions
is compared from the main window with a temperature variant of one of them, on the embedded
model; the columns are run, read (figures, word diff), rated, and voted on blind with nothing on
screen telling them apart. The compare window is closed, the app quits and starts again, the
comparison comes back from Tools ▸ Experiments with its columns, ratings and votes, and one
column's run goes back into the editor with its version, variables and parameters."""

from __future__ import annotations

from typing import Literal, TypeVar

import pytest
from PySide6.QtCore import QEvent, Qt
from PySide6.QtWidgets import QApplication, QWidget
from pytestqt.qtbot import QtBot

from tests.journeys.conftest import RUN_TIMEOUT_MS, Journey, menu_action
from tests.ui.prompt_typing import add_example, choose_technique, type_lines
from tests.ui.test_technique_journey import EXAMPLES, QUERY, SYSTEM
from tests.ui.windows import press_save
from workbench.ui.compare.compare_view import CompareView
from workbench.ui.experiments_browser import ExperimentsBrowser
from workbench.ui.main_window import MainWindow

pytestmark = [pytest.mark.slow,
              pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints")]

CTRL = Qt.KeyboardModifier.ControlModifier
CTRL_SHIFT = Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier
REVIEW = "The battery died after an hour and support never answered."
MAX_TOKENS = 24
LEFT = Qt.MouseButton.LeftButton
W = TypeVar("W", bound=QWidget)


def _save(qtbot: QtBot, window: MainWindow, version: int) -> None:
    """Ctrl+S, then wait for the library to hold ``version``."""
    window.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window)
    press_save(qtbot, window)  # a first save names the template (the name proposed)
    qtbot.waitUntil(lambda: window.version == version and not window.dirty, timeout=30_000)


def _apply(qtbot: QtBot, window: MainWindow, technique: str) -> None:
    """Pick a technique, look at its diff, Apply it."""
    editor = window.editor
    choose_technique(qtbot, window, technique)
    qtbot.mouseClick(editor.apply_button, LEFT)
    assert editor.change_preview.isVisible() and editor.change_preview.diff.toPlainText()
    qtbot.mouseClick(editor.change_preview.apply_button, LEFT)
    qtbot.waitUntil(lambda: window.dirty)


def _press(qtbot: QtBot, view: CompareView, key: Qt.Key,
           modifiers: Qt.KeyboardModifier = CTRL) -> None:
    """A compare shortcut, typed while reading the first shown column."""
    target = view.columns[view.order[0]].output.plain
    target.setFocus()
    qtbot.waitUntil(target.hasFocus, timeout=5_000)
    qtbot.keyClick(target, key, modifiers)


def _add_column(qtbot: QtBot, view: CompareView, kind: int, value: str) -> None:
    """Add variant (Ctrl+Shift+N): a copy of the last column with one thing changed."""
    _press(qtbot, view, Qt.Key.Key_N, CTRL_SHIFT)
    editor = view.editor
    assert editor.isVisible()
    editor.kind.setCurrentIndex(kind)
    if kind == 0:  # a parameter (temperature is offered first)
        assert editor.param.currentText() == "temperature"
        editor.param_value.clear()
        qtbot.keyClicks(editor.param_value, value)
    else:  # a template version
        editor.version.setCurrentText(value)
    qtbot.mouseClick(editor.add_button, LEFT)


def _titles(view: CompareView) -> list[str]:
    return [view.columns[i].title.text() for i in view.order]


def _only_view(window: MainWindow, kind: type[W]) -> W:
    """The one open child window of ``kind``."""
    found = [w for w in window.child_windows if isinstance(w, kind) and w.isVisible()]
    assert len(found) == 1, found
    return found[0]


def test_side_by_side(qtbot: QtBot, journey: Journey) -> None:
    window = journey.start()
    window.resize(1366, 768)
    editor = window.editor

    # A prompt written by hand with three examples, its variable filled, saved three times:
    # v1 zero-shot, v2 few-shot, v3 chain-of-thought.
    qtbot.keyClick(window, Qt.Key.Key_N, CTRL)
    first = editor.messages.cards[0]
    first.role.setFocus()
    qtbot.keyClick(first.role, Qt.Key.Key_Up)  # user -> system
    type_lines(qtbot, first.editor, SYSTEM)
    qtbot.mouseClick(editor.messages.add_button, LEFT)
    type_lines(qtbot, editor.messages.cards[1].editor, QUERY)
    qtbot.waitUntil(lambda: window.variables.names() == ["review"])
    if not editor.examples_section.expanded:
        qtbot.mouseClick(editor.examples_section.button, LEFT)
    for text, label in EXAMPLES:
        add_example(qtbot, window, text, label)
    qtbot.waitUntil(lambda: len(editor.template().examples) == 3)
    qtbot.keyClicks(window.variables.editor("review"), REVIEW)
    spin = window.params.rows["max_tokens"].spin
    spin.setFocus()
    spin.selectAll()
    qtbot.keyClicks(spin, str(MAX_TOKENS))
    qtbot.keyClick(spin, Qt.Key.Key_Tab)
    qtbot.waitUntil(lambda: editor.template().parameters.max_tokens == MAX_TOKENS)
    _save(qtbot, window, 1)
    key = window.key
    assert key is not None
    _apply(qtbot, window, "few-shot")
    _save(qtbot, window, 2)
    _apply(qtbot, window, "chain-of-thought")
    _save(qtbot, window, 3)
    library = window.workspace.library
    assert [v.number for v in library.versions(key)] == [1, 2, 3]
    assert "examples_block" in library.load(key, 2).messages[1].content
    journey.shot("three-versions-saved")

    # Compare from the main window: A is the open v3; add v1, v2 and v2 at temperature 0.9.
    menu_action(window, "Compare variants").trigger()
    view = _only_view(window, CompareView)
    qtbot.waitExposed(view)
    view.activateWindow()
    qtbot.waitUntil(view.isActiveWindow, timeout=5_000)
    assert view.columns[0].variant.template_version == 3
    _add_column(qtbot, view, 1, "v1")
    _add_column(qtbot, view, 1, "v2")
    _add_column(qtbot, view, 0, "0.9")
    titles = _titles(view)
    assert len(titles) == 4 and titles[0].startswith(f"{editor.template().name} v3")
    assert titles[1:] == ["v1", "v2", "v2 · temperature 0.9"]
    journey.shot("four-columns", view)

    with qtbot.waitSignal(view.runAllFinished, timeout=4 * RUN_TIMEOUT_MS):
        _press(qtbot, view, Qt.Key.Key_Return)
    for column in view.columns:
        assert column.output.state == "finished", column.output.error_label.text()
        assert column.output.text().strip()
        assert column.metrics.text("tokens").endswith(" tok")
        assert column.metrics.text("ttft").endswith(("ms", " s"))
        assert column.metrics.text("finish") in ("stop", "length")
        assert column.rating.isEnabled()
    sent = [c.result() for c in view.columns]
    assert all(r is not None for r in sent)
    assert "Loved it" not in sent[1].request.messages[-1].content  # type: ignore[union-attr]
    assert "Loved it" in sent[2].request.messages[-1].content  # type: ignore[union-attr]
    assert sent[3].request.sent_params["temperature"] == 0.9  # type: ignore[union-attr]
    # the few-shot version runs with its own stop sequence, the zero-shot one without
    assert sent[2].request.sent_params.get("stop") == ["\nReview:"]  # type: ignore[union-attr]
    assert not sent[1].request.sent_params.get("stop")  # type: ignore[union-attr]
    journey.shot("ran-all", view)

    # The word diff of zero-shot against few-shot.
    _press(qtbot, view, Qt.Key.Key_D)
    view.diff_view.left.setCurrentIndex(1)
    view.diff_view.right.setCurrentIndex(2)
    diff = view.diff_view.diff
    assert diff is not None
    assert (diff.a, diff.b) == (view.columns[1].output.text(), view.columns[2].output.text())
    assert view.diff_view.stats.text()
    journey.shot("word-diff", view)

    # Rate two columns: B (zero-shot) thumbs up and four stars, D (temperature 0.9) thumbs down.
    qtbot.mouseClick(view.columns[1].rating.up, LEFT)
    qtbot.mouseClick(view.columns[1].rating.stars[3], LEFT)
    qtbot.mouseClick(view.columns[3].rating.down, LEFT)
    assert "★ 4.0" in view.preferences.summary.text()

    # Blind: shuffled, and nothing on screen says which column is which.
    _press(qtbot, view, Qt.Key.Key_B)
    assert view.blind
    shown = [view.columns[i] for i in view.order]
    for position, column in enumerate(shown):
        assert column.badge.text() == f"Output {position + 1}"
        assert not column.title.isVisible() and not column.metrics.isVisible()
        assert column.rating.thumbs() is None and column.rating.star_count() == 0
        assert column.eventFilter(column.output.status, QEvent(QEvent.Type.ToolTip))
        assert not column.restore_button.isVisible()  # the editor would name the version
    assert not view.effects_note.isVisible()
    names = [view.preferences.left.itemText(i) for i in range(view.preferences.left.count())]
    assert names == ["Output 1", "Output 2", "Output 3", "Output 4"]
    diff_names = [view.diff_view.left.itemText(i) for i in range(view.diff_view.left.count())]
    assert diff_names == names
    assert view.preferences.summary.text() == ""
    for leak in ("v1", "v2", "v3", "temperature", "won", "★", "thumbs"):
        assert leak not in view.preferences.summary.text()
    # Two A/B votes: Output 1 over Output 2, Output 4 over Output 3.
    votes: list[tuple[int, int, Literal["a", "b"]]] = [(0, 1, "a"), (2, 3, "b")]
    for left, right, choice in votes:
        view.preferences.pick(left, right)
        qtbot.mouseClick(view.preferences.buttons[choice], LEFT)
    summary = view.preferences.summary.text()
    assert summary.startswith("2 A/B votes recorded")
    assert not any(word in summary for word in ("won", "★", "Output", "A:", "B:"))
    journey.shot("blind-voted", view)
    winners = [view.order[0], view.order[3]]  # columns (A, B, C, D order) that won
    _press(qtbot, view, Qt.Key.Key_B)  # reveal
    assert not view.blind and "won" in view.preferences.summary.text()
    journey.shot("revealed", view)
    experiment_id = view.experiment_id
    assert experiment_id is not None
    before_titles = _titles(view)
    before_texts = [c.output.text() for c in view.columns]
    rated_run = view.columns[3].shown.run_id
    column_params = view.columns[3].variant.params
    assert rated_run is not None

    # Close the comparison, quit, start again.
    view.close()
    qtbot.waitUntil(lambda: not view.isVisible())
    window = journey.restart()
    store = window.workspace.store
    assert len(store.ratings.preferences(experiment_id)) == 2
    assert store.ratings.get(rated_run) is not None

    # Tools ▸ Experiments…: the comparison is listed; double-click reopens it.
    menu_action(window, "Experiments").trigger()
    browser = _only_view(window, ExperimentsBrowser)
    qtbot.waitExposed(browser)
    qtbot.waitUntil(lambda: len(browser.shown()) == 1, timeout=10_000)
    row = browser.model.rows[0]
    assert row.summary.kind == "compare" and row.id == experiment_id
    journey.shot("experiments-browser", browser)
    rect = browser.view.visualRect(browser.proxy.index(0, 1))
    qtbot.mouseClick(browser.view.viewport(), LEFT, pos=rect.center())
    qtbot.mouseDClick(browser.view.viewport(), LEFT, pos=rect.center())
    reopened = _only_view(window, CompareView)
    qtbot.waitExposed(reopened)
    assert reopened.experiment_id == experiment_id
    assert _titles(reopened) == before_titles
    assert [c.output.text() for c in reopened.columns] == before_texts
    assert reopened.columns[1].rating.up.isChecked()
    assert reopened.columns[1].rating.star_count() == 4
    assert reopened.columns[3].rating.down.isChecked()
    summary = reopened.preferences.summary.text()
    for winner in winners:
        assert f"{'ABCD'[winner]}: won 100% of 1" in summary
    journey.shot("comparison-reopened", reopened)

    # Column D's run (thumbs down) into the editor from its header: v2 at temperature 0.9,
    # with the review it was run on. (The history finds it too: Compare runs, thumbs down.)
    filters = window.history.filters
    filters.source.setCurrentIndex(filters.source.findData("compare"))
    filters.rating.setCurrentIndex(filters.rating.findData("down"))
    qtbot.waitUntil(lambda: window.history.run_ids() == [rated_run], timeout=10_000)
    qtbot.mouseClick(reopened.columns[3].restore_button, LEFT)
    qtbot.waitUntil(lambda: window.key == key and window.version == 2, timeout=10_000)
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window)
    # the version's text and examples, with the parameters the column ran with
    restored, saved = window.editor.template(), window.workspace.library.load(key, 2)
    assert restored.model_copy(update={"parameters": saved.parameters}) == saved
    assert window.variables.values() == {"review": REVIEW}
    assert window.params.params() == column_params
    assert column_params.temperature == 0.9 and column_params.max_tokens == MAX_TOKENS
    assert window.output.text() == before_texts[3]
    # the preview counts the restored prompt with the restored review
    qtbot.waitUntil(lambda: "tokens" in window.token_summary.text(), timeout=60_000)
    journey.shot("column-restored")
