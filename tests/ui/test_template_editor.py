"""The template editor driven as a person would: typing, clicking, choosing, undoing."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import (
    QAbstractButton,
    QApplication,
    QComboBox,
    QPlainTextEdit,
    QTabBar,
    QToolButton,
    QWidget,
)
from pytestqt.qtbot import QtBot

from tests.ui.prompt_typing import shown_editor
from tests.ui.runs import screenshot
from workbench.core.errors import MissingVariableError, TemplateError
from workbench.core.models import (
    Components,
    Example,
    FewShot,
    Message,
    Params,
    PromptTemplate,
    Variable,
)
from workbench.core.techniques import apply_technique, techniques
from workbench.ui import theming
from workbench.ui.widgets.preview_panel import PreviewPanel
from workbench.ui.widgets.template_editor import TemplateEditor
from workbench.ui.widgets.variables_form import VariablesForm

pytestmark = pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints")

SUMMARIZE = PromptTemplate(
    name="summarize-ticket",
    messages=[
        Message(role="system", content="You are a support analyst."),
        Message(role="user", content="Summarize {{ ticket }} in {{ n }} bullets."),
    ],
    variables=[Variable(name="ticket", multiline=True), Variable(name="n", default="3")],
    parameters=Params(temperature=0.2),
)

SENTIMENT = PromptTemplate(
    name="sentiment",
    components=Components(
        instruction="Classify the sentiment of the review as positive or negative.",
        input_data="{{ review }}",
    ),
    examples=[
        Example(input="Loved it, would buy again.", output="positive"),
        Example(input="Broke after a day.", output="negative"),
        Example(input="Five stars, fast shipping.", output="positive"),
    ],
    variables=[Variable(name="review")],
    messages=[Message(role="user", content="{{ parts.instruction }}\n\n{{ parts.input_data }}")],
)


@pytest.fixture
def editor(qtbot: QtBot, light: None, qapp: QApplication) -> TemplateEditor:
    return shown_editor(qtbot, qapp)


def load(qtbot: QtBot, editor: TemplateEditor, template: PromptTemplate) -> PromptTemplate:
    with qtbot.waitSignal(editor.templateChanged) as shown:
        editor.set_template(template)
    result: PromptTemplate = shown.args[0]
    return result


def test_a_loaded_template_comes_back_unchanged(qtbot: QtBot, editor: TemplateEditor) -> None:
    for template in (SUMMARIZE, SENTIMENT):
        assert load(qtbot, editor, template) == template
        assert editor.template() == template


def test_messages_are_shown_with_their_roles(qtbot: QtBot, editor: TemplateEditor) -> None:
    load(qtbot, editor, SUMMARIZE)
    cards = editor.messages.cards
    assert [c.role.currentText() for c in cards] == ["system", "user"]
    assert cards[1].editor.toPlainText() == "Summarize {{ ticket }} in {{ n }} bullets."
    assert cards[0].up.isEnabled() is False and cards[1].down.isEnabled() is False


def test_typing_emits_the_edited_template_once_typing_pauses(
    qtbot: QtBot, editor: TemplateEditor
) -> None:
    load(qtbot, editor, SUMMARIZE)
    user = editor.messages.cards[1].editor
    user.moveCursor(user.textCursor().MoveOperation.End)
    seen: list[PromptTemplate] = []
    editor.templateChanged.connect(seen.append)
    with qtbot.waitSignal(editor.templateChanged) as changed:
        qtbot.keyClicks(user, " Be brief.")
    template: PromptTemplate = changed.args[0]
    assert template.messages[1].content.endswith("bullets. Be brief.")
    assert template.parameters == SUMMARIZE.parameters  # carried through
    assert len(seen) < len(" Be brief.")  # debounced, not one template per keystroke


def test_add_reorder_change_role_and_literal(qtbot: QtBot, editor: TemplateEditor) -> None:
    load(qtbot, editor, SUMMARIZE)
    qtbot.mouseClick(editor.messages.add_button, Qt.MouseButton.LeftButton)
    card = editor.messages.cards[2]
    assert card.role.currentText() == "assistant"  # a reply follows the user's message
    assert card.editor.hasFocus()
    qtbot.keyClicks(card.editor, "- {{ n }} bullets:")
    qtbot.mouseClick(card.literal, Qt.MouseButton.LeftButton)
    assert card.editor.highlighter is not None
    qtbot.mouseClick(card.up, Qt.MouseButton.LeftButton)
    assert editor.messages.cards[1] is card
    card.role.setFocus()
    qtbot.keyClick(card.role, Qt.Key.Key_Up)  # assistant -> user, as a keyboard user does it
    card.editor.setFocus()
    with qtbot.waitSignal(editor.templateChanged) as changed:
        qtbot.keyClick(card.editor, Qt.Key.Key_Down, Qt.KeyboardModifier.AltModifier)
    assert editor.messages.cards[2] is card and card.editor.hasFocus()
    template: PromptTemplate = changed.args[0]
    assert [(m.role, m.literal) for m in template.messages] == [
        ("system", False),
        ("user", False),
        ("user", True),
    ]
    assert template.messages[2].content == "- {{ n }} bullets:"


def test_removed_message_can_be_undone(qtbot: QtBot, editor: TemplateEditor) -> None:
    load(qtbot, editor, SUMMARIZE)
    with qtbot.waitSignal(editor.templateChanged) as changed:
        qtbot.mouseClick(editor.messages.cards[0].remove, Qt.MouseButton.LeftButton)
    assert [m.role for m in changed.args[0].messages] == ["user"]
    assert editor.notice_bar.isVisible()
    assert editor.notice.text() == "Removed the system message. Ctrl+Z undoes it."
    with qtbot.waitSignal(editor.templateChanged) as restored:
        qtbot.mouseClick(editor.undo_button, Qt.MouseButton.LeftButton)
    assert restored.args[0].messages == SUMMARIZE.messages
    assert editor.notice.text() == "Undone: Removed the system message."
    assert not editor.undo_button.isVisible() and editor.redo_button.isVisible()


def test_changes_undo_and_redo_in_turn_and_stay_with_their_document(
    qtbot: QtBot, editor: TemplateEditor
) -> None:
    load(qtbot, editor, SENTIMENT)
    editor.technique.setCurrentIndex(editor.technique.findData("few-shot"))
    qtbot.mouseClick(editor.apply_button, Qt.MouseButton.LeftButton)
    qtbot.mouseClick(editor.change_preview.apply_button, Qt.MouseButton.LeftButton)
    few_shot = editor.template()
    qtbot.mouseClick(editor.messages.cards[0].remove, Qt.MouseButton.LeftButton)
    removed = editor.template()
    assert editor.notice.text().startswith("Removed the")
    qtbot.mouseClick(editor.undo_button, Qt.MouseButton.LeftButton)
    assert editor.template() == few_shot and editor.undo_button.isVisible()
    qtbot.mouseClick(editor.undo_button, Qt.MouseButton.LeftButton)
    assert editor.template() == SENTIMENT and not editor.undo_button.isVisible()
    qtbot.mouseClick(editor.redo_button, Qt.MouseButton.LeftButton)
    assert editor.template() == few_shot and editor.notice.text().startswith("Redone: Applied")
    qtbot.mouseClick(editor.redo_button, Qt.MouseButton.LeftButton)
    assert editor.template() == removed and not editor.redo_button.isVisible()
    # Another document: nothing of this one's history can be undone into it.
    load(qtbot, editor, SUMMARIZE)
    assert not editor.notice_bar.isVisible() and editor.undo() is False
    assert editor.template() == SUMMARIZE


def test_components_are_an_optional_visible_structure(
    qtbot: QtBot, editor: TemplateEditor
) -> None:
    load(qtbot, editor, SUMMARIZE)  # written in the messages: the components are folded away
    assert not editor.components_section.expanded
    assert editor.components_section.summary.text() == "optional: none"
    qtbot.mouseClick(editor.components_section.button, Qt.MouseButton.LeftButton)
    for name, field in editor.components.editors.items():
        assert field.isVisible() and field.placeholderText() == "optional", name
        assert "parts." in field.toolTip()
    assert not editor.components.write_button.isVisible()  # nothing places a part yet
    with qtbot.waitSignal(editor.templateChanged) as changed:
        qtbot.keyClicks(editor.components.editors["context"], "Tickets come from {{ product }}.")
    assert changed.args[0].components.context == "Tickets come from {{ product }}."
    assert editor.components_section.summary.text() == (
        "context · not in any message, so not sent: context"
    )
    load(qtbot, editor, SENTIMENT)  # placed with {{ parts.* }}: shown, and can be written in
    assert editor.components_section.expanded
    assert editor.components_section.summary.text() == "instruction, input data"
    assert editor.components.write_button.isVisible()
    qtbot.mouseClick(editor.components.write_button, Qt.MouseButton.LeftButton)
    assert editor.change_preview.isVisible()
    assert "user message" in editor.change_preview.summary.text()
    with qtbot.waitSignal(editor.templateChanged) as written:
        qtbot.mouseClick(editor.change_preview.apply_button, Qt.MouseButton.LeftButton)
    assert written.args[0].messages[0].content == (
        "Classify the sentiment of the review as positive or negative.\n\n{{ review }}"
    )
    assert written.args[0].components == Components()
    assert editor.notice.text() == "Wrote the components into the messages. Ctrl+Z undoes it."
    load(qtbot, editor, SUMMARIZE)  # another document without components: folded again
    assert not editor.components_section.expanded


def test_technique_picker_lists_the_registry_with_tooltips(editor: TemplateEditor) -> None:
    combo = editor.technique
    assert combo.count() == len(techniques())
    for i, technique in enumerate(techniques()):
        assert combo.itemData(i) == technique.id
        assert combo.itemText(i) == technique.name
        assert combo.itemData(i, Qt.ItemDataRole.ToolTipRole) == technique.description


def test_applying_few_shot_lays_out_the_examples_and_can_be_undone(
    qtbot: QtBot, editor: TemplateEditor
) -> None:
    load(qtbot, editor, SENTIMENT)
    editor.technique.setCurrentIndex(editor.technique.findData("few-shot"))
    assert editor.apply_button.isDefault()
    qtbot.mouseClick(editor.apply_button, Qt.MouseButton.LeftButton)
    assert editor.change_preview.isVisible() and editor.template() == SENTIMENT  # not yet
    with qtbot.waitSignal(editor.templateChanged) as applied:
        qtbot.keyClick(editor.change_preview.apply_button, Qt.Key.Key_Return)
    template: PromptTemplate = applied.args[0]
    assert template.technique == "few-shot" and not editor.change_preview.isVisible()
    body = editor.messages.cards[-1].editor.toPlainText()
    assert body == "{{ parts.instruction }}\n\n{{ examples_block }}\n\n{{ parts.input_data }}"
    assert template.examples == SENTIMENT.examples
    assert template.parameters.stop == ["\nInput:"]
    assert editor.notice.text() == "Applied Few-shot. Ctrl+Z undoes it."
    with qtbot.waitSignal(editor.templateChanged) as undone:
        qtbot.mouseClick(editor.undo_button, Qt.MouseButton.LeftButton)
    assert undone.args[0] == SENTIMENT
    assert editor.technique.currentData() == "zero-shot"


def test_a_technique_that_cannot_apply_says_why(qtbot: QtBot, editor: TemplateEditor) -> None:
    only_system = SUMMARIZE.model_copy(update={"messages": SUMMARIZE.messages[:1]})
    load(qtbot, editor, only_system)  # no request anywhere: nothing to add a cue to
    editor.technique.setCurrentIndex(editor.technique.findData("chain-of-thought"))
    qtbot.mouseClick(editor.apply_button, Qt.MouseButton.LeftButton)
    assert editor.notice_bar.isVisible() and not editor.undo_button.isVisible()
    assert "the template has no request to work on" in editor.notice.text()
    assert not editor.change_preview.isVisible()
    assert editor.template() == only_system


def test_technique_warnings_are_shown(qtbot: QtBot, editor: TemplateEditor) -> None:
    load(qtbot, editor, SUMMARIZE.model_copy(update={"technique": "few-shot"}))
    assert editor.warnings.isVisible()
    assert "Few-shot needs at least one example" in editor.warnings.text()


def test_examples_table_edits_rows_and_settings(qtbot: QtBot, editor: TemplateEditor) -> None:
    load(qtbot, editor, apply_technique(SENTIMENT, "few-shot"))
    few = editor.few_shot
    assert editor.examples_section.summary.text() == "3 of 3 sent"
    qtbot.mouseClick(few.add_button, Qt.MouseButton.LeftButton)
    cell = few.table.focusWidget()
    assert isinstance(cell, QPlainTextEdit)  # the new row's input cell is being edited
    qtbot.keyClicks(cell, "Meh. It works.")
    qtbot.keyClick(cell, Qt.Key.Key_Tab)  # commit and move to the output cell
    assert few.table.currentIndex().column() == 1
    qtbot.keyClick(few.table, Qt.Key.Key_F2)
    output = few.table.focusWidget()
    assert isinstance(output, QPlainTextEdit)
    qtbot.keyClicks(output, "neutral")
    qtbot.keyClick(output, Qt.Key.Key_Tab)
    few.k.setFocus()
    few.k.selectAll()
    qtbot.keyClicks(few.k, "2")
    few.order.setCurrentIndex(few.order.findData("shuffle"))
    assert few.seed.isEnabled()
    few.seed.setFocus()
    few.seed.selectAll()
    with qtbot.waitSignal(editor.templateChanged) as changed:
        qtbot.keyClicks(few.seed, "42")
    template: PromptTemplate = changed.args[0]
    assert template.examples[-1] == Example(input="Meh. It works.", output="neutral")
    assert template.few_shot == FewShot(k=2, order="shuffle", seed=42)
    assert editor.examples_section.summary.text() == "2 of 4 sent · shuffled, seed 42"
    few.table.selectRow(0)
    with qtbot.waitSignal(editor.templateChanged) as removed:
        qtbot.mouseClick(few.remove_button, Qt.MouseButton.LeftButton)
    assert [e.output for e in removed.args[0].examples] == ["negative", "positive", "neutral"]
    screenshot(editor, "template_editor_examples")


def test_errors_are_marked_in_the_editor_they_belong_to(
    qtbot: QtBot, editor: TemplateEditor
) -> None:
    load(qtbot, editor, SUMMARIZE)
    error = TemplateError("unexpected '}'", source="messages[1] (user)", line=1, column=12)
    assert editor.show_error(error)
    marked = editor.messages.cards[1].editor
    assert marked.error_text() == "line 1, column 12: unexpected '}'"
    assert editor.messages.cards[0].editor.error is None
    assert editor.show_error(MissingVariableError("topic", source="components.context", line=1))
    assert marked.error is None  # the previous mark is gone
    assert "give 'topic' a value" in editor.components.editors["context"].error_text()
    assert not editor.show_error(TemplateError("boom", source="the model's chat template"))
    editor.show_error(None)
    assert all(e.error is None for e in editor._all_editors())


def test_a_typed_mistake_is_marked_inline_through_the_preview(
    qtbot: QtBot, editor: TemplateEditor
) -> None:
    """The window's wiring: editor -> preview (renders off-thread) -> error back in the editor."""
    preview = PreviewPanel(debounce_ms=0)
    qtbot.addWidget(preview)
    editor.templateChanged.connect(preview.set_template)
    preview.errorChanged.connect(editor.show_error)
    load(qtbot, editor, SUMMARIZE)
    preview.set_values({"ticket": "Printer on fire"})
    user = editor.messages.cards[1].editor
    user.moveCursor(user.textCursor().MoveOperation.End)
    qtbot.keyClick(user, Qt.Key.Key_Return)
    qtbot.keyClicks(user, "{% if urgent %}Say it is urgent.{% endif }")
    qtbot.waitUntil(lambda: user.error is not None)
    line, column, message = user.error  # type: ignore[misc]
    assert (line, column) == (2, 42)
    assert "unexpected '}'" in message
    screenshot(editor, "template_editor_inline_error")
    qtbot.keyClick(user, Qt.Key.Key_Backspace)
    qtbot.keyClicks(user, "%}")
    qtbot.waitUntil(lambda: user.error is not None and "urgent" in user.error[2])
    preview.set_values({"ticket": "Printer on fire", "urgent": "yes"})
    qtbot.waitUntil(lambda: user.error is None)


