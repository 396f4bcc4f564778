"""The grammar (GBNF) editor: a problem marked at its line and column as typed, OK only for a
grammar llama.cpp accepts, "From schema" filling the grammar made from the template's schema,
and the Format row offering Grammar only where it can be sent; in the window, a grammar written
in the editor constrains the embedded model's answer."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QStandardItemModel
from PySide6.QtWidgets import QDialogButtonBox, QMessageBox
from pytestqt.qtbot import QtBot

from tests.ui.prompt_typing import replace_message, type_lines
from tests.ui.runs import screenshot
from tests.ui.windows import close_window, open_window
from workbench.backends.anthropic import CAPABILITIES as ANTHROPIC
from workbench.backends.llamacpp import LlamaCppBackend
from workbench.backends.structured import schema_grammar
from workbench.core.gbnf import check
from workbench.core.models import Message, PromptTemplate
from workbench.core.params import NO_GRAMMAR
from workbench.ui.dialogs.grammar_dialog import GrammarDialog
from workbench.ui.widgets.params_panel import ParamsPanel
from workbench.ui.widgets.response_format_row import NO_GRAMMAR as NO_GRAMMAR_WRITTEN

pytestmark = pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints")

SCHEMA = {"type": "object", "properties": {"answer": {"enum": ["yes", "no"]}},
          "required": ["answer"]}
BROKEN = 'root ::= answer "."\n\nanswer ::= ("yes" | "no"\n# a comment\n'


def ok_enabled(dialog: GrammarDialog) -> bool:
    return dialog.buttons.button(QDialogButtonBox.StandardButton.Ok).isEnabled()


def test_a_problem_is_marked_at_its_line_and_column_and_from_schema_fills_the_grammar(
    qtbot: QtBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    dialog = GrammarDialog(None, SCHEMA)
    qtbot.addWidget(dialog)
    dialog.resize(620, 480)
    dialog.show()
    assert ok_enabled(dialog) and dialog.grammar() is None  # empty: no grammar
    type_lines(qtbot, dialog.editor, BROKEN)
    assert dialog.editor.toPlainText() == BROKEN
    assert dialog.editor.error is not None
    assert dialog.editor.error[:2] == (3, 12)  # the '(' that is never closed
    assert "line 3, column 12: this '(' is never closed" in dialog.editor.error_text()
    assert not ok_enabled(dialog)
    screenshot(dialog, "grammar-dialog-error")
    written = BROKEN.replace('"no"', '"no")')
    dialog.editor.setPlainText(written)
    assert dialog.editor.error is None and ok_enabled(dialog)
    assert dialog.grammar() == written and check(written).ok
    dialog.editor.setPlainText(written + 'answer ::= "maybe"')  # every problem is found
    assert dialog.editor.error is not None and dialog.editor.error[:2] == (5, 1)
    assert "defined twice (the first is at line 3)" in dialog.editor.error_text()
    dialog.editor.setPlainText(written)

    asked: list[str] = []
    answers = [QMessageBox.StandardButton.Cancel, QMessageBox.StandardButton.Yes]

    def answer(box: QMessageBox) -> int:
        asked.append(box.text())
        return int(answers.pop(0))

    monkeypatch.setattr(QMessageBox, "exec", answer)
    qtbot.mouseClick(dialog.from_schema_button, Qt.MouseButton.LeftButton)
    assert len(asked) == 1 and "Replace the grammar" in asked[0]
    assert dialog.grammar() == written  # Cancel: the grammar written is kept
    qtbot.mouseClick(dialog.from_schema_button, Qt.MouseButton.LeftButton)
    made = schema_grammar(SCHEMA)
    assert dialog.editor.toPlainText() == made and dialog.grammar() == made
    assert '"\\"yes\\""' in made and ok_enabled(dialog)
    screenshot(dialog, "grammar-dialog-from-schema")
    dialog.editor.undo()  # Ctrl+Z: the written grammar is back
    assert dialog.grammar() == written


def test_from_schema_needs_a_schema_and_says_so() -> None:
    dialog = GrammarDialog('root ::= "a"', None)
    assert not dialog.from_schema_button.isEnabled()
    assert "no output_schema" in dialog.from_schema_button.toolTip()
    dialog.deleteLater()


def enabled(panel: ParamsPanel) -> dict[str, bool]:
    combo = panel.response_format.combo
    model = combo.model()
    assert isinstance(model, QStandardItemModel)
    return {combo.itemData(i): model.item(i).isEnabled() for i in range(combo.count())}


def test_the_format_row_offers_grammar_only_where_it_is_sent(
    qtbot: QtBot, tmp_path: Path
) -> None:
    panel = ParamsPanel(presets_dir=tmp_path / "presets")
    qtbot.addWidget(panel)
    panel.resize(380, 700)
    panel.show()
    qtbot.waitExposed(panel)
    panel.set_capabilities(LlamaCppBackend().capabilities(), "Local (llama.cpp)")
    row = panel.response_format
    row.set_template(PromptTemplate(name="t", messages=[Message(role="user", content="hi")]))
    assert enabled(panel)["grammar"] is False  # nothing to send yet
    tip = row.combo.itemData(row.combo.findData("grammar"), Qt.ItemDataRole.ToolTipRole)
    assert NO_GRAMMAR_WRITTEN in tip
    changed: list[str] = []
    row.formatChanged.connect(changed.append)
    dialog = row.edit_grammar()
    dialog.editor.setPlainText('root ::= ("yes" | "no")')
    dialog.accept()  # a grammar written while the format is text is chosen
    assert row.grammar == 'root ::= ("yes" | "no")' and changed == ["grammar"]
    assert row.value() == "grammar" and enabled(panel)["grammar"] and not row.note.isVisible()
    panel.set_capabilities(ANTHROPIC, "Anthropic")  # greyed elsewhere, with the reason
    assert enabled(panel)["grammar"] is True  # the current choice stays shown ...
    assert row.note.isVisible() and NO_GRAMMAR in row.note.toolTip()  # ... and says why not
    screenshot(panel, "grammar-format-not-enforced")
    qtbot.keyClick(row.combo, Qt.Key.Key_Home)
    assert enabled(panel)["grammar"] is False
    panel.set_capabilities(LlamaCppBackend().capabilities(), "Local (llama.cpp)")
    row.combo.setCurrentIndex(row.combo.findData("grammar"))
    dialog = row.edit_grammar()
    dialog.editor.setPlainText("")  # removing the grammar turns the format back to text
    dialog.accept()
    assert row.grammar is None and row.value() == "text" and changed[-1] == "text"


@pytest.mark.slow
def test_a_grammar_written_in_the_window_constrains_the_embedded_model(qtbot: QtBot) -> None:
    window = open_window(qtbot)
    try:
        qtbot.keyClick(window, Qt.Key.Key_N, Qt.KeyboardModifier.ControlModifier)
        qtbot.waitUntil(lambda: window.editor.template().name == "untitled")
        replace_message(qtbot, window, "Is the sea salty? Explain in a sentence.")
        dialog = window.params.response_format.edit_grammar()
        dialog.editor.setPlainText('root ::= ("Yes" | "No") "."')
        qtbot.mouseClick(dialog.buttons.button(QDialogButtonBox.StandardButton.Ok),
                         Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: window.editor.template().response_format == "grammar")
        assert window.editor.template().grammar == 'root ::= ("Yes" | "No") "."'
        assert window.dirty  # saved with the template
        qtbot.mouseClick(window.run_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: window.output.state in ("finished", "failed"), timeout=120_000)
        assert window.output.text() in ("Yes.", "No."), window.output.text()
        screenshot(window, "grammar-run")
    finally:
        close_window(window)
