"""Colours the theme does not name: translucent tints and the token view's two backgrounds.

Both are picked by the palette's lightness, so the widgets read well under both Fusion palettes.
"""

from __future__ import annotations

from PySide6.QtGui import QColor, QPalette

from workbench.ui.theming import is_dark


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
