"""Restoring runs from the history in the real main window, on the real embedded model."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from tests.storage.factories import make_result
from tests.ui.windows import shot, window
from workbench.services.runner import build_request
from workbench.storage.repositories import RunRef
from workbench.ui.main_window import MainWindow
from workbench.ui.run_restore import GONE, NEVER_SAVED

__all__ = ["window"]

RUN_TIMEOUT_MS = 120_000


@pytest.mark.slow
def test_a_run_of_a_never_saved_prompt_restores_what_it_sent(
    qtbot: QtBot, window: MainWindow
) -> None:
    qtbot.keyClick(window, Qt.Key.Key_N, Qt.KeyboardModifier.ControlModifier)
    editor = window.editor.editor_for("messages[0] (user)")
    assert editor is not None
    editor.setFocus()
    qtbot.keyClicks(editor, "Write a haiku about {{ thing }}.")
    qtbot.waitUntil(lambda: "thing" in window.variables.names(), timeout=5000)
    field = window.variables.editor("thing")
    field.setFocus()
    qtbot.keyClicks(field, "rain {{ x }}")  # a value with braces: sent as text, kept as text
    spin = window.params.rows["max_tokens"].spin
    spin.setFocus()
    spin.selectAll()
    qtbot.keyClicks(spin, "12")
    qtbot.keyClick(spin, Qt.Key.Key_Tab)
    qtbot.waitUntil(lambda: window.params.params().max_tokens == 12)
    qtbot.mouseClick(window.run_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.output.state == "finished", timeout=RUN_TIMEOUT_MS)
    answer = window.output.text()
    qtbot.waitUntil(lambda: len(window.history.run_ids()) == 1, timeout=10_000)

    qtbot.keyClick(window, Qt.Key.Key_N, Qt.KeyboardModifier.ControlModifier)  # Discard
    qtbot.waitUntil(lambda: window.editor.template().messages[0].content == "")
    window.history.runActivated.emit(window.history.run_ids()[0])

    restored = window.editor.template()
    assert [m.content for m in restored.messages] == ["Write a haiku about rain {{ x }}."]
    assert restored.messages[0].literal
    assert restored.name.startswith("run ")
    assert window.key is None  # an unsaved document, not a library template
    assert window.statusBar().currentMessage() == NEVER_SAVED
    assert window.params.params().max_tokens == 12
    assert window.output.text() == answer and window.output.state == "finished"
    # Run again, it sends exactly what the restored run sent.
    stored = window.workspace.store.runs.get(window.history.run_ids()[0])
    again = build_request(restored, window.variables.values(), backend="x", model="")
    assert [(m.role, m.content) for m in again.messages] == [
        (m.role, m.content) for m in stored.result.request.messages
    ]
    # The values are in the literal text now: no variable is left to fill.
    qtbot.waitUntil(lambda: window.variables.names() == [], timeout=10_000)
    shot(window, "restore_never_saved_run")


def test_a_run_whose_template_version_is_gone_restores_what_it_sent(
    qtbot: QtBot, window: MainWindow
) -> None:
    # A run from another machine's history (a bundle): its template is not in this library.
    sent = make_result("Explain {{ braces }} in Jinja.", "They mark expressions.")
    run_id = window.workspace.store.runs.add(
        sent, RunRef(template_key="imported-template", template_version=3)
    )
    window.history.refresh()
    qtbot.waitUntil(lambda: window.history.run_ids() == [run_id], timeout=10_000)
    window.history.runActivated.emit(run_id)
    restored = window.editor.template()
    assert [(m.role, m.content) for m in restored.messages] == [
        (m.role, m.content) for m in sent.request.messages
    ]
    assert all(m.literal for m in restored.messages)
    assert window.key is None and window.statusBar().currentMessage() == GONE
    assert window.output.text() == "They mark expressions."
