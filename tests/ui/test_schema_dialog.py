"""The output schema editor: JSON errors marked at their line, invalid schemas refused, a schema
inferred from an example answer, and an edit reaching the Format row."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialogButtonBox, QMessageBox
from pytestqt.qtbot import QtBot

from tests.ui.runs import screenshot
from workbench.backends.llamacpp import LlamaCppBackend
from workbench.core.models import Message, PromptTemplate
from workbench.ui.dialogs.schema_dialog import SchemaDialog
from workbench.ui.widgets.params_panel import ParamsPanel

pytestmark = pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints")


def ok_enabled(dialog: SchemaDialog) -> bool:
    return dialog.buttons.button(QDialogButtonBox.StandardButton.Ok).isEnabled()


def test_errors_are_marked_and_a_schema_is_inferred_from_an_example(
    qtbot: QtBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(QMessageBox, "exec", lambda _box: int(QMessageBox.StandardButton.Yes))
    dialog = SchemaDialog(None)
    qtbot.addWidget(dialog)
    dialog.resize(520, 560)
    dialog.show()
    assert ok_enabled(dialog) and dialog.schema() is None  # empty: no schema
    dialog.editor.setPlainText('{\n  "type": "object",\n  "properties": {\n}')
    assert dialog.editor.error is not None and dialog.editor.error[0] == 4
    assert not ok_enabled(dialog)
    dialog.editor.setPlainText('{"type": "no-such-type"}')
    assert "not a valid JSON schema" in dialog.editor.error_text()
    assert not ok_enabled(dialog)
    dialog.example.setPlainText('{"sentiment": "positive",\n "score": 0.9,}')
    qtbot.mouseClick(dialog.infer_button, Qt.MouseButton.LeftButton)
    assert dialog.example.error is not None and dialog.example.error[0] == 2
    dialog.example.setPlainText('{"sentiment": "positive", "score": 0.9, "tags": ["a"]}')
    qtbot.mouseClick(dialog.infer_button, Qt.MouseButton.LeftButton)
    schema = json.loads(dialog.editor.toPlainText())
    assert schema["required"] == ["sentiment", "score", "tags"] and ok_enabled(dialog)
    assert dialog.schema() == schema
    screenshot(dialog, "schema-dialog-inferred")


def test_inferring_over_a_schema_asks_first_and_can_be_undone(
    qtbot: QtBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    written = {"type": "object", "properties": {"sentiment": {"enum": ["positive", "negative"]}},
               "required": ["sentiment"]}
    dialog = SchemaDialog(written)
    qtbot.addWidget(dialog)
    dialog.show()
    answers = [QMessageBox.StandardButton.Cancel, QMessageBox.StandardButton.Yes]
    asked: list[tuple[Qt.WindowModality, str]] = []

    def answer(box: QMessageBox) -> int:
        asked.append((box.windowModality(), box.text()))
        return int(answers.pop(0))

    monkeypatch.setattr(QMessageBox, "exec", answer)
    dialog.example.setPlainText('{"sentiment": "positive", "confidence": 0.9}')
    qtbot.mouseClick(dialog.infer_button, Qt.MouseButton.LeftButton)
    assert len(asked) == 1 and asked[0][0] == Qt.WindowModality.WindowModal
    assert "Replace the schema" in asked[0][1]
    assert dialog.schema() == written  # Cancel: the enum is kept
    qtbot.mouseClick(dialog.infer_button, Qt.MouseButton.LeftButton)
    assert dialog.schema() is not None
    assert dialog.schema()["required"] == ["sentiment", "confidence"]  # type: ignore[index]
    dialog.editor.undo()  # Ctrl+Z: the written schema is back
    assert dialog.schema() == written


def test_an_edited_schema_reaches_the_format_row(qtbot: QtBot, tmp_path: Path) -> None:
    panel = ParamsPanel(presets_dir=tmp_path / "presets")
    qtbot.addWidget(panel)
    panel.set_capabilities(LlamaCppBackend().capabilities(), "Local (llama.cpp)")
    row = panel.response_format
    row.set_template(PromptTemplate(name="t", messages=[Message(role="user", content="hi")]))
    assert not row.has_schema
    changed: list[str] = []
    row.formatChanged.connect(changed.append)
    dialog = row.edit_schema()
    dialog.editor.setPlainText('{"type": "object", "required": ["a"]}')
    dialog.accept()
    assert row.schema == {"type": "object", "required": ["a"]} and changed == ["text"]
    qtbot.keyClick(row.combo, Qt.Key.Key_End)  # JSON schema is choosable now
    assert row.value() == "json_schema" and changed[-1] == "json_schema"
    dialog = row.edit_schema()
    dialog.editor.setPlainText("")  # removing the schema turns the format back to text
    dialog.accept()
    assert row.schema is None and row.value() == "text" and changed[-1] == "text"
