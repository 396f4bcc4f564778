"""A reasoning model's thinking in the app: folded above the answer, streamed live while open,
counted apart in the figures and the pre-run cost; its settings in the Parameters panel."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from tests.ui.runs import REQUEST, screenshot, scripted
from tests.ui.test_compare_view import variant
from workbench.backends.anthropic import AnthropicBackend
from workbench.backends.llamacpp import LlamaCppBackend
from workbench.backends.scripted import Step
from workbench.core.model_table import load_model_table
from workbench.core.models import Message, PromptTemplate, SentRequest, Usage
from workbench.core.models import RunResult as Result
from workbench.ui import theming
from workbench.ui.compare.column import ColumnRun, CompareColumn
from workbench.ui.compare.figures import MetricsStrip
from workbench.ui.widgets.output_view import OutputView
from workbench.ui.widgets.params_panel import ParamsPanel
from workbench.ui.widgets.preview_panel import PreviewPanel, format_money
from workbench.ui.workers import RunManager

pytestmark = pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints")

THOUGHT = ["<think>\nThe user says hello.", " A greeting back is polite;", " keep it short."]
ANSWER = ["</think>\n\nHello! ", "How can I help you today?"]


@pytest.fixture
def light(qapp: QApplication) -> Iterator[None]:
    saved = qapp.palette()
    theme = theming.install(qapp, "light")
    yield
    theme.set_mode("light")
    qapp.setPalette(saved)


@pytest.fixture
def manager(qapp: QApplication) -> Iterator[RunManager]:
    manager = RunManager()
    yield manager
    assert manager.shutdown(10)


@pytest.fixture
def view(qtbot: QtBot, light: None) -> OutputView:
    view = OutputView()
    qtbot.addWidget(view)
    view.resize(760, 420)
    view.show()
    qtbot.waitExposed(view)
    return view


def test_thinking_streams_folded_above_the_answer_and_live_once_opened(
    qtbot: QtBot, view: OutputView, manager: RunManager
) -> None:
    backend = scripted(
        Step(text=THOUGHT[0]), Step(delay_s=0.3), Step(text=THOUGHT[1]), Step(delay_s=0.3),
        Step(text=THOUGHT[2]), *[Step(text=t) for t in ANSWER], think_tags=True,
    )
    view.attach(manager.start(backend, REQUEST))
    thinking = view.thinking
    qtbot.waitUntil(thinking.isVisible, timeout=10_000)
    assert not thinking.is_open and not thinking.view.isVisible()  # folded by default
    assert thinking.toggle.text() == "Thinking (≈ 1 token)"
    assert view.text() == ""  # nothing of the thinking in the answer
    thinking.toggle.click()  # opened while the model is still thinking
    assert thinking.view.toPlainText() == "The user says hello."
    qtbot.waitUntil(lambda: "polite" in thinking.view.toPlainText(), timeout=10_000)  # live
    qtbot.waitUntil(lambda: view.state == "finished" and view.caught_up, timeout=10_000)
    reasoning = "The user says hello. A greeting back is polite; keep it short."
    assert thinking.view.toPlainText() == reasoning
    assert thinking.toggle.text() == "Thinking (3 tokens)"  # the run's own count at the end
    assert view.text() == "Hello! How can I help you today?"
    assert "think" not in view.browser.toPlainText()
    assert view.tokens_label.text() == "5 tok (3 thinking)"
    assert view.outcome is not None and view.outcome.result.reasoning == reasoning
    palette = thinking.view.palette()
    assert palette.color(QPalette.ColorRole.Text) == palette.color(
        QPalette.ColorRole.PlaceholderText
    )  # greyed
    screenshot(view, "output-thinking-open-light")
    thinking.toggle.click()
    assert not thinking.view.isVisible()
    qtbot.waitUntil(lambda: thinking.height() < 2 * thinking.toggle.height(), timeout=5_000)
    screenshot(view, "output-thinking-folded-light")


def test_a_past_run_shows_its_thinking_and_one_without_hides_it(
    qtbot: QtBot, view: OutputView
) -> None:
    sent = SentRequest(backend="anthropic", model="claude-sonnet-4-5")
    thought = Result(request=sent, text="4", reasoning="2 + 2 = 4", finish_reason="stop",
                     usage=Usage(output_tokens=120, reasoning_tokens=100))
    view.show_result(thought)
    assert view.thinking.isVisible() and view.thinking.toggle.text() == "Thinking (100 tokens)"
    view.thinking.set_open(True)
    assert view.thinking.view.toPlainText() == "2 + 2 = 4"
    plain = Result(request=sent, text="4", finish_reason="stop", usage=Usage(output_tokens=1))
    view.show_result(plain)
    assert not view.thinking.isVisible() and view.tokens_label.text() == "1 tok"
    strip = MetricsStrip()
    qtbot.addWidget(strip)
    strip.show_result(thought)  # a compare column's figures
    assert strip.values["tokens"].text() == "– / 120 tok (100 thinking)"


def test_reasoning_settings_are_greyed_with_the_reason_where_unsupported(
    qtbot: QtBot, light: None
) -> None:
    panel = ParamsPanel()
    qtbot.addWidget(panel)
    panel.set_capabilities(LlamaCppBackend().capabilities(), "local")
    assert not panel.effort.isEnabled() and panel.rows["thinking_budget"].is_ignored
    assert "<think> block is shown apart" in panel.effort.toolTip()
    assert {"reasoning_effort", "thinking_budget"} <= set(panel.ignored())
    panel.set_capabilities(AnthropicBackend().capabilities(), "anthropic")
    assert panel.rows["thinking_budget"].spin.isEnabled() and not panel.effort.isEnabled()
    with qtbot.waitSignal(panel.paramsChanged):
        panel.rows["thinking_budget"].set_value(2048)
        panel.rows["thinking_budget"].changed.emit()
    assert panel.params().thinking_budget == 2048


def test_the_pre_run_cost_counts_a_thinking_budget_apart(qtbot: QtBot, light: None) -> None:
    panel = PreviewPanel(debounce_ms=0)
    qtbot.addWidget(panel)
    panel.resize(720, 360)
    panel.show()
    template = PromptTemplate(name="q", messages=[Message(role="user", content="2+2?")])
    with qtbot.waitSignal(panel.previewUpdated, timeout=10_000) as updated:
        panel.set_template(template)
        panel.set_values({})
        panel.set_model("claude-sonnet-4-5")
        panel.set_max_tokens(4096, 2048)
    preview = updated.args[0]
    assert preview.reasoning_tokens == 2048
    info = load_model_table().lookup("claude-sonnet-4-5")
    assert info is not None and info.price is not None
    out = 4096 * info.price.output / 1e6
    assert panel.cost_label.text().endswith(
        f"≤ {format_money(out, 'USD')} out (4,096 max tokens, ≤ 2,048 thinking)"
    )
    assert "2,048 thinking tokens (billed as output)" in panel.cost_label.toolTip()
    assert panel.wait()


def test_a_compare_column_shows_each_repeats_own_thinking(qtbot: QtBot, light: None) -> None:
    """Two repeats with the same answer but different thinking: picking the second showed the
    first one's thinking (the column only refreshed its output when the answer differed)."""
    column = CompareColumn(variant())
    qtbot.addWidget(column)
    sent = SentRequest(backend="scripted", model="scripted")
    runs = [ColumnRun(i, result=Result(request=sent, text="Paris.", reasoning=thought,
                                       finish_reason="stop"))
            for i, thought in enumerate(["France's capital is Paris.", "Paris, surely."])]
    column.show_runs(runs)
    assert column.output.thinking.text == "France's capital is Paris."
    column._repeat_picked(1)
    assert column.output.thinking.text == "Paris, surely."
