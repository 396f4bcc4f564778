"""Compare with tools: two models' tool-call sequences side by side, each column listing its
calls (tool, arguments, the mocked result sent back) above its final answer, the rows where they
part marked; the same after reopening the saved comparison.

The models are scripted backends (the embedded model cannot call tools), configured like any
backend; runs go through the real ``Runner`` into a real SQLite store, each column's tool
conversation answered by the template's mocks."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from tests.ui.runs import screenshot
from workbench.backends.config import BackendConfig
from workbench.core.experiments import Variant
from workbench.core.models import Message, PromptTemplate
from workbench.core.tools import Tool
from workbench.services.runner import Runner
from workbench.storage.repositories import Store
from workbench.storage.writer import StoreWriter
from workbench.ui import theming
from workbench.ui.compare.compare_view import CompareView
from workbench.ui.workers import RunManager

pytestmark = pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints")

WEATHER = Tool(name="get_weather", description="Current weather in a city", mock='{"temp_c": 21}',
               parameters={"type": "object", "properties": {"city": {"type": "string"}}})
TIME = Tool(name="get_time", description="Local time in a city", mock="09:30")
TEMPLATE = PromptTemplate(name="Oslo now", messages=[
    Message(role="user", content="What is the weather and the time in Oslo?")],
    tools=[WEATHER, TIME])
PLANNER_ANSWER = "It is 21 °C and 09:30 in Oslo."
GUESSER_ANSWER = "About 21 °C; I did not check the time."


def call(name: str, arguments: dict[str, str]) -> dict[str, object]:
    return {"tool_call": {"name": name, "arguments": json.dumps(arguments), "pieces": 3}}


SCRIPTS = {
    "planner": [[{"text": "Let me check."}, call("get_weather", {"city": "Oslo"})],
                [call("get_time", {"city": "Oslo"})],
                [{"text": PLANNER_ANSWER}]],
    "guesser": [[call("get_weather", {"city": "Bergen"})],
                [{"text": GUESSER_ANSWER}]],
    "plain": [[{"text": "Sunny, I think."}]],
}


@pytest.fixture
def manager(store: Store) -> Iterator[RunManager]:
    writer = StoreWriter(store)
    configs = {name: BackendConfig(name=name, backend="scripted",
                                   options={"by_tool_results": turns, "models": [name]})
               for name, turns in SCRIPTS.items()}
    runner = Runner(writer=writer, configs=configs)
    manager = RunManager(runner=runner, max_threads=4)
    yield manager
    assert manager.shutdown(10)
    runner.close()
    assert writer.close()


def make_view(qtbot: QtBot, manager: RunManager) -> CompareView:
    view = CompareView(manager)
    qtbot.addWidget(view)
    view.resize(1100, 640)
    view.show()
    qtbot.waitExposed(view)
    return view


def rows(view: CompareView, column: int) -> list[tuple[int, str, dict[str, str], str | None]]:
    return [(r.step.step, r.step.call.name, json.loads(r.step.call.arguments), r.step.result)
            for r in view.columns[column].tools.rows]


def test_two_models_tool_sequences_side_by_side(
    qtbot: QtBot, theme: theming.Theme, manager: RunManager, store: Store
) -> None:
    view = make_view(qtbot, manager)
    for backend in ("planner", "guesser"):
        view.add_variant(Variant(template=TEMPLATE, template_version=1, backend=backend,
                                 model=backend))
    with qtbot.waitSignal(view.runAllFinished, timeout=20_000):
        view.run_all()

    planner, guesser = view.columns
    assert rows(view, 0) == [(1, "get_weather", {"city": "Oslo"}, '{"temp_c": 21}'),
                             (2, "get_time", {"city": "Oslo"}, "09:30")]
    assert rows(view, 1) == [(1, "get_weather", {"city": "Bergen"}, '{"temp_c": 21}')]
    assert planner.tools.summary.text() == "2 tool calls in 2 steps, then the answer below"
    assert guesser.tools.summary.text() == "1 tool call in 1 step, then the answer below"
    assert planner.output.text() == PLANNER_ANSWER and guesser.output.text() == GUESSER_ANSWER
    # Bergen, not Oslo; and a second call only A makes
    assert planner.tools.differing() == [0, 1] and guesser.tools.differing() == [0]
    assert "differs from the other columns'" in planner.tools.rows[0].toolTip()
    assert "→ 09:30" in planner.tools.rows[1].text()
    assert planner.tools.isVisible() and planner.tools.height() <= 220
    screenshot(view, "compare_tool_sequences")

    # one stored run per column, holding its whole conversation
    assert view.experiment_id is not None
    runs = store.runs.for_experiment(view.experiment_id)
    assert sorted(len(r.result.request.messages) for r in runs) == [3, 5]
    assert {r.result.finish_reason for r in runs} == {"stop"}

    again = make_view(qtbot, manager)
    again.open_experiment(view.experiment_id)
    assert rows(again, 0) == rows(view, 0) and rows(again, 1) == rows(view, 1)
    assert again.columns[0].tools.differing() == [0, 1]


def test_a_column_without_calls_shows_no_list_and_takes_no_part(
    qtbot: QtBot, theme: theming.Theme, manager: RunManager
) -> None:
    view = make_view(qtbot, manager)
    plain = TEMPLATE.model_copy(update={"tools": [], "name": "no tools"})
    view.add_variant(Variant(template=TEMPLATE, template_version=1, backend="planner",
                             model="planner"))
    view.add_variant(Variant(template=plain, template_version=1, backend="plain",
                             model="plain"))
    with qtbot.waitSignal(view.runAllFinished, timeout=20_000):
        view.run_all()
    with_calls, without = view.columns
    assert len(with_calls.tools.rows) == 2 and with_calls.tools.differing() == []
    assert without.tools.isHidden() and without.tools.rows == []
    qtbot.mouseClick(with_calls.remove_button, Qt.MouseButton.LeftButton)
    assert len(view.columns) == 1
