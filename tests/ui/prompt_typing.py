"""Writing a prompt by hand in the real editor, as the main-window tests and journeys do: a
message typed over, lines typed as keys, a technique chosen by keyboard, few-shot examples
typed into their table."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QPlainTextEdit
from pytestqt.qtbot import QtBot

from workbench.ui.main_window import MainWindow
from workbench.ui.widgets.code_editor import CodeEditor
from workbench.ui.widgets.template_editor import TemplateEditor

#: The sentiment prompt the technique journey and journey 2 write by hand: a system message,
#: the request, and three labelled examples.
SYSTEM = "You are a careful analyst of product reviews."
QUERY = "Review: {{ review }}\nSentiment:"
EXAMPLES = [
    ("Loved it, would buy again.", "positive"),
    ("Broke after a day.", "negative"),
    ("It arrived on Tuesday.", "neutral"),
]


def shown_editor(qtbot: QtBot, qapp: QApplication) -> TemplateEditor:
    """A template editor on its own, 680x900, shown and active (its shortcuts need that)."""
    editor = TemplateEditor()
    qtbot.addWidget(editor)
    editor.resize(680, 900)
    editor.show()
    editor.activateWindow()
    qtbot.waitUntil(lambda: qapp.activeWindow() is editor)
    return editor


def type_lines(qtbot: QtBot, field: CodeEditor, text: str) -> None:
    """Type ``text`` as keys, Return for each line break."""
    field.setFocus()
    for number, line in enumerate(text.split("\n")):
        if number:
            qtbot.keyClick(field, Qt.Key.Key_Return)
        qtbot.keyClicks(field, line)


def replace_message(qtbot: QtBot, window: MainWindow, text: str) -> None:
    """Select all of the first (user) message and type ``text`` over it, as keys."""
    editor = window.editor.editor_for("messages[0] (user)")
    assert editor is not None
    editor.setFocus()
    editor.selectAll()
    qtbot.keyClick(editor, Qt.Key.Key_Delete)
    qtbot.keyClicks(editor, text)


def choose_technique(qtbot: QtBot, window: MainWindow, technique_id: str) -> None:
    combo = window.editor.technique
    combo.setFocus()
    wanted = combo.findData(technique_id)
    while combo.currentIndex() != wanted:
        qtbot.keyClick(combo, Qt.Key.Key_Down if combo.currentIndex() < wanted else Qt.Key.Key_Up)


def add_example(qtbot: QtBot, window: MainWindow, text: str, label: str) -> None:
    few = window.editor.few_shot
    qtbot.mouseClick(few.add_button, Qt.MouseButton.LeftButton)
    cell = few.table.focusWidget()
    assert isinstance(cell, QPlainTextEdit)
    qtbot.keyClicks(cell, text)
    qtbot.keyClick(cell, Qt.Key.Key_Tab)
    qtbot.keyClick(few.table, Qt.Key.Key_F2)
    output = few.table.focusWidget()
    assert isinstance(output, QPlainTextEdit)
    qtbot.keyClicks(output, label)
    qtbot.keyClick(output, Qt.Key.Key_Tab)


def settle(qtbot: QtBot, window: MainWindow) -> None:
    """Typing has paused and the editor has said so."""
    qtbot.waitUntil(lambda: not window.editor._debounce.isActive())
