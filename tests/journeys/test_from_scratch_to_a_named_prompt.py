"""Journey 2, from scratch to a named, versioned prompt, start to finish in one sitting: Ctrl+N; a
system and a user message with {{ review }} typed by hand, the variable in the form; three
examples; Few-shot then Chain-of-thought, each seen as a diff before it is applied; undo twice;
a run on the embedded model; named on the first save; saved again with a version message;
renamed; v1 and v2 diffed; v2 labelled production; quit; restart: it is open again with its
messages, label, layout (split proportions), the variable's value and the last output.
(test_named_versioned.py walks the versioning part alone; this one walks it after the
techniques, on the messages they left.)"""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from tests.journeys.conftest import (
    RUN_TIMEOUT_MS,
    Journey,
    diff_v1_v2_and_label_v2,
    menu_action,
)
from tests.ui.prompt_typing import (
    EXAMPLES,
    QUERY,
    SYSTEM,
    add_example,
    choose_technique,
    settle,
    type_lines,
)
from tests.ui.windows import back_to, press_save
from workbench.core.scaffolds import DEFAULT_TRIGGER
from workbench.ui.dialogs.template_details import TemplateDetailsDialog

pytestmark = [pytest.mark.slow, pytest.mark.qt_log_ignore(
    "This plugin does not support propagateSizeHints",
    "This plugin does not support raise",
    "This plugin does not support grabbing the keyboard",
)]

CTRL = Qt.KeyboardModifier.ControlModifier
SHIFT = Qt.KeyboardModifier.ShiftModifier
REVIEW = "The lid cracked, but it keeps coffee hot all day."


