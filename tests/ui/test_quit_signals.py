"""SIGTERM (logout) and SIGINT (Ctrl+C) quit the real app as Ctrl+Q does: exit code 0, no
traceback, the unsaved edit kept as a draft and the session marked cleanly ended."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from workbench.services.workspace import Workspace
from workbench.ui.window_support import window_settings

# The app's own entry (workbench.app.main) in a process of its own; once its event loop runs,
# the template gets an edit that is not saved and the process says it is ready.
_CHILD = r"""
import sys
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication
from workbench import app
from workbench.ui.main_window import MainWindow

def edit():
    window = next(w for w in QApplication.topLevelWidgets() if isinstance(w, MainWindow))
    template = window.editor.template().model_copy(update={"description": "not saved yet"})
    window.editor.set_template(template)
    print("ready", window.key, flush=True)

app.create_application()
QTimer.singleShot(0, edit)
sys.exit(app.main())
"""


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals sent with os.kill")
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_quits_like_ctrl_q_and_keeps_the_edit(
    signum: signal.Signals, workbench_home: Path
) -> None:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "WORKBENCH_HOME": str(workbench_home)}
    with subprocess.Popen(
        [sys.executable, "-c", _CHILD],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as child:
        assert child.stdout is not None
        stuck = threading.Timer(120, child.kill)  # a child that never gets ready fails the test
        stuck.start()
        try:
            ready = child.stdout.readline().split()
        finally:
            stuck.cancel()
        assert ready[:1] == ["ready"], child.stderr.read() if child.stderr else ""
        child.send_signal(signum)
        try:
            _, stderr = child.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            child.kill()
            raise
    assert child.returncode == 0, stderr
    assert "Traceback" not in stderr, stderr
    key = ready[1]
    assert str(window_settings().value("session/clean")) == "1"
    workspace = Workspace()
    try:
        assert [d.key for d in workspace.autosave.drafts()] == [key]
    finally:
        workspace.close()
