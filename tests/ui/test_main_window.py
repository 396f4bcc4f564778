"""The main window, driven the way a person uses it, on the real embedded model."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QMessageBox
from pytestqt.qtbot import QtBot

from tests.ui.prompt_typing import replace_message
from tests.ui.windows import close_window as _close
from tests.ui.windows import open_window as _open
from tests.ui.windows import press_save
from tests.ui.windows import shot as _shot
from workbench.ui import theming
from workbench.ui.compare.sweep_view import SweepView
from workbench.ui.main_window import MainWindow

RUN_TIMEOUT_MS = 120_000


@pytest.fixture(autouse=True)
def answers(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The question about unsaved edits, answered "Discard" unless a test says otherwise."""
    asked: list[str] = []

    def ask(self: MainWindow, name: str) -> QMessageBox.StandardButton:
        asked.append(name)
        return QMessageBox.StandardButton.Discard

    monkeypatch.setattr(MainWindow, "ask_unsaved", ask)
    return asked


@pytest.fixture
def window(qtbot: QtBot) -> Iterator[MainWindow]:
    window = _open(qtbot)
    yield window
    _close(window)


def _save(qtbot: QtBot, window: MainWindow, name: str | None = None) -> None:
    """Ctrl+S, then wait until the writer thread has written the version."""
    press_save(qtbot, window, name)
    qtbot.waitUntil(lambda: not window.dirty and "Saved" in window.statusBar().currentMessage())


def _wait_state(qtbot: QtBot, window: MainWindow, *states: str) -> None:
    qtbot.waitUntil(lambda: window.output.state in states, timeout=RUN_TIMEOUT_MS)


@pytest.mark.slow
def test_first_start_streams_the_welcome_answer(qtbot: QtBot) -> None:
    window = _open(qtbot, demo=True)
    try:
        assert window.library.template_keys() == ["welcome"]
        qtbot.waitUntil(
            lambda: window.output.state == "streaming" or bool(window.output.text()),
            timeout=RUN_TIMEOUT_MS,
        )
        _wait_state(qtbot, window, "finished")
        assert window.output.text().strip()
        assert window.output.cost_label.text() == "free"  # the embedded model costs nothing
        assert window.preview.cost_label.text() == "free (local)"
        qtbot.waitUntil(lambda: len(window.history.run_ids()) == 1)
        assert window.history.model.rows[0].label == "welcome v1"
        theming.install(QApplication.instance(), "light")  # type: ignore[arg-type]
        _shot(window, "main_window_light")
        theming.install(QApplication.instance(), "dark")  # type: ignore[arg-type]
        _shot(window, "main_window_dark")
        theming.install(QApplication.instance(), "auto")  # type: ignore[arg-type]
        # A new document starts with an empty output, not the last document's answer.
        qtbot.keyClick(window, Qt.Key.Key_N, Qt.KeyboardModifier.ControlModifier)
        assert window.editor.template().name == "untitled"
        assert window.output.state == "idle" and window.output.text() == ""
        assert window.output.status.text() == "No run yet" and not window.output.ttft_label.text()
    finally:
        _close(window)


