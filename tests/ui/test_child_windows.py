"""Windows the main window opens beside itself: closing, re-opening and quitting in any order is
safe, and quitting still saves the layout and the last-open template."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from pathlib import Path

import pytest
import shiboken6
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QDialog, QLineEdit, QScrollArea, QWidget
from pytestqt.qtbot import QtBot

from tests.ui.windows import close_window, crash_dialogs, open_window, shot
from workbench.backends.config import add_config
from workbench.ui import child_windows
from workbench.ui.compare.sweep_layout import VARIABLES
from workbench.ui.evaluation.suite_window import SuiteWindow
from workbench.ui.main_window import MainWindow
from workbench.ui.window_support import window_settings

__all__ = ["crash_dialogs"]

SUITE = """\
name: greet
tests:
  - vars: {text: hello}
    expected: Bonjour le monde
variants:
  - label: inline
    prompt: 'Say {{ text }} in French'
    backend: french
assert:
  - {type: icontains, value: monde}
"""


@pytest.fixture
def suite(tmp_path: Path) -> Path:
    add_config("french", "scripted", {"script": [{"text": "Bonjour le monde"}]})
    path = tmp_path / "suite.yaml"
    path.write_text(SUITE, encoding="utf-8")
    return path


def gone(widget: QWidget) -> bool:
    return not shiboken6.isValid(widget)


def quit_with_ctrl_q(qtbot: QtBot, window: MainWindow) -> None:
    window.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window)
    qtbot.keyClick(window, Qt.Key.Key_Q, Qt.KeyboardModifier.ControlModifier)


def assert_quit_cleanly(window: MainWindow, key: str) -> None:
    assert not window.isVisible(), "the close was aborted"
    settings = window_settings()
    assert settings.value("lastTemplate") == key
    assert settings.value("geometry") is not None and settings.value("state") is not None
    assert window.child_windows.windows() == []


def _on_a_hanging_backend(qtbot: QtBot) -> MainWindow:
    """The main window on a backend that streams "Hel", then never ends by itself."""
    add_config("slow", "scripted", {"script": [{"text": "Hel"}, {"hang": True}]})
    window = open_window(qtbot, closed_by_qtbot=False)
    window.picker.select("slow", "")
    return window


def test_quit_after_a_compare_window_was_closed(
    qtbot: QtBot, crash_dialogs: list[str]
) -> None:
    """The bug: the closed compare window was deleted but still listed, and quitting called
    close() on it: 'Internal C++ object (CompareView) already deleted', the close aborted."""
    window = open_window(qtbot, closed_by_qtbot=False)
    key = window.key
    assert key is not None
    control_shift = Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier
    qtbot.keyClick(window, Qt.Key.Key_K, control_shift)
    qtbot.waitUntil(lambda: len(window.child_windows.windows()) == 1)
    compare = window.child_windows.windows()[0]
    qtbot.waitExposed(compare)
    compare.close()
    qtbot.waitUntil(lambda: gone(compare))
    quit_with_ctrl_q(qtbot, window)
    assert crash_dialogs == []
    assert_quit_cleanly(window, key)
    window.workspace.close()


def test_closing_a_compare_window_stops_its_runs_and_waits_for_them(
    qtbot: QtBot, crash_dialogs: list[str]
) -> None:
    window = _on_a_hanging_backend(qtbot)
    compare = window.open_compare()
    compare.add_variant(window.current_variant())
    compare.run_all()
    # one streams and hangs; the other waits for the backend's one slot
    qtbot.waitUntil(lambda: any(c.output.text() == "Hel" for c in compare.columns), timeout=10_000)
    experiment = compare.experiment_id
    compare.close()  # returns once the runs stopped and their ends reached the columns
    assert window.runs.active() == []
    runs = window.workspace.store.runs.recent(experiment_id=experiment)
    assert sorted((r.finish_reason, r.response_preview) for r in runs) == [
        ("cancelled", ""), ("cancelled", "Hel")]
    qtbot.waitUntil(lambda: gone(compare))
    quit_with_ctrl_q(qtbot, window)
    assert crash_dialogs == []
    window.workspace.close()


# --- every kind, in every order ---------------------------------------------------------------

Opener = Callable[[MainWindow], QWidget]


def _open_backends(window: MainWindow) -> QWidget:
    window.show_backends()
    dialog = window.findChild(QDialog, "backendsDialog")
    assert dialog is not None
    return dialog


def openers(suite: Path) -> dict[str, Opener]:
    return {
        "compare": lambda w: w.open_compare(),
        "sweep": lambda w: w.open_sweep(w.current_variant()),
        "suite": lambda w: w.open_suite(suite),
        "backends": _open_backends,
        "experiments": child_windows.open_experiments,
    }


def test_every_child_window_opened_closed_and_reopened_in_any_order_then_quit(
    qtbot: QtBot, suite: Path, crash_dialogs: list[str]
) -> None:
    """Every ordered pair of kinds: open A, open B, close A, re-open A, close B, close A. Each
    kind is closed while each other one is open, before and after it, and re-opened."""
    window = open_window(qtbot, closed_by_qtbot=False)
    key = window.key
    assert key is not None
    kinds = openers(suite)

    def open_(name: str) -> QWidget:
        child = kinds[name](window)
        qtbot.waitExposed(child)
        return child

    def close(child: QWidget) -> None:
        child.close()
        qtbot.waitUntil(lambda: gone(child))

    for first, second in itertools.permutations(kinds, 2):
        a, b = open_(first), open_(second)
        close(a)
        a = open_(first)
        close(b)
        close(a)
        assert window.child_windows.windows() == []
    # re-opened, and still open when quitting (the backends dialog is modal: no Ctrl+Q then)
    for name in kinds:
        if name != "backends":
            open_(name)
    assert len(window.child_windows.windows()) == len(kinds) - 1
    shot(window, "main_window_before_quitting_with_children")
    quit_with_ctrl_q(qtbot, window)
    assert crash_dialogs == []
    assert_quit_cleanly(window, key)
    window.workspace.close()


# --- closing from the keyboard ----------------------------------------------------------------


def _press(qtbot: QtBot, child: QWidget, key: Qt.Key, modifier: Qt.KeyboardModifier) -> None:
    """``key`` pressed in ``child`` once it is the active window, as a person would."""
    child.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is child)
    target = QApplication.focusWidget()
    qtbot.keyClick(target if target is not None and child.isAncestorOf(target) else child,
                   key, modifier)


def _suite_window(window: MainWindow, suite: Path) -> SuiteWindow:
    view = window.open_suite(suite)
    assert isinstance(view, SuiteWindow)
    return view


def _saved_evaluation(qtbot: QtBot, window: MainWindow, suite: Path) -> QWidget:
    """The scorecard of a finished evaluation, reopened from the store."""
    view = _suite_window(window, suite)
    qtbot.waitUntil(lambda: view.evaluation_id is not None, timeout=60_000)
    evaluation = view.evaluation_id
    assert evaluation is not None
    view.close()
    return child_windows.open_experiment(window, "eval", evaluation)


def _version_diff(window: MainWindow) -> QWidget:
    """The library's diff of two versions of the window's template."""
    key = window.key
    assert key is not None
    template = window.editor.template()
    changed = template.model_copy(update={"description": f"{template.description} (v2)"})
    window.workspace.library.save(changed, key=key, message="second")
    window.library.refresh()
    window.library.select(key)
    diff = window.library.compare_selected()
    assert diff is not None
    return diff


def every_window(qtbot: QtBot, suite: Path) -> dict[str, Opener]:
    """Every window opened beside the main one (the dialogs close on Escape by themselves; the
    backends dialog stands for them)."""
    return {
        **openers(suite),
        "saved comparison": lambda w: _saved_comparison(qtbot, w),
        "suite history": lambda w: _suite_window(w, suite).show_history(),
        "saved evaluation": lambda w: _saved_evaluation(qtbot, w, suite),
        "batch jobs": child_windows.open_batch_jobs,
        "version diff": _version_diff,
    }


def _saved_comparison(qtbot: QtBot, window: MainWindow) -> QWidget:
    compare = window.open_compare()
    compare.save()
    qtbot.waitUntil(lambda: compare.experiment_id is not None)
    experiment = compare.experiment_id
    assert experiment is not None
    compare.close()
    return child_windows.open_experiment(window, "compare", experiment)


KINDS = ["compare", "saved comparison", "sweep", "suite", "suite history", "saved evaluation",
         "experiments", "batch jobs", "backends", "version diff"]
ESCAPE = (Qt.Key.Key_Escape, Qt.KeyboardModifier.NoModifier)
CTRL_W = (Qt.Key.Key_W, Qt.KeyboardModifier.ControlModifier)


@pytest.mark.qt_log_ignore("This plugin does not support raise")  # offscreen: no window manager
@pytest.mark.parametrize("keys", [ESCAPE, CTRL_W], ids=["escape", "ctrl+w"])
@pytest.mark.parametrize("kind", KINDS)
def test_escape_and_ctrl_w_close_every_child_window(
    qtbot: QtBot, suite: Path, crash_dialogs: list[str], kind: str,
    keys: tuple[Qt.Key, Qt.KeyboardModifier],
) -> None:
    """The bug: Escape closed the Experiments, Batch jobs and saved-evaluation windows but not
    a compare, sweep or suite window, and the suite's History window had neither key."""
    window = open_window(qtbot, closed_by_qtbot=False)
    child = every_window(qtbot, suite)[kind](window)
    qtbot.waitExposed(child)
    _press(qtbot, child, *keys)
    # a tracked window is deleted; the history and the version diff are hidden, to come back
    qtbot.waitUntil(lambda: gone(child) or not child.isVisible())
    assert child not in window.child_windows.windows()
    assert crash_dialogs == []
    close_window(window)


