"""A template opened from a file (the command line, File ▸ Open file…) is that file, as in any
editor: Ctrl+S writes it back (asking first when it changed on disk), the title shows its
path; File ▸ Save as file… binds any template to a file, and File ▸ Add to library… still
puts a copy in the library."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QFileDialog, QMessageBox, QWidget
from pytestqt.qtbot import QtBot

from tests.journeys.conftest import menu_action, with_modal
from tests.ui.prompt_typing import replace_message
from tests.ui.windows import back_to, shot, window
from workbench.backends.config import add_config
from workbench.core.models import Message, PromptTemplate, Variable
from workbench.core.template_files import dumps, read_template
from workbench.ui.dialogs.template_details import TemplateDetailsDialog
from workbench.ui.main_window import MainWindow
from workbench.ui.run_restore import FILE_AS_RAN, FILE_EDIT_AS_RAN

__all__ = ["window"]

CTRL = Qt.KeyboardModifier.ControlModifier


def _haiku_file(folder: Path) -> Path:
    path = folder / "other.prompt.yaml"
    haiku = PromptTemplate(
        name="haiku",
        messages=[Message(role="user", content="Write a haiku about {{ subject }}.")],
        variables=[Variable(name="subject", default="autumn rain")],
    )
    path.write_text(f"# my haiku prompt, kept in git\n{dumps(haiku)}", encoding="utf-8")
    return path


def _save(qtbot: QtBot, window: MainWindow) -> None:
    qtbot.keyClick(window.editor, Qt.Key.Key_S, CTRL)


def _click(text: str) -> object:
    def drive(dialog: QWidget) -> None:
        assert isinstance(dialog, QMessageBox)
        assert "changed on disk" in dialog.text()
        button = next(b for b in dialog.buttons() if b.text() == text)
        button.click()
    return drive


def test_ctrl_s_writes_a_file_opened_back_to_it(
    qtbot: QtBot, window: MainWindow, tmp_path: Path
) -> None:
    path = _haiku_file(tmp_path)
    original = path.read_text(encoding="utf-8")
    keys = window.library.template_keys()
    assert window.open_path(path)
    assert window.document.path == path
    assert str(path) in window.windowTitle() and str(path) in window.title.text()
    _save(qtbot, window)  # nothing edited: the file is rewritten as it was, comment and all
    assert QApplication.activeModalWidget() is None  # no "Save to the library" naming
    qtbot.waitUntil(lambda: not window.document.saving)
    assert path.read_text(encoding="utf-8") == original

    replace_message(qtbot, window, "Write a limerick about {{ subject }}.")
    qtbot.waitUntil(lambda: window.dirty)
    _save(qtbot, window)
    assert QApplication.activeModalWidget() is None
    qtbot.waitUntil(lambda: not window.dirty, timeout=10_000)
    saved = read_template(path)
    assert saved.messages[0].content == "Write a limerick about {{ subject }}."
    assert [v.name for v in saved.variables] == ["subject"]
    # Only the message was written afresh: the comment and the rest are as the file had them.
    assert path.read_text(encoding="utf-8") == original.replace("haiku about", "limerick about")
    assert window.library.template_keys() == keys  # nothing went to the library
    assert not (window.workspace.library.folder / "haiku.prompt.yaml").exists()
    assert f"Saved {path}" in window.statusBar().currentMessage()
    shot(window, "file_document_saved")


def test_a_file_changed_on_disk_is_not_overwritten_without_asking(
    qtbot: QtBot, window: MainWindow, tmp_path: Path
) -> None:
    path = _haiku_file(tmp_path)
    assert window.open_path(path)
    replace_message(qtbot, window, "Write a sonnet about {{ subject }}.")
    qtbot.waitUntil(lambda: window.dirty)
    theirs = "format_version: 1\nname: haiku\nmessages:\n- role: user\n  content: Edited in vim.\n"
    path.write_text(theirs, encoding="utf-8")  # another program changed it meanwhile
    with_modal(qtbot, _click("Cancel"), lambda: _save(qtbot, window))
    back_to(qtbot, window)
    assert path.read_text(encoding="utf-8") == theirs and window.dirty
    with_modal(qtbot, _click("Overwrite"), lambda: _save(qtbot, window))
    qtbot.waitUntil(lambda: not window.dirty, timeout=10_000)
    assert read_template(path).messages[0].content == "Write a sonnet about {{ subject }}."


def test_save_as_file_binds_any_template_and_add_to_library_keeps_the_file(
    qtbot: QtBot, window: MainWindow, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    qtbot.keyClick(window.editor, Qt.Key.Key_N, CTRL)
    qtbot.waitUntil(lambda: window.key is None)
    replace_message(qtbot, window, "Name three birds of {{ place }}.")
    qtbot.waitUntil(lambda: window.dirty)
    monkeypatch.setattr(
        QFileDialog, "getSaveFileName", lambda *_a, **_k: (str(tmp_path / "birds"), "")
    )
    menu_action(window, "Save as file").trigger()
    path = tmp_path / "birds.prompt.yaml"
    qtbot.waitUntil(lambda: window.document.path == path and not window.dirty, timeout=10_000)
    assert read_template(path).messages[0].content == "Name three birds of {{ place }}."

    replace_message(qtbot, window, "Name four birds of {{ place }}.")
    qtbot.waitUntil(lambda: window.dirty)
    _save(qtbot, window)  # now it is that file
    assert QApplication.activeModalWidget() is None
    qtbot.waitUntil(lambda: not window.dirty, timeout=10_000)
    assert read_template(path).messages[0].content == "Name four birds of {{ place }}."

    def name_it(dialog: QWidget) -> None:
        assert isinstance(dialog, TemplateDetailsDialog)
        assert dialog.windowTitle() == "Add to the library"
        dialog.name_edit.setText("birds")
        dialog.accept()

    with_modal(qtbot, name_it, lambda: menu_action(window, "Add to library").trigger())
    qtbot.waitUntil(lambda: "birds" in window.library.template_keys(), timeout=10_000)
    library = window.workspace.library
    assert library.load("birds").messages[0].content == "Name four birds of {{ place }}."
    assert window.document.path == path and window.key is None  # still the file


@pytest.mark.slow
def test_a_run_of_a_file_restores_bound_to_that_file(
    qtbot: QtBot, window: MainWindow, tmp_path: Path
) -> None:
    """Restoring a file's run said "never saved" and Ctrl+S then asked for a library name (a
    first-time user's walk): it binds the file again, an edit made since coming back unsaved."""
    path = _haiku_file(tmp_path)
    assert window.open_path(path)
    window.params.rows["max_tokens"].spin.setValue(8)
    qtbot.keyClick(window.editor, Qt.Key.Key_Return, CTRL)
    qtbot.waitUntil(lambda: len(window.history.run_ids()) == 1, timeout=120_000)
    run_id = window.history.run_ids()[0]
    assert window.history.model.rows[0].label == "other"  # by its file
    replace_message(qtbot, window, "Write a limerick about {{ subject }}.")  # then saved
    qtbot.waitUntil(lambda: window.dirty)
    _save(qtbot, window)
    qtbot.waitUntil(lambda: not window.dirty, timeout=10_000)
    qtbot.keyClick(window.editor, Qt.Key.Key_N, CTRL)
    qtbot.waitUntil(lambda: window.document.path is None)

    window.history.runActivated.emit(run_id)
    assert window.document.path == path and window.key is None
    assert window.editor.template().messages[0].content == "Write a haiku about {{ subject }}."
    assert window.dirty  # the file says limerick now: the haiku is an edit of it
    assert window.statusBar().currentMessage() == FILE_EDIT_AS_RAN.format(path=path)
    _save(qtbot, window)  # written to the file, no naming for the library
    assert QApplication.activeModalWidget() is None
    qtbot.waitUntil(lambda: not window.dirty, timeout=10_000)
    assert read_template(path).messages[0].content == "Write a haiku about {{ subject }}."
    assert path.read_text(encoding="utf-8").startswith("# my haiku prompt, kept in git\n")


def test_a_compare_column_of_a_file_restores_bound_to_that_file(
    qtbot: QtBot, window: MainWindow, tmp_path: Path
) -> None:
    """The same for a compare column (and a sweep cell): its variant keeps the file."""
    add_config("quick", "scripted", {"script": [{"text": "Leaves fall."}]})
    window.picker.reload()
    window.picker.select("quick", "")
    path = _haiku_file(tmp_path)
    assert window.open_path(path)
    compare = window.open_compare()
    with qtbot.waitSignal(compare.runAllFinished, timeout=20_000):
        compare.run_all()
    shown = compare.columns[0].shown
    assert shown is not None and shown.run_id is not None
    compare.close()
    back_to(qtbot, window)
    qtbot.keyClick(window.editor, Qt.Key.Key_N, CTRL)
    qtbot.waitUntil(lambda: window.document.path is None)
    window.history.runActivated.emit(shown.run_id)
    assert window.document.path == path and not window.dirty
    assert window.statusBar().currentMessage() == FILE_AS_RAN.format(path=path)
