"""The technique picker, as a cold user met it: Cancel puts it back to the technique in effect,
and switching technique replaces the previous one's additions (cue, answer line) even after the
person typed on after them — never stacks them."""

from __future__ import annotations

from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from tests.ui.prompt_typing import replace_message
from tests.ui.windows import shot, window
from workbench.core.models import Example
from workbench.core.scaffolds import ANSWER_FORMAT, DEFAULT_TRIGGER
from workbench.ui.main_window import MainWindow
from workbench.ui.widgets.template_editor import TemplateEditor

__all__ = ["window"]

REQUEST = "Write a {{ style }} one-sentence product description for {{ product }}."


def choose(qtbot: QtBot, editor: TemplateEditor, technique_id: str) -> None:
    combo = editor.technique
    combo.setFocus()
    wanted = combo.findData(technique_id)
    while combo.currentIndex() != wanted:
        qtbot.keyClick(combo, Qt.Key.Key_Down if combo.currentIndex() < wanted else Qt.Key.Key_Up)


def propose(qtbot: QtBot, editor: TemplateEditor, technique_id: str) -> None:
    choose(qtbot, editor, technique_id)
    qtbot.mouseClick(editor.apply_button, Qt.MouseButton.LeftButton)
    assert editor.change_preview.isVisible()


def accept(qtbot: QtBot, editor: TemplateEditor) -> str:
    with qtbot.waitSignal(editor.templateChanged):
        qtbot.mouseClick(editor.change_preview.apply_button, Qt.MouseButton.LeftButton)
    return editor.template().messages[-1].content


def user_text(editor: TemplateEditor) -> str:
    return editor.template().messages[-1].content


def test_cancel_puts_the_picker_back_and_switching_replaces_the_cue(
    qtbot: QtBot, window: MainWindow
) -> None:
    editor = window.editor
    window.new_template()
    replace_message(qtbot, window, REQUEST)
    propose(qtbot, editor, "chain-of-thought")
    accept(qtbot, editor)
    # The person types on after the cue, on its line, as the cold user did.
    field = editor.editor_for("messages[0] (user)")
    assert field is not None
    field.setFocus()
    field.moveCursor(field.textCursor().MoveOperation.End)
    with qtbot.waitSignal(editor.templateChanged):
        qtbot.keyClicks(field, " Keep it under 20 words.")

    # (a) Looking at Tree-of-thoughts, then Cancel: the picker says chain-of-thought again.
    propose(qtbot, editor, "tree-of-thoughts")
    qtbot.mouseClick(editor.change_preview.cancel_button, Qt.MouseButton.LeftButton)
    assert not editor.change_preview.isVisible()
    assert editor.template().technique == "chain-of-thought"
    assert editor.technique.currentData() == "chain-of-thought"
    assert not editor.apply_button.isDefault()
    # Escape cancels the same way (Run › Cancel's Esc does not take it while nothing runs).
    propose(qtbot, editor, "few-shot")
    qtbot.keyClick(editor.change_preview.apply_button, Qt.Key.Key_Escape)
    assert not editor.change_preview.isVisible()
    assert editor.technique.currentData() == "chain-of-thought"

    # (b) Self-consistency and tree-of-thoughts replace chain-of-thought's lines.
    propose(qtbot, editor, "self-consistency")
    qtbot.waitUntil(lambda: window.preview.error is not None)  # the preview has caught up
    shot(window, "technique_switch_replaces_cue")
    text = accept(qtbot, editor)
    assert text.count(ANSWER_FORMAT) == 1 and text.count(DEFAULT_TRIGGER) == 1
    assert "Keep it under 20 words." in text  # the person's words stay
    text = (propose(qtbot, editor, "tree-of-thoughts"), accept(qtbot, editor))[1]
    assert text.count(ANSWER_FORMAT) == 1 and DEFAULT_TRIGGER not in text
    assert "Keep it under 20 words." in text

    # (c) Few-shot is an alternative to the reasoning techniques: their cue goes, and the diff
    # shows it going.
    propose(qtbot, editor, "chain-of-thought")
    accept(qtbot, editor)
    editor.few_shot.set_values(
        [Example(input="a wool scarf", output="Cozy up: this scarf hugs back.")],
        editor.template().few_shot,
    )
    propose(qtbot, editor, "few-shot")
    diff = editor.change_preview.diff.toPlainText()
    assert DEFAULT_TRIGGER in diff and ANSWER_FORMAT in diff  # shown as taken out
    qtbot.waitUntil(lambda: window.preview.error is not None)
    shot(window, "technique_few_shot_removes_cue")
    text = accept(qtbot, editor)
    assert DEFAULT_TRIGGER not in text and ANSWER_FORMAT not in text
    assert text.startswith("{{ examples_block }}") and "Keep it under 20 words." in text
    assert editor.technique.currentData() == "few-shot"
