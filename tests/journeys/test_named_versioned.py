"""Journey 2, its second half: from a hand-written prompt to a named, versioned one. Named on the
first save, saved again with a message, renamed, two versions diffed, one labelled production;
quit, restart: it is open again, with its name, history and label."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from tests.journeys.conftest import Journey, diff_v1_v2_and_label_v2
from tests.ui.windows import back_to
from workbench.ui.dialogs.template_details import TemplateDetailsDialog
from workbench.ui.main_window import MainWindow

pytestmark = pytest.mark.qt_log_ignore(
    "This plugin does not support propagateSizeHints",
    "This plugin does not support raise",  # the offscreen platform: the diff window's raise_()
    "This plugin does not support grabbing the keyboard",  # … and a menu button's popup
)

CTRL = Qt.KeyboardModifier.ControlModifier
SHIFT = Qt.KeyboardModifier.ShiftModifier


def _type(qtbot: QtBot, window: MainWindow, text: str) -> None:
    editor = window.editor.editor_for("messages[0] (user)")
    assert editor is not None
    editor.setFocus()
    editor.selectAll()
    for number, line in enumerate(text.split("\n")):
        if number:
            qtbot.keyClick(editor, Qt.Key.Key_Return)
        qtbot.keyClicks(editor, line)
    qtbot.waitUntil(lambda: window.editor.template().messages[0].content == text)


def _dialog(qtbot: QtBot) -> TemplateDetailsDialog:
    qtbot.waitUntil(lambda: isinstance(QApplication.activeModalWidget(), TemplateDetailsDialog))
    dialog = QApplication.activeModalWidget()
    assert isinstance(dialog, TemplateDetailsDialog)
    qtbot.waitUntil(lambda: QApplication.activeWindow() is dialog)
    return dialog


def test_named_versioned(qtbot: QtBot, journey: Journey) -> None:
    window = journey.start()
    library = window.workspace.library
    qtbot.keyClick(window.editor, Qt.Key.Key_N, CTRL)
    _type(qtbot, window, "Review: {{ review }}\nSentiment:")
    qtbot.waitUntil(lambda: "review" in window.variables.names(), timeout=5000)

    # First save: the name is asked (with a version message), the key derived from it.
    qtbot.keyClick(window.editor, Qt.Key.Key_S, CTRL)
    dialog = _dialog(qtbot)
    qtbot.keyClicks(dialog.name_edit, "Review sentiment")
    qtbot.keyClicks(dialog.message_edit, "hand-written")
    journey.shot("naming", dialog)
    qtbot.keyClick(dialog.name_edit, Qt.Key.Key_Return)
    back_to(qtbot, window)
    qtbot.waitUntil(lambda: window.key == "review-sentiment" and window.version == 1)

    # Edit, then save again with a message (Ctrl+Shift+S, a line under the title).
    _type(qtbot, window, "Review: {{ review }}\nAnswer positive, negative or neutral.\nSentiment:")
    qtbot.keyClick(window.editor, Qt.Key.Key_S, CTRL | SHIFT)
    qtbot.waitUntil(window.message_bar.edit.hasFocus)
    qtbot.keyClicks(window.message_bar.edit, "name the labels")
    journey.shot("version-message")
    qtbot.keyClick(window.message_bar.edit, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: window.version == 2 and not window.dirty)

    # Rename it from the library (F2 on its list): the file follows the name, history too.
    window.library.tree.setFocus()
    qtbot.keyClick(window.library.tree, Qt.Key.Key_F2)
    dialog = _dialog(qtbot)
    qtbot.keyClicks(dialog.name_edit, "Sentiment of a review")
    qtbot.keyClick(dialog.name_edit, Qt.Key.Key_Return)
    back_to(qtbot, window)
    qtbot.waitUntil(lambda: window.key == "sentiment-of-a-review")
    assert [v.message for v in library.versions("sentiment-of-a-review")] == [
        "hand-written", "name the labels", "renamed from “Review sentiment”"]

    # Diff v1 and v2 from the versions list, label v2 production.
    diff_v1_v2_and_label_v2(qtbot, journey, window, "production")
    assert library.labels("sentiment-of-a-review") == {"production": 2}
    journey.shot("labelled")

    # Quit, restart: the renamed template is open again, its history and label kept.
    window = journey.restart()
    assert (window.key, window.document.name) == ("sentiment-of-a-review", "Sentiment of a review")
    assert window.version == 3 and not window.dirty
    assert window.library.current_key() == "sentiment-of-a-review"
    assert window.library.current_version() == 3
    texts = [window.library.versions.item(i).text()
             for i in range(window.library.versions.count())]
    assert "[production]" in texts[1] and "name the labels" in texts[1]
    journey.shot("restarted")
