"""Colours with a meaning (error, warning, token backgrounds) that read well in light and dark.

Qt's palette has no role for "error" or "warning"; these pick a shade by the palette's lightness
so the same widget is readable under both Fusion palettes.
"""

from __future__ import annotations

from PySide6.QtGui import QColor, QPalette


def is_dark(palette: QPalette) -> bool:
    """Whether text is drawn light on dark in this palette."""
    return palette.color(QPalette.ColorRole.Base).lightness() < 128


def error_color(palette: QPalette) -> QColor:
    return QColor("#ff8a80") if is_dark(palette) else QColor("#c62828")


def warning_color(palette: QPalette) -> QColor:
    return QColor("#ffcc66") if is_dark(palette) else QColor("#b26a00")


def tint(color: QColor, alpha: int) -> QColor:
    """``color`` made translucent, for backgrounds under text."""
    tinted = QColor(color)
    tinted.setAlpha(alpha)
    return tinted


def token_backgrounds(palette: QPalette) -> tuple[QColor, QColor]:
    """Two backgrounds that alternate from one token to the next, readable under the text."""
    if is_dark(palette):
        return QColor("#254a6e"), QColor("#5a3d1a")
    return QColor("#cfe6ff"), QColor("#ffe2b8")
