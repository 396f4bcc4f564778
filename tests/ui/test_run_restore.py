"""Restoring runs from the history in the real main window, on the real embedded model."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox
from pytestqt.qtbot import QtBot

from tests.storage.factories import make_result
from tests.ui.prompt_typing import replace_message
from tests.ui.windows import press_save, shot, window
from workbench.core.models import Message, PromptTemplate
from workbench.services.runner import build_request
from workbench.storage.repositories import RunRef
from workbench.ui.main_window import MainWindow
from workbench.ui.run_restore import AS_RAN, EDIT_AS_RAN, GONE, NEVER_SAVED

__all__ = ["window"]

RUN_TIMEOUT_MS = 120_000


@pytest.mark.slow
def test_a_run_of_an_untitled_draft_restores_its_template_and_joins_it_when_saved(
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
    run_id = window.history.run_ids()[0]

    qtbot.keyClick(window, Qt.Key.Key_N, Qt.KeyboardModifier.ControlModifier)  # Discard
    qtbot.waitUntil(lambda: window.editor.template().messages[0].content == "")
    window.history.runActivated.emit(run_id)

    # The template as it ran, its variable and value apart (they were lost before: the run
    # came back as literal text with the value typed in).
    restored = window.editor.template()
    assert [m.content for m in restored.messages] == ["Write a haiku about {{ thing }}."]
    assert not restored.messages[0].literal
    assert window.variables.values() == {"thing": "rain {{ x }}"}
    assert window.key is None  # an unsaved document, not a library template
    assert window.statusBar().currentMessage() == AS_RAN
    assert window.params.params().max_tokens == 12
    assert window.output.text() == answer and window.output.state == "finished"
    # Run again, it sends exactly what the restored run sent.
    stored = window.workspace.store.runs.get(run_id)
    again = build_request(restored, window.variables.values(), backend="x", model="")
    assert [(m.role, m.content) for m in again.messages] == [
        (m.role, m.content) for m in stored.result.request.messages
    ]
    shot(window, "restore_never_saved_run")

    # Saved at last: the draft's earlier run is listed as a run of that template.
    press_save(qtbot, window, "Rain haiku")
    qtbot.waitUntil(lambda: window.key == "rain-haiku" and not window.dirty, timeout=10_000)
    qtbot.waitUntil(
        lambda: window.workspace.store.runs.get(run_id).ref.template_key == "rain-haiku",
        timeout=10_000)
    qtbot.waitUntil(lambda: window.history.model.rows[0].label.startswith("rain-haiku v1 · "),
                    timeout=10_000)


@pytest.mark.slow
def test_runs_of_a_draft_become_runs_of_the_template_it_is_saved_as(
    qtbot: QtBot, window: MainWindow
) -> None:
    qtbot.keyClick(window, Qt.Key.Key_N, Qt.KeyboardModifier.ControlModifier)
    replace_message(qtbot, window, "Name one {{ animal }}.")
    qtbot.waitUntil(lambda: "animal" in window.variables.names(), timeout=5000)
    field = window.variables.editor("animal")
    field.setFocus()
    qtbot.keyClicks(field, "bird")
    window.params.rows["max_tokens"].spin.setValue(8)

    def run_it(count: int) -> str:
        qtbot.keyClick(window.editor, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
        qtbot.waitUntil(lambda: len(window.history.run_ids()) == count, timeout=RUN_TIMEOUT_MS)
        return window.history.run_ids()[0]

    first = run_it(1)
    assert window.history.model.rows[0].label == "untitled (unsaved) · bird"  # no name yet
    replace_message(qtbot, window, "Name two {{ animal }}s.")
    second = run_it(2)
    press_save(qtbot, window, "Animals")
    qtbot.waitUntil(lambda: window.key == "animals", timeout=10_000)
    # The run of what was saved is a run of v1; the one before, of an unsaved draft of it.
    qtbot.waitUntil(lambda: [r.label for r in window.history.model.rows] == [
        "animals v1 · bird", "animals (unsaved) · bird"], timeout=10_000)
    refs = [window.workspace.store.runs.get(i).ref for i in (first, second)]
    assert [(r.template_key, r.template_version) for r in refs] == [
        ("animals", None), ("animals", 1)]
    shot(window, "draft_runs_joined")
    # The earlier one restores as it ran, an edit of the template (its name and declarations
    # the library's, not the draft's "untitled"); the other opens v1 as it is.
    window.history.runActivated.emit(first)
    assert window.editor.template().messages[0].content == "Name one {{ animal }}."
    qtbot.waitUntil(lambda: window.variables.values() == {"animal": "bird"}, timeout=5000)
    assert (window.key, window.version, window.dirty) == ("animals", 1, True)
    assert window.editor.template().name == "Animals"
    window.history.runActivated.emit(second)  # discards the edit (the fixture answers)
    assert (window.key, window.version, window.dirty) == ("animals", 1, False)
    assert window.editor.template().messages[0].content == "Name two {{ animal }}s."


def test_a_run_of_an_unsaved_edit_restores_the_edit_over_its_template(
    qtbot: QtBot, window: MainWindow, monkeypatch: pytest.MonkeyPatch
) -> None:
    library = window.workspace.library
    base = PromptTemplate(name="Greeting", messages=[
        Message(role="user", content="Say hello to {{ who }}.")])
    library.save(base, key="greeting")
    edit = base.model_copy(update={"messages": [
        Message(role="user", content="Say hello to {{ who }}, in French.")]})
    sent = make_result("Say hello to Ana, in French.", "Bonjour Ana !")
    run_id = window.workspace.store.runs.add(sent, RunRef(
        template_key="greeting", variables={"who": "Ana"}, template=edit))
    window.history.refresh()
    qtbot.waitUntil(lambda: run_id in window.history.run_ids(), timeout=10_000)
    window.history.runActivated.emit(run_id)
    # Before, the newest saved version came back beside the French answer it never gave.
    assert window.editor.template().messages == edit.messages
    assert (window.key, window.version, window.dirty) == ("greeting", 1, True)
    qtbot.waitUntil(lambda: window.variables.values() == {"who": "Ana"}, timeout=5000)
    assert window.statusBar().currentMessage() == EDIT_AS_RAN.format(name="Greeting")
    assert window.output.text() == "Bonjour Ana !"
    # Opening another run asks nothing: the edit is the run's, not the person's (asked, Save
    # would have made the old text a new version).
    asked: list[str] = []
    monkeypatch.setattr(MainWindow, "ask_unsaved", lambda _self, name: asked.append(name)
                        or QMessageBox.StandardButton.Cancel)
    plain = window.workspace.store.runs.add(make_result("Say hello to Bo.", "Hello Bo!"), RunRef(
        template_key="greeting", template_version=1, variables={"who": "Bo"}))
    window.history.runActivated.emit(plain)
    assert asked == [] and window.editor.template().messages == base.messages
    window.history.runActivated.emit(run_id)
    replace_message(qtbot, window, "Say hello to {{ who }}, in Spanish.")  # now it is theirs
    window.history.runActivated.emit(plain)
    assert asked == ["Greeting"]  # asked, and Cancel kept the edit
    assert window.editor.template().messages[0].content.endswith("in Spanish.")


def test_an_older_run_that_kept_no_template_restores_what_it_sent(
    qtbot: QtBot, window: MainWindow
) -> None:
    sent = make_result("Write a haiku about rain {{ x }}.", "Drops.")
    run_id = window.workspace.store.runs.add(sent, RunRef())
    window.history.refresh()
    qtbot.waitUntil(lambda: run_id in window.history.run_ids(), timeout=10_000)
    window.history.runActivated.emit(run_id)
    restored = window.editor.template()
    assert [m.content for m in restored.messages][-1] == "Write a haiku about rain {{ x }}."
    assert all(m.literal for m in restored.messages) and restored.name.startswith("run ")
    assert window.key is None and window.statusBar().currentMessage() == NEVER_SAVED
    qtbot.waitUntil(lambda: window.variables.names() == [], timeout=10_000)


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