def test_from_scratch_to_a_named_prompt(qtbot: QtBot, journey: Journey) -> None:
    window = journey.start()
    window.resize(1366, 768)
    editor = window.editor
    back_to(qtbot, window)
    qtbot.keyClick(window.editor, Qt.Key.Key_N, CTRL)
    qtbot.waitUntil(lambda: editor.template().name == "untitled")

    # A system message and the request, typed; the variable appears in the form.
    first = editor.messages.cards[0]
    first.role.setFocus()
    qtbot.keyClick(first.role, Qt.Key.Key_Up)  # user -> system
    assert first.role.currentData() == "system"
    type_lines(qtbot, first.editor, SYSTEM)
    qtbot.mouseClick(editor.messages.add_button, Qt.MouseButton.LeftButton)
    user = editor.messages.cards[1]
    type_lines(qtbot, user.editor, QUERY)
    qtbot.waitUntil(lambda: window.variables.names() == ["review"])
    if not editor.examples_section.expanded:
        qtbot.mouseClick(editor.examples_section.button, Qt.MouseButton.LeftButton)
    for text, label in EXAMPLES:
        add_example(qtbot, window, text, label)
    settle(qtbot, window)
    assert len(editor.template().examples) == 3
    written = editor.template()
    journey.shot("written")

    # Few-shot, its diff first; then Chain-of-thought, its diff first.
    preview = editor.change_preview
    choose_technique(qtbot, window, "few-shot")
    qtbot.mouseClick(editor.apply_button, Qt.MouseButton.LeftButton)
    assert preview.isVisible() and "examples_block" in preview.diff.toPlainText()
    assert editor.template() == written  # nothing changed before Apply
    journey.shot("few-shot-diff")
    qtbot.keyClick(preview.apply_button, Qt.Key.Key_Return)
    assert user.editor.toPlainText() == "{{ examples_block }}\n\n" + QUERY
    choose_technique(qtbot, window, "chain-of-thought")
    qtbot.mouseClick(editor.apply_button, Qt.MouseButton.LeftButton)
    assert DEFAULT_TRIGGER in preview.diff.toPlainText()
    journey.shot("cot-diff")
    qtbot.mouseClick(preview.apply_button, Qt.MouseButton.LeftButton)
    assert user.editor.toPlainText().endswith(DEFAULT_TRIGGER)

    # Undo twice: the hand-written messages again.
    user.editor.setFocus()
    qtbot.keyClick(user.editor, Qt.Key.Key_Z, CTRL)
    qtbot.keyClick(user.editor, Qt.Key.Key_Z, CTRL)
    assert editor.template() == written
    journey.shot("undone-twice")

    # A value for the variable and a short run on the embedded model.
    field = window.variables.editor("review")
    field.setFocus()
    qtbot.keyClicks(field, REVIEW)
    spin = window.params.rows["max_tokens"].spin
    spin.setFocus()
    spin.selectAll()
    qtbot.keyClicks(spin, "24")
    qtbot.keyClick(spin, Qt.Key.Key_Return)
    qtbot.keyClick(field, Qt.Key.Key_Return, CTRL)
    qtbot.waitUntil(lambda: window.output.state == "finished", timeout=RUN_TIMEOUT_MS)
    answer = window.output.text()
    assert answer.strip()

    # Named on the first save; saved again with a version message.
    back_to(qtbot, window)
    press_save(qtbot, window, "Review sentiment")
    qtbot.waitUntil(lambda: window.key == "review-sentiment" and window.version == 1
                    and not window.dirty)
    user.editor.setFocus()
    qtbot.keyClick(user.editor, Qt.Key.Key_End, CTRL)  # after the undo the cursor is at the top
    type_lines(qtbot, user.editor, "\nAnswer with one word.")
    settle(qtbot, window)
    qtbot.keyClick(window.editor, Qt.Key.Key_S, CTRL | SHIFT)
    qtbot.waitUntil(window.message_bar.edit.hasFocus)
    qtbot.keyClicks(window.message_bar.edit, "one-word answers")
    qtbot.keyClick(window.message_bar.edit, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: window.version == 2 and not window.dirty)
    library = window.workspace.library
    assert [v.message for v in library.versions("review-sentiment")][-1] == "one-word answers"

    # Renamed from Edit ▸ Rename template…: its file, history and versions follow.
    back_to(qtbot, window)
    menu_action(window, "Rename template").trigger()
    qtbot.waitUntil(lambda: isinstance(QApplication.activeModalWidget(), TemplateDetailsDialog))
    dialog = QApplication.activeModalWidget()
    assert isinstance(dialog, TemplateDetailsDialog)
    dialog.name_edit.selectAll()
    qtbot.keyClicks(dialog.name_edit, "Sentiment with reasons")
    qtbot.keyClick(dialog.name_edit, Qt.Key.Key_Return)
    back_to(qtbot, window)
    qtbot.waitUntil(lambda: window.key == "sentiment-with-reasons")
    key = window.key
    assert key is not None

    # v1 and v2 diffed from the versions list; v2 labelled production.
    diff_v1_v2_and_label_v2(qtbot, journey, window, "production")
    assert library.labels(key) == {"production": 2}
    journey.shot("labelled")
    template = window.editor.template()
    split = window.centre_split.sizes()
    size = window.size()

    # Quit; restart: open again with its layout, variables and last output.
    window = journey.restart()
    assert window.key == key and not window.dirty
    assert window.editor.template().messages == template.messages
    assert template.messages[1].content == QUERY + "\nAnswer with one word."
    assert window.height() == size.height()
    top, bottom = window.centre_split.sizes()
    assert top / (top + bottom) == pytest.approx(split[0] / sum(split), abs=0.02)
    qtbot.waitUntil(lambda: window.variables.names() == ["review"])  # worked out off-thread
    assert window.workspace.library.labels(key) == {"production": 2}
    qtbot.waitUntil(lambda: window.variables.values().get("review") == REVIEW)
    qtbot.waitUntil(lambda: window.output.text() == answer, timeout=10_000)
    assert window.output.state == "finished"
    qtbot.waitUntil(lambda: len(window.history.run_ids()) == 1, timeout=10_000)
    journey.shot("restarted")

