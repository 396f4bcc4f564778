"""The Backends dialog: settings to backends.yaml, keys to the OS keyring only, connection tests
against real endpoints, and broken plugins listed with their error."""

from __future__ import annotations

import importlib.metadata
from collections.abc import Iterator
from pathlib import Path

import keyring
import pytest
from keyring.backends import fail
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QLineEdit, QSpinBox
from pytestqt.qtbot import QtBot

from tests.backends.conftest import free_port, llama_server, os_keyring, secret_service
from tests.ui.runs import screenshot
from workbench.backends import credentials
from workbench.backends.config import load_configs
from workbench.backends.registry import GROUP, Registry
from workbench.ui import theming
from workbench.ui.dialogs.backends_dialog import BackendsDialog
from workbench.ui.dialogs.option_fields import KeyValueTable

__all__ = ["llama_server", "os_keyring", "secret_service"]  # fixtures shared with tests/backends

pytestmark = pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints")

KEY = "sk-test-0123456789abcdefXYZ"


@pytest.fixture
def registry() -> Registry:
    """The installed backends plus a plugin whose module does not exist."""
    broken = importlib.metadata.EntryPoint(
        name="broken_plugin", value="workbench_no_such_module:Backend", group=GROUP
    )
    return Registry([*importlib.metadata.entry_points(group=GROUP), broken])


@pytest.fixture
def no_keyring() -> Iterator[None]:
    """What a headless Linux has: no keyring backend at all."""
    saved = keyring.get_keyring()
    keyring.set_keyring(fail.Keyring())
    yield
    keyring.set_keyring(saved)


@pytest.fixture
def dialog(qtbot: QtBot, qapp: QApplication, registry: Registry,
           tmp_path: Path) -> Iterator[BackendsDialog]:
    saved = qapp.palette()
    theming.install(qapp, "light")
    dialog = BackendsDialog(registry=registry, config_file=tmp_path / "backends.yaml")
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    yield dialog
    assert dialog.tasks.shutdown(10)
    qapp.setPalette(saved)


def names(dialog: BackendsDialog) -> list[str]:
    return [e.name for e in dialog.entries]


def editor(dialog: BackendsDialog, field: str) -> object:
    assert dialog.form is not None
    return dialog.form.editors[field]


def new_server(qtbot: QtBot, dialog: BackendsDialog, name: str, base_url: str) -> None:
    dialog.add_button.click()
    dialog.name_edit.selectAll()
    qtbot.keyClicks(dialog.name_edit, name)
    url = editor(dialog, "base_url")
    assert isinstance(url, QLineEdit)
    url.selectAll()
    qtbot.keyClicks(url, base_url)


def test_lists_installed_backends_and_failed_plugins(dialog: BackendsDialog) -> None:
    assert names(dialog) == ["anthropic", "bedrock", "llamacpp", "ollama", "openai_compat"]
    assert dialog.broken_label.isVisible()
    text = dialog.broken_label.text()
    assert "Plugins that failed to load" in text and "broken_plugin" in text
    assert "ModuleNotFoundError" in text and "workbench_no_such_module" in text
    dialog.select("openai_compat")
    screenshot(dialog, "backends-dialog-light")


def test_add_a_server_saves_settings_not_secrets(
    qtbot: QtBot, dialog: BackendsDialog, tmp_path: Path, no_keyring: None
) -> None:
    new_server(qtbot, dialog, "team-vllm", "http://127.0.0.1:8000/v1")
    concurrency = editor(dialog, "concurrency")
    assert isinstance(concurrency, QSpinBox)
    concurrency.setValue(3)
    headers = editor(dialog, "extra_headers")
    assert isinstance(headers, KeyValueTable)
    headers.add_row("X-Team", "prompts")
    with qtbot.waitSignal(dialog.saved, timeout=2_000) as saved:
        dialog.save_button.click()
    assert saved.args == ["team-vllm"]
    config = load_configs(tmp_path / "backends.yaml")["team-vllm"]
    assert config.backend == "openai_compat"
    assert config.options == {"base_url": "http://127.0.0.1:8000/v1", "concurrency": 3,
                              "extra_headers": {"X-Team": "prompts"},
                              "api_key_name": "team-vllm"}  # its own keyring entry
    assert "team-vllm" in names(dialog) and not dialog.dirty
    assert "keys never are" in dialog.message.text()