def test_set_parameters_is_carried_into_the_template(qtbot: QtBot, editor: TemplateEditor) -> None:
    load(qtbot, editor, SUMMARIZE)
    editor.set_parameters(Params(temperature=0.9, max_tokens=64))
    assert editor.template().parameters == Params(temperature=0.9, max_tokens=64)
    assert editor.template().messages == SUMMARIZE.messages


def test_completion_templates_show_one_text(qtbot: QtBot, editor: TemplateEditor) -> None:
    completion = PromptTemplate(name="c", mode="completion", text="Q: {{ q }}\nA:")
    load(qtbot, editor, completion)
    assert editor.text_editor.isVisible() and not editor.messages.isVisible()
    with qtbot.waitSignal(editor.templateChanged) as changed:
        qtbot.keyClicks(editor.text_editor, "Capital of France? ")
    assert changed.args[0].text == "Capital of France? Q: {{ q }}\nA:"


def test_every_control_has_an_accessible_name_and_a_tooltip(
    qtbot: QtBot, editor: TemplateEditor
) -> None:
    load(qtbot, editor, SENTIMENT)
    variables = VariablesForm()
    qtbot.addWidget(variables)
    with qtbot.waitSignal(variables.rowsChanged):
        variables.set_template(SENTIMENT)
    preview = PreviewPanel()
    qtbot.addWidget(preview)
    for root in (editor, variables, preview):
        controls = [
            w
            for w in root.findChildren(QWidget)
            if isinstance(w, QAbstractButton | QComboBox | QPlainTextEdit)
            and w.focusPolicy() != Qt.FocusPolicy.NoFocus
            and not isinstance(w.parent(), QTabBar)  # Qt's own tab-scrolling arrows
        ]
        assert controls
        for control in controls:
            assert control.accessibleName(), (type(control).__name__, control.toolTip())
            assert control.toolTip(), (type(control).__name__, control.accessibleName())