@pytest.mark.slow
def test_edit_count_preset_run_cancel_history_restore(qtbot: QtBot, window: MainWindow) -> None:
    # Start a new template and type it.
    qtbot.keyClick(window, Qt.Key.Key_N, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: window.editor.template().name == "untitled")
    replace_message(qtbot, window, "Summarize {{ ticket }} in one line.")
    qtbot.waitUntil(lambda: "ticket" in window.variables.names(), timeout=5000)

    # Without a value there is nothing to count; fill the variable and watch the count change.
    qtbot.waitUntil(lambda: "Give 'ticket' a value" in window.token_summary.text(), timeout=10_000)
    field = window.variables.editor("ticket")
    field.setFocus()
    qtbot.keyClicks(field, "The printer")
    qtbot.waitUntil(lambda: "tokens" in window.token_summary.text(), timeout=10_000)
    before = window.token_summary.text()
    qtbot.keyClicks(field, " on floor 3 jams every morning since the update.")
    qtbot.waitUntil(lambda: window.token_summary.text() != before, timeout=10_000)

    # Pick a preset, then a small answer budget.
    window.params.preset_combo.setFocus()
    qtbot.keyClicks(window.params.preset_combo, "Det")
    qtbot.waitUntil(lambda: window.params.params().greedy)
    spin = window.params.rows["max_tokens"].spin
    spin.setFocus()
    spin.selectAll()
    qtbot.keyClicks(spin, "200")
    qtbot.keyClick(spin, Qt.Key.Key_Tab)
    qtbot.waitUntil(lambda: window.params.params().max_tokens == 200)

    # Save (Ctrl+S) so the run belongs to a library version.
    press_save(qtbot, window)
    qtbot.waitUntil(lambda: window.version is not None and not window.dirty)
    saved_key, saved_version = window.key, window.version
    assert saved_key in window.library.template_keys()

    # Run (Ctrl+Enter), watch it stream, cancel it (Esc).
    editor = window.editor.editor_for("messages[0] (user)")
    assert editor is not None
    qtbot.keyClick(editor, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: len(window.output.text()) > 0, timeout=RUN_TIMEOUT_MS)
    qtbot.keyClick(editor, Qt.Key.Key_Escape)
    _wait_state(qtbot, window, "cancelled", "finished")
    assert window.output.state == "cancelled"

    # Run again to the end.
    qtbot.mouseClick(window.run_button, Qt.MouseButton.LeftButton)
    _wait_state(qtbot, window, "streaming", "running")
    _wait_state(qtbot, window, "finished")
    answer = window.output.text()

    # Find the runs in history.
    qtbot.waitUntil(lambda: len(window.history.run_ids()) == 2, timeout=10_000)
    window.history.search.setFocus()
    qtbot.keyClicks(window.history.search, "printer")
    qtbot.waitUntil(lambda: len(window.history.run_ids()) == 2, timeout=10_000)
    window.history.search.clear()
    qtbot.keyClicks(window.history.search, "zebra")
    qtbot.waitUntil(lambda: window.history.run_ids() == [], timeout=10_000)
    window.history.search.clear()
    qtbot.waitUntil(lambda: len(window.history.run_ids()) == 2, timeout=10_000)

    # Change everything, then restore the finished run from history.
    replace_message(qtbot, window, "Something else entirely")
    window.variables.set_values({"ticket": "changed"})
    finished = window.history.run_ids()[0]
    window.history.runActivated.emit(finished)
    qtbot.waitUntil(lambda: "{{ ticket }}" in window.editor.template().messages[0].content)
    assert (window.key, window.version) == (saved_key, saved_version)
    assert window.variables.values()["ticket"].startswith("The printer on floor 3")
    assert window.params.params().max_tokens == 200
    assert window.params.params().greedy  # as asked, not as llama.cpp received it
    assert window.output.text() == answer
    _shot(window, "main_window_restored_run")


def test_opening_the_app_and_a_template_asks_nothing(
    qtbot: QtBot, window: MainWindow, answers: list[str]
) -> None:
    window.open_library_template("welcome")
    qtbot.keyClick(window.editor, Qt.Key.Key_N, Qt.KeyboardModifier.ControlModifier)
    assert answers == []


def test_save_quit_restart_reopen(qtbot: QtBot) -> None:
    window = _open(qtbot)
    qtbot.keyClick(window, Qt.Key.Key_N, Qt.KeyboardModifier.ControlModifier)
    replace_message(qtbot, window, "Translate {{ text }} into French.")
    qtbot.waitUntil(lambda: "{{ text }}" in window.editor.template().messages[0].content)
    _save(qtbot, window)
    key = window.key
    window.library_dock.hide()
    _close(window)

    reopened = _open(qtbot)
    try:
        assert reopened.key == key
        assert reopened.editor.template().messages[0].content == "Translate {{ text }} into French."
        assert not reopened.library_dock.isVisible()  # the layout is remembered
    finally:
        _close(reopened)


