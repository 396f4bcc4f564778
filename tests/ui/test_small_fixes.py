"""Small findings of issue 11 item 16, on the real main window: the View menu's theme choice
is a checked, exclusive group; a configured server's default model is shown in the picker."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QApplication, QMenu
from pytestqt.qtbot import QtBot

from tests.ui.test_suite_window import closed_port
from tests.ui.windows import close_window, open_window, shot
from workbench.backends.config import BackendConfig, save_configs
from workbench.ui import theming
from workbench.ui.main_window import MainWindow

pytestmark = pytest.mark.qt_log_ignore("This plugin does not support")  # offscreen: menus


@pytest.fixture
def window(qtbot: QtBot, qapp: QApplication) -> Iterator[MainWindow]:
    saved = qapp.palette()
    window = open_window(qtbot)
    yield window
    close_window(window)
    theme = qapp.findChild(theming.Theme)
    if theme is not None:
        theme.set_mode("light")
    qapp.setPalette(saved)


def view_menu(window: MainWindow) -> QMenu:
    menu = next(a.menu() for a in window.menuBar().actions() if a.text() == "&View")
    assert isinstance(menu, QMenu)
    return menu


def theme_actions(window: MainWindow) -> dict[str, QAction]:
    return {a.text(): a for a in view_menu(window).actions() if a.text().endswith(" theme")}


def test_theme_menu_is_an_exclusive_checked_group_in_sync(
    qtbot: QtBot, window: MainWindow, qapp: QApplication
) -> None:
    actions = theme_actions(window)
    assert set(actions) == {"Auto theme", "Light theme", "Dark theme"}
    assert all(a.isCheckable() for a in actions.values())
    group = actions["Dark theme"].actionGroup()
    assert group is not None and group.isExclusive()
    assert all(a.actionGroup() is group for a in actions.values())
    theme = qapp.findChild(theming.Theme)
    assert theme is not None
    assert [t for t, a in actions.items() if a.isChecked()] == [f"{theme.mode.capitalize()} theme"]

    actions["Dark theme"].trigger()
    assert theme.mode == "dark" and theming.is_dark()
    assert [t for t, a in actions.items() if a.isChecked()] == ["Dark theme"]
    menu = view_menu(window)
    menu.popup(window.mapToGlobal(window.rect().center()))
    qtbot.waitExposed(menu)
    shot(menu, "theme-menu-dark")
    menu.close()

    theme.set_mode("light")  # changed elsewhere: the menu follows
    assert [t for t, a in actions.items() if a.isChecked()] == ["Light theme"]
    actions["Auto theme"].trigger()
    assert theme.mode == "auto"
    assert [t for t, a in actions.items() if a.isChecked()] == ["Auto theme"]


def test_a_configured_servers_default_model_is_shown_while_it_is_down(qtbot: QtBot) -> None:
    save_configs(
        {
            "office": BackendConfig(
                name="office",
                backend="openai_compat",
                options={
                    "base_url": f"http://127.0.0.1:{closed_port()}/v1",
                    "max_retries": 0,
                    "default_model": "qwen2.5-7b-instruct",
                },
            )
        }
    )
    window = open_window(qtbot)
    try:
        picker = window.picker
        problems: list[str] = []
        picker.problem.connect(problems.append)
        index = picker.backend_box.findData("office", 0x0100)
        assert index >= 0
        picker.backend_box.setCurrentIndex(index)
        assert picker.backend_name == "office"
        assert picker.model_box.currentText() == "qwen2.5-7b-instruct"
        assert picker.model == "qwen2.5-7b-instruct"
        qtbot.waitUntil(lambda: bool(problems), timeout=10_000)  # the server is down
        assert picker.model_box.currentText() == "qwen2.5-7b-instruct"
        shot(window, "model-picker-default-model")
    finally:
        close_window(window)
