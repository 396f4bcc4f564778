"""Journey 7, a remote server: add an OpenAI-compatible backend at a local address from
Tools ▸ Backends, test the connection, run on it; add another on a closed port and run: a clear
message naming the URL and the fix; the failed run is in history with why; the key went to the
OS keyring, not to a file; after a restart both backends and both runs are still there."""

from __future__ import annotations

from pathlib import Path

import keyring
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QLineEdit, QSpinBox
from pytestqt.qtbot import QtBot

from tests.backends.conftest import free_port, llama_server, os_keyring, secret_service
from tests.journeys.conftest import RUN_TIMEOUT_MS, Journey, menu_action
from workbench.backends import credentials
from workbench.ui.dialogs.backends_dialog import BackendsDialog
from workbench.ui.main_window import MainWindow

__all__ = ["llama_server", "os_keyring", "secret_service"]

pytestmark = [pytest.mark.slow,
              pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints")]

KEY = "sk-journey-7-0123456789abcdef"


def _add_server(qtbot: QtBot, dialog: BackendsDialog, name: str, url: str) -> None:
    dialog.add_button.click()
    dialog.name_edit.selectAll()
    qtbot.keyClicks(dialog.name_edit, name)
    assert dialog.form is not None
    base_url = dialog.form.editors["base_url"]
    assert isinstance(base_url, QLineEdit)
    base_url.selectAll()
    qtbot.keyClicks(base_url, url)
    retries = dialog.form.editors["max_retries"]
    assert isinstance(retries, QSpinBox)
    retries.setValue(0)  # a closed port fails at once instead of backing off


def _run(qtbot: QtBot, window: MainWindow) -> None:
    before = len(window.history.run_ids())
    qtbot.mouseClick(window.run_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.output.state != "idle" or "Cannot run" in
                    window.statusBar().currentMessage(), timeout=10_000)
    assert "Cannot run" not in window.statusBar().currentMessage()
    qtbot.waitUntil(lambda: window.output.state in ("finished", "failed"), timeout=RUN_TIMEOUT_MS)
    qtbot.waitUntil(lambda: len(window.history.run_ids()) == before + 1, timeout=10_000)


def _choose(qtbot: QtBot, window: MainWindow, backend: str) -> None:
    box = window.picker.backend_box
    box.setFocus()
    index = box.findData(backend, Qt.ItemDataRole.UserRole + 1)
    if index < 0:
        index = next(i for i in range(box.count()) if box.itemText(i) == backend)
    box.setCurrentIndex(index)
    qtbot.waitUntil(lambda: window.picker.backend_name == backend)


def test_remote_server(qtbot: QtBot, journey: Journey, llama_server: str, os_keyring: None,
                       workbench_home: Path) -> None:
    window = journey.start()
    window.open_library_template("welcome")
    qtbot.waitUntil(lambda: window.key == "welcome")
    closed = f"http://127.0.0.1:{free_port()}/v1"  # nothing listens there

    # Tools ▸ Backends… opens the dialog over the window.
    menu_action(window, "Backends").trigger()
    dialog = window.findChild(BackendsDialog)
    assert dialog is not None
    qtbot.waitExposed(dialog)

    def configure() -> None:
        _add_server(qtbot, dialog, "team-server", llama_server)
        dialog.key_edit.setFocus()
        qtbot.keyClicks(dialog.key_edit, KEY)
        dialog.test_button.click()
        qtbot.waitUntil(lambda: "Connected" in dialog.result_label.text(), timeout=30_000)
        journey.shot("backend-connected", dialog)
        with qtbot.waitSignal(dialog.saved, timeout=5_000):
            dialog.save_button.click()
        _add_server(qtbot, dialog, "down-server", closed)
        dialog.test_button.click()
        qtbot.waitUntil(lambda: "✗" in dialog.result_label.text(), timeout=30_000)
        assert closed.removesuffix("/v1").removeprefix("http://") in dialog.result_label.text()
        journey.shot("closed-port-tested", dialog)
        with qtbot.waitSignal(dialog.saved, timeout=5_000):
            dialog.save_button.click()
        dialog.close_button.click()

    configure()
    qtbot.waitUntil(lambda: not dialog.isVisible())

    # The key is in the OS keyring, and in no file of the home folder.
    assert keyring.get_password(credentials.SERVICE, "team-server") == KEY
    for path in workbench_home.rglob("*"):
        if path.is_file():
            assert KEY.encode() not in path.read_bytes(), path

    # Run on the real server.
    _choose(qtbot, window, "team-server")
    qtbot.waitUntil(lambda: window.picker.model.startswith("smollm2"), timeout=30_000)
    window.params.rows["max_tokens"].spin.setValue(24)
    _run(qtbot, window)
    assert window.output.state == "finished" and window.output.text().strip()
    journey.shot("ran-on-server")

    # Run on the closed port: the message names the URL and says what to do.
    _choose(qtbot, window, "down-server")
    _run(qtbot, window)
    assert window.output.state == "failed"
    shown = window.output.error_label.text()
    assert "127.0.0.1" in shown and str(closed.split(":")[2].split("/")[0]) in shown
    assert "start the server" in shown.lower() or "base url" in shown.lower()
    journey.shot("closed-port-run")
    rows = window.history.model.rows
    assert rows[0].status == "error" and rows[1].status == "ok"

    # Restart: both backends and both runs are still there, the failure with its reason.
    # The edited max tokens were kept as a draft, and come back without a question.
    window = journey.restart()
    assert QApplication.activeModalWidget() is None
    assert window.params.params().max_tokens == 24
    assert {"team-server", "down-server"} <= set(window.picker.backend_names())
    qtbot.waitUntil(lambda: len(window.history.run_ids()) == 2, timeout=10_000)
    failed = window.history.model.rows[0]
    assert failed.status == "error" and failed.error_kind
    journey.shot("after-restart")
