"""Journey 8, rough hands: Ctrl+N, typing, Ctrl+Z / Ctrl+Shift+Z, Ctrl+S, Ctrl+Enter to run and
Esc to cancel, on the embedded model; every child window (compare, sweep, evaluation suite,
backends, experiments) opened and closed in a few orders, some left open, then Ctrl+Q: a clean
exit every time (no crash dialog, layout and last template kept), across restarts, with the unsaved
parameters offered back (Yes brings them to the Parameters panel, No drops them); at 1366×768 in
the light and the dark theme (View menu), with a screenshot of each to look at."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import shiboken6
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QFileDialog, QWidget
from pytestqt.qtbot import QtBot

from tests.journeys.conftest import RUN_TIMEOUT_MS, Journey, menu_action
from tests.ui.windows import crash_dialogs, press_save
from workbench.ui.compare.compare_view import CompareView
from workbench.ui.compare.sweep_view import SweepView
from workbench.ui.dialogs.backends_dialog import BackendsDialog
from workbench.ui.evaluation.suite_window import SuiteWindow
from workbench.ui.experiments_browser import ExperimentsBrowser
from workbench.ui.main_window import MainWindow
from workbench.ui.window_support import window_settings

__all__ = ["crash_dialogs"]

pytestmark = [pytest.mark.slow,
              pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints")]

CTRL = Qt.KeyboardModifier.ControlModifier
SHIFT = Qt.KeyboardModifier.ShiftModifier
PROMPT = "Write a long story about {{ animal }} who learns to sail."
SUITE = """\
name: rough
tests:
  - vars: {animal: a cat}
variants:
  - label: local
    prompt: 'Name {{ animal }} in one word.'
    backend: llamacpp
    params: {temperature: 0, max_tokens: 8}
assert:
  - {type: not-contains, value: "As an AI"}
