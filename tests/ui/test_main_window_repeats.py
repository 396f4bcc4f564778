"""Run ×3 in the main window shows all three answers with their agreement (it showed the first
one only), on the embedded model; picking an answer shows it in the output."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from tests.ui.windows import shot, window
from workbench.core.models import Message, Params, PromptTemplate
from workbench.ui.main_window import MainWindow

__all__ = ["window"]

RUN_TIMEOUT_MS = 180_000
STORY = PromptTemplate(
    name="Story opener",
    messages=[Message(role="user", content="Write the first words of a story.")],
    parameters=Params(max_tokens=6, temperature=1.5),
)


@pytest.mark.slow
def test_run_x3_shows_every_answer_with_their_agreement(
    qtbot: QtBot, window: MainWindow
) -> None:
    window.show_template(STORY, None, None)
    repeats = window.repeat_runs
    assert not repeats.isVisible()
    spin = window.repeat
    spin.setFocus()
    spin.selectAll()
    qtbot.keyClicks(spin, "3")
    assert spin.value() == 3
    qtbot.mouseClick(window.run_button, Qt.MouseButton.LeftButton)
    assert repeats.isVisible()
    qtbot.waitUntil(lambda: all(r is not None for r in repeats.results), timeout=RUN_TIMEOUT_MS)
    texts = [r.text for r in repeats.results if r is not None]
    assert len(texts) == 3
    figures = repeats.panel.figures
    assert figures.text("repeats").startswith("3 · ")
    assert figures.text("agreement").endswith("%")
    rows = repeats.panel.answer_rows()
    assert sum(int(row[1:].split()[0]) for row in rows) == 3  # "×2 ◆ …": every answer counted
    # pick the last distinct answer: the output shows it whole
    repeats.panel.answers.setFocus()
    repeats.panel.answers.setCurrentRow(len(rows) - 1)
    picked = repeats.results[repeats.panel.shown_run() or 0]
    assert picked is not None
    qtbot.waitUntil(lambda: window.output.text() == picked.text, timeout=5000)
    shot(window, "main_window_run_x3")
    # another document: its runs are not these
    window.show_template(STORY.model_copy(update={"name": "Other"}), None, None)
    assert not repeats.isVisible()
