"""Local servers in the app: searched for off the GUI thread at start (unless turned off),
announced in the status bar, listed in the Backends dialog with an Add button that saves them.
The server speaks Ollama's documented endpoints (tests/backends/local_servers.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from tests.backends.local_servers import OllamaServer
from tests.ui.windows import window
from workbench.backends.config import load_configs
from workbench.backends.registry import default_registry
from workbench.ui.child_windows import open_backends
from workbench.ui.dialogs.backends_dialog import BackendsDialog
from workbench.ui.local_servers import (
    LocalServers,
    local_servers,
    search_at_start,
    set_search_at_start,
    start_at_launch,
)
from workbench.ui.main_window import MainWindow

__all__ = ["window"]

pytestmark = pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints")


@pytest.fixture
def ollama() -> Iterator[OllamaServer]:
    with OllamaServer() as server:
        yield server


def test_the_dialog_lists_found_servers_and_add_saves_one(
    qtbot: QtBot, tmp_path: Path, ollama: OllamaServer
) -> None:
    config_file = tmp_path / "backends.yaml"
    servers = LocalServers(ports=[ollama.port])
    dialog = BackendsDialog(registry=default_registry(), config_file=config_file, servers=servers)
    qtbot.addWidget(dialog)
    dialog.show()
    panel = dialog.found_panel
    assert panel.status.text() == "Not searched yet."
    assert panel.search_button.text() == "Search"
    qtbot.mouseClick(panel.search_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: len(panel.add_buttons) == 1)
    assert panel.status.text().startswith("Found 1 (")
    assert panel.search_button.text() == "Search again"
    with qtbot.waitSignal(dialog.saved) as saved:
        qtbot.mouseClick(panel.add_buttons[0], Qt.MouseButton.LeftButton)
    name = f"ollama-{ollama.port}"
    assert saved.args == [name]
    config = load_configs(config_file)[name]
    assert config.options["base_url"].startswith(ollama.url)
    entry = dialog.entry()
    assert entry is not None and entry.name == name
    # Once saved the server is not offered again: a second click cannot add a duplicate.
    button = panel.add_buttons[0]
    assert button.text() == f"Added as {name}" and not button.isEnabled()
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    assert list(load_configs(config_file)) == [name]
    # Removing the configuration offers the server again.
    dialog.remove_entry()
    assert name not in load_configs(config_file)
    assert panel.add_buttons[0].text() == "Add" and panel.add_buttons[0].isEnabled()
    dialog.reject()


def test_the_search_at_start_can_be_turned_off(window: MainWindow, ollama: OllamaServer) -> None:
    set_search_at_start(False)
    assert not search_at_start()
    assert start_at_launch(window, [ollama.port]) is None
    assert ollama.requests == []  # nothing was contacted


def test_the_search_at_start_announces_servers_and_the_dialog_shows_them(
    qtbot: QtBot, window: MainWindow, ollama: OllamaServer
) -> None:
    assert search_at_start()  # on by default
    holder = start_at_launch(window, [ollama.port])
    assert holder is local_servers(window)
    qtbot.waitUntil(lambda: holder.latest is not None)
    assert "Found on this computer: Ollama" in window.statusBar().currentMessage()
    dialog = open_backends(window)
    try:
        assert dialog.found_panel.status.text().startswith("Found 1 (")
        assert len(dialog.found_panel.add_buttons) == 1
        assert dialog.found_panel.at_start.isChecked()
        dialog.found_panel.at_start.setChecked(False)
        assert not search_at_start()
    finally:
        dialog.reject()
