"""From a blank prompt to Few-shot and Chain-of-thought on hand-written messages, in the real
window: each change seen as a diff before it is made, then undone twice and redone by keyboard."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from tests.ui.prompt_typing import (
    EXAMPLES,
    QUERY,
    SYSTEM,
    add_example,
    choose_technique,
    settle,
    type_lines,
)
from tests.ui.windows import shot, window
from workbench.core.scaffolds import DEFAULT_TRIGGER
from workbench.ui.main_window import MainWindow

__all__ = ["window"]

pytestmark = pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints")

CTRL = Qt.KeyboardModifier.ControlModifier
SHIFT = Qt.KeyboardModifier.ShiftModifier


def test_few_shot_then_chain_of_thought_on_hand_written_messages_undone_twice_and_redone(
    qtbot: QtBot, window: MainWindow
) -> None:
    window.resize(1366, 768)
    editor = window.editor
    # The first thing a new user sees reads as what is sent: no {{ parts.instruction }}.
    assert editor.template().name == "welcome"
    assert editor.messages.cards[0].editor.toPlainText() == (
        "Tell me three fun facts about {{ topic }}, one short sentence each."
    )
    assert not editor.components_section.expanded
    assert editor.components_section.summary.text() == "optional: none"
    shot(window, "technique_journey_0_welcome")
    qtbot.keyClick(window, Qt.Key.Key_N, CTRL)
    # A system message and the request, written by hand.
    first = editor.messages.cards[0]
    first.role.setFocus()
    qtbot.keyClick(first.role, Qt.Key.Key_Up)  # user -> system, as a keyboard user does it
    assert first.role.currentData() == "system"
    type_lines(qtbot, first.editor, SYSTEM)
    qtbot.mouseClick(editor.messages.add_button, Qt.MouseButton.LeftButton)
    user = editor.messages.cards[1]
    assert user.role.currentData() == "user" and user.editor.hasFocus()
    type_lines(qtbot, user.editor, QUERY)
    qtbot.waitUntil(lambda: window.variables.names() == ["review"])  # the variable is in the form
    # Three examples; under zero-shot none is sent, and the counter says so.
    if not editor.examples_section.expanded:
        qtbot.mouseClick(editor.examples_section.button, Qt.MouseButton.LeftButton)
    for text, label in EXAMPLES:
        add_example(qtbot, window, text, label)
    settle(qtbot, window)
    assert len(editor.template().examples) == 3
    summary = editor.examples_section.summary
    assert summary.text() == "none of 3 sent: no message has {{ examples_block }}"
    written = editor.template()
    shot(window, "technique_journey_1_written")

    # Few-shot: the diff first, then Enter.
    choose_technique(qtbot, window, "few-shot")
    qtbot.mouseClick(editor.apply_button, Qt.MouseButton.LeftButton)
    preview = editor.change_preview
    assert preview.isVisible() and "examples_block" in preview.diff.toPlainText()
    assert editor.template() == written
    shot(window, "technique_journey_2_few_shot_diff")
    qtbot.keyClick(preview.apply_button, Qt.Key.Key_Return)
    assert user.editor.toPlainText() == "{{ examples_block }}\n\n" + QUERY
    assert editor.messages.cards[0].editor.toPlainText() == SYSTEM
    assert summary.text() == "3 of 3 sent"
    assert window.params.params().stop == ["\nReview:"]  # the panel shows what will be sent
    few = editor.template()

    # Chain-of-thought: its diff shows the examples block going and the cue coming.
    choose_technique(qtbot, window, "chain-of-thought")
    qtbot.mouseClick(editor.apply_button, Qt.MouseButton.LeftButton)
    assert DEFAULT_TRIGGER in preview.diff.toPlainText()
    shot(window, "technique_journey_3_cot_diff")
    qtbot.mouseClick(preview.apply_button, Qt.MouseButton.LeftButton)
    assert user.editor.toPlainText().startswith(QUERY + "\n\n")
    assert user.editor.toPlainText().endswith(DEFAULT_TRIGGER)
    assert "examples_block" not in user.editor.toPlainText()
    assert window.params.params().stop == []
    cot = editor.template()
    shot(window, "technique_journey_4_cot_applied")

    # Undo twice from the message being edited, then redo, by keyboard.
    user.editor.setFocus()
    qtbot.keyClick(user.editor, Qt.Key.Key_Z, CTRL)
    assert editor.template() == few and window.params.params().stop == ["\nReview:"]
    qtbot.keyClick(user.editor, Qt.Key.Key_Z, CTRL)
    assert editor.template() == written and summary.text().startswith("none of 3 sent")
    assert window.params.params().stop == []
    shot(window, "technique_journey_5_undone_twice")
    qtbot.keyClick(user.editor, Qt.Key.Key_Z, CTRL | SHIFT)
    assert editor.template() == few
    # Edit > Redo from the menu, with the focus still in the message.
    redo = next(a for a in window.menus.named["&Edit"].actions() if a.text() == "&Redo")
    redo.trigger()
    assert editor.template() == cot and editor.notice.text() == "Redone: Applied Chain-of-thought."
    shot(window, "technique_journey_6_redone")
