"""Real image files for the image tests, written by Qt's encoders at a chosen size (so header
parsing is checked against files a real encoder made, not bytes shaped by hand)."""

from __future__ import annotations

from PySide6.QtCore import QBuffer, QIODevice
from PySide6.QtGui import QColor, QImage

#: The smallest GIF (1×1, GIF89a), as written by every GIF encoder; Qt writes no GIFs.
GIF_1X1 = bytes.fromhex(
    "47494638396101000100800000000000ffffff21f90401000000002c00000000010001000002024401003b"
)


def encode(width: int, height: int, fmt: str = "PNG", quality: int = -1) -> bytes:
    """A ``width`` × ``height`` image in ``fmt`` (PNG, JPEG, WEBP), gradient-filled."""
    image = QImage(width, height, QImage.Format.Format_RGB32)
    image.fill(QColor(40, 120, 200))
    for x in range(0, width, max(width // 8, 1)):
        for y in range(height):
            image.setPixelColor(x, y, QColor(250, 200, 10))
    buffer = QBuffer()
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    assert image.save(buffer, fmt, quality)
    return bytes(buffer.data().data())
