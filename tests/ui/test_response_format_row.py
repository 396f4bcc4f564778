"""The response format picker in the parameters panel: what each backend can enforce is
choosable, the rest greyed with the reason, and a choice reaches the template."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QStandardItemModel
from pytestqt.qtbot import QtBot

from tests.ui.prompt_typing import replace_message
from tests.ui.runs import screenshot
from tests.ui.windows import close_window, open_window
from workbench.backends.anthropic import CAPABILITIES as ANTHROPIC
from workbench.backends.llamacpp import LlamaCppBackend
from workbench.backends.openai_compat import COMPLETION_CAPABILITIES
from workbench.core.models import Message, PromptTemplate
from workbench.ui.widgets.params_panel import ParamsPanel
from workbench.ui.widgets.response_format_row import NO_SCHEMA, NOT_ENFORCED
from workbench.ui.widgets.template_editor import TemplateEditor

pytestmark = pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints")

SCHEMA = {"type": "object", "properties": {"a": {"type": "integer"}}}


def template(**fields: object) -> PromptTemplate:
    return PromptTemplate(name="t", messages=[Message(role="user", content="hi")], **fields)


@pytest.fixture
def panel(qtbot: QtBot, tmp_path: Path) -> ParamsPanel:
    panel = ParamsPanel(presets_dir=tmp_path / "presets")
    qtbot.addWidget(panel)
    panel.resize(380, 700)
    panel.show()
    qtbot.waitExposed(panel)
    return panel


def enabled(panel: ParamsPanel) -> dict[str, bool]:
    combo = panel.response_format.combo
    model = combo.model()
    assert isinstance(model, QStandardItemModel)
    return {combo.itemData(i): model.item(i).isEnabled() for i in range(combo.count())}


def tip(panel: ParamsPanel, value: str) -> str:
    combo = panel.response_format.combo
    return str(combo.itemData(combo.findData(value), Qt.ItemDataRole.ToolTipRole))


def test_the_keyboard_chooses_only_what_the_backend_enforces(
    panel: ParamsPanel, qtbot: QtBot
) -> None:
    row = panel.response_format
    panel.set_capabilities(LlamaCppBackend().capabilities(), "Local (llama.cpp)")
    row.set_template(template(output_schema=SCHEMA))
    assert enabled(panel) == {"text": True, "json_object": True, "json_schema": True,
                              "grammar": False}  # no grammar written
    assert "grammar-constrained decoding" in tip(panel, "json_schema")
    chosen: list[str] = []
    row.formatChanged.connect(chosen.append)
    row.combo.setFocus()
    qtbot.keyClick(row.combo, Qt.Key.Key_Down)
    qtbot.keyClick(row.combo, Qt.Key.Key_Down)
    assert chosen == ["json_object", "json_schema"] and not row.note.isVisible()

    # The completions endpoint enforces nothing: both JSON formats are greyed with the reason,
    # the current choice stays shown and says it will not be enforced.
    panel.set_capabilities(COMPLETION_CAPABILITIES, "OpenAI-compatible server")
    assert enabled(panel) == {"text": True, "json_object": False, "json_schema": True,
                              "grammar": False}
    assert "This backend cannot enforce it" in tip(panel, "json_object")
    assert row.note.isVisible() and row.note.text() == NOT_ENFORCED
    screenshot(panel, "response-format-not-enforced")
    qtbot.keyClick(row.combo, Qt.Key.Key_Up)  # skips the greyed JSON object
    assert chosen[-1] == "text" and not row.note.isVisible()
    assert enabled(panel)["json_schema"] is False


def test_json_schema_is_greyed_without_an_output_schema(panel: ParamsPanel) -> None:
    panel.set_capabilities(ANTHROPIC, "Anthropic")
    panel.response_format.set_template(template())
    assert enabled(panel) == {"text": True, "json_object": True, "json_schema": False,
                              "grammar": False}
    assert NO_SCHEMA in tip(panel, "json_schema")
    assert "a forced tool" in tip(panel, "json_object")


def test_a_choice_becomes_the_templates_response_format(qtbot: QtBot) -> None:
    editor = TemplateEditor()
    qtbot.addWidget(editor)
    editor.set_template(template(output_schema=SCHEMA))
    editor.set_response_format("json_schema", SCHEMA)
    assert editor.template().response_format == "json_schema"
    assert editor.template().response_format_request() is not None


@pytest.mark.slow
def test_the_window_runs_the_chosen_format_on_the_embedded_model(qtbot: QtBot) -> None:
    window = open_window(qtbot)
    try:
        qtbot.keyClick(window, Qt.Key.Key_N, Qt.KeyboardModifier.ControlModifier)
        qtbot.waitUntil(lambda: window.editor.template().name == "untitled")
        replace_message(qtbot, window, "Describe the sea in a few words.")
        row = window.params.response_format
        row.combo.setFocus()
        qtbot.keyClick(row.combo, Qt.Key.Key_Down)  # JSON object: the local model enforces it
        qtbot.waitUntil(lambda: window.editor.template().response_format == "json_object")
        assert window.dirty  # the template changed: it is saved with the format
        spin = window.params.rows["max_tokens"].spin
        spin.setFocus()
        spin.selectAll()
        qtbot.keyClicks(spin, "300")
        qtbot.keyClick(spin, Qt.Key.Key_Tab)
        qtbot.mouseClick(window.run_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: window.output.state in ("finished", "failed"), timeout=120_000)
        assert isinstance(json.loads(window.output.text()), dict), window.output.text()
    finally:
        close_window(window)
