"""The main window's remembered layout on a screen smaller than the one it was saved on."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QAbstractScrollArea
from pytestqt.qtbot import QtBot

from tests.ui.windows import close_window, open_window, shot
from workbench.ui.window_support import DOCK_MIN_WIDTH


def test_a_window_saved_larger_than_the_screen_reopens_inside_it(qtbot: QtBot) -> None:
    window = open_window(qtbot)
    area = window.screen().availableGeometry()
    window.setGeometry(area.x(), area.y(), area.width() + 566, area.height() + 200)
    qtbot.waitUntil(lambda: window.width() > area.width())
    close_window(window)  # saves the layout, as quitting does

    reopened = open_window(qtbot)
    try:
        # As large as the screen, or as the window's minimum when that is larger (the offscreen
        # test screen is 800 px wide, less than the three docks and the editor need side by side).
        least = reopened.minimumSizeHint()
        assert reopened.width() <= max(area.width(), least.width()), reopened.geometry()
        assert reopened.height() <= max(area.height(), least.height()), reopened.geometry()
        assert area.contains(reopened.geometry().topLeft())
        for dock in (reopened.library_dock, reopened.history_dock, reopened.params_dock):
            assert dock.width() >= DOCK_MIN_WIDTH, dock.objectName()
        library_list = reopened.library.findChild(QAbstractScrollArea)
        assert library_list is not None
        lists: list[QAbstractScrollArea] = [library_list, reopened.history.view]
        for view in lists:
            policy = view.horizontalScrollBarPolicy()
            assert policy == Qt.ScrollBarPolicy.ScrollBarAlwaysOff or not (
                view.horizontalScrollBar().isVisible()
            ), view.accessibleName()
        shot(reopened, "main_window_reopened_on_a_small_screen")
    finally:
        close_window(reopened)
