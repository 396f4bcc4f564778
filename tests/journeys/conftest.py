"""What the journey tests share: a window on the test's home folder, a restart (a new main
window on the same home, as after quitting the app), menu actions found by their text, modal
dialogs driven while they are open, and a screenshot at each step.

Each journey (a task a person does from start to finish, listed in docs/architecture.md under
"Tests") is one test here, driven through the real window the way a person uses it; a step's
screenshot lands in test-artifacts/journeys/ for a person to look at.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QApplication, QWidget
from pytestqt.qtbot import QtBot

from tests.conftest import ARTIFACTS
from tests.ui.windows import back_to, close_window, open_window
from workbench.ui.main_window import MainWindow

RUN_TIMEOUT_MS = 120_000


class Journey:
    """One journey's window, its restarts and its numbered screenshots."""

    def __init__(self, qtbot: QtBot, name: str) -> None:
        self.qtbot = qtbot
        self.name = name
        self.step = 0
        self.window: MainWindow | None = None

    def start(self, *, demo: bool = False) -> MainWindow:
        self.window = open_window(self.qtbot, demo=demo, closed_by_qtbot=False)
        return self.window

    def restart(self) -> MainWindow:
        """Quit the app (its window and workspace) and start it again on the same home."""
        self.quit()
        return self.start()

    def quit(self) -> None:
        if self.window is not None:
            window, self.window = self.window, None
            assert window.close(), "the main window refused to close"
            window.workspace.close()
            window.deleteLater()
            QApplication.processEvents()

    def shot(self, label: str, widget: QWidget | None = None) -> Path:
        """Screenshot ``widget`` (the main window by default) as step N of this journey."""
        self.step += 1
        folder = ARTIFACTS / "journeys"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{self.name}-{self.step:02d}-{label}.png"
        target = widget if widget is not None else self.window
        assert target is not None
        QApplication.processEvents()
        assert target.grab().save(str(path)), f"could not write {path}"
        return path


@pytest.fixture
def journey(qtbot: QtBot, request: pytest.FixtureRequest) -> Iterator[Journey]:
    name = request.node.name.removeprefix("test_")
    journey = Journey(qtbot, name)
    yield journey
    if journey.window is not None:
        close_window(journey.window)


def menu_action(window: MainWindow, text: str) -> QAction:
    """The window's menu action whose text (without '&' and '…') is ``text``."""
    def plain(label: str) -> str:
        return label.replace("&", "").replace("…", "").strip()

    for action in window.findChildren(QAction):
        if plain(action.text()) == text:
            return action
    raise AssertionError(f"no menu action {text!r}")


def with_modal(qtbot: QtBot, drive: Callable[[QWidget], None], trigger: Callable[[], object],
               timeout_ms: int = 10_000) -> None:
    """Call ``trigger``, which opens a modal dialog (at once, or later from a background
    result), and let ``drive`` work the dialog as a person would; ``drive`` must close it.
    Returns once the dialog was driven: no poller is left behind to drive a later dialog."""
    failures: list[BaseException] = []
    driven: list[QWidget] = []
    stopped = False

    def poll() -> None:
        if stopped:
            return
        dialog = QApplication.activeModalWidget()
        if dialog is None:
            QTimer.singleShot(20, poll)
            return
        driven.append(dialog)
        try:
            drive(dialog)
        except BaseException as err:  # reported after the dialog is gone
            failures.append(err)
            dialog.close()

    QTimer.singleShot(0, poll)
    try:
        trigger()
        qtbot.waitUntil(lambda: bool(driven), timeout=timeout_ms)
    finally:
        stopped = True
    if failures:
        raise failures[0]


def diff_v1_v2_and_label_v2(qtbot: QtBot, journey: Journey, window: MainWindow,
                            label: str) -> None:
    """In the library panel's versions list: v1 and v2 diffed (the diff photographed), then v2
    clicked and given ``label`` from the label bar, as a person does it."""
    panel = window.library
    qtbot.waitUntil(lambda: panel.versions.count() >= 2)
    rows = {panel.versions.item(i).text().split()[0]: panel.versions.item(i)
            for i in range(panel.versions.count())}
    panel.versions.clearSelection()
    rows["v1"].setSelected(True)
    rows["v2"].setSelected(True)
    diff = panel.compare_selected()
    assert diff is not None and diff.isVisible()
    journey.shot("diff", diff)
    diff.close()
    back_to(qtbot, window)
    rect = panel.versions.visualItemRect(rows["v2"])
    qtbot.mouseClick(panel.versions.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert panel.selected_versions() == [2]
    qtbot.mouseClick(panel.buttons["label"], Qt.MouseButton.LeftButton)
    qtbot.waitUntil(panel.label_bar.edit.hasFocus)
    qtbot.keyClicks(panel.label_bar.edit, label)
    qtbot.keyClick(panel.label_bar.edit, Qt.Key.Key_Return)
