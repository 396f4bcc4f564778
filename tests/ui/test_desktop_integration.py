"""The app on the desktop: its icon on every window, a file given on the command line opening
in the window, and a second launch handing its file to the running instance over a real local
socket (a real second ``python -m workbench`` process)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from PySide6.QtCore import QDir, QPoint, Qt
from PySide6.QtGui import QColor, QImage, QPainter
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from tests.conftest import ARTIFACTS, REPO
from tests.ui.windows import close_window, window
from workbench.app import _open_handed_over, create_application, open_main_window
from workbench.core.models import Message, PromptTemplate
from workbench.core.template_files import dumps
from workbench.ui import app_icon, child_windows, single_instance
from workbench.ui.main_window import MainWindow

__all__ = ["window"]


def _template_file(folder: Path, name: str) -> Path:
    path = folder / f"{name}.prompt.yaml"
    template = PromptTemplate(name=name, messages=[Message(role="user", content="Hi {{ who }}")])
    path.write_text(dumps(template), encoding="utf-8")
    return path


@pytest.fixture
def server(qapp: QApplication) -> single_instance.InstanceServer:
    server = single_instance.InstanceServer()
    assert server.listen()
    yield server
    server.close()


def test_every_window_shows_the_app_icon(qtbot: QtBot, window: MainWindow) -> None:
    app = QApplication.instance()
    assert isinstance(app, QApplication)
    assert app.desktopFileName() == "prompt-workbench"
    assert not app.windowIcon().isNull()
    backends = child_windows.open_backends(window)
    for shown in (window, backends):
        image = shown.windowIcon().pixmap(16, 16).toImage()
        assert image.width() == 16
        # Legible at 16 px: the blue tile, the white chevron and the amber cursor all survive.
        assert image.pixelColor(8, 1).blue() > 200 and image.pixelColor(8, 1).red() < 100
        colours = {image.pixelColor(x, y).name() for x in range(16) for y in range(16)}
        assert any(QColor(c).red() > 230 and QColor(c).blue() > 230 for c in colours)  # white
        assert any(QColor(c).red() > 200 and QColor(c).blue() < 100 for c in colours)  # amber
    backends.close()
    _icon_sheet()


def _icon_sheet() -> None:
    """The icon at every installed size on a light and a dark background, to look at."""
    sizes = (16, 24, 32, 48, 64, 128, 256)
    sheet = QImage(sum(sizes) + 8 * (len(sizes) + 1), 2 * (256 + 16), QImage.Format.Format_ARGB32)
    painter = QPainter(sheet)
    for row, background in enumerate(("#f5f6f7", "#202124")):
        painter.fillRect(0, row * 272, sheet.width(), 272, QColor(background))
        x = 8
        for size in sizes:
            painter.drawImage(QPoint(x, row * 272 + 8), QImage.fromData(app_icon.png(size)))
            x += size + 8
    painter.end()
    ARTIFACTS.mkdir(exist_ok=True)
    assert sheet.save(str(ARTIFACTS / "app-icon-sizes.png"))


def test_a_file_given_on_the_command_line_opens_in_the_window(
    qtbot: QtBot, tmp_path: Path
) -> None:
    create_application()
    window = open_main_window(first_run_demo=False, file=_template_file(tmp_path, "Greeter"))
    qtbot.addWidget(window)
    assert window.editor.template().name == "Greeter"
    assert window.key is None  # a file, not a library template
    close_window(window)


def test_an_unreadable_file_is_named_with_its_line_and_the_app_still_starts(
    qtbot: QtBot, tmp_path: Path
) -> None:
    broken = tmp_path / "broken.prompt.yaml"
    broken.write_text("format_version: 1\nname: [unclosed\nmessages: []\n", encoding="utf-8")
    create_application()
    window = open_main_window(first_run_demo=False, file=broken)
    qtbot.addWidget(window)
    bar = window.problem_bar  # stays until dismissed: the status bar's next message would hide it
    assert bar.isVisible() and f"Cannot open {broken}:2: not valid YAML" in bar.text()
    assert window.editor.template().name != ""  # the welcome template, not an empty window
    qtbot.mouseClick(bar.dismiss_button, Qt.MouseButton.LeftButton)
    assert not bar.isVisible()
    close_window(window)

    # A mapping where a list belongs (a hand-written variables:), named at its line.
    broken.write_text("format_version: 1\nname: x\nmessages:\n- role: user\n  content: hi\n"
                      "variables:\n  text: {description: the text}\n", encoding="utf-8")
    create_application()
    window = open_main_window(first_run_demo=False, file=broken)
    qtbot.addWidget(window)
    assert f"{broken}:7: variables: Input should be a valid list" in window.problem_bar.text()
    assert window.problem_bar.isVisible()
    close_window(window)

    create_application()
    window = open_main_window(first_run_demo=False, file=tmp_path / "missing.prompt.yaml")
    qtbot.addWidget(window)
    assert "missing.prompt.yaml: No such file or directory" in window.problem_bar.text()
    close_window(window)


@pytest.mark.qt_log_ignore("This plugin does not support raise")  # offscreen: no window manager
def test_a_second_launch_hands_its_file_to_the_running_window(
    qtbot: QtBot, window: MainWindow, server: single_instance.InstanceServer, tmp_path: Path
) -> None:
    server.files_received.connect(lambda files: _open_handed_over(window, files))
    path = _template_file(tmp_path, "Handed over")
    window.showMinimized()
    started = time.monotonic()
    # The real command, relative path and all, from another directory.
    second = subprocess.Popen(
        [sys.executable, "-m", "workbench", path.name],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    qtbot.waitUntil(lambda: second.poll() is not None, timeout=60_000)
    out, err = second.communicate()
    elapsed = time.monotonic() - started
    assert second.returncode == 0, err
    # One line says where the file went (it built no window); nothing from Qt (no
    # QCoreApplication in it).
    assert (out, err) == (
        f"workbench: opened {path.name} in the running Prompt Workbench window\n", ""
    )
    qtbot.waitUntil(lambda: window.editor.template().name == "Handed over")
    assert not window.isMinimized()
    print(f"second launch handed over and exited in {elapsed:.2f} s")


def test_a_socket_left_by_a_crashed_instance_is_taken_over(qapp: QApplication) -> None:
    name = single_instance.server_name()
    stale = socket.socket(socket.AF_UNIX)
    stale.bind(os.path.join(QDir.tempPath(), name))  # bound, never listening: nobody answers
    stale.close()
    assert not single_instance.hand_over([])
    server = single_instance.InstanceServer()
    assert server.listen()
    assert server.is_listening()
    server.close()
    assert not os.path.exists(os.path.join(QDir.tempPath(), name))  # closed: removed on quit


def test_a_live_instance_keeps_its_name_and_a_new_home_is_another_instance(
    server: single_instance.InstanceServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert not single_instance.InstanceServer().listen()  # the running one answers
    first = single_instance.server_name()
    monkeypatch.setenv("WORKBENCH_HOME", str(tmp_path / "portable"))
    assert single_instance.server_name() != first
    assert not single_instance.hand_over([])  # nothing runs for that home
