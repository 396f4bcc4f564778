"""The parameters panel's tools row: the template's tools and tool choice, greyed with the reason
on a backend that cannot send tools, and a choice made there lands in the template."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pytestqt.qtbot import QtBot

from tests.ui.runs import screenshot
from tests.ui.windows import close_window, open_window
from workbench.backends.llamacpp import LOCAL_TOOLS, LlamaCppBackend
from workbench.backends.scripted import ScriptedBackend
from workbench.core.models import Message, PromptTemplate
from workbench.core.tools import Tool
from workbench.ui.main_window import MainWindow
from workbench.ui.widgets.tools_row import NO_TOOLS, NOT_SENT

pytestmark = pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints")

TOOLS = [Tool(name="get_weather", mock='{"temp_c": 21}'), Tool(name="get_time")]
TEMPLATE = PromptTemplate(name="Oslo now", messages=[Message(role="user", content="Oslo?")],
                          tools=TOOLS, tool_choice="get_time")


@pytest.fixture
def window(qtbot: QtBot) -> Iterator[MainWindow]:
    window = open_window(qtbot)
    yield window
    close_window(window)


def test_the_row_shows_the_tools_and_greys_them_where_they_cannot_be_sent(
    qtbot: QtBot, window: MainWindow
) -> None:
    row = window.params.tools
    assert row.count.text() == "no tools" and not row.combo.isEnabled()
    assert row.combo.toolTip() == NO_TOOLS
    window.editor.set_template(TEMPLATE)
    window.params.set_capabilities(ScriptedBackend().capabilities(), "Scripted")
    assert row.count.text() == "2 tools" and row.combo.isEnabled()
    assert row.combo.currentText() == "call get_time" and row.note.isHidden()
    assert "get_weather, get_time" in row.count.toolTip()
    assert [row.combo.itemText(i) for i in range(row.combo.count())] == [
        "auto", "none", "required", "call get_weather", "call get_time"]

    window.params.set_capabilities(LlamaCppBackend().capabilities(), "Local")
    assert not row.combo.isEnabled() and not row.count.isEnabled()
    assert row.note.isVisible() and row.note.text() == NOT_SENT
    assert LOCAL_TOOLS in row.note.toolTip() and LOCAL_TOOLS in row.combo.toolTip()
    assert row.combo.currentText() == "call get_time"  # still shown: never dropped silently
    screenshot(window.params, "params_tools_row_greyed")


def test_a_choice_in_the_row_is_the_templates_tool_choice(qtbot: QtBot, window: MainWindow) -> None:
    window.editor.set_template(TEMPLATE)
    window.params.set_capabilities(ScriptedBackend().capabilities(), "Scripted")
    row = window.params.tools
    row.combo.setCurrentIndex(row.combo.findData("required"))
    row.combo.activated.emit(row.combo.currentIndex())
    assert window.editor.template().tool_choice == "required"
    assert window.editor.template().tools == TOOLS
    assert window.document.dirty
    screenshot(window.params, "params_tools_row")