def test_no_keyring_says_so_and_names_the_environment_variable(
    dialog: BackendsDialog, no_keyring: None
) -> None:
    dialog.select("openai_compat")
    assert dialog.key_box.isVisible()
    assert not dialog.key_edit.isEnabled()
    status = dialog.key_status.text()
    assert "No OS keyring is available" in status and "OPENAI_API_KEY" in status
    dialog.select("llamacpp")
    assert not dialog.key_box.isVisible()  # a local model needs no key


def test_key_is_stored_in_the_os_keyring_never_in_the_file(
    qtbot: QtBot, dialog: BackendsDialog, tmp_path: Path, os_keyring: None
) -> None:
    dialog.select("anthropic")
    dialog._show_key_state()  # the keyring was switched on after the dialog opened
    assert dialog.key_edit.isEnabled()
    assert dialog.key_edit.echoMode() == QLineEdit.EchoMode.Password
    qtbot.keyClicks(dialog.key_edit, KEY)
    with qtbot.waitSignal(dialog.saved, timeout=10_000):
        dialog.save_button.click()
    assert keyring.get_password(credentials.SERVICE, "anthropic") == KEY
    assert KEY not in (tmp_path / "backends.yaml").read_text()
    assert "keyring entry 'prompt-workbench/anthropic'" in dialog.key_status.text()
    assert dialog.key_edit.text() == ""
    dialog.forget_key.click()
    assert keyring.get_password(credentials.SERVICE, "anthropic") is None


def test_two_servers_keep_their_own_keys(
    qtbot: QtBot, dialog: BackendsDialog, tmp_path: Path, os_keyring: None
) -> None:
    """A key pasted for a new server belongs to that server: a second server's key does not
    overwrite it (both used the type's default keyring entry 'openai' before)."""
    for name, key in (("team-a", KEY), ("team-b", KEY[::-1])):
        new_server(qtbot, dialog, name, "http://127.0.0.1:8000/v1")
        dialog._show_key_state()  # the keyring was switched on after the dialog opened
        qtbot.keyClicks(dialog.key_edit, key)
        with qtbot.waitSignal(dialog.saved, timeout=10_000):
            dialog.save_button.click()
    assert keyring.get_password(credentials.SERVICE, "team-a") == KEY
    assert keyring.get_password(credentials.SERVICE, "team-b") == KEY[::-1]
    assert keyring.get_password(credentials.SERVICE, "openai") is None
    configs = load_configs(tmp_path / "backends.yaml")
    assert configs["team-a"].options["api_key_name"] == "team-a"
    assert KEY not in (tmp_path / "backends.yaml").read_text()


def test_refused_connection_is_reported_with_what_to_do(
    qtbot: QtBot, dialog: BackendsDialog, no_keyring: None
) -> None:
    port = free_port()  # nothing listens there
    new_server(qtbot, dialog, "offline", f"http://127.0.0.1:{port}/v1")
    retries = editor(dialog, "max_retries")
    assert isinstance(retries, QSpinBox)
    retries.setValue(0)
    dialog.test_button.click()
    qtbot.waitUntil(lambda: not dialog.probing and "✗" in dialog.result_label.text(),
                    timeout=30_000)
    result = dialog.result_label.text()
    assert f"127.0.0.1:{port}" in result
    # The message and one fix (the backend's hint), not a second one pointing at this very
    # dialog; the exception class only in the tooltip.
    assert result.count("What to do") == 1 and "Tools ▸ Backends" not in result
    assert "start the server, or correct the base URL and port" in result
    assert "ConnectError" not in result
    assert dialog.result_label.toolTip() == "Error type: ConnectError"
    screenshot(dialog, "backends-dialog-failed-light")


def test_local_backend_lists_the_embedded_model(qtbot: QtBot, dialog: BackendsDialog) -> None:
    dialog.select("llamacpp")
    dialog.list_button.click()
    qtbot.waitUntil(lambda: dialog.model_list.count() > 0, timeout=30_000)
    items = [dialog.model_list.item(i).text() for i in range(dialog.model_list.count())]
    assert any(i.startswith("smollm2-135m-instruct") for i in items)
    assert dialog.result_label.text().startswith("<span")  # ✓ in the success colour