def _next_in_focus_chain(widget: QWidget) -> QWidget:
    following = widget.nextInFocusChain()
    assert following is not None, "the focus chain ends"
    return following


def test_tab_order_follows_the_messages(qtbot: QtBot, editor: TemplateEditor) -> None:
    load(qtbot, editor, SUMMARIZE)
    first, second = editor.messages.cards
    first.editor.setFocus()
    order = []
    widget: QWidget = first.editor
    for _ in range(6):
        widget = _next_in_focus_chain(widget)
        while widget.focusPolicy() == Qt.FocusPolicy.NoFocus:
            widget = _next_in_focus_chain(widget)
        order.append(widget)
    assert order[:5] == [first.up, first.down, first.remove, second.role, second.literal]


def test_examples_can_be_reordered(qtbot: QtBot, editor: TemplateEditor) -> None:
    load(qtbot, editor, SENTIMENT)
    few = editor.few_shot
    few.table.setCurrentIndex(few.model.index(2, 0))
    qtbot.mouseClick(few.up_button, Qt.MouseButton.LeftButton)
    with qtbot.waitSignal(editor.templateChanged) as changed:
        qtbot.mouseClick(few.up_button, Qt.MouseButton.LeftButton)
    inputs = [e.input for e in changed.args[0].examples]
    assert inputs == [
        "Five stars, fast shipping.",
        "Loved it, would buy again.",
        "Broke after a day.",
    ]
    assert few.table.currentIndex().row() == 0
    qtbot.mouseClick(few.up_button, Qt.MouseButton.LeftButton)  # already first: nothing moves
    qtbot.mouseClick(few.down_button, Qt.MouseButton.LeftButton)
    assert few.examples()[1].input == "Five stars, fast shipping."


def test_a_messages_buttons_read_on_both_themes(
    qtbot: QtBot, qapp: QApplication, theme: theming.Theme
) -> None:
    """The move and remove buttons are drawn in the palette's text colour: the style's own
    arrows stayed black on the dark theme's near-black (seen by a first-time user)."""
    editor = shown_editor(qtbot, qapp)
    load(qtbot, editor, SUMMARIZE)
    card = editor.messages.cards[1]

    def ink(button: QToolButton, mode: QIcon.Mode = QIcon.Mode.Normal) -> float:
        image = button.icon().pixmap(16, mode).toImage()
        drawn = [image.pixelColor(x, y) for x in range(image.width())
                 for y in range(image.height()) if image.pixelColor(x, y).alpha() > 200]
        assert drawn, "the icon draws nothing"
        return sum(c.lightnessF() for c in drawn) / len(drawn)

    assert all(ink(b) < 0.3 for b in (card.up, card.down, card.remove))
    theme.set_mode("dark")
    qtbot.waitUntil(lambda: all(ink(b) > 0.7 for b in (card.up, card.down, card.remove)))
    # greyed (the first message cannot move up) differs from enabled
    assert abs(ink(card.up, QIcon.Mode.Disabled) - ink(card.up)) > 0.2
