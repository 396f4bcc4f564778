"""Quit and start again: the window comes back as it was left. The open template with its
variable values, the repeat count and its last answer; unsaved edits of a clean quit come back
without a question (a crash still asks: tests/ui/test_main_window.py)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QApplication, QLabel
from pytestqt.qtbot import QtBot

from tests.ui.prompt_typing import replace_message
from tests.ui.windows import close_window, open_window, press_save, shot
from workbench.app import create_application, open_main_window
from workbench.backends.config import BackendConfig, save_configs
from workbench.core.builtin_templates import few_shot_sentiment
from workbench.core.models import Message, PromptTemplate
from workbench.core.template_files import dumps
from workbench.ui import theming
from workbench.ui.main_window import MainWindow

RUN_TIMEOUT_MS = 120_000


def _quit(window: MainWindow) -> None:
    assert window.close()
    window.workspace.close()
    window.deleteLater()
    QApplication.processEvents()


def _no_question() -> None:
    assert QApplication.activeModalWidget() is None


def test_values_repeat_count_and_last_answer_come_back_after_a_restart(qtbot: QtBot) -> None:
    window = open_window(qtbot, closed_by_qtbot=False)
    qtbot.keyClick(window, Qt.Key.Key_N, Qt.KeyboardModifier.ControlModifier)
    replace_message(qtbot, window, "Name one colour of {{ thing }}.")
    qtbot.waitUntil(lambda: "thing" in window.variables.names(), timeout=10_000)
    field = window.variables.editor("thing")
    field.setFocus()
    qtbot.keyClicks(field, "the sea")
    window.params.rows["max_tokens"].spin.setValue(12)
    press_save(qtbot, window, "colours")
    qtbot.waitUntil(lambda: window.key == "colours" and not window.dirty, timeout=20_000)
    window.repeat.setValue(2)
    qtbot.mouseClick(window.run_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.output.state == "finished", timeout=RUN_TIMEOUT_MS)
    qtbot.waitUntil(lambda: not window.cancel_button.isEnabled(), timeout=RUN_TIMEOUT_MS)
    answer = window.output.text()
    assert answer.strip()
    _quit(window)

    window = open_window(qtbot)
    try:
        _no_question()
        assert window.key == "colours" and not window.dirty
        qtbot.waitUntil(lambda: window.variables.values().get("thing") == "the sea")
        assert window.repeat.value() == 2
        qtbot.waitUntil(lambda: window.output.text() == answer, timeout=10_000)
        assert window.output.state == "finished"
        assert window.lower_tabs.currentWidget() is window.output
        shot(window, "session_restored")
    finally:
        close_window(window)


def test_a_template_files_last_answer_comes_back_after_a_restart(
    qtbot: QtBot, tmp_path: Path
) -> None:
    """As a library template's does: the output was empty after a restart (a first-time
    user's walk), as nothing but a library key found the newest run."""
    path = tmp_path / "colour.prompt.yaml"
    path.write_text(dumps(PromptTemplate(name="colour", messages=[
        Message(role="user", content="Name one colour.")])), encoding="utf-8")
    window = open_window(qtbot, closed_by_qtbot=False)
    assert window.open_path(path)
    window.params.rows["max_tokens"].spin.setValue(8)
    qtbot.keyClick(window.editor, Qt.Key.Key_S, Qt.KeyboardModifier.ControlModifier)  # its file
    qtbot.waitUntil(lambda: not window.dirty, timeout=10_000)
    qtbot.mouseClick(window.run_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.output.state == "finished", timeout=RUN_TIMEOUT_MS)
    qtbot.waitUntil(lambda: len(window.history.run_ids()) == 1, timeout=10_000)
    answer = window.output.text()
    assert window.open_path(path)  # opened again (from a file manager): the output is cleared
    assert window.output.text() == ""
    _quit(window)

    window = open_window(qtbot)
    try:
        _no_question()
        assert window.document.path == path
        qtbot.waitUntil(lambda: window.output.text() == answer, timeout=10_000)
    finally:
        close_window(window)


def test_unsaved_edits_of_a_clean_quit_come_back_without_asking(qtbot: QtBot) -> None:
    window = open_window(qtbot, closed_by_qtbot=False)
    window.open_library_template("welcome")
    qtbot.waitUntil(lambda: window.key == "welcome")
    replace_message(qtbot, window, "Tell me one fact about {{ topic }}.")
    qtbot.waitUntil(lambda: window.dirty)
    _quit(window)

    window = open_window(qtbot)
    try:
        _no_question()
        assert window.key == "welcome" and window.dirty
        assert window.editor.template().messages[0].content == "Tell me one fact about {{ topic }}."
        assert "unsaved edits" in window.statusBar().currentMessage().lower()
    finally:
        close_window(window)


