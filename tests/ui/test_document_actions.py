"""Naming, saving with a message, renaming, describing, deleting (with undo) and starting from a
built-in template, driven in the real main window; and the small things around a new document."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QDialog, QMessageBox
from pytestqt.qtbot import QtBot

from tests.ui.prompt_typing import replace_message
from tests.ui.windows import back_to, shot, window
from workbench.ui.dialogs.template_details import TemplateDetailsDialog
from workbench.ui.dialogs.template_gallery import TemplateGallery
from workbench.ui.main_window import MainWindow

__all__ = ["window"]

CTRL = Qt.KeyboardModifier.ControlModifier
SHIFT = Qt.KeyboardModifier.ShiftModifier


def _modal(qtbot: QtBot, kind: type[QDialog]) -> QDialog:
    qtbot.waitUntil(lambda: isinstance(QApplication.activeModalWidget(), kind))
    dialog = QApplication.activeModalWidget()
    assert isinstance(dialog, kind)
    qtbot.waitUntil(lambda: QApplication.activeWindow() is dialog)
    return dialog


def _type_message(qtbot: QtBot, window: MainWindow, text: str) -> None:
    replace_message(qtbot, window, text)
    qtbot.waitUntil(lambda: window.editor.template().messages[0].content == text)


def _new(qtbot: QtBot, window: MainWindow, text: str) -> None:
    qtbot.keyClick(window.editor, Qt.Key.Key_N, CTRL)
    qtbot.waitUntil(lambda: window.key is None)
    _type_message(qtbot, window, text)


def test_first_save_asks_a_name_and_saves_description_tags_and_message(
    qtbot: QtBot, window: MainWindow
) -> None:
    _new(qtbot, window, "Summarize {{ ticket }} for the on-call engineer")
    qtbot.keyClick(window.editor, Qt.Key.Key_S, CTRL)
    dialog = _modal(qtbot, TemplateDetailsDialog)
    assert isinstance(dialog, TemplateDetailsDialog)
    assert dialog.name() == "summarize ticket for the on-call"  # proposed from the text
    assert dialog.name_edit.selectedText() == dialog.name()  # typing replaces it
    qtbot.keyClicks(dialog.name_edit, "On-call summary")
    assert "on-call-summary.prompt.yaml" in dialog.key_label.text()
    qtbot.keyClicks(dialog.description_edit, "For the pager rotation")
    qtbot.keyClicks(dialog.tags_edit, "support, oncall")
    qtbot.keyClicks(dialog.message_edit, "first cut")
    shot(dialog, "naming_dialog")
    qtbot.keyClick(dialog.name_edit, Qt.Key.Key_Return)
    back_to(qtbot, window)
    qtbot.waitUntil(lambda: window.version == 1 and not window.dirty)
    library = window.workspace.library
    saved = library.version("on-call-summary")
    template = saved.template()
    assert (template.name, template.description, template.tags) == (
        "On-call summary", "For the pager rotation", ["support", "oncall"]
    )
    assert saved.message == "first cut"
    assert [v.name for v in template.variables] == ["ticket"]  # declared on save
    assert "On-call summary" in window.title.text() and "v1" in window.title.text()
    assert window.statusBar().currentMessage() == "Saved “On-call summary” as v1"

    # Ctrl+S again saves at once; Ctrl+Shift+S asks for a message in a line, not a dialog.
    _type_message(qtbot, window, "Summarize {{ ticket }} for the on-call engineer, briefly")
    qtbot.keyClick(window.editor, Qt.Key.Key_S, CTRL | SHIFT)
    assert window.message_bar.isVisible() and QApplication.activeModalWidget() is None
    qtbot.waitUntil(lambda: window.message_bar.edit.hasFocus())
    qtbot.keyClicks(window.message_bar.edit, "asked for brevity")
    qtbot.keyClick(window.message_bar.edit, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: window.version == 2 and not window.dirty)
    assert library.version("on-call-summary").message == "asked for brevity"
    _type_message(qtbot, window, "Summarize {{ ticket }} for the on-call engineer, tersely")
    qtbot.keyClick(window.editor, Qt.Key.Key_S, CTRL)  # no message: how to give one is said
    qtbot.waitUntil(lambda: window.version == 3 and not window.dirty)
    assert window.statusBar().currentMessage() == (
        "Saved “On-call summary” as v3 · Save with message… (Ctrl+Shift+S) says what changed")
    assert not window.message_bar.isVisible()
    rows = [window.library.versions.item(i).text() for i in range(window.library.versions.count())]
    assert "asked for brevity" in rows[1] and "first cut" in rows[2]
    shot(window, "main_window_versions_with_messages")


def test_cancelling_the_name_saves_nothing(qtbot: QtBot, window: MainWindow) -> None:
    _new(qtbot, window, "Not yet")
    qtbot.keyClick(window.editor, Qt.Key.Key_S, CTRL)
    dialog = _modal(qtbot, TemplateDetailsDialog)
    qtbot.keyClick(dialog, Qt.Key.Key_Escape)
    back_to(qtbot, window)
    assert window.key is None and window.dirty
    assert [e.key for e in window.workspace.library.entries()] == ["welcome"]


def test_rename_from_the_library_and_delete_with_undo(qtbot: QtBot, window: MainWindow) -> None:
    window.open_library_template("welcome")
    library = window.workspace.library
    window.library.select("welcome")
    window.library.tree.setFocus()
    qtbot.keyClick(window.library.tree, Qt.Key.Key_F2)
    dialog = _modal(qtbot, TemplateDetailsDialog)
    assert isinstance(dialog, TemplateDetailsDialog)
    assert dialog.name() == "welcome"
    qtbot.keyClicks(dialog.name_edit, "Fun facts")
    qtbot.keyClick(dialog.name_edit, Qt.Key.Key_Return)
    back_to(qtbot, window)
    qtbot.waitUntil(lambda: window.key == "fun-facts")
    assert window.document.name == "Fun facts" and not window.dirty and window.version == 2
    assert [e.key for e in library.entries()] == ["fun-facts"]
    assert window.library.current_key() == "fun-facts"
    assert library.version("fun-facts").message == "renamed from “welcome”"

    window.library.tree.setFocus()
    qtbot.keyClick(window.library.tree, Qt.Key.Key_Delete)
    qtbot.waitUntil(lambda: library.entries() == [])
    qtbot.waitUntil(lambda: window.library.undo_strip.isVisible())
    assert window.key is None and window.dirty  # still open: nothing is lost
    assert window.document.template.name == "Fun facts"
    qtbot.mouseClick(window.library.undo_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: [e.key for e in library.entries()] == ["fun-facts"])
    qtbot.waitUntil(lambda: window.key == "fun-facts" and not window.dirty)
    assert len(library.versions("fun-facts")) == 2  # history kept, no extra version


def test_description_and_tags_of_the_open_template(qtbot: QtBot, window: MainWindow) -> None:
    window.open_library_template("welcome")
    dialog = window.doc_actions.edit_details()
    assert isinstance(dialog, TemplateDetailsDialog)
    dialog.description_edit.selectAll()
    qtbot.keyClicks(dialog.description_edit, "Three facts, any topic")
    dialog.tags_edit.selectAll()
    qtbot.keyClicks(dialog.tags_edit, "demo, facts")
    dialog.accept()
    qtbot.waitUntil(lambda: window.version == 2)
    assert window.document.template.tags == ["demo", "facts"] and not window.dirty
    assert window.workspace.library.load("welcome").description == "Three facts, any topic"


def test_new_from_a_built_in_template(qtbot: QtBot, window: MainWindow) -> None:
    gallery = window.doc_actions.new_from_template()
    assert isinstance(gallery, TemplateGallery)
    assert gallery.count() == 12
    gallery.select("few-shot-sentiment")
    assert "Few-shot" in gallery.title.text()
    assert "examples are data" in gallery.description.text()
    assert "Review: The battery lasts two days" in gallery.preview.toPlainText()
    shot(gallery, "new_from_template_gallery")
    gallery.accept()
    qtbot.waitUntil(lambda: window.editor.template().name == "few-shot-sentiment")
    assert window.key is None and window.version is None
    assert window.editor.template().technique == "few-shot"
    assert len(window.editor.template().examples) == 6


def test_ctrl_n_puts_the_cursor_in_the_first_message(qtbot: QtBot, window: MainWindow) -> None:
    window.editor.technique.setFocus()
    qtbot.keyClick(window.editor, Qt.Key.Key_N, CTRL)
    first = window.editor.editor_for("messages[0] (user)")
    qtbot.waitUntil(lambda: first is not None and first.hasFocus())


def test_library_highlights_the_open_template_and_version(
    qtbot: QtBot, window: MainWindow
) -> None:
    window.open_library_template("welcome")
    library = window.workspace.library
    library.save(library.load("welcome").model_copy(update={"description": "v2"}), key="welcome")
    window.library.refresh()
    window.open_library_template("welcome", 1)
    assert window.library.current_key() == "welcome"
    assert window.library.current_version() == 1  # v1 is open, not the newest
    qtbot.keyClick(window.editor, Qt.Key.Key_N, CTRL)
    assert window.library.current_key() is None  # a new document is not in the library


def test_an_unfilled_variable_is_not_an_error_while_it_is_being_filled(
    qtbot: QtBot, window: MainWindow
) -> None:
    _new(qtbot, window, "Translate {{ text }}")
    qtbot.waitUntil(lambda: "text" in window.variables.names(), timeout=5000)
    qtbot.waitUntil(lambda: window.preview.error is not None, timeout=5000)
    editor = window.editor.editor_for("messages[0] (user)")
    assert editor is not None and not editor.error_text()
    assert "Give 'text' a value" in window.preview.error_label.text()
    window.lower_tabs.setCurrentWidget(window.preview)
    assert window.preview.error_label.isVisible()
    shot(window, "main_window_unfilled_variable")
    window.run()  # a run needs it: now it is an error, in the message that uses it
    assert editor.error_text()
    assert "has no value" in window.preview.error_label.text()


def test_ctrl_n_while_an_answer_streams_clears_the_output(
    qtbot: QtBot, window: MainWindow
) -> None:
    from workbench.backends.config import add_config

    add_config("slow", "scripted", {"script": [{"text": "Old answer"}, {"hang": True}]})
    window.picker.reload()
    window.picker.select("slow", "")
    _new(qtbot, window, "Say something")
    window.run()
    qtbot.waitUntil(lambda: window.output.text() == "Old answer", timeout=10_000)
    qtbot.keyClick(window.editor, Qt.Key.Key_N, CTRL)
    assert window.output.text() == "" and window.output.state == "idle"
    window.cancel()
    qtbot.waitUntil(lambda: window.runs.active() == [], timeout=10_000)


def test_typing_leaves_the_library_where_the_person_is_looking(
    qtbot: QtBot, window: MainWindow
) -> None:
    library = window.workspace.library
    library.save(library.load("welcome").model_copy(update={"name": "other"}), key="other")
    window.library.refresh()
    window.open_library_template("welcome")
    window.library.select("other")  # browsing another template's versions
    _type_message(qtbot, window, "an edit")
    qtbot.waitUntil(lambda: window.dirty)
    assert window.library.current_key() == "other"


def test_answering_save_for_a_new_template_asks_its_name_first(
    qtbot: QtBot, window: MainWindow, monkeypatch: pytest.MonkeyPatch
) -> None:
    from PySide6.QtCore import QTimer

    _new(qtbot, window, "Never saved yet")
    monkeypatch.setattr(
        MainWindow, "ask_unsaved", lambda self, name: QMessageBox.StandardButton.Save
    )

    def name_it() -> None:
        dialog = QApplication.activeModalWidget()
        assert isinstance(dialog, TemplateDetailsDialog)
        dialog.name_edit.setText("kept")
        dialog.accept()

    QTimer.singleShot(0, name_it)  # the question's dialog runs its own event loop
    window.doc_actions.new_from_template()  # replacing the document: save first
    assert window.workspace.library.load("kept").messages[0].content == "Never saved yet"
    gallery = QApplication.activeModalWidget()
    assert isinstance(gallery, TemplateGallery)
    gallery.reject()


@pytest.mark.qt_log_ignore(
    "This plugin does not support raise", "This plugin does not support grabbing the keyboard"
)  # the offscreen platform, opening a popup menu
def test_the_library_context_menu_offers_rename_details_and_delete(
    qtbot: QtBot, window: MainWindow
) -> None:
    tree = window.library.tree
    item = tree.topLevelItem(0)
    assert item is not None
    point = tree.visualItemRect(item).center()
    tree.customContextMenuRequested.emit(point)  # what a right-click on the row sends
    menu = window.library.template_actions.menu
    qtbot.waitUntil(menu.isVisible)
    texts = [a.text() for a in menu.actions() if a.text()]
    assert texts == ["Open", "Rename…", "Description and tags…", "Delete"]
    details = window.library.template_actions.details_action
    menu.close()
    details.trigger()
    dialog = _modal(qtbot, TemplateDetailsDialog)
    assert isinstance(dialog, TemplateDetailsDialog)
    assert "Your first prompt" in dialog.description()
    dialog.reject()
