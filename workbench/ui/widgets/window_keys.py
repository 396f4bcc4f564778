"""The keys that close a window beside the main one, as a person expects of any window: Ctrl+W
(the platform's Close key, plus an explicit Ctrl+W where the platform has none) and Escape. Both
go through ``close()``, the close button's path, so a window's own close (a compare window
cancelling its runs, a sweep stopping with its cells left to resume) runs as it does for the
button.

Escape is not a shortcut: a window-wide Escape shortcut fires before the focused widget sees the
key, so it took Escape from a compare window's inline variant panel and clashed with an output's
own Escape (cancel its run). Escape closes the window only when it reaches the window unused, as
in a dialog: an open combo list, completer or table editor, an inline panel or a running
output's cancel takes it first, and the next Escape closes the window.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtGui import QKeyEvent, QKeySequence, QShortcut
from PySide6.QtWidgets import QDialog, QWidget


def close_keys() -> list[QKeySequence]:
    """The platform's Close bindings, with Ctrl+W added when they lack it."""
    keys = list(QKeySequence.keyBindings(QKeySequence.StandardKey.Close))
    ctrl_w = QKeySequence("Ctrl+W")
    if ctrl_w not in keys:
        keys.append(ctrl_w)
    return keys


class _EscapeCloses(QObject):
    """On its window: an Escape press that reached the window (no widget inside used it)
    closes it."""

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if (
            event.type() == QEvent.Type.KeyPress
            and isinstance(event, QKeyEvent)
            and isinstance(watched, QWidget)
            and event.matches(QKeySequence.StandardKey.Cancel)
        ):
            watched.close()
            return True
        return super().eventFilter(watched, event)


def add_close_keys(window: QWidget) -> list[QShortcut]:
    """Ctrl+W (window-wide shortcuts) and Escape close ``window``. A dialog already closes on
    an unused Escape (rejected, its own path), so it only gets the shortcuts."""
    shortcuts = []
    for key in close_keys():
        shortcut = QShortcut(key, window)
        shortcut.setContext(Qt.ShortcutContext.WindowShortcut)
        shortcut.activated.connect(window.close)
        shortcuts.append(shortcut)
    if not isinstance(window, QDialog):
        window.installEventFilter(_EscapeCloses(window))
    return shortcuts
