"""Journey 1, the first five minutes: the first start on an empty home shows the welcome
template and streams its answer from the embedded model; File ▸ New from template… opens the
gallery, few-shot sentiment is picked and opened, its variable filled, it runs (tokens and cost
shown); greedy off, temperature and max tokens changed; Run ×3 shows all three answers with their
agreement. A restart opens the document again with its parameters."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from tests.journeys.conftest import RUN_TIMEOUT_MS, Journey, menu_action
from tests.ui.windows import back_to
from workbench.ui.dialogs.template_gallery import TemplateGallery
from workbench.ui.main_window import MainWindow

pytestmark = [pytest.mark.slow,
              pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints",
                                        "This plugin does not support raise",
                                        "This plugin does not support grabbing the keyboard")]

REVIEW = "The hinge snapped in a week, but the screen is gorgeous."


def _type_number(qtbot: QtBot, window: MainWindow, name: str, value: str) -> None:
    spin = window.params.rows[name].spin
    spin.setFocus()
    spin.selectAll()
    qtbot.keyClicks(spin, value)
    qtbot.keyClick(spin, Qt.Key.Key_Return)


def test_first_five_minutes(qtbot: QtBot, journey: Journey) -> None:
    window = journey.start(demo=True)
    window.resize(1366, 768)
    # A useful first screen: the welcome template, its answer streaming from the local model.
    assert window.library.template_keys() == ["welcome"]
    assert window.editor.template().name == "welcome"
    qtbot.waitUntil(lambda: window.output.state == "streaming" or bool(window.output.text()),
                    timeout=RUN_TIMEOUT_MS)
    journey.shot("welcome-streaming")
    qtbot.waitUntil(lambda: window.output.state == "finished", timeout=RUN_TIMEOUT_MS)
    assert window.output.text().strip() and window.output.cost_label.text() == "free"
    journey.shot("welcome-answered")

    # File ▸ New from template…: the gallery; few-shot sentiment, opened as a new prompt.
    menu_action(window, "New from template").trigger()
    qtbot.waitUntil(lambda: isinstance(QApplication.activeModalWidget(), TemplateGallery))
    gallery = QApplication.activeModalWidget()
    assert isinstance(gallery, TemplateGallery)
    gallery.list.setFocus()
    names = [item.text(0) for item in gallery.list.findItems("*", Qt.MatchFlag.MatchWildcard)]
    wanted = names.index("few-shot-sentiment")
    for _ in range(wanted):
        qtbot.keyClick(gallery.list, Qt.Key.Key_Down)
    assert "Few-shot" in gallery.title.text() and "Review:" in gallery.preview.toPlainText()
    journey.shot("gallery", gallery)
    qtbot.keyClick(gallery.list, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: window.editor.template().name == "few-shot-sentiment")
    back_to(qtbot, window)
    assert window.key is None and window.output.text() == ""

    # Fill its variable and run: tokens and cost.
    qtbot.waitUntil(lambda: window.variables.names() == ["review"])  # the form follows
    field = window.variables.editor("review")
    field.setFocus()
    field.selectAll()
    qtbot.keyClicks(field, REVIEW)
    assert window.variables.values()["review"] == REVIEW
    qtbot.keyClick(field, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: window.output.state == "finished", timeout=RUN_TIMEOUT_MS)
    assert window.output.text().strip()
    assert window.output.tokens_label.text().endswith("tok")
    assert window.output.cost_label.text() == "free"
    assert "tokens" in window.token_summary.text()
    journey.shot("few-shot-answered")

    # Greedy off, a temperature and a max tokens of one's own.
    window.params.greedy.setFocus()
    qtbot.keyClick(window.params.greedy, Qt.Key.Key_Space)
    assert not window.params.params().greedy
    _type_number(qtbot, window, "temperature", "0.9")
    _type_number(qtbot, window, "max_tokens", "16")
    params = window.params.params()
    assert params.temperature == pytest.approx(0.9) and params.max_tokens == 16

    # Run ×3: three answers, each counted, and how far they agree.
    spin = window.repeat
    spin.setFocus()
    spin.selectAll()
    qtbot.keyClicks(spin, "3")
    qtbot.mouseClick(window.run_button, Qt.MouseButton.LeftButton)
    repeats = window.repeat_runs
    assert repeats.isVisible()
    qtbot.waitUntil(lambda: all(r is not None for r in repeats.results), timeout=RUN_TIMEOUT_MS)
    assert len(repeats.results) == 3
    assert all(r is not None and r.text.strip() for r in repeats.results)
    figures = repeats.panel.figures
    assert figures.text("repeats").startswith("3 · ")
    assert figures.text("agreement").endswith("%")
    rows = repeats.panel.answer_rows()
    assert sum(int(row[1:].split()[0]) for row in rows) == 3
    qtbot.waitUntil(lambda: len(window.history.run_ids()) == 5, timeout=10_000)  # 1 + 1 + 3
    journey.shot("run-x3")

    # Quit (the new prompt was never saved) and start again: it is back without a question,
    # with its parameters, its value and the answer the output showed.
    answer = window.output.text()
    window = journey.restart()
    assert QApplication.activeModalWidget() is None
    assert "few-shot-sentiment" in window.statusBar().currentMessage()
    qtbot.waitUntil(lambda: window.output.text() == answer, timeout=10_000)
    assert window.editor.template().name == "few-shot-sentiment"
    params = window.params.params()
    assert params.temperature == pytest.approx(0.9) and params.max_tokens == 16
    assert not params.greedy
    qtbot.waitUntil(lambda: len(window.history.run_ids()) == 5, timeout=10_000)
    journey.shot("restarted")