def test_a_copy_of_a_built_in_left_unsaved_comes_back_after_a_clean_quit(qtbot: QtBot) -> None:
    """A gallery copy is in no library and was never edited: the quit still keeps it (it was
    lost, and the next start opened another template)."""
    window = open_window(qtbot, closed_by_qtbot=False)
    window.doc_actions._open_builtin(few_shot_sentiment())  # File ▸ New from template…'s choice
    qtbot.waitUntil(lambda: window.editor.template().name == "few-shot-sentiment")
    assert window.key is None
    _quit(window)

    window = open_window(qtbot)
    try:
        _no_question()
        assert window.key is None
        assert window.editor.template().messages == few_shot_sentiment().messages
    finally:
        close_window(window)


def test_a_file_given_at_the_next_start_opens_at_once_and_the_kept_edits_wait(
    qtbot: QtBot, tmp_path: Path
) -> None:
    """Edits kept by a clean quit, then ``workbench haiku.prompt.yaml``: the window shows the
    file without a question (none before the window, none at all); the kept edits are named
    in the status bar and come back when their template is opened."""
    window = open_window(qtbot, closed_by_qtbot=False)
    window.open_library_template("welcome")
    qtbot.waitUntil(lambda: window.key == "welcome")
    name = window.document.name
    replace_message(qtbot, window, "Tell me one fact about {{ topic }}.")
    qtbot.waitUntil(lambda: window.dirty)
    _quit(window)
    path = tmp_path / "haiku.prompt.yaml"
    haiku = PromptTemplate(name="haiku", messages=[Message(role="user", content="A haiku.")])
    path.write_text(dumps(haiku), encoding="utf-8")

    asked: list[tuple[str, bool]] = []  # each question, and whether a main window was shown

    def answer() -> None:
        dialog = QApplication.activeModalWidget()
        if dialog is not None:
            shown = any(isinstance(w, MainWindow) and w.isVisible()
                        for w in QApplication.topLevelWidgets())
            label = dialog.findChild(QLabel, "qt_msgbox_label")
            asked.append((label.text() if label is not None else dialog.windowTitle(), shown))
            dialog.close()  # Cancel

    poll = QTimer()
    poll.timeout.connect(answer)
    poll.start(20)
    create_application()
    try:
        window = open_main_window(first_run_demo=False, file=path)
    finally:
        poll.stop()
    qtbot.addWidget(window)
    try:
        assert asked == []
        assert window.isVisible()
        assert window.document.path == path and window.editor.template().name == "haiku"
        assert not window.dirty and window.key is None
        assert f"unsaved edits of “{name}”" in window.statusBar().currentMessage()
        shot(window, "file_at_start_with_kept_edits")
        window.open_library_template("welcome")  # the file is unedited: nothing to ask
        assert window.key == "welcome" and window.dirty
        assert window.editor.template().messages[0].content == "Tell me one fact about {{ topic }}."
    finally:
        close_window(window)


def test_the_backend_and_model_chosen_come_back_after_a_restart(qtbot: QtBot) -> None:
    save_configs(
        {
            "team-server": BackendConfig(
                name="team-server",
                backend="scripted",
                options={"script": [{"text": "Bonjour"}], "models": ["small", "large"]},
            )
        }
    )
    window = open_window(qtbot, closed_by_qtbot=False)
    window.picker.select("team-server", "large")
    qtbot.waitUntil(lambda: window.picker.model == "large" and bool(window.picker.models))
    _quit(window)

    window = open_window(qtbot)
    try:
        assert window.picker.backend_name == "team-server"
        qtbot.waitUntil(lambda: bool(window.picker.models), timeout=10_000)
        assert window.picker.model == "large"
    finally:
        close_window(window)


def test_a_file_the_last_session_ended_on_opens_again_with_its_values(
    qtbot: QtBot, tmp_path: Path
) -> None:
    """``workbench haiku.prompt.yaml``, a value typed, quit; a start without a file reopens the
    file (it used to open the first library template) with the value."""
    path = tmp_path / "haiku.prompt.yaml"
    haiku = PromptTemplate(
        name="haiku", messages=[Message(role="user", content="A haiku about {{ topic }}.")]
    )
    path.write_text(dumps(haiku), encoding="utf-8")
    create_application()
    window = open_main_window(first_run_demo=False, file=path)
    qtbot.waitUntil(lambda: "topic" in window.variables.names(), timeout=10_000)
    field = window.variables.editor("topic")
    field.setFocus()
    qtbot.keyClicks(field, "rain")
    _quit(window)

    window = open_window(qtbot)
    try:
        _no_question()
        assert window.document.path == path and not window.dirty
        qtbot.waitUntil(lambda: window.variables.values().get("topic") == "rain")
    finally:
        close_window(window)


def test_the_theme_chosen_comes_back_after_a_restart(qtbot: QtBot, theme: theming.Theme) -> None:
    """View ▸ Dark theme, quit, start: dark again (it came back light, on Auto theme)."""
    window = open_window(qtbot, closed_by_qtbot=False)
    dark = next(a for a in window.menuBar().findChildren(QAction) if a.text() == "Dark theme")
    dark.trigger()
    assert theme.mode == "dark"
    _quit(window)
    theme.set_mode("auto")  # as a new process starts

    window = open_window(qtbot)
    try:
        assert theme.mode == "dark" and theme.dark
    finally:
        close_window(window)