def test_unsaved_edits_are_offered_back_after_a_crash(
    qtbot: QtBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    window = _open(qtbot, closed_by_qtbot=False)  # it "dies": nobody closes it
    qtbot.keyClick(window, Qt.Key.Key_N, Qt.KeyboardModifier.ControlModifier)
    replace_message(qtbot, window, "Draft that was never saved")
    qtbot.waitUntil(lambda: window.workspace.autosave.drafts() != [], timeout=10_000)
    window.workspace.close()  # the process "dies": no closeEvent, no save
    window.deleteLater()

    from PySide6.QtWidgets import QMessageBox

    asked: list[tuple[Qt.WindowModality, bool]] = []

    def restore(box: QMessageBox) -> int:  # asked on the shown window, modal to it alone
        asked.append((box.windowModality(), box.parentWidget().isVisible()))
        return int(QMessageBox.StandardButton.Yes)

    monkeypatch.setattr(QMessageBox, "exec", restore)
    recovered = _open(qtbot)
    try:
        assert asked == [(Qt.WindowModality.WindowModal, True)]
        assert recovered.editor.template().messages[0].content == "Draft that was never saved"
        assert recovered.dirty
    finally:
        _close(recovered)


def test_compare_and_sweep_start_from_the_current_prompt(qtbot: QtBot, window: MainWindow) -> None:
    qtbot.keyClick(window, Qt.Key.Key_N, Qt.KeyboardModifier.ControlModifier)
    replace_message(qtbot, window, "Name a colour.")
    qtbot.waitUntil(lambda: window.editor.template().messages[0].content == "Name a colour.")
    qtbot.keyClick(
        window.editor,
        Qt.Key.Key_K,
        Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier,
    )
    qtbot.waitUntil(lambda: len(window.child_windows) == 1)
    compare = window.child_windows[0]
    assert [v.template.messages[0].content for v in compare.variants()] == ["Name a colour."]
    # Run ▸ Sweep parameters… (Ctrl+Shift+W) from the main window, not only from a comparison.
    window.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window)
    qtbot.keyClick(
        window.editor,
        Qt.Key.Key_W,
        Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier,
    )
    qtbot.waitUntil(lambda: len(window.child_windows) == 2)
    sweep = window.child_windows[1]
    assert isinstance(sweep, SweepView) and sweep.base == window.current_variant()


def test_an_evaluation_suite_runs_from_the_tools_menu(
    qtbot: QtBot, window: MainWindow, tmp_path: Path
) -> None:
    from workbench.backends.config import add_config

    add_config("french", "scripted", {"script": [{"text": "Bonjour le monde"}]})
    (tmp_path / "suite.yaml").write_text(
        "name: greet\n"
        "tests:\n"
        "  - vars: {text: hello}\n"
        "    expected: Bonjour le monde\n"
        "  - vars: {text: bye}\n"
        "    expected: Au revoir\n"
        "variants:\n"
        "  - label: inline\n"
        "    prompt: 'Say {{ text }} in French'\n"
        "    backend: french\n"
        "assert:\n"
        "  - {type: icontains, value: monde}\n"
        "criteria: ['pass_rate >= 0.5']\n",
        encoding="utf-8",
    )
    suite = window.open_suite(tmp_path / "suite.yaml")
    qtbot.waitUntil(lambda: suite.scorecard.isVisible(), timeout=60_000)
    assert "criteria met" in suite.status.text()
    assert suite.scorecard.grid.rowCount() == 2
    _shot(suite, "evaluation_suite_window")  # type: ignore[arg-type]