"""


def _gone(widget: QWidget) -> bool:
    return not shiboken6.isValid(widget)


def _focus(qtbot: QtBot, window: QWidget) -> None:
    """The window is the active one (shortcuts reach only the active window)."""
    window.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window)


def _child(window: MainWindow, kind: type[QWidget], before: list[QWidget]) -> QWidget:
    new = [w for w in window.child_windows.windows() if w not in before and isinstance(w, kind)]
    assert len(new) == 1, f"expected one new {kind.__name__}, got {new}"
    return new[0]


class Children:
    """Opens each kind of child window the way a person does, and closes it."""

    def __init__(self, qtbot: QtBot, window: MainWindow, suite: Path) -> None:
        self.qtbot, self.window, self.suite = qtbot, window, suite
        self.open: dict[str, QWidget] = {}

    def _opened(self, name: str, kind: type[QWidget], trigger: Callable[[], object]) -> QWidget:
        before = self.window.child_windows.windows()
        trigger()
        self.qtbot.waitUntil(lambda: any(isinstance(w, kind) and w not in before
                                         for w in self.window.child_windows.windows()))
        child = _child(self.window, kind, before)
        self.qtbot.waitExposed(child)
        self.open[name] = child
        return child

    def compare(self) -> QWidget:
        _focus(self.qtbot, self.window)
        return self._opened("compare", CompareView, lambda: self.qtbot.keyClick(
            self.window, Qt.Key.Key_K, CTRL | SHIFT))

    def sweep(self) -> QWidget:
        compare = self.open.get("compare") or self.compare()
        assert isinstance(compare, CompareView)
        return self._opened("sweep", SweepView, compare.sweep_action.trigger)

    def suite_(self) -> QWidget:
        """Tools ▸ Run an evaluation suite…; the file chooser answers with the suite (typing a
        path into Qt's own file dialog goes folder by folder, each '/' a step)."""
        return self._opened("suite", SuiteWindow,
                            menu_action(self.window, "Run an evaluation suite").trigger)

    def experiments(self) -> QWidget:
        _focus(self.qtbot, self.window)
        return self._opened("experiments", ExperimentsBrowser, lambda: self.qtbot.keyClick(
            self.window, Qt.Key.Key_E, CTRL | SHIFT))

    def backends(self) -> None:
        """Tools ▸ Backends… is modal to the window: opened and closed with its Close button."""
        dialog = self._opened("backends", BackendsDialog, menu_action(self.window, "Backends")
                              .trigger)
        assert isinstance(dialog, BackendsDialog)
        self.qtbot.mouseClick(dialog.close_button, Qt.MouseButton.LeftButton)
        self.qtbot.waitUntil(lambda: _gone(dialog) or not dialog.isVisible())
        self.qtbot.waitUntil(lambda: dialog not in self.window.child_windows.windows())
        del self.open["backends"]

    def close(self, name: str) -> None:
        child = self.open.pop(name)
        child.close()
        self.qtbot.waitUntil(lambda: _gone(child))
        assert child not in self.window.child_windows.windows()


def _quit(qtbot: QtBot, journey: Journey, crashes: list[str]) -> None:
    """Ctrl+Q: the window closes, nothing crashed, the layout and last template are kept."""
    window = journey.window
    assert window is not None
    key = window.key
    _focus(qtbot, window)
    qtbot.keyClick(window, Qt.Key.Key_Q, CTRL)
    assert not window.isVisible(), "the quit was aborted"
    assert crashes == []
    assert window.child_windows.windows() == []
    settings = window_settings()
    assert settings.value("lastTemplate") == key
    assert settings.value("geometry") is not None
    window.workspace.close()
    window.deleteLater()
    journey.window = None


def _restart(journey: Journey) -> MainWindow:
    """Quit cleanly and start again: unsaved edits come back without a question, said in the
    status bar."""
    window = journey.restart()
    assert QApplication.activeModalWidget() is None
    assert "unsaved edits" in window.statusBar().currentMessage()
    return window


def _set_max_tokens(qtbot: QtBot, window: MainWindow, value: int) -> None:
    """Type the value into the Parameters panel and press Enter (it counts on Enter)."""
    spin = window.params.rows["max_tokens"].spin
    spin.setFocus()
    spin.selectAll()
    qtbot.keyClicks(spin, str(value))
    qtbot.keyClick(spin, Qt.Key.Key_Return)
    assert window.params.params().max_tokens == value


def _wait_state(qtbot: QtBot, window: MainWindow, *states: str) -> None:
    qtbot.waitUntil(lambda: window.output.state in states, timeout=RUN_TIMEOUT_MS)


def test_rough_hands(qtbot: QtBot, journey: Journey, crash_dialogs: list[str],
                     tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    suite = tmp_path / "rough.yaml"
    suite.write_text(SUITE, encoding="utf-8")
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(suite), ""))
    window = journey.start()
    window.resize(1366, 768)
    _focus(qtbot, window)

    # Ctrl+N, then a message typed by hand; Ctrl+Z takes the typing back, Ctrl+Shift+Z redoes it.
    qtbot.keyClick(window, Qt.Key.Key_N, CTRL)
    editor = window.editor
    qtbot.waitUntil(lambda: editor.template().name == "untitled")
    body = editor.messages.cards[0].editor
    body.setFocus()
    qtbot.keyClicks(body, PROMPT)
    qtbot.waitUntil(lambda: window.variables.names() == ["animal"])
    qtbot.keyClick(body, Qt.Key.Key_Z, CTRL)
    assert body.toPlainText() != PROMPT
    qtbot.keyClick(body, Qt.Key.Key_Z, CTRL | SHIFT)
    qtbot.waitUntil(lambda: body.toPlainText() == PROMPT)
    field = window.variables.editor("animal")
    field.setFocus()
    qtbot.keyClicks(field, "a tortoise")
    journey.shot("typed")

    # Ctrl+S: the first save asks for a name (typed, Enter), then into the library.
    _focus(qtbot, window)
    press_save(qtbot, window, "Sailing tortoise")
    qtbot.waitUntil(lambda: window.key is not None and not window.dirty, timeout=30_000)
    key = window.key
    assert key in window.library.template_keys()

    # Ctrl+Enter runs; Esc while it streams cancels it.
    _set_max_tokens(qtbot, window, 400)
    body.setFocus()
    qtbot.keyClick(body, Qt.Key.Key_Return, CTRL)
    _wait_state(qtbot, window, "streaming")
    qtbot.keyClick(body, Qt.Key.Key_Escape)
    _wait_state(qtbot, window, "cancelled")
    qtbot.waitUntil(lambda: len(window.history.run_ids()) == 1, timeout=10_000)
    assert window.history.model.rows[0].status == "cancelled"
    journey.shot("cancelled")
    # ...and a short run to its end.
    _set_max_tokens(qtbot, window, 24)
    qtbot.keyClick(body, Qt.Key.Key_Enter, CTRL)
    _wait_state(qtbot, window, "finished")
    assert window.output.text().strip()
    qtbot.waitUntil(lambda: len(window.history.run_ids()) == 2, timeout=10_000)
    journey.shot("ran")

    # Every child window, opened and closed in one order, then in another.
    children = Children(qtbot, window, suite)
    children.compare()
    children.sweep()
    children.suite_()
    children.experiments()
    journey.shot("children-open")
    for name in ("compare", "sweep", "suite", "experiments"):  # first opened, first closed
        children.close(name)
    children.backends()
    children.experiments()
    children.suite_()
    children.compare()
    children.sweep()
    for name in ("sweep", "experiments", "compare", "suite"):
        children.close(name)
    assert window.child_windows.windows() == []
    _quit(qtbot, journey, crash_dialogs)

    # Restart: the max tokens changed after the save were kept as a draft and are offered back
    # with the saved template; children opened in yet another order and left open.
    window = _restart(journey)
    assert window.key == key and window.editor.template().messages[-1].content == PROMPT
    assert window.params.params().max_tokens == 24 and window.dirty
    window.resize(1366, 768)
    children = Children(qtbot, window, suite)
    children.backends()
    children.sweep()  # opens a compare window on the way
    children.experiments()
    children.close("compare")
    children.suite_()
    children.compare()
    assert len(window.child_windows.windows()) == 4
    _quit(qtbot, journey, crash_dialogs)

    # The edits are back again (still unsaved); Discard in the Save question of Ctrl+N drops
    # them. At 1366×768, light and dark from the View menu: the window and a child window
    # readable.
    window = _restart(journey)
    assert window.key == key and window.dirty
    assert window.params.params().max_tokens == 24
    window.resize(1366, 768)
    qtbot.waitUntil(lambda: window.width() == 1366 and window.height() == 768)
    children = Children(qtbot, window, suite)
    for theme in ("Light", "Dark"):
        menu_action(window, f"{theme} theme").trigger()
        journey.shot(f"{theme.lower()}-1366x768")
        compare = children.compare()
        journey.shot(f"{theme.lower()}-compare", compare)
        children.close("compare")
    menu_action(window, "Auto theme").trigger()
    _quit(qtbot, journey, crash_dialogs)
