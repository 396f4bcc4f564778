"""The question about unsaved edits (before another template replaces them) is a line of the
main window's layout under the title: a first-time user saw it as a message box sitting on the
editor's "Prompt components" label. It pushes the editor down instead, and answers as the box
did: Discard goes on, Esc (Cancel) keeps the edits, Save saves them first.

The real main window, its real editor and library."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from PySide6.QtCore import QPoint, QRect, Qt, QTimer
from PySide6.QtWidgets import QApplication, QMessageBox, QWidget
from pytestqt.qtbot import QtBot

from tests.ui.prompt_typing import replace_message
from tests.ui.windows import close_window, open_window, shot
from workbench.ui.main_window import MainWindow

Answer = QMessageBox.StandardButton


@pytest.fixture
def window(qtbot: QtBot) -> Iterator[MainWindow]:
    window = open_window(qtbot)
    yield window
    close_window(window)


def _rect_in(window: MainWindow, widget: QWidget) -> QRect:
    return QRect(widget.mapTo(window, QPoint(0, 0)), widget.size())


def _while_asked(qtbot: QtBot, window: MainWindow, answer: Callable[[], None],
                 seen: dict[str, Any]) -> None:
    """Once the question shows: note where it is and what overlaps it, then ``answer``. A
    message box (as before) is answered Cancel after the notes, so the test ends."""

    def look() -> None:
        QApplication.processEvents()
        modal = QApplication.activeModalWidget()
        seen["modal"] = type(modal).__name__ if modal is not None else None
        if isinstance(modal, QMessageBox):
            seen["box over the editor"] = _rect_in(window, window.editor).intersects(
                QRect(window.mapFromGlobal(modal.mapToGlobal(QPoint(0, 0))), modal.size()))
            modal.done(Answer.Cancel)
            return
        bar = window.unsaved_bar
        seen["shown"] = bar.isVisible()
        if not bar.isVisible():
            QTimer.singleShot(20, look)
            return
        seen["text"] = bar.label.text()
        seen["focus on save"] = bar.buttons[Answer.Save].hasFocus()
        seen["overlaps editor"] = _rect_in(window, bar).intersects(
            _rect_in(window, window.centre_split))
        seen["above editor"] = _rect_in(window, bar).bottom() < _rect_in(
            window, window.centre_split).top()
        seen["shot"] = shot(window, "main-window-unsaved-bar")
        answer()

    QTimer.singleShot(0, look)


def test_the_unsaved_question_takes_its_own_line_and_answers_in_place(
    qtbot: QtBot, window: MainWindow
) -> None:
    replace_message(qtbot, window, "My precious unsaved prompt")
    qtbot.waitUntil(lambda: window.dirty)
    bar = window.unsaved_bar
    seen: dict[str, Any] = {}
    # Esc: Cancel, the edits stay
    _while_asked(qtbot, window, lambda: qtbot.keyClick(
        bar.buttons[Answer.Save], Qt.Key.Key_Escape), seen)
    qtbot.keyClick(window.editor, Qt.Key.Key_N, Qt.KeyboardModifier.ControlModifier)
    assert seen["modal"] is None, "asked in a dialog over the window"
    assert seen["shown"] and seen["above editor"] and not seen["overlaps editor"]
    assert seen["text"].endswith("has edits that are not saved. Save them?")
    assert seen["focus on save"]
    assert not bar.isVisible()
    assert window.editor.template().messages[0].content == "My precious unsaved prompt"
    # Discard: the new template replaces them
    seen.clear()
    _while_asked(qtbot, window, lambda: qtbot.mouseClick(
        bar.buttons[Answer.Discard], Qt.MouseButton.LeftButton), seen)
    qtbot.keyClick(window.editor, Qt.Key.Key_N, Qt.KeyboardModifier.ControlModifier)
    assert seen["shown"] and not bar.isVisible()
    assert window.editor.template().messages[0].content != "My precious unsaved prompt"


def test_enter_saves_the_edits_before_the_next_template(
    qtbot: QtBot, window: MainWindow
) -> None:
    window.open_library_template("welcome")
    replace_message(qtbot, window, "My precious unsaved prompt")
    qtbot.waitUntil(lambda: window.dirty)
    seen: dict[str, Any] = {}
    _while_asked(qtbot, window, lambda: qtbot.keyClick(
        window.unsaved_bar.buttons[Answer.Save], Qt.Key.Key_Return), seen)
    qtbot.keyClick(window.editor, Qt.Key.Key_N, Qt.KeyboardModifier.ControlModifier)
    assert seen["modal"] is None and seen["shown"]
    assert window.editor.template().name == "untitled"
    assert window.workspace.library.load("welcome").messages[0].content == (
        "My precious unsaved prompt")
