"""One running app per user and data folder: a second launch hands its file to the first.

The first instance listens on a local socket (a Unix socket, a named pipe on Windows) named after
the user and ``paths.data_dir()``, so a different ``WORKBENCH_HOME`` (tests, portable installs)
is a different instance. A second launch connects, sends the files as one JSON line, waits for
the ``ok`` and exits without building a window. A socket left by a crashed instance answers no
one and is removed before listening.
"""

from __future__ import annotations

import getpass
import hashlib
import json
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Qt, QTimer, Signal
from PySide6.QtNetwork import QLocalServer, QLocalSocket

from workbench.core import paths
from workbench.core.errors import KnownError

if TYPE_CHECKING:
    from PySide6.QtWidgets import QWidget

log = logging.getLogger(__name__)

CONNECT_MS = 500  # a live server accepts at once; a stale socket refuses at once
ANSWER_MS = 5000  # the running app answers from its event loop, even behind a modal dialog
_ACK = b"ok\n"


def server_name() -> str:
    """Per user and data folder; short, since a Unix socket's path is limited to ~100 bytes."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no name for this uid (a container)
        user = ""
    key = f"{user}\n{paths.data_dir().expanduser().absolute()}"
    return f"{paths.APP_NAME}-{hashlib.sha256(key.encode()).hexdigest()[:16]}"


def hand_over(files: Sequence[str]) -> bool:
    """True when a running instance took ``files`` (absolute paths; none: just come to the
    front); False when none runs. A running one that does not answer is a ``KnownError``."""
    socket = QLocalSocket()
    socket.connectToServer(server_name())
    if not socket.waitForConnected(CONNECT_MS):
        return False
    socket.write(json.dumps({"open": list(files)}).encode() + b"\n")
    socket.flush()
    answer = b""
    while _ACK not in answer and socket.waitForReadyRead(ANSWER_MS):
        answer += bytes(socket.readAll().data())
    socket.disconnectFromServer()
    if _ACK not in answer:
        raise KnownError(
            "Prompt Workbench is already running but did not answer",
            hint="close it, or wait until it responds again",
        )
    return True


class InstanceServer(QObject):
    """The running instance's end: ``files_received`` fires for each second launch, after it
    was answered, so a slot that asks a question never keeps the launcher waiting."""

    files_received = Signal(list)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._server = QLocalServer(self)
        self._server.setSocketOptions(QLocalServer.SocketOption.UserAccessOption)
        self._server.newConnection.connect(self._accept)

    def listen(self) -> bool:
        """Start listening; False when a live instance already does (it started at the same
        moment: hand over to it instead). Asked first, since with ``UserAccessOption`` Qt's
        listen renames its socket over an existing one and would steal a live one's name."""
        name = server_name()
        probe = QLocalSocket()
        probe.connectToServer(name)
        if probe.waitForConnected(CONNECT_MS):
            probe.abort()
            return False
        QLocalServer.removeServer(name)  # a socket left by an instance that crashed
        if not self._server.listen(name):
            # Run on without it: a second launch then simply opens a second window.
            log.warning("single instance: no server %s: %s", name, self._server.errorString())
        return True

    def close(self) -> None:
        self._server.close()

    def is_listening(self) -> bool:
        return self._server.isListening()

    def _accept(self) -> None:
        while (socket := self._server.nextPendingConnection()) is not None:
            socket.readyRead.connect(lambda s=socket: self._read(s))
            socket.disconnected.connect(socket.deleteLater)
            if socket.bytesAvailable():
                self._read(socket)

    def _read(self, socket: QLocalSocket) -> None:
        if not socket.canReadLine():
            return
        line = bytes(socket.readLine().data())
        try:
            message = json.loads(line)
            files = [str(f) for f in message["open"]]
        except (ValueError, KeyError, TypeError):
            log.warning("single instance: ignored a malformed message %r", line[:200])
            socket.abort()
            return
        socket.write(_ACK)
        socket.flush()
        QTimer.singleShot(0, lambda: self.files_received.emit(files))


def bring_to_front(window: QWidget) -> None:
    """Show ``window`` un-minimised, raised and focused (the window manager may only flash it)."""
    window.setWindowState(window.windowState() & ~Qt.WindowState.WindowMinimized)
    window.show()
    window.raise_()
    window.activateWindow()
