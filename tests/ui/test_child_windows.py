"""Windows the main window opens beside itself: closing, re-opening and quitting in any order is
safe, and quitting still saves the layout and the last-open template."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from pathlib import Path

import pytest
import shiboken6
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QDialog, QScrollArea, QWidget
from pytestqt.qtbot import QtBot

from tests.ui.windows import close_window, crash_dialogs, open_window, shot
from workbench.backends.config import add_config
from workbench.ui import child_windows
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


def _closed_by_key(
    qtbot: QtBot, suite: Path, kind: str, key: Qt.Key, modifier: Qt.KeyboardModifier
) -> MainWindow:
    """Open a ``kind`` child window, press ``key`` in it, and check it is gone and unlisted;
    the main window is left open for the caller to close."""
    window = open_window(qtbot, closed_by_qtbot=False)
    child = openers(suite)[kind](window)
    qtbot.waitExposed(child)
    _press(qtbot, child, key, modifier)
    qtbot.waitUntil(lambda: gone(child))
    assert window.child_windows.windows() == []
    return window


@pytest.mark.parametrize("kind", ["compare", "sweep", "suite", "backends", "experiments"])
def test_ctrl_w_closes_every_child_window(
    qtbot: QtBot, suite: Path, crash_dialogs: list[str], kind: str
) -> None:
    window = _closed_by_key(qtbot, suite, kind, Qt.Key.Key_W, Qt.KeyboardModifier.ControlModifier)
    assert crash_dialogs == []
    close_window(window)


@pytest.mark.parametrize("kind", ["backends", "experiments"])
def test_escape_closes_dialog_like_child_windows(
    qtbot: QtBot, suite: Path, crash_dialogs: list[str], kind: str
) -> None:
    window = _closed_by_key(qtbot, suite, kind, Qt.Key.Key_Escape, Qt.KeyboardModifier.NoModifier)
    close_window(window)


def test_ctrl_w_on_a_running_compare_window_cancels_its_runs_as_the_close_button_does(
    qtbot: QtBot, crash_dialogs: list[str]
) -> None:
    window = _on_a_hanging_backend(qtbot)
    compare = window.open_compare()
    qtbot.waitExposed(compare)
    compare.run_all()
    qtbot.waitUntil(lambda: compare.columns[0].output.text() == "Hel", timeout=10_000)
    experiment = compare.experiment_id
    _press(qtbot, compare, Qt.Key.Key_W, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: gone(compare))
    assert window.runs.active() == []
    runs = window.workspace.store.runs.recent(experiment_id=experiment)
    assert [(r.finish_reason, r.response_preview) for r in runs] == [("cancelled", "Hel")]
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
