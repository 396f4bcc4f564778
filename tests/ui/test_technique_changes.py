"""Techniques applied to hand-written messages in the editor: the diff first, then one history
that Ctrl+Z and Ctrl+Shift+Z walk through, and an examples counter that says what is sent."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from tests.ui.prompt_typing import shown_editor
from tests.ui.runs import screenshot
from workbench.core.models import Example, Message, Params, PromptTemplate, Variable
from workbench.core.scaffolds import DEFAULT_TRIGGER
from workbench.ui.widgets.code_editor import CodeEditor
from workbench.ui.widgets.template_editor import TemplateEditor

pytestmark = pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints")

QUERY = "Review: {{ review }}\nSentiment:"
HAND = PromptTemplate(
    name="by hand",
    messages=[
        Message(role="system", content="You are a careful analyst of product reviews."),
        Message(role="user", content=QUERY),
    ],
    variables=[Variable(name="review", default="Great sound, weak battery.")],
    examples=[
        Example(input="Loved it, would buy again.", output="positive"),
        Example(input="Broke after a day.", output="negative"),
        Example(input="It arrived.", output="neutral"),
    ],
    parameters=Params(temperature=0.2),
)
FEW = "{{ examples_block }}\n\n" + QUERY


@pytest.fixture
def editor(qtbot: QtBot, light: None, qapp: QApplication) -> TemplateEditor:
    editor = shown_editor(qtbot, qapp)
    with qtbot.waitSignal(editor.templateChanged):
        editor.set_template(HAND)
    return editor


def _user(editor: TemplateEditor) -> CodeEditor:
    return editor.messages.cards[-1].editor


def _apply(qtbot: QtBot, editor: TemplateEditor, technique_id: str) -> None:
    """Choose a technique, press Apply…, read the diff, press Enter to accept it."""
    combo = editor.technique
    combo.setFocus()
    wanted = combo.findData(technique_id)
    while combo.currentIndex() != wanted:
        qtbot.keyClick(combo, Qt.Key.Key_Down if combo.currentIndex() < wanted else Qt.Key.Key_Up)
    qtbot.mouseClick(editor.apply_button, Qt.MouseButton.LeftButton)
    assert editor.change_preview.isVisible()
    with qtbot.waitSignal(editor.templateChanged):
        qtbot.keyClick(editor.change_preview.apply_button, Qt.Key.Key_Return)
    assert not editor.change_preview.isVisible()


def test_the_change_is_shown_as_a_diff_before_it_is_made(
    qtbot: QtBot, editor: TemplateEditor
) -> None:
    editor.technique.setCurrentIndex(editor.technique.findData("few-shot"))
    qtbot.mouseClick(editor.apply_button, Qt.MouseButton.LeftButton)
    preview = editor.change_preview
    assert preview.isVisible() and preview.apply_button.hasFocus()
    assert preview.title.text() == "Apply Few-shot? Your template changes like this:"
    assert preview.summary.text() == (
        "Changes: user message · technique zero-shot → few-shot · few-shot settings · "
        'stop [] → ["\\nReview:"].'
    )
    html = preview.diff.toHtml()
    assert "examples_block" in html and "#ccf2d9" in html  # inserted, on the green tint
    assert editor.template() == HAND  # nothing changed yet
    screenshot(editor, "technique_diff_few_shot")
    qtbot.keyClick(preview.apply_button, Qt.Key.Key_Escape)
    assert not preview.isVisible() and editor.template() == HAND


def test_ctrl_z_twice_undoes_chain_of_thought_then_few_shot_and_redo_makes_them_again(
    qtbot: QtBot, editor: TemplateEditor
) -> None:
    seen: list[Params] = []
    editor.parametersChanged.connect(seen.append)
    _apply(qtbot, editor, "few-shot")
    assert _user(editor).toPlainText() == FEW
    assert seen[-1].stop == ["\nReview:"]  # the parameters panel learns the stop sequence
    few = editor.template()
    _apply(qtbot, editor, "chain-of-thought")
    cot = editor.template()
    assert cot.messages[1].content.endswith(DEFAULT_TRIGGER)
    assert "examples_block" not in cot.messages[1].content  # replaced, not stacked
    field = _user(editor)
    field.setFocus()
    for expected in (few, HAND):
        with qtbot.waitSignal(editor.templateChanged):
            qtbot.keyClick(field, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
        assert editor.template() == expected
        assert field.hasFocus()  # the same field, still being edited
    assert seen[-1] == HAND.parameters
    assert editor.notice.text() == "Undone: Applied Few-shot."
    redo = Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier
    for expected in (few, cot):
        with qtbot.waitSignal(editor.templateChanged):
            qtbot.keyClick(field, Qt.Key.Key_Z, redo)
        assert editor.template() == expected
    assert editor.history.can_undo and not editor.history.can_redo


def test_typing_after_a_technique_is_undone_first_and_the_notice_does_not_go_stale(
    qtbot: QtBot, editor: TemplateEditor
) -> None:
    _apply(qtbot, editor, "few-shot")
    assert editor.notice_bar.isVisible()
    field = _user(editor)
    field.setFocus()
    field.moveCursor(field.textCursor().MoveOperation.End)
    with qtbot.waitSignal(editor.templateChanged):
        qtbot.keyClicks(field, " One word.")
    assert not editor.notice_bar.isVisible()  # "Applied Few-shot" is not the last change now
    with qtbot.waitSignal(editor.templateChanged):
        qtbot.keyClick(field, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert field.toPlainText() == FEW  # the typing went; the technique stayed
    assert editor.notice.text() == "Undone: edited the user message."
    with qtbot.waitSignal(editor.templateChanged):
        qtbot.mouseClick(editor.undo_button, Qt.MouseButton.LeftButton)
    assert field.toPlainText() == QUERY
    editor.redo()
    editor.redo()
    assert field.toPlainText() == FEW + " One word."


def test_the_examples_counter_says_how_many_are_sent(qtbot: QtBot, editor: TemplateEditor) -> None:
    summary = editor.examples_section.summary
    assert summary.text() == "none of 3 sent: no message has {{ examples_block }}"
    _apply(qtbot, editor, "few-shot")
    assert summary.text() == "3 of 3 sent"
    _apply(qtbot, editor, "one-shot")
    assert summary.text() == "1 of 3 sent"
    _apply(qtbot, editor, "zero-shot")
    assert summary.text() == "none of 3 sent: no message has {{ examples_block }}"


def test_a_change_shown_while_typing_goes_on_is_shown_again_as_it_now_stands(
    qtbot: QtBot, editor: TemplateEditor
) -> None:
    editor.technique.setCurrentIndex(editor.technique.findData("chain-of-thought"))
    qtbot.mouseClick(editor.apply_button, Qt.MouseButton.LeftButton)
    field = editor.messages.cards[0].editor  # the system message
    field.setFocus()
    field.moveCursor(field.textCursor().MoveOperation.End)
    with qtbot.waitSignal(editor.templateChanged):
        qtbot.keyClicks(field, " Be terse.")
    assert editor.change_preview.before == editor.template()
    with qtbot.waitSignal(editor.templateChanged) as applied:
        qtbot.mouseClick(editor.change_preview.apply_button, Qt.MouseButton.LeftButton)
    template = applied.args[0]
    assert template.messages[0].content.endswith("Be terse.")  # the typing is kept
    assert template.messages[1].content.endswith(DEFAULT_TRIGGER)


def test_long_unchanged_stretches_of_the_diff_are_cut_to_their_context() -> None:
    from workbench.core.diff import diff_words
    from workbench.ui.widgets.change_preview import trimmed

    before = "\n".join(f"line {n}" for n in range(20))
    after = before.replace("line 10", "line ten")
    spans = trimmed(diff_words(before, after).inline, context=2)
    text = "".join(s.text for s in spans if s.kind != "delete")
    assert text == "…\nline 8\nline 9\nline ten\nline 11\nline 12\n…"
    assert trimmed(diff_words("a\nb", "a\nc").inline) == diff_words("a\nb", "a\nc").inline


def test_the_diff_of_a_100k_token_template_is_drawn_in_moments(
    qtbot: QtBot, editor: TemplateEditor
) -> None:
    """The word diff alone took minutes on a 500,000-character outline (quadratic on repeated
    words); lines are matched first, then only the changed lines word by word."""
    import time

    from workbench.core.template_outline import outline
    from workbench.ui.widgets.change_preview import line_then_word_diff

    paragraph = "the router reboots every hour since the firmware update. " * 8
    big = HAND.model_copy(update={"messages": [
        Message(role="user", content=QUERY + "\n\n" + "\n\n".join([paragraph] * 1000)),
    ]})
    with qtbot.waitSignal(editor.templateChanged):
        editor.set_template(big)
    editor.technique.setCurrentIndex(editor.technique.findData("few-shot"))
    started = time.perf_counter()
    qtbot.mouseClick(editor.apply_button, Qt.MouseButton.LeftButton)
    assert time.perf_counter() - started < 2.0
    assert editor.change_preview.isVisible()
    assert "examples_block" in editor.change_preview.diff.toPlainText()
    before, after = outline(big), outline(editor.change_preview.after)  # type: ignore[arg-type]
    spans = line_then_word_diff(before, after)
    assert "".join(s.text for s in spans if s.kind != "insert") == before
    assert "".join(s.text for s in spans if s.kind != "delete") == after


def test_undoing_a_technique_takes_back_its_parameters_only(
    qtbot: QtBot, editor: TemplateEditor
) -> None:
    _apply(qtbot, editor, "few-shot")
    tuned = editor.template().parameters.merged(Params(temperature=0.9))
    editor.set_parameters(tuned)  # set in the parameters panel after the technique
    seen: list[Params] = []
    editor.parametersChanged.connect(seen.append)
    assert editor.undo()
    assert editor.template().parameters == Params(temperature=0.9)  # stop went, 0.9 stayed
    assert seen == [Params(temperature=0.9)]
    assert editor.redo()
    assert editor.template().parameters == tuned
