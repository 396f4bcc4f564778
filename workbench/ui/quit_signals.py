"""SIGTERM and SIGINT quit the app as Ctrl+Q does: the main window closes normally, so unsaved
edits are kept as a draft and the session is marked cleanly ended.

Logging out sends SIGTERM, a terminal's Ctrl+C sends SIGINT. Left alone, SIGTERM kills the
process on the spot (edits since the last autosave lost, the next start asks about a crash) and
SIGINT raises KeyboardInterrupt in whichever slot runs next, inside Qt's loop. Python runs its
signal handlers only between bytecodes, never while Qt's C++ loop waits, so the C-level handler's
wake-up byte (``signal.set_wakeup_fd``) goes to a socket that a QSocketNotifier watches: the
loop wakes at once, and the window closes from an ordinary slot, never inside a handler.
"""

from __future__ import annotations

import signal
import socket

from PySide6.QtCore import QObject, QSocketNotifier
from PySide6.QtWidgets import QApplication, QWidget

SIGNALS = (signal.SIGTERM, signal.SIGINT)


def _noted(signum: int, frame: object) -> None:
    """A Python handler must be set for the wake-up byte to be written; the work is the slot's."""


class QuitOnSignals(QObject):
    """For the rest of the process, SIGTERM and SIGINT close ``window``, then quit the app."""

    def __init__(self, window: QWidget) -> None:
        super().__init__(window)
        self._window = window
        self._inbox, self._outbox = socket.socketpair()
        self._inbox.setblocking(False)
        self._outbox.setblocking(False)
        self._notifier = QSocketNotifier(self._inbox.fileno(), QSocketNotifier.Type.Read, self)
        self._notifier.activated.connect(self._arrived)
        signal.set_wakeup_fd(self._outbox.fileno(), warn_on_full_buffer=False)
        for signum in SIGNALS:
            signal.signal(signum, _noted)

    def _arrived(self) -> None:
        try:
            received = self._inbox.recv(64)
        except BlockingIOError:
            return
        if any(signum in received for signum in SIGNALS) and self._window.close():
            QApplication.quit()