def test_unsaved_edits_are_never_dropped_without_asking(
    qtbot: QtBot, window: MainWindow, monkeypatch: pytest.MonkeyPatch, answers: list[str]
) -> None:
    replace_message(qtbot, window, "My precious unsaved prompt")
    qtbot.waitUntil(lambda: window.dirty)
    monkeypatch.setattr(
        MainWindow, "ask_unsaved", lambda self, name: QMessageBox.StandardButton.Cancel
    )
    qtbot.keyClick(window.editor, Qt.Key.Key_N, Qt.KeyboardModifier.ControlModifier)
    assert window.editor.template().messages[0].content == "My precious unsaved prompt"
    window.open_library_template("welcome")
    assert window.editor.template().messages[0].content == "My precious unsaved prompt"

    monkeypatch.setattr(
        MainWindow, "ask_unsaved", lambda self, name: QMessageBox.StandardButton.Save
    )
    qtbot.keyClick(window.editor, Qt.Key.Key_N, Qt.KeyboardModifier.ControlModifier)
    assert window.editor.template().name == "untitled"
    saved = window.workspace.library.load("welcome")
    assert saved.messages[0].content == "My precious unsaved prompt"


def test_two_new_templates_never_share_a_library_key(qtbot: QtBot, window: MainWindow) -> None:
    keys = []
    for text in ("Name one {{ thing }}.", "A different prompt about {{ city }}."):
        qtbot.keyClick(window.editor, Qt.Key.Key_N, Qt.KeyboardModifier.ControlModifier)
        replace_message(qtbot, window, text)
        qtbot.waitUntil(lambda text=text: window.editor.template().messages[0].content == text)
        _save(qtbot, window)
        keys.append(window.key)
    assert keys[0] != keys[1]
    assert window.workspace.library.versions(keys[1])[0].number == 1


def test_typing_goes_on_while_a_save_is_written(
    qtbot: QtBot, window: MainWindow, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ctrl+S writes on the saver's thread (a 100k-token template takes seconds to write): the
    editor takes keys meanwhile, a second Ctrl+S makes no second template, and the edits typed
    during the save stay unsaved (and keep their draft)."""
    library = window.workspace.library
    real_save = library.save
    writing, release = threading.Event(), threading.Event()

    def slow_save(*args: Any, **kwargs: Any) -> Any:
        writing.set()
        assert release.wait(30)
        return real_save(*args, **kwargs)

    monkeypatch.setattr(library, "save", slow_save)
    qtbot.keyClick(window.editor, Qt.Key.Key_N, Qt.KeyboardModifier.ControlModifier)
    replace_message(qtbot, window, "First draft")
    qtbot.waitUntil(lambda: window.editor.template().messages[0].content == "First draft")
    press_save(qtbot, window)
    assert writing.wait(10)
    assert "saving…" in window.title.text()
    editor = window.editor.editor_for("messages[0] (user)")
    assert editor is not None
    qtbot.keyClicks(editor, ", then more")  # the GUI thread is free while the file is written
    qtbot.waitUntil(lambda: window.editor.template().messages[0].content.endswith("more"))
    qtbot.keyClick(window.editor, Qt.Key.Key_S, Qt.KeyboardModifier.ControlModifier)
    release.set()
    qtbot.waitUntil(lambda: not window.dirty and window.version == 2, timeout=30_000)
    assert [e.key for e in library.entries()].count(window.key) == 1
    assert library.load(window.key).messages[0].content == "First draft, then more"
    qtbot.keyClicks(editor, "!")
    qtbot.waitUntil(lambda: "(unsaved)" in window.title.text())


def test_answering_save_waits_for_the_written_version(
    qtbot: QtBot, window: MainWindow, monkeypatch: pytest.MonkeyPatch
) -> None:
    replace_message(qtbot, window, "Keep me")
    qtbot.waitUntil(lambda: window.dirty)
    monkeypatch.setattr(
        MainWindow, "ask_unsaved", lambda self, name: QMessageBox.StandardButton.Save
    )
    window.open_library_template("welcome")  # asks, saves, and only then replaces the document
    assert not window.dirty
    assert window.workspace.library.load(window.key or "").messages[0].content == "Keep me"
