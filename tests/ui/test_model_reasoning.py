"""The Parameters panel follows the chosen model, not only its backend: reasoning controls are
greyed, with the reason, for a model that does not reason, and open for one that does. The
model's table is asked off the GUI thread (an Ollama model's capabilities come from its
server's /api/show: a local server speaking Ollama's documented endpoints here)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pytestqt.qtbot import QtBot

from tests.backends.local_servers import OllamaServer
from tests.ui.windows import shot, window
from workbench.backends.config import add_config
from workbench.ui.main_window import MainWindow
from workbench.ui.widgets.param_rows import IGNORED_TEXT, MODEL_IGNORED_TEXT

__all__ = ["window"]

pytestmark = pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints")


@pytest.fixture
def ollama() -> Iterator[OllamaServer]:
    with OllamaServer() as server:
        yield server


def test_reasoning_controls_follow_the_chosen_model(
    qtbot: QtBot, window: MainWindow, ollama: OllamaServer
) -> None:
    params = window.params
    # the embedded SmolLM2 is no reasoning model: its chat template writes no <think> block
    qtbot.waitUntil(lambda: "does not reason" in params.effort.toolTip(), timeout=10_000)
    assert not params.effort.isEnabled() and not params.effort_label.isEnabled()
    assert "reasoning_effort" in params.ignored()

    add_config("home-ollama", "ollama", {"base_url": ollama.url})
    window.picker.reload()
    window.picker.select("home-ollama", "tiny:latest")
    qtbot.waitUntil(lambda: "tiny:latest does not think" in params.effort.toolTip(),
                    timeout=10_000)
    assert not params.effort.isEnabled()
    assert params.backend_label.text() == "For Ollama · tiny:latest"

    assert params.effort.toolTip().count("Ignored by this model: ") == 1

    window.picker.select("home-ollama", "seeing:latest")  # lists the thinking capability
    qtbot.waitUntil(lambda: params.backend_label.text() == "For Ollama · seeing:latest",
                    timeout=10_000)
    assert params.effort.isEnabled()
    assert params.effort_label.isEnabled() and "sent as think" in params.effort.toolTip()
    assert "reasoning_effort" not in params.ignored()
    assert "thinking_budget" in params.ignored()  # Ollama takes no budget
    assert params.rows["thinking_budget"].ignored.text() == IGNORED_TEXT  # the backend's doing
    shot(window, "params-reasoning-model")


def test_a_setting_only_the_model_does_not_take_says_so(qtbot: QtBot, window: MainWindow) -> None:
    add_config("claude", "anthropic", {"default_model": "claude-3-5-haiku-20241022"})
    window.picker.reload()
    window.picker.select("claude", "")
    params = window.params
    row = params.rows["thinking_budget"]
    qtbot.waitUntil(lambda: row.is_ignored, timeout=10_000)
    assert row.ignored.text() == MODEL_IGNORED_TEXT
    assert params.params().thinking_budget is None and not window.dirty  # nothing was set
    assert "claude-3-5-haiku-20241022 takes no thinking budget" in row.ignored.toolTip()
    assert params.rows["n"].ignored.text() == IGNORED_TEXT  # Anthropic's, whatever the model
    assert "Ignored by this backend: " in params.effort.toolTip()  # an effort: no Claude
    shot(window, "params-ignored-by-model")
