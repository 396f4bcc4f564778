"""Opening, closing and photographing the real main window, for the tests that drive it."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QWidget
from pytestqt.qtbot import QtBot

from tests.conftest import ARTIFACTS
from workbench.app import create_application, open_main_window
from workbench.ui.dialogs.template_details import TemplateDetailsDialog
from workbench.ui.main_window import MainWindow


def open_window(qtbot: QtBot, *, demo: bool = False, closed_by_qtbot: bool = True) -> MainWindow:
    create_application()
    window = open_main_window(first_run_demo=demo)
    if closed_by_qtbot:
        qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    # Shortcuts (WindowShortcut) reach only the active window, and activation comes a little
    # after exposure: a key pressed before it would be lost.
    window.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window)
    return window


def close_window(window: MainWindow) -> None:
    window.close()
    window.workspace.close()


def shot(window: QWidget, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    QApplication.processEvents()
    assert window.grab().save(str(path))
    return path


def focus_in(window: QWidget) -> bool:
    """``window`` is active and holds the focus: its shortcuts reach it."""
    focus = QApplication.focusWidget()
    active = QApplication.activeWindow() is window
    return active and focus is not None and window.isAncestorOf(focus)


def back_to(qtbot: QtBot, window: QWidget) -> None:
    """After a dialog closed: activate ``window`` again, as a window manager does (offscreen,
    nothing does), and wait until its shortcuts work."""
    window.activateWindow()
    qtbot.waitUntil(lambda: focus_in(window))


def press_save(qtbot: QtBot, window: MainWindow, name: str | None = None) -> None:
    """Ctrl+S; a first save asks for the name: keep the one proposed (or type ``name``), Enter."""
    first = window.key is None
    qtbot.keyClick(window.editor, Qt.Key.Key_S, Qt.KeyboardModifier.ControlModifier)
    if first:
        qtbot.waitUntil(
            lambda: isinstance(QApplication.activeModalWidget(), TemplateDetailsDialog)
        )
        dialog = QApplication.activeModalWidget()
        assert isinstance(dialog, TemplateDetailsDialog)
        qtbot.waitUntil(lambda: QApplication.activeWindow() is dialog)
        if name is not None:
            qtbot.keyClicks(dialog.name_edit, name)  # the proposed name is selected: replaced
        qtbot.keyClick(dialog.name_edit, Qt.Key.Key_Return)
        back_to(qtbot, window)
