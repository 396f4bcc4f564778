"""The output view's schema figure: each finished answer checked against the template's
output_schema, violations named at their JSON path; on the embedded model through the window."""

from __future__ import annotations

import json

import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from tests.ui.runs import screenshot
from tests.ui.windows import window
from workbench.core.models import Message, PromptTemplate, RunResult, SentRequest
from workbench.ui.main_window import MainWindow
from workbench.ui.widgets.output_view import OutputView

__all__ = ["window"]

pytestmark = pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints")

SCHEMA = {
    "type": "object",
    "properties": {"city": {"type": "string", "maxLength": 20},
                   "population_millions": {"type": "number"}},
    "required": ["city", "population_millions"],
    "additionalProperties": False,
}


def answer(text: str, finish: str = "stop") -> RunResult:
    return RunResult(request=SentRequest(backend="llamacpp", model="m"), text=text,
                     finish_reason=finish)  # type: ignore[arg-type]


@pytest.fixture
def view(qtbot: QtBot) -> OutputView:
    view = OutputView()
    qtbot.addWidget(view)
    view.resize(760, 300)
    view.show()
    qtbot.waitExposed(view)
    return view


def test_violations_are_named_at_their_json_path(view: OutputView) -> None:
    label = view.schema_label
    view.show_result(answer('{"city": 7}'))
    assert not label.isVisible()  # no schema: nothing to check
    label.set_schema(SCHEMA)
    view.show_result(answer('{"city": 7, "extra": true}'))
    assert label.isVisible() and label.text().startswith("schema ✗ $")
    assert label.text().endswith("(+2 more)")
    assert "$.city: 7 is not of type 'string'" in label.toolTip()
    assert "'population_millions' is a required property" in label.toolTip()
    assert "'extra' was unexpected" in label.toolTip()
    screenshot(view, "output-schema-violations")
    view.show_result(answer('{"city": "Oslo", "population_millions": 0.7}'))
    assert label.text() == "schema ✓"
    view.show_result(answer("Oslo has 0.7 million people."))
    assert label.text().startswith("schema ✗ output is not JSON")
    view.show_result(answer('{"city": ', finish="error"))  # a failed run is not checked
    assert not label.isVisible()
    view.show_result(answer('{"city": "Oslo", "population_millions": 1}'))
    label.set_schema(None)
    assert not label.isVisible()


@pytest.mark.slow
def test_the_window_checks_the_answer_against_the_open_templates_schema(
    qtbot: QtBot, window: MainWindow
) -> None:
    template = PromptTemplate(
        name="city", output_schema=SCHEMA, response_format="json_schema",
        messages=[Message(role="user", content="Oslo's population, as JSON.")])
    window.show_template(template, None, None)
    qtbot.waitUntil(lambda: window.output.schema_label.schema == SCHEMA)
    qtbot.mouseClick(window.run_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.output.state in ("finished", "failed"), timeout=120_000)
    assert window.output.state == "finished", window.output.text()
    assert window.output.schema_label.text() == "schema ✓", window.output.text()


def _run_with_schema(qtbot: QtBot, main: MainWindow, schema: dict[str, object]) -> None:
    """Schema… ▸ a new schema ▸ OK (Format stays Text) ▸ run."""
    dialog = main.params.response_format.edit_schema()
    dialog.editor.setPlainText(json.dumps(schema))
    dialog.accept()
    assert main.editor.template().output_schema == schema
    main.run()
    qtbot.waitUntil(lambda: main.output.state == "finished", timeout=10_000)


@pytest.mark.parametrize(("before", "after", "verdict"), [
    ({"type": "object", "required": ["sentiment"]},
     {"type": "object", "required": ["sentiment", "confidence"],
      "additionalProperties": False}, "schema ✗"),
    ({"type": "object", "required": ["confidence"]}, {"type": "object"}, "schema ✓"),
])
def test_the_check_uses_the_schema_the_run_was_sent_with(
    qtbot: QtBot, window: MainWindow, before: dict[str, object], after: dict[str, object],
    verdict: str,
) -> None:
    from workbench.backends.config import add_config

    add_config("json", "scripted",
               {"script": [{"text": '{"sentiment": "neutral", "type": "review"}'}]})
    window.picker.reload()
    window.picker.select("json", "")
    window.show_template(PromptTemplate(
        name="extract", output_schema=before,
        messages=[Message(role="user", content="Extract.")]), None, None)
    _run_with_schema(qtbot, window, after)
    assert window.output.schema_label.text().startswith(verdict), window.output.schema_label.text()


def test_the_first_violation_is_readable_in_a_default_window(
    qtbot: QtBot, window: MainWindow
) -> None:
    label = window.output.schema_label
    window.lower_tabs.setCurrentWidget(window.output)
    label.set_schema({"type": "object", "required": ["sentiment", "confidence", "tags"],
                      "additionalProperties": False})
    window.output.show_result(answer('{"type": "review"}'))
    first = "'sentiment' is a required property"
    assert first in label.text() and label.text().endswith("(+3 more)")
    assert label.shown_text() == label.text(), label.shown_text()  # nothing cut
    screenshot(window, "main-window-schema-violation")
    # A violation longer than the line keeps its JSON path (the "…" goes in its middle).
    label.set_schema({"type": "object", "properties": {"items": {"type": "array", "items": {
        "type": "object", "properties": {"price": {"enum": ["x" * 40 + str(i)
                                                            for i in range(12)]}}}}}})
    window.output.show_result(answer('{"items": [{}, {}, {"price": 1}], "a": 1}'))
    shown = label.shown_text()
    assert shown.startswith("schema ✗ $.items[2].price") and "…" in shown, shown
    assert "is not one of" in label.toolTip()
