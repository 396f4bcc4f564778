"""Turning the compare window's Diff on and off leaves the keyboard focus where it was. The bug
(seen by a first-time user, the cursor in the toolbar's repeat box): Diff turned off while the
focus was in the diff (its text or its pickers) let Qt pass the focus on to the next widget in
the tab chain (column A's Remove button here, or round to the repeat box)."""

from __future__ import annotations

from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QApplication, QWidget
from pytestqt.qtbot import QtBot

from tests.ui.windows import shot, window
from workbench.backends.config import add_config
from workbench.ui.compare.compare_view import CompareView
from workbench.ui.main_window import MainWindow

__all__ = ["window"]


def _opened(qtbot: QtBot, window: MainWindow) -> CompareView:
    """The compare window of the main window's prompt, active."""
    add_config("quick", "scripted", {"script": [{"text": "The ocean covers most of Earth."}]})
    window.picker.reload()
    window.picker.select("quick", "")
    compare = window.open_compare()
    assert compare.columns[0].variant.backend == "quick"
    qtbot.waitExposed(compare)
    compare.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is compare)
    return compare


def _click_diff(qtbot: QtBot, compare: CompareView) -> None:
    button = compare.toolbar.widgetForAction(compare.diff_action)
    assert button is not None
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


def _click_into(qtbot: QtBot, widget: QWidget) -> None:
    """A click in a text (its viewport), as a reader does to select or scroll."""
    viewport = getattr(widget, "viewport", lambda: widget)()
    qtbot.mouseClick(viewport, Qt.MouseButton.LeftButton, pos=QPoint(10, 10))
    qtbot.waitUntil(widget.hasFocus)


def test_diff_on_and_off_leaves_the_focus_where_it_was(qtbot: QtBot, window: MainWindow) -> None:
    compare = _opened(qtbot, window)
    text = compare.columns[0].output.stack.currentWidget()
    diff = compare.diff_view
    # as opened: the diff shown with the button, clicked into, and turned off with the button
    _click_diff(qtbot, compare)
    assert diff.isVisible()
    _click_into(qtbot, diff.left_text)
    _click_diff(qtbot, compare)
    assert not diff.isVisible()
    assert QApplication.focusWidget() is text, QApplication.focusWidget().accessibleName()
    with qtbot.waitSignal(compare.runAllFinished, timeout=20_000):
        compare.run_all()
    # the focus in the column's text: Ctrl+D on and off leaves it there
    for shown in (True, False):
        qtbot.keyClick(text, Qt.Key.Key_D, Qt.KeyboardModifier.ControlModifier)
        assert diff.isVisible() is shown
        assert QApplication.focusWidget() is text
    # Diff turned off from the diff's own picker, by its shortcut: back to the column's text
    qtbot.keyClick(text, Qt.Key.Key_D, Qt.KeyboardModifier.ControlModifier)
    diff.right.setFocus()
    qtbot.waitUntil(diff.right.hasFocus)
    shot(compare, "compare_diff_focus_before_turning_it_off")
    qtbot.keyClick(diff.right, Qt.Key.Key_D, Qt.KeyboardModifier.ControlModifier)
    assert not diff.isVisible()
    assert QApplication.focusWidget() is text, QApplication.focusWidget().accessibleName()


def test_a_compare_window_opens_with_the_focus_in_its_first_column(
    qtbot: QtBot, window: MainWindow
) -> None:
    """Not in the repeat box (first in the tab chain): a digit typed there changed the number
    of repeats."""
    compare = _opened(qtbot, window)
    text = compare.columns[0].output.stack.currentWidget()
    qtbot.waitUntil(text.hasFocus)
    qtbot.keyClicks(QApplication.focusWidget(), "3")
    assert compare.repeat_box.value() == 1