def _escape_in(qtbot: QtBot, widget: QWidget) -> None:
    qtbot.keyClick(widget, Qt.Key.Key_Escape)


@pytest.mark.qt_log_ignore(  # offscreen: no window manager for the combo's list
    "This plugin does not support raise", "This plugin does not support grabbing the keyboard")
def test_escape_closes_an_open_list_or_cell_editor_first_and_then_the_window(
    qtbot: QtBot, crash_dialogs: list[str]
) -> None:
    """Escape is the window's only when nothing inside it uses the key: a combo's open list and
    a table cell being edited close first, and the window stays."""
    add_config("quick", "scripted", {"script": [{"text": "ok"}]})
    window = open_window(qtbot, closed_by_qtbot=False)
    window.picker.select("quick", "")
    sweep = window.open_sweep(window.current_variant())
    qtbot.waitExposed(sweep)
    _press(qtbot, sweep, Qt.Key.Key_Tab, Qt.KeyboardModifier.NoModifier)  # it is active now
    # a table cell being edited: Escape drops the edit
    sweep.rows.param.setCurrentText(VARIABLES)
    table = sweep.rows.sets.table
    qtbot.mouseClick(sweep.rows.sets.add_button, Qt.MouseButton.LeftButton)
    table.setCurrentCell(0, 0)
    table.setFocus()
    qtbot.keyClick(table, Qt.Key.Key_F2)
    editor = QApplication.focusWidget()
    assert isinstance(editor, QLineEdit) and table.isAncestorOf(editor)
    _escape_in(qtbot, editor)
    qtbot.waitUntil(lambda: QApplication.focusWidget() is table)
    assert sweep.isVisible()
    # a combo's open list: Escape closes the list
    sweep.rows.param.setFocus()
    sweep.rows.param.showPopup()
    qtbot.waitUntil(lambda: QApplication.activePopupWidget() is not None)
    popup = QApplication.activePopupWidget()
    assert popup is not None
    _escape_in(qtbot, popup.focusWidget() or popup)
    qtbot.waitUntil(lambda: QApplication.activePopupWidget() is None)
    assert sweep.isVisible() and sweep.rows.param.currentText() == VARIABLES
    # nothing open: Escape closes the window
    _escape_in(qtbot, sweep.rows.param)
    qtbot.waitUntil(lambda: gone(sweep))
    assert crash_dialogs == []
    close_window(window)


