"""Opening, closing and photographing the real main window, for the tests that drive it."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QMessageBox, QWidget
from pytestqt.qtbot import QtBot

from tests.conftest import ARTIFACTS
from workbench.app import _crash_dialog, create_application, open_main_window
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


@pytest.fixture
def window(qtbot: QtBot, monkeypatch: pytest.MonkeyPatch) -> Iterator[MainWindow]:
    """The main window, open and active; a document left with unsaved edits is discarded
    without the question (import it into the test module, listed in ``__all__``)."""
    monkeypatch.setattr(
        MainWindow, "ask_unsaved", lambda _self, _name: QMessageBox.StandardButton.Discard
    )
    window = open_window(qtbot)
    yield window
    close_window(window)


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


@pytest.fixture
def crash_dialogs(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The app's excepthook installed as ``app.main`` does; the crash dialogs (and warnings
    about known errors) it shows are recorded instead of waiting for a click."""
    shown: list[str] = []

    def record(box: QMessageBox) -> int:
        shown.append(f"{box.windowTitle()}: {box.text()}")
        return int(QMessageBox.StandardButton.Ok)

    def warning(_parent: object, title: str, text: str, *_args: object) -> int:
        shown.append(f"{title}: {text}")
        return int(QMessageBox.StandardButton.Ok)

    monkeypatch.setattr(QMessageBox, "exec", record)
    monkeypatch.setattr(QMessageBox, "warning", warning)
    saved = sys.excepthook  # pytest-qt's, put back before it looks at it
    sys.excepthook = _crash_dialog
    try:
        yield shown
    finally:
        sys.excepthook = saved
