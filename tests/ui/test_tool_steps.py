"""Tool calling in the playground, driven as a person does: the scripted backend (the embedded
model cannot call tools) calls a mocked tool, then one the user answers in place, then answers;
three model turns, one transcript."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from tests.ui.windows import close_window, open_window, shot
from workbench.backends.config import add_config
from workbench.core.models import Message, PromptTemplate
from workbench.core.tools import Tool
from workbench.services.tool_steps import ToolAnswer
from workbench.storage.repositories import Store
from workbench.ui.main_window import MainWindow

WEATHER = Tool(name="get_weather", description="Current weather in a city", mock='{"temp_c": 21}',
               parameters={"type": "object", "properties": {"city": {"type": "string"}}})
TIME = Tool(name="get_time", description="Local time in a city")
ANSWER = "It is 21 °C and 09:30 in Oslo."
SCRIPT = {"by_tool_results": [
    [{"text": "Checking the weather."},
     {"tool_call": {"name": "get_weather", "arguments": '{"city": "Oslo"}', "pieces": 4}}],
    [{"tool_call": {"name": "get_time", "arguments": '{"city": "Oslo"}'}}],
    [{"text": ANSWER}],
]}


def template(max_tool_steps: int = 5) -> PromptTemplate:
    return PromptTemplate(name="Oslo now", messages=[
        Message(role="user", content="Weather and time in Oslo?")],
        tools=[WEATHER, TIME], max_tool_steps=max_tool_steps)


@pytest.fixture
def window(qtbot: QtBot) -> Iterator[MainWindow]:
    add_config("tooly", "scripted", SCRIPT)
    window = open_window(qtbot)
    window.picker.select("tooly", "")
    yield window
    close_window(window)


def test_a_mocked_call_answers_itself_a_typed_reply_goes_on_and_the_model_answers(
    qtbot: QtBot, window: MainWindow
) -> None:
    window.editor.set_template(template())
    window.run()
    view = window.tool_steps.view
    qtbot.waitUntil(lambda: len(view.blocks) == 2 and view.blocks[1].reply.isVisible(),
                    timeout=20_000)
    weather, time_call = view.blocks
    assert weather.result == ToolAnswer('{"temp_c": 21}', "mock")
    assert "(mock)" in weather.outcome.text()
    assert json.loads(weather.arguments.text()) == {"city": "Oslo"}
    assert weather.arguments.text().startswith("{\n  ")  # pretty-printed
    assert "get_time" in time_call.title.text()
    qtbot.keyClicks(time_call.reply, "09:30")
    qtbot.wait(50)  # the view scrolls to the new call once it is laid out
    shot(window, "tool_calls_reply")
    qtbot.mouseClick(time_call.send, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.output.state == "finished" and window.output.text() == ANSWER,
                    timeout=20_000)
    assert "Answered after 3 steps" in view.note.text()
    qtbot.wait(50)
    shot(window, "tool_calls_answered")
    last = window.workspace.store.runs.get(window.output.run_id or "")
    sent = last.result.request
    assert [m.role for m in sent.messages] == ["user", "assistant", "tool", "assistant", "tool"]
    assert sent.messages[1].content == "Checking the weather."
    assert sent.messages[1].tool_calls[0].arguments == '{"city": "Oslo"}'
    assert [m.content for m in sent.messages if m.role == "tool"] == ['{"temp_c": 21}', "09:30"]
    assert [t.name for t in sent.tools] == ["get_weather", "get_time"]
    assert "mock" not in sent.model_dump_json(exclude_defaults=True)
    second = window.workspace.store.runs.get(last.ref.parent_run_id or "")
    assert second.result.tool_calls[0].name == "get_time"  # the turns are linked
    first = window.workspace.store.runs.get(second.ref.parent_run_id or "")
    assert first.result.finish_reason == "tool_calls" and first.ref.parent_run_id is None


def test_the_conversation_stops_at_max_tool_steps(qtbot: QtBot, window: MainWindow) -> None:
    window.editor.set_template(template(max_tool_steps=1))
    window.run()
    view = window.tool_steps.view
    qtbot.waitUntil(lambda: "Stopped after 1 steps" in view.note.text(), timeout=20_000)
    [weather] = view.blocks
    assert weather.result is None and "max_tool_steps (1)" in weather.outcome.text()
    assert not weather.reply.isVisible()


def test_a_backend_without_tools_says_why_under_the_answer(
    qtbot: QtBot, window: MainWindow
) -> None:
    window.picker.select("llamacpp", "")
    qtbot.waitUntil(lambda: window.picker.backend_name == "llamacpp")
    local = template()
    window.editor.set_template(local.model_copy(
        update={"parameters": local.parameters.model_copy(update={"max_tokens": 4})}))
    window.run()
    view = window.tool_steps.view
    qtbot.waitUntil(lambda: window.output.state == "finished", timeout=120_000)
    assert view.note.text().startswith("Tools not sent: the in-process model's chat template")
    assert view.blocks == []
    stored = window.workspace.store.runs.get(window.output.run_id or "")
    assert stored.result.request.ignored_params["tools"] == ["get_weather", "get_time"]


def test_a_tool_turn_never_saved_restores_the_prompt_that_began_it(store: Store) -> None:
    from workbench.core.models import RenderedMessage, RunResult, SentRequest
    from workbench.core.tools import ToolCall
    from workbench.ui.run_restore import sent_template

    call = ToolCall(id="call_0", name="get_weather", arguments='{"city": "Oslo"}')
    sent = SentRequest(backend="scripted", model="scripted", tools=[WEATHER.declaration()],
                       messages=[RenderedMessage(role="system", content="Be brief."),
                                 RenderedMessage(role="user", content="Weather in Oslo?"),
                                 RenderedMessage(role="assistant", content="", tool_calls=[call]),
                                 RenderedMessage(role="tool", content="21", tool_call_id="call_0")])
    run_id = store.runs.add(RunResult(request=sent, text="21 °C.", finish_reason="stop"))
    restored = sent_template(store.runs.get(run_id))
    assert [(m.role, m.content) for m in restored.messages] == [
        ("system", "Be brief."), ("user", "Weather in Oslo?")]
    assert restored.tools == [WEATHER.declaration()]
