"""Python tool mocks in the playground, driven as a person does: the function typed into the
Mocks… editor (a syntax error marked at its line until fixed, then tried in the sandbox), a
three-step transcript answered by it on the scripted tool-calling backend, and a mock that fails
shown as the call's result, its "Edit mock" opening the code with the error at its line."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialogButtonBox
from pytestqt.qtbot import QtBot

from tests.ui.windows import close_window, open_window, shot
from workbench.backends.config import add_config
from workbench.core.models import Message, PromptTemplate
from workbench.core.tools import PythonMock, Tool
from workbench.ui.dialogs.tool_mocks_dialog import ToolMocksDialog
from workbench.ui.main_window import MainWindow

NUMBERS = {"type": "object", "properties": {"a": {"type": "number"}, "b": {"type": "number"}}}
ADD = Tool(name="add", description="Add two numbers", parameters=NUMBERS)  # mocked in the test
SCALE = Tool(name="scale", description="Multiply a value", mock=PythonMock(
    python="def mock(args):\n    return args['value'] * args['by']\n"))
FAILING = SCALE.model_copy(update={"mock": PythonMock(python=(
    "def mock(args):\n    table = {'x': 1}\n    return table[args['key']]\n"))})
ANSWER = "The answer is 20."
SCRIPT = {"by_tool_results": [
    [{"text": "Adding first."},
     {"tool_call": {"name": "add", "arguments": '{"a": 2, "b": 3}', "pieces": 3}}],
    [{"tool_call": {"name": "scale", "arguments": '{"value": 5, "by": 4, "key": "y"}'}}],
    [{"text": ANSWER}],
]}


def template(*tools: Tool) -> PromptTemplate:
    return PromptTemplate(name="arith", messages=[
        Message(role="user", content="What is (2 + 3) × 4?")], tools=list(tools))


@pytest.fixture
def window(qtbot: QtBot) -> Iterator[MainWindow]:
    add_config("calc", "scripted", SCRIPT)
    window = open_window(qtbot)
    window.picker.select("calc", "")
    yield window
    close_window(window)


def ok(dialog: ToolMocksDialog) -> object:
    return dialog.buttons.button(QDialogButtonBox.StandardButton.Ok)


def test_a_python_mock_typed_in_the_editor_answers_a_three_step_conversation(
    qtbot: QtBot, window: MainWindow
) -> None:
    window.editor.set_template(template(ADD, SCALE))
    dialog = window.params.tools.edit_mocks()
    assert dialog.list.currentItem().text() == "add" and dialog.kind.currentData() == "none"
    python = dialog.kind.findData("python")
    dialog.kind.setCurrentIndex(python)
    dialog.kind.activated.emit(python)
    dialog.code.selectAll()
    qtbot.keyClicks(dialog.code, "def mock(args):")
    qtbot.keyClick(dialog.code, Qt.Key.Key_Return)  # indented after the colon
    qtbot.keyClicks(dialog.code, "return {'sum': args['a'] + args['b']")
    assert dialog.code.error is not None and dialog.code.error[0] == 2  # '{' never closed
    assert not ok(dialog).isEnabled()
    qtbot.keyClicks(dialog.code, "}")
    assert dialog.code.error is None and ok(dialog).isEnabled()
    assert dialog.arguments.text() == '{"a": null, "b": null}'  # the declared arguments
    qtbot.mouseClick(dialog.try_button, Qt.MouseButton.LeftButton)  # None + None fails
    qtbot.waitUntil(lambda: dialog.code.error is not None, timeout=10_000)
    assert dialog.code.error[0] == 2 and "TypeError" in dialog.tried.text()
    dialog.arguments.setText('{"a": 1, "b": 2}')
    qtbot.mouseClick(dialog.try_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.tried.text() == '→ {"sum": 3}', timeout=10_000)
    assert dialog.code.error is None  # the earlier try's error no longer holds
    shot(dialog, "tool_mock_editor")
    qtbot.mouseClick(ok(dialog), Qt.MouseButton.LeftButton)
    [add, _] = window.editor.template().tools
    typed = "def mock(args):\n    return {'sum': args['a'] + args['b']}"
    assert add.mock == PythonMock(python=typed)
    assert window.dirty  # an edit of the template, saved with it

    window.run()
    view = window.tool_steps.view
    qtbot.waitUntil(lambda: window.output.state == "finished" and window.output.text() == ANSWER,
                    timeout=20_000)
    assert "Answered after 3 steps" in view.note.text()
    first, second = view.blocks
    assert first.result is not None and first.result.text == '{"sum": 5}'
    assert "(Python mock)" in first.outcome.text() and not first.edit_mock.isVisible()
    assert second.result is not None and second.result.text == "20"
    qtbot.wait(50)
    shot(window, "tool_mock_python_answered")
    last = window.workspace.store.runs.get(window.output.run_id or "")
    sent = last.result.request
    assert [m.content for m in sent.messages if m.role == "tool"] == ['{"sum": 5}', "20"]
    assert "mock" not in sent.model_dump_json(exclude_defaults=True)  # never sent


def test_a_failing_mock_is_the_calls_result_and_edit_mock_opens_its_line(
    qtbot: QtBot, window: MainWindow
) -> None:
    window.editor.set_template(template(ADD.model_copy(update={"mock": "5"}), FAILING))
    window.run()
    view = window.tool_steps.view
    qtbot.waitUntil(lambda: window.output.state == "finished" and window.output.text() == ANSWER,
                    timeout=20_000)
    failed = view.blocks[1]
    assert failed.result is not None and failed.result.error and failed.result.line == 3
    assert "error in the mock of scale, line 3: KeyError: 'y'" in failed.outcome.text()
    assert failed.edit_mock.isVisible()
    last = window.workspace.store.runs.get(window.output.run_id or "")
    [_, sent_error] = [m for m in last.result.request.messages if m.role == "tool"]
    assert sent_error.tool_error  # flagged to the providers that have a flag
    qtbot.wait(50)
    shot(window, "tool_mock_error_result")
    qtbot.mouseClick(failed.edit_mock, Qt.MouseButton.LeftButton)
    [dialog] = window.params.tools.findChildren(ToolMocksDialog)
    qtbot.waitUntil(dialog.isVisible)
    assert dialog.list.currentItem().text() == "scale"
    assert dialog.code.error == (3, None, "KeyError: 'y'")
    assert dialog.arguments.text() == '{"value": 5, "by": 4, "key": "y"}'  # the failed call's
    assert not dialog.fixed.isVisible()  # a fixed result's field is for fixed results
    assert "line 3" in dialog.code.error_text()
    shot(dialog, "tool_mock_error_at_line")
    dialog.reject()
