"""The application's own icon: one full-colour SVG in ``resources/icons/app``.

Qt renders the SVG at whatever size a window title, task bar or switcher asks for, so the app
ships no PNGs; ``png`` renders the fixed sizes a freedesktop icon theme wants at install time.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QBuffer, QByteArray, QIODevice, QRectF, Qt
from PySide6.QtGui import QIcon, QImage, QImageWriter, QPainter
from PySide6.QtSvg import QSvgRenderer

from workbench.services.desktop_entry import NAME
from workbench.ui import theming

__all__ = ["NAME", "app_icon", "png", "svg_path"]


def svg_path() -> Path:
    path = theming.icons_dir() / "app" / f"{NAME}.svg"
    if not path.is_file():
        raise FileNotFoundError(f"the application icon is missing: expected {path}")
    return path


def app_icon() -> QIcon:
    """The icon every window shows (set once on the application)."""
    return QIcon(str(svg_path()))


def png(size: int) -> bytes:
    """The icon rendered as a ``size`` × ``size`` PNG with a transparent background.

    Works without a QGuiApplication: painting SVG paths on a QImage needs no display."""
    renderer = QSvgRenderer(str(svg_path()))
    if not renderer.isValid():
        raise ValueError(f"the application icon is not valid SVG: {svg_path()}")
    image = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    renderer.render(painter, QRectF(0, 0, size, size))
    painter.end()
    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    if not QImageWriter(buffer, QByteArray(b"png")).write(image):
        raise OSError(f"Qt cannot write a PNG of the application icon ({size} px)")
    buffer.close()
    return bytes(data.data())
