"""Journey 4, sweep and read it: from the main window, a temperature × top_p sweep with 2
repeats on the embedded model. The estimate comes before anything runs, and with a greedy preset
it says the axes change nothing; with a sampling preset it does not. The app (a process of its
own on the same home) starts the sweep and is killed (SIGKILL) after a few cells; the app starts
again, the sweep comes back from Tools ▸ Experiments with its axes, and Resume runs only the
missing cells. The finished matrix reads as answers with their agreement, a click shows a cell's
answers whole, and the chart is drawn."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import TypeVar

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QWidget
from pytestqt.qtbot import QtBot

from tests.conftest import REPO
from tests.journeys.conftest import RUN_TIMEOUT_MS, Journey, menu_action
from tests.ui.windows import press_save
from workbench.storage.repositories import Store
from workbench.ui.compare.sweep_view import SweepView
from workbench.ui.experiments_browser import ExperimentsBrowser
from workbench.ui.main_window import MainWindow

pytestmark = [pytest.mark.slow,
              pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints")]

CTRL = Qt.KeyboardModifier.ControlModifier
CTRL_SHIFT = Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier
LEFT = Qt.MouseButton.LeftButton
PROMPT = "Name one colour of the rainbow. Answer with one word."
ROWS, COLS, REPEATS = "0.5, 1.2", "0.5, 0.95", 2
CELLS = 2 * 2 * REPEATS
KILL_AFTER = 3  # cells committed before the app is killed
W = TypeVar("W", bound=QWidget)


def _only_view(window: MainWindow, kind: type[W]) -> W:
    found = [w for w in window.child_windows if isinstance(w, kind) and w.isVisible()]
    assert len(found) == 1, found
    return found[0]


def _focus(qtbot: QtBot, window: QWidget) -> None:
    window.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window)


def _preset(qtbot: QtBot, window: MainWindow, name: str) -> None:
    """Pick a parameter preset with the keyboard."""
    combo = window.params.preset_combo
    combo.setFocus()
    wanted = combo.findData(name)
    assert wanted >= 0, name
    while combo.currentIndex() != wanted:
        qtbot.keyClick(combo, Qt.Key.Key_Down if combo.currentIndex() < wanted else Qt.Key.Key_Up)
    qtbot.waitUntil(lambda: window.params.preset == name)


def _save(qtbot: QtBot, window: MainWindow, version: int) -> None:
    _focus(qtbot, window)
    press_save(qtbot, window)  # a first save names the template (the name proposed)
    qtbot.waitUntil(lambda: window.version == version and not window.dirty, timeout=30_000)


def _open_sweep(qtbot: QtBot, window: MainWindow) -> SweepView:
    """Run ▸ Sweep parameters… (Ctrl+Shift+W), temperature × top_p ×2 typed in."""
    _focus(qtbot, window)
    opened = len(window.child_windows)
    qtbot.keyClick(window, Qt.Key.Key_W, CTRL_SHIFT)
    qtbot.waitUntil(lambda: len(window.child_windows) == opened + 1)
    sweep = window.child_windows[-1]
    assert isinstance(sweep, SweepView)
    qtbot.waitExposed(sweep)
    for editor, name, values in ((sweep.rows, "temperature", ROWS), (sweep.cols, "top_p", COLS)):
        editor.param.setCurrentText(name)
        editor.values.selectAll()
        qtbot.keyClicks(editor.values, values)
    with qtbot.waitSignal(sweep.estimated, timeout=60_000):
        sweep.repeats.setValue(REPEATS)
    return sweep


def _cells(store: Store) -> Counter[tuple[str | None, str | None, int]]:
    return Counter((r.ref.variant_id, r.ref.test_case_id, r.ref.repeat_index)
                   for r in (store.runs.get(i) for i in store.runs.ids()) if r.status == "ok")


def test_sweep_and_read_it(qtbot: QtBot, journey: Journey, workbench_home: Path) -> None:
    window = journey.start()
    window.resize(1366, 768)
    qtbot.keyClick(window, Qt.Key.Key_N, CTRL)
    message = window.editor.messages.cards[0].editor
    message.setFocus()
    qtbot.keyClicks(message, PROMPT)
    spin = window.params.rows["max_tokens"].spin
    spin.setFocus()
    spin.selectAll()
    qtbot.keyClicks(spin, "16")
    qtbot.keyClick(spin, Qt.Key.Key_Tab)

    # A greedy preset: the estimate says, before anything runs, that both axes change nothing.
    _preset(qtbot, window, "Deterministic")
    _save(qtbot, window, 1)
    sweep = _open_sweep(qtbot, window)
    estimate = sweep.estimate_label.text()
    assert f"calls:          {CELLS}" in estimate
    assert "no effect:" in estimate and "greedy" in estimate
    assert sweep.run_button.isEnabled() and sweep.run_button.text() == "Run sweep"
    journey.shot("greedy-estimate", sweep)
    sweep.close()
    qtbot.waitUntil(lambda: len(window.child_windows) == 0)

    # A sampling preset: the same sweep is worth its calls.
    _preset(qtbot, window, "Chatbot")
    qtbot.waitUntil(lambda: window.params.params().max_tokens == 16)  # kept by the preset
    _save(qtbot, window, 2)
    sweep = _open_sweep(qtbot, window)
    estimate = sweep.estimate_label.text()
    assert f"calls:          {CELLS}" in estimate and "no effect:" not in estimate
    assert f"output tokens:  ≤ {CELLS * 16}" in estimate
    journey.shot("sampling-estimate", sweep)
    store_path = window.workspace.store.db.path
    assert window.workspace.store.runs.count() == 0  # nothing ran before Run
    journey.quit()

    # The app starts the sweep and is killed after a few cells.
    child = subprocess.Popen(
        [sys.executable, "-m", "tests.journeys.sweep_child", ROWS, COLS, str(REPEATS)],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        env=os.environ.copy(),
    )
    store = Store.open(store_path)
    try:
        qtbot.waitUntil(lambda: sum(_cells(store).values()) >= KILL_AFTER
                        or child.poll() is not None, timeout=4 * RUN_TIMEOUT_MS)
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(60)
    assert child.returncode == -signal.SIGKILL
    before = _cells(store)
    kept = {(r.ref.variant_id, r.ref.repeat_index): r.id
            for r in (store.runs.get(i) for i in store.runs.ids()) if r.status == "ok"}
    store.close()
    assert KILL_AFTER <= len(before) < CELLS, "the sweep was not killed in the middle"

    # Start again: Tools ▸ Experiments… lists the sweep; it reopens with its axes and resumes.
    window = journey.start()
    menu_action(window, "Experiments").trigger()
    browser = _only_view(window, ExperimentsBrowser)
    qtbot.waitExposed(browser)
    qtbot.waitUntil(lambda: len(browser.shown()) == 1, timeout=10_000)
    assert browser.model.rows[0].kind == "sweep"
    assert browser.status.text() == "1 experiment. Double-click or press Enter to open one."
    journey.shot("experiments-browser", browser)
    rect = browser.view.visualRect(browser.proxy.index(0, 1))
    qtbot.mouseClick(browser.view.viewport(), LEFT, pos=rect.center())
    qtbot.mouseDClick(browser.view.viewport(), LEFT, pos=rect.center())
    sweep = _only_view(window, SweepView)
    qtbot.waitExposed(sweep)
    assert (sweep.rows.param.currentText(), sweep.rows.values.text()) == ("temperature", ROWS)
    assert (sweep.cols.param.currentText(), sweep.cols.values.text()) == ("top_p", COLS)
    qtbot.waitUntil(lambda: sweep.run_button.text() == "Resume sweep", timeout=60_000)
    assert sweep.estimate is not None
    assert (sweep.estimate.skipped, sweep.estimate.calls) == (len(before), CELLS - len(before))
    shown = [sweep.matrix.item(r, c) for r in range(2) for c in range(2)]
    assert "…" not in [i.text() for i in shown if i is not None]  # a stopped cell never waits
    journey.shot("reopened-to-resume", sweep)
    with qtbot.waitSignal(sweep.sweepFinished, timeout=4 * RUN_TIMEOUT_MS):
        qtbot.mouseClick(sweep.run_button, LEFT)

    # Only the missing cells ran: one run per cell, the ones done before kept.
    store = window.workspace.store
    window.workspace.runner.writer.submit(lambda _s: None).result(30)  # type: ignore[union-attr]
    after = _cells(store)
    assert len(after) == CELLS and set(after.values()) == {1}
    now = {(r.ref.variant_id, r.ref.repeat_index): r.id
           for r in (store.runs.get(i) for i in store.runs.ids()) if r.status == "ok"}
    assert all(now[cell] == run_id for cell, run_id in kept.items())
    qtbot.waitUntil(lambda: sweep.run_button.text() == "Done", timeout=60_000)
    assert sweep.estimate_label.text().startswith(f"all {CELLS} cells done")

    # Read it: answers with their agreement, a cell's answers whole on a click, the chart.
    assert sweep.current_metric_key() == "answer"
    matrix = sweep.matrix
    for row in range(2):
        for col in range(2):
            item = matrix.item(row, col)
            assert item is not None and "agree " in item.text() and item.text() != "…"
    corner = matrix.item(1, 1)
    assert corner is not None
    rect = matrix.visualItemRect(corner)
    qtbot.mouseClick(matrix.viewport(), LEFT, pos=rect.center())
    detail = sweep.detail.toPlainText()
    assert detail.startswith(f"temperature 1.2 × top_p 0.95: {REPEATS} runs · agree ")
    summary = sweep.summaries()[(1, 1)]
    assert all(group.text in detail for group in summary.groups)
    assert sweep.chart.isVisible() and len(sweep.chart.series) == 2
    assert all(s.count() == 2 for s in sweep.chart.series)
    journey.shot("read-it", sweep)