def test_invalid_setting_is_refused_and_kept_on_screen(
    qtbot: QtBot, dialog: BackendsDialog, tmp_path: Path, no_keyring: None
) -> None:
    new_server(qtbot, dialog, "bad", "ftp://example.org")
    dialog.save_button.click()
    assert "http://" in dialog.message.text() and dialog.dirty
    assert not (tmp_path / "backends.yaml").exists()
    unsaved = dialog.entry_list.currentRow()
    dialog.entry_list.setCurrentRow(0)  # moving away would lose the edit: refused
    assert dialog.entry_list.currentRow() == unsaved and dialog.name_edit.text() == "bad"
    dialog.close_button.click()
    assert dialog.isVisible() and "Unsaved changes" in dialog.message.text()
    dialog.close_button.click()
    assert not dialog.isVisible()


def test_remove_a_configured_backend(qtbot: QtBot, dialog: BackendsDialog, tmp_path: Path,
                                     no_keyring: None) -> None:
    new_server(qtbot, dialog, "spare", "http://127.0.0.1:9/v1")
    dialog.save_button.click()
    assert "spare" in names(dialog)
    with qtbot.waitSignal(dialog.removed, timeout=1_000):
        dialog.remove_button.click()
    assert "spare" not in names(dialog)
    assert "spare" not in load_configs(tmp_path / "backends.yaml")


def test_every_control_is_named(dialog: BackendsDialog) -> None:
    dialog.select("openai_compat")
    for widget in (dialog.entry_list, dialog.add_button, dialog.remove_button, dialog.name_edit,
                   dialog.type_combo, dialog.key_edit, dialog.test_button, dialog.list_button,
                   dialog.save_button, dialog.close_button):
        assert widget.accessibleName() and widget.toolTip(), widget
    assert dialog.form is not None
    for name, widget in dialog.form.editors.items():
        assert widget.accessibleName(), name


def test_dark_screenshot(qtbot: QtBot, dialog: BackendsDialog, qapp: QApplication,
                         no_keyring: None) -> None:
    theming.install(qapp, "dark")
    dialog.select("llamacpp")
    dialog.list_button.click()
    qtbot.waitUntil(lambda: dialog.model_list.count() > 0, timeout=30_000)
    screenshot(dialog, "backends-dialog-dark")


@pytest.mark.slow
def test_connection_to_a_real_openai_compatible_server(
    qtbot: QtBot, dialog: BackendsDialog, llama_server: str, no_keyring: None
) -> None:
    new_server(qtbot, dialog, "llama-server", llama_server)
    dialog.test_button.click()
    qtbot.waitUntil(lambda: not dialog.probing and dialog.result_label.text() != "",
                    timeout=30_000)
    qtbot.waitUntil(lambda: "Connected" in dialog.result_label.text(), timeout=30_000)
    assert "1 model " in dialog.result_label.text()
    assert dialog.model_list.item(0).text().startswith("smollm2")
    assert dialog.model_list.isVisible()
    dialog.model_list.setFocus()
    qtbot.keyClick(dialog.model_list, Qt.Key.Key_Down)
    screenshot(dialog, "backends-dialog-connected-light")


def test_a_server_pool_from_the_base_urls_field(
    qtbot: QtBot, dialog: BackendsDialog, tmp_path: Path, no_keyring: None
) -> None:
    from tests.backends.pool_servers import ChatServer

    servers = [ChatServer("a"), ChatServer("b")]
    try:
        new_server(qtbot, dialog, "fleet", "http://127.0.0.1:1/v1")  # base_url: replaced
        urls = editor(dialog, "base_urls")
        assert isinstance(urls, QLineEdit) and urls.placeholderText()
        qtbot.keyClicks(urls, f"{servers[0].url}; {servers[1].url}")
        dialog.test_button.click()
        qtbot.waitUntil(lambda: "Connected" in dialog.result_label.text(), timeout=30_000)
        assert dialog.model_list.item(0).text().startswith("pool-model")
        with qtbot.waitSignal(dialog.saved, timeout=2_000):
            dialog.save_button.click()
        config = load_configs(tmp_path / "backends.yaml")["fleet"]
        assert config.options["base_urls"] == [s.url for s in servers]
    finally:
        for server in servers:
            server.close()
