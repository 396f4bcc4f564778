"""The keys that close a window beside the main one, as a person expects of any window:
Ctrl+W (the platform's Close key, plus an explicit Ctrl+W where the platform has none), and
Escape for dialog-like windows. Both go through ``close()``, the close button's path, so a
window's own close (a compare window cancelling its runs) runs as it does for the button."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import QWidget


def close_keys() -> list[QKeySequence]:
    """The platform's Close bindings, with Ctrl+W added when they lack it."""
    keys = list(QKeySequence.keyBindings(QKeySequence.StandardKey.Close))
    ctrl_w = QKeySequence("Ctrl+W")
    if ctrl_w not in keys:
        keys.append(ctrl_w)
    return keys


def add_close_keys(window: QWidget, *, escape: bool = False) -> list[QShortcut]:
    """Shortcuts on ``window`` (window-wide) that close it; Escape too when ``escape``."""
    keys = close_keys() + ([QKeySequence(Qt.Key.Key_Escape)] if escape else [])
    shortcuts = []
    for key in keys:
        shortcut = QShortcut(key, window)
        shortcut.setContext(Qt.ShortcutContext.WindowShortcut)
        shortcut.activated.connect(window.close)
        shortcuts.append(shortcut)
    return shortcuts