def test_escape_closes_the_compare_windows_add_variant_panel_first(
    qtbot: QtBot, crash_dialogs: list[str]
) -> None:
    window = open_window(qtbot, closed_by_qtbot=False)
    compare = window.open_compare()
    qtbot.waitExposed(compare)
    _press(qtbot, compare, Qt.Key.Key_N,
           Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    assert compare.editor.isVisible()
    field = QApplication.focusWidget()
    assert field is not None and compare.editor.isAncestorOf(field)
    _escape_in(qtbot, field)
    assert not compare.editor.isVisible() and compare.isVisible()
    _press(qtbot, compare, *ESCAPE)
    qtbot.waitUntil(lambda: gone(compare))
    assert crash_dialogs == []
    close_window(window)


@pytest.mark.parametrize("keys", [ESCAPE, CTRL_W], ids=["escape", "ctrl+w"])
def test_closing_a_running_compare_window_by_key_cancels_its_runs_as_the_close_button_does(
    qtbot: QtBot, crash_dialogs: list[str], keys: tuple[Qt.Key, Qt.KeyboardModifier]
) -> None:
    window = _on_a_hanging_backend(qtbot)
    compare = window.open_compare()
    qtbot.waitExposed(compare)
    compare.run_all()
    qtbot.waitUntil(lambda: compare.columns[0].output.text() == "Hel", timeout=10_000)
    experiment = compare.experiment_id
    compare.name_edit.setFocus()  # not in the running output, whose own Escape stops its run
    _press(qtbot, compare, *keys)
    qtbot.waitUntil(lambda: gone(compare))
    assert window.runs.active() == []
    runs = window.workspace.store.runs.recent(experiment_id=experiment)
    assert [(r.finish_reason, r.response_preview) for r in runs] == [("cancelled", "Hel")]
    assert crash_dialogs == []
    close_window(window)


def test_escape_in_a_running_columns_output_stops_that_run_and_keeps_the_window(
    qtbot: QtBot, crash_dialogs: list[str]
) -> None:
    """The output's own Escape (cancel its run) is used before the window's: the window stays,
    showing the text so far; the next Escape closes it."""
    window = _on_a_hanging_backend(qtbot)
    compare = window.open_compare()
    qtbot.waitExposed(compare)
    compare.run_all()
    column = compare.columns[0]
    qtbot.waitUntil(lambda: column.output.text() == "Hel", timeout=10_000)
    column.output.plain.setFocus()
    _press(qtbot, compare, *ESCAPE)
    qtbot.waitUntil(lambda: window.runs.active() == [])
    assert compare.isVisible() and column.output.text() == "Hel"
    _press(qtbot, compare, *ESCAPE)
    qtbot.waitUntil(lambda: gone(compare))
    assert crash_dialogs == []
    close_window(window)


# --- history follows the runs of the windows beside it ------------------------------------------


def test_history_shows_a_suites_runs_when_it_finishes(
    qtbot: QtBot, suite: Path, crash_dialogs: list[str]
) -> None:
    """The bug: the suite's runs appeared only after a filter changed (or the main window was
    activated again, which a window manager does not do while one looks at the scorecard)."""
    window = open_window(qtbot, closed_by_qtbot=False)
    assert window.history.run_ids() == []
    view = window.open_suite(suite)
    assert isinstance(view, SuiteWindow)
    qtbot.waitUntil(lambda: view.scorecard.isVisible(), timeout=60_000)
    assert QApplication.activeWindow() is not window
    qtbot.waitUntil(lambda: len(window.history.run_ids()) == 1, timeout=5_000)
    view.close()
    close_window(window)


def test_history_says_a_run_is_in_progress_instead_of_no_runs_yet(
    qtbot: QtBot, crash_dialogs: list[str]
) -> None:
    window = _on_a_hanging_backend(qtbot)
    assert "No runs yet" in window.history.empty.text()
    qtbot.keyClick(window.editor, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: window.output.text() == "Hel", timeout=10_000)
    assert window.history.empty.isVisible()
    assert "in progress" in window.history.empty.text()
    shot(window, "history_while_the_first_run_streams")
    qtbot.keyClick(window.editor, Qt.Key.Key_Escape)
    window.cancel()
    qtbot.waitUntil(lambda: window.runs.active() == [])
    qtbot.waitUntil(lambda: len(window.history.run_ids()) == 1, timeout=5_000)
    close_window(window)


def test_a_finished_suite_is_headed_by_its_name_and_date_with_the_id_in_a_tooltip(
    qtbot: QtBot, suite: Path, crash_dialogs: list[str]
) -> None:
    """The bug: "suite.yaml: evaluation 01M975G9EY330TEP0B96BTMBWZ · …" over three lines."""
    window = open_window(qtbot, closed_by_qtbot=False)
    view = window.open_suite(suite)
    assert isinstance(view, SuiteWindow)
    qtbot.waitUntil(lambda: view.scorecard.isVisible(), timeout=60_000)
    [summary] = window.workspace.store.experiments.summaries()
    header = view.status.text()
    assert header.startswith("greet · ") and summary.id not in header, header
    assert "criteria met" in header and "\n" not in header
    assert summary.id in view.status.toolTip()
    shot(view, "suite_window_finished_header")
    # counts of one read in the singular: "1 row × 1 variant", not "1 rows × 1 variants"
    title = view.scorecard.title.text()
    assert "1 row × 1 variant</b> · 1 cell judged or errored · 0 errors" in title, title
    view.close()
    browser = child_windows.open_experiments(window)
    qtbot.waitUntil(lambda: browser.model.rowCount() == 1)
    assert browser.status.text().startswith("1 experiment.")
    tip = browser.model.data(browser.model.index(0, 0), Qt.ItemDataRole.ToolTipRole)
    assert "· 1 variant · 1 test case · ×1" in tip, tip
    shot(browser, "experiments_browser_one_evaluation")
    browser.close()
    # the saved scorecard, reopened, is read-only: Escape closes it, like a dialog
    saved = child_windows.open_experiment(window, "eval", summary.id)
    qtbot.waitExposed(saved)
    _press(qtbot, saved, Qt.Key.Key_Escape, Qt.KeyboardModifier.NoModifier)
    qtbot.waitUntil(lambda: gone(saved))
    close_window(window)


def test_the_backends_dialog_opens_showing_a_servers_whole_form(
    qtbot: QtBot, crash_dialogs: list[str]
) -> None:
    """The bug: it opened at its size hint, 689×398: the keyring note and Test connection were
    below the fold, the API key's placeholder cut off."""
    window = open_window(qtbot, closed_by_qtbot=False)
    dialog = _open_backends(window)
    qtbot.waitExposed(dialog)
    dialog.select("openai_compat")  # type: ignore[attr-defined]
    scroll = dialog.findChild(QScrollArea)
    assert scroll is not None
    body = scroll.widget()
    assert body is not None
    shot(dialog, "backends_dialog_opened_from_the_window")
    assert dialog.width() <= 1366 and dialog.height() <= 768 - 40
    # the whole form fits, rows at their natural height: nothing squeezed or below the fold
    # (the keyring note, Test connection)
    assert scroll.viewport().height() >= body.sizeHint().height()
    key = dialog.key_edit  # type: ignore[attr-defined]
    assert key.fontMetrics().horizontalAdvance(key.placeholderText()) < key.width() - 8
    dialog.close()
    close_window(window)


def test_history_shows_a_sweeps_runs_when_it_finishes(
    qtbot: QtBot, crash_dialogs: list[str]
) -> None:
    add_config("quick", "scripted", {"script": [{"text": "ok"}]})
    window = open_window(qtbot, closed_by_qtbot=False)
    window.picker.select("quick", "")
    sweep = window.open_sweep(window.current_variant())
    qtbot.waitExposed(sweep)
    sweep.rows.param.setCurrentText("temperature")
    sweep.rows.values.setText("0.2, 0.8")
    sweep.cols.param.setCurrentText("top_p")
    sweep.cols.values.setText("0.5")
    qtbot.waitUntil(lambda: sweep.estimate is not None and sweep.run_button.isEnabled())
    with qtbot.waitSignal(sweep.sweepFinished, timeout=30_000):
        qtbot.mouseClick(sweep.run_button, Qt.MouseButton.LeftButton)
    assert QApplication.activeWindow() is not window
    qtbot.waitUntil(lambda: len(window.history.run_ids()) == 2, timeout=5_000)
    sweep.close()
    close_window(window)
