"""The library panel's versions, driven as a person would: select, compare (word diff), label,
restore; on a real library (SQLite history, template files in a folder)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QEvent, QPoint, Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QApplication, QListWidgetItem, QMenu
from pytestqt.qtbot import QtBot

from tests.ui.runs import screenshot
from tests.ui.windows import close_window, open_window
from tests.ui.windows import shot as _shot
from workbench.core.models import Message, Params, PromptTemplate, Variable
from workbench.storage.db import Database
from workbench.storage.library import Library
from workbench.ui import theming
from workbench.ui.main_window import MainWindow
from workbench.ui.widgets.library_panel import LibraryPanel

KEY = "support/summarize-ticket"
CTRL = Qt.KeyboardModifier.ControlModifier

# The offscreen platform cannot raise a window or grab the keyboard for a completer popup.
pytestmark = pytest.mark.qt_log_ignore("This plugin does not support (raise|grabbing the keyboard)")


def _v1() -> PromptTemplate:
    return PromptTemplate(
        name="summarize-ticket",
        tags=["support"],
        messages=[
            Message(role="system", content="You are a support analyst."),
            Message(role="user", content="Summarize {{ ticket }} in three bullets."),
        ],
        variables=[Variable(name="ticket", multiline=True)],
        parameters=Params(temperature=0.7, max_tokens=256),
    )


def _v2() -> PromptTemplate:
    return _v1().model_copy(
        update={
            "messages": [
                Message(role="system", content="You are a support analyst."),
                Message(role="user", content="Summarize {{ ticket }} in {{ n }} short bullets."),
            ],
            "variables": [Variable(name="ticket", multiline=True), Variable(name="n", default="3")],
        }
    )


def _v3() -> PromptTemplate:
    return _v2().model_copy(
        update={
            "technique": "chain-of-thought",
            "messages": [
                Message(role="system", content="You are a careful support analyst."),
                Message(
                    role="user",
                    content="Summarize {{ ticket }} in {{ n }} short bullets. Think step by step.",
                ),
            ],
            "parameters": Params(temperature=0.2, max_tokens=256),
        }
    )


def _open_library(root: Path) -> tuple[Database, Library]:
    db = Database(root / "library.sqlite3")
    return db, Library(db, root / "prompts")


@pytest.fixture
def library(tmp_path: Path) -> Iterator[Library]:
    db, library = _open_library(tmp_path)
    library.save(_v1(), key=KEY, message="first draft")
    library.save(_v2(), key=KEY, message="bullet count as a variable")
    library.save(_v3(), key=KEY, message="careful, cooler")
    library.save(
        PromptTemplate(name="triage", messages=[Message(role="user", content="Triage {{ t }}")]),
        key="support/triage",
    )
    yield library
    db.close()


@pytest.fixture
def panel(qtbot: QtBot, theme: theming.Theme, library: Library) -> Iterator[LibraryPanel]:
    panel = LibraryPanel(library)
    qtbot.addWidget(panel)
    panel.resize(340, 560)
    panel.show()
    qtbot.waitExposed(panel)
    panel.activateWindow()  # key shortcuts reach the focused widget of the active window only
    qtbot.waitUntil(lambda: QApplication.activeWindow() is panel)
    panel.refresh()
    panel.select(KEY)
    yield panel
    if panel.diff is not None:
        panel.diff.close()


def _row(panel: LibraryPanel, number: int) -> QListWidgetItem:
    for index in range(panel.versions.count()):
        item = panel.versions.item(index)
        if item.data(Qt.ItemDataRole.UserRole + 1) == number:
            return item
    raise AssertionError(f"no row for v{number}")


def _click(
    qtbot: QtBot,
    panel: LibraryPanel,
    number: int,
    modifier: Qt.KeyboardModifier = Qt.KeyboardModifier.NoModifier,
) -> None:
    rect = panel.versions.visualItemRect(_row(panel, number))
    qtbot.mouseClick(panel.versions.viewport(), Qt.MouseButton.LeftButton, modifier, rect.center())


def _menu_action(menu: QMenu, text: str) -> QAction:
    found = [a for a in menu.actions() if a.text().startswith(text)]
    assert found, f"no “{text}” in {[a.text() for a in menu.actions()]}"
    return found[0]


def test_versions_are_listed_newest_first_with_the_newest_current(panel: LibraryPanel) -> None:
    rows = [panel.versions.item(i).text() for i in range(panel.versions.count())]
    assert [row.split()[0] for row in rows] == ["v3", "v2", "v1"]
    assert "careful, cooler" in rows[0] and "first draft" in rows[2]
    assert panel.current_version() == 3
    assert panel.compare_pair() == (2, 3)  # the newest against the one before it
    assert not panel.restore_action.isEnabled()  # v3 is already the newest
    for name, button in panel.buttons.items():
        assert button.accessibleName() and button.toolTip(), name
        assert button.focusPolicy() == Qt.FocusPolicy.TabFocus, name


def test_two_selected_versions_compare_word_by_word(qtbot: QtBot, panel: LibraryPanel) -> None:
    _click(qtbot, panel, 1)
    _click(qtbot, panel, 3, CTRL)
    assert panel.selected_versions() == [1, 3]
    assert panel.compare_action.text() == "Compare v1 and v3"
    qtbot.mouseClick(panel.buttons["compare"], Qt.MouseButton.LeftButton)
    diff = panel.diff
    assert diff is not None and diff.isVisible() and not diff.isModal()
    assert diff.picked() == (1, 3)
    assert diff.title.text() == f"{KEY}: v1 → v3"
    shown = diff.view.diff
    assert shown is not None
    assert [(op.tag, op.a_text, op.b_text) for op in shown.ops if op.tag != "equal"] == [
        # the message bodies, word by word
        ("insert", "", "careful "),
        ("replace", "three", "{{ n }} short"),
        ("insert", "", ". Think step by step"),
        # the settings that changed, in the same diff
        ("replace", "zero", "chain"),  # technique: zero-shot -> chain-of-thought
        ("replace", "shot", "of-thought"),
        ("insert", "", " · n (default 3)"),  # variables: ticket (multi-line) · n (default 3)
        ("replace", "7", "2"),  # parameters: temperature 0.7 -> 0.2
    ]
    assert "technique: zero-shot" in shown.a and "technique: chain-of-thought" in shown.b
    assert "temperature 0.7 · max_tokens 256" in shown.a
    assert "temperature 0.2 · max_tokens 256" in shown.b
    right = diff.view.right_text.toPlainText()
    assert "You are a careful support analyst." in right and "── user ──" in right
    summary = diff.summary.text()
    for change in (
        "system message",
        "user message",
        "technique zero-shot → chain-of-thought",
        "variables (+n)",
        "temperature 0.7 → 0.2",
    ):
        assert change in summary
    assert "max_tokens" not in summary
    # Either side can be picked again in the window; the summary follows.
    diff.view.left.setCurrentIndex(1)  # v2
    assert diff.picked() == (2, 3)
    assert "variables" not in diff.summary.text() and "technique" in diff.summary.text()


def test_one_version_is_compared_with_the_newest_from_the_keyboard(
    qtbot: QtBot, panel: LibraryPanel
) -> None:
    panel.versions.setFocus()
    qtbot.waitUntil(panel.versions.hasFocus)
    qtbot.keyClick(panel.versions, Qt.Key.Key_End)  # v1, alone
    assert panel.selected_versions() == [1]
    assert panel.compare_pair() == (1, 3)
    qtbot.keyClick(panel.versions, Qt.Key.Key_D, CTRL)
    assert panel.diff is not None and panel.diff.picked() == (1, 3)
    # Shift+Up widens the selection to v2: Ctrl+D now compares v1 and v2, in the same window.
    panel.activateWindow()
    panel.versions.setFocus()
    qtbot.waitUntil(panel.versions.hasFocus)
    qtbot.keyClick(panel.versions, Qt.Key.Key_Up, Qt.KeyboardModifier.ShiftModifier)
    assert panel.selected_versions() == [1, 2]
    qtbot.keyClick(panel.versions, Qt.Key.Key_D, CTRL)
    assert panel.diff.picked() == (1, 2)
    assert panel.diff.summary.text() == "Changed: user message · variables (+n)"
    # Shift+F10 opens the context menu for the selection; Tab reaches the buttons.
    panel.activateWindow()
    panel.versions.setFocus()
    qtbot.waitUntil(panel.versions.hasFocus)
    qtbot.keyClick(panel.versions, Qt.Key.Key_F10, Qt.KeyboardModifier.ShiftModifier)
    qtbot.waitUntil(panel.menu.isVisible)
    assert panel.compare_action.text() == "Compare v1 and v2"
    panel.menu.close()
    panel.versions.setFocus()
    qtbot.waitUntil(panel.versions.hasFocus)
    qtbot.keyClick(panel.versions, Qt.Key.Key_Tab)
    assert panel.buttons["open"].hasFocus()


def test_compare_with_another_version_from_the_context_menu(
    qtbot: QtBot, panel: LibraryPanel
) -> None:
    _click(qtbot, panel, 2)
    menu = panel.menu
    labels = [a.text() for a in menu.actions() if not a.isSeparator()]
    assert labels == [
        "Open v2",
        "Compare v2 and v3",
        "Compare with",
        "Label v2…",
        "Remove label",
        "Restore v2",
    ]
    with_menu = _menu_action(menu, "Compare with").menu()
    assert isinstance(with_menu, QMenu)
    assert [a.text() for a in with_menu.actions()] == ["v3  careful, cooler", "v1  first draft"]
    _menu_action(with_menu, "v1").trigger()
    assert panel.diff is not None and panel.diff.picked() == (1, 2)  # older on the left


def test_label_a_version_then_move_and_remove_it(
    qtbot: QtBot, panel: LibraryPanel, tmp_path: Path
) -> None:
    _click(qtbot, panel, 2)
    qtbot.waitUntil(panel.versions.hasFocus)
    qtbot.keyClick(panel.versions, Qt.Key.Key_L, CTRL)
    bar = panel.label_bar
    assert bar.isVisible() and bar.caption.text() == "Label v2:"
    qtbot.waitUntil(bar.edit.hasFocus)
    qtbot.keyClicks(bar.edit, "prod")
    _click(qtbot, panel, 1)  # the row follows the selection and keeps what was typed
    assert bar.caption.text() == "Label v1:" and bar.edit.text() == "prod"
    _click(qtbot, panel, 2)
    assert bar.caption.text() == "Label v2:"
    bar.edit.setFocus()
    qtbot.waitUntil(bar.edit.hasFocus)
    qtbot.keyClicks(bar.edit, "uction")
    qtbot.keyClick(bar.edit, Qt.Key.Key_Return)
    assert not bar.isVisible()
    assert panel.library.labels(KEY) == {"production": 2}
    assert _row(panel, 2).text().endswith("[production]")
    assert panel.status.text() == "v2 is labelled “production”"
    assert panel.selected_versions() == [2]  # the selection survives the reload

    # A label that cannot be one is refused with the reason; the row stays open to fix it.
    _click(qtbot, panel, 3)
    panel.label_action.trigger()
    bar.edit.setText("v7")
    qtbot.mouseClick(bar.set_button, Qt.MouseButton.LeftButton)
    assert "cannot be a label" in panel.status.text() and bar.isVisible()
    qtbot.keyClick(bar.edit, Qt.Key.Key_Escape)
    assert not bar.isVisible()

    # Setting it on v3 moves it; Remove label in the context menu takes it off.
    panel.label_action.trigger()
    bar.edit.setText("production")
    qtbot.keyClick(bar.edit, Qt.Key.Key_Return)
    assert panel.library.labels(KEY) == {"production": 3}
    assert panel.status.text() == "“production” moved from v2 to v3"
    assert "[production]" not in _row(panel, 2).text()
    panel.label_action.trigger()
    bar.edit.setText("staging")
    qtbot.mouseClick(bar.set_button, Qt.MouseButton.LeftButton)
    remove = _menu_action(panel.menu, "Remove label").menu()
    assert isinstance(remove, QMenu)
    assert [a.text() for a in remove.actions()] == ["“production”", "“staging”"]
    _menu_action(remove, "“staging”").trigger()
    assert panel.library.labels(KEY) == {"production": 3}

    db, reopened = _open_library(tmp_path)  # the labels are in the database, not the panel
    try:
        assert reopened.labels(KEY) == {"production": 3}
    finally:
        db.close()


def test_restore_makes_an_old_version_the_newest_and_opens_it(
    qtbot: QtBot, panel: LibraryPanel, tmp_path: Path
) -> None:
    panel.library.set_label(KEY, "production", 3)
    panel.refresh()
    _click(qtbot, panel, 1)
    assert panel.restore_action.text() == "Restore v1"
    assert "(v4)" in panel.restore_action.toolTip()
    with qtbot.waitSignal(panel.templateActivated) as opened:
        _menu_action(panel.menu, "Restore v1").trigger()
    assert opened.args == [KEY, None]  # the template, whose newest version is now v4
    versions = panel.library.versions(KEY)
    assert [v.number for v in versions] == [1, 2, 3, 4]
    v1, v4 = versions[0], versions[3]
    assert (v4.text, v4.message, v4.origin) == (v1.text, "restored v1", "restore")
    assert panel.library.load(KEY) == _v1()
    assert (panel.library.folder / f"{KEY}.prompt.yaml").read_text(encoding="utf-8") == v1.text
    newest = panel.versions.item(0).text()
    assert newest.startswith("v4") and "restored v1" in newest
    assert panel.selected_versions() == [4]
    assert panel.status.text() == "Restored v1 as v4"
    assert _row(panel, 3).text().endswith("[production]")  # labels stay where they were

    db, reopened = _open_library(tmp_path)
    try:
        assert reopened.labels(KEY) == {"production": 3}
        assert reopened.version(KEY, "production").text == versions[2].text
        assert reopened.version(KEY).text == v1.text
    finally:
        db.close()


def test_a_template_with_one_version_has_nothing_to_compare_or_restore(
    qtbot: QtBot, panel: LibraryPanel
) -> None:
    panel.select("support/triage")
    assert [panel.versions.item(i).text().split()[0] for i in range(panel.versions.count())] == [
        "v1"
    ]
    assert panel.compare_pair() is None and not panel.compare_action.isEnabled()
    assert not panel.compare_with_menu.isEnabled() and not panel.restore_action.isEnabled()
    assert panel.open_action.isEnabled() and panel.label_action.isEnabled()
    assert panel.compare_selected() is None and panel.diff is None
    panel.versions.clearSelection()
    assert not panel.open_action.isEnabled() and not panel.label_action.isEnabled()
    assert "Select a version" in panel.open_action.toolTip()


def test_escape_closes_the_diff_window(qtbot: QtBot, panel: LibraryPanel) -> None:
    diff = panel.compare_selected()
    assert diff is not None and diff.picked() == (2, 3)
    diff.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is diff)
    qtbot.keyClick(diff.view.left_text, Qt.Key.Key_Escape)
    assert not diff.isVisible()
    assert panel.compare_selected() is diff and diff.isVisible()  # the same window comes back


def test_ctrl_w_closes_the_diff_window(qtbot: QtBot, panel: LibraryPanel) -> None:
    diff = panel.compare_selected()
    assert diff is not None
    diff.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is diff)
    qtbot.keyClick(diff.view.left_text, Qt.Key.Key_W, Qt.KeyboardModifier.ControlModifier)
    assert not diff.isVisible()


def test_open_emits_the_version_and_double_click_too(qtbot: QtBot, panel: LibraryPanel) -> None:
    _click(qtbot, panel, 2)
    with qtbot.waitSignal(panel.templateActivated) as opened:
        qtbot.mouseClick(panel.buttons["open"], Qt.MouseButton.LeftButton)
    assert opened.args == [KEY, 2]
    rect = panel.versions.visualItemRect(_row(panel, 1))
    _click(qtbot, panel, 1)  # a double-click's first press, which QTest's does not send
    with qtbot.waitSignal(panel.templateActivated) as opened:
        qtbot.mouseDClick(panel.versions.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert opened.args == [KEY, 1]


def test_the_diff_window_follows_a_restore(qtbot: QtBot, panel: LibraryPanel) -> None:
    _click(qtbot, panel, 1)
    diff = panel.compare_selected()
    assert diff is not None and diff.picked() == (1, 3)
    panel.restore_current()
    assert diff.view.left.count() == 4  # v4 can be picked in the open window
    diff.view.right.setCurrentIndex(3)
    assert diff.picked() == (1, 4)
    assert diff.summary.text() == "Same content."
    assert diff.view.stats.text() == "identical"


@pytest.mark.parametrize("mode", ["light", "dark"])
def test_screenshots_of_versions_and_their_diff(
    qtbot: QtBot, panel: LibraryPanel, theme: theming.Theme, mode: theming.Mode
) -> None:
    theme.set_mode(mode)
    panel.library.set_label(KEY, "production", 2)
    panel.library.set_label(KEY, "staging", 3)
    panel.refresh()
    _click(qtbot, panel, 1)
    _click(qtbot, panel, 3, CTRL)
    assert screenshot(panel, f"library-versions-{mode}").stat().st_size > 0
    _click(qtbot, panel, 2)
    panel.label_action.trigger()
    assert panel.label_bar.edit.text() == "production"  # the label it has, to move or remove
    assert screenshot(panel, f"library-versions-label-{mode}").stat().st_size > 0
    panel.label_bar.close_bar()
    _click(qtbot, panel, 1)
    _click(qtbot, panel, 3, CTRL)
    panel._show_menu(QPoint(8, 8))
    qtbot.waitUntil(panel.menu.isVisible)
    assert screenshot(panel.menu, f"library-versions-menu-{mode}").stat().st_size > 0
    panel.menu.close()
    diff = panel.compare_selected()
    assert diff is not None
    qtbot.waitExposed(diff)
    QApplication.processEvents()
    assert diff.view.left.currentText() == "v1" and diff.view.right.currentText() == "v3 [staging]"
    assert screenshot(diff, f"library-version-diff-{mode}").stat().st_size > 0
    diff.view.toggle_mode()
    assert screenshot(diff, f"library-version-diff-inline-{mode}").stat().st_size > 0


def test_restore_in_the_main_window_opens_the_restored_content(
    qtbot: QtBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked: list[str] = []
    monkeypatch.setattr(MainWindow, "ask_unsaved", lambda _self, name: asked.append(name))
    window = open_window(qtbot)
    try:
        library = window.workspace.library
        library.save(_v1(), key=KEY, message="first draft")
        library.save(_v2(), key=KEY, message="bullet count as a variable")
        library.save(_v3(), key=KEY, message="careful, cooler")
        panel = window.library
        panel.refresh()
        panel.select(KEY)
        _click(qtbot, panel, 1)
        _menu_action(panel.menu, "Restore v1").trigger()
        qtbot.waitUntil(lambda: (window.key, window.version) == (KEY, 4))
        assert window.editor.template() == _v1() and not window.dirty
        assert asked == []  # nothing was edited, so nothing to ask
        assert library.version(KEY).message == "restored v1"
        # Comparing opens its own window; the main window stays usable (not modal).
        diff = panel.compare(3, 4)
        assert diff is not None and diff.isWindow() and diff.window() is not window
        assert QApplication.activeModalWidget() is None
        qtbot.waitUntil(lambda: window.variables.names() == ["ticket"])
        QApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)  # the last document's rows
        _shot(window, "main_window_library_versions")
    finally:
        close_window(window)
