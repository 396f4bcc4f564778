"""Real image files for the image tests, written by Qt's encoders at a chosen size (so header
parsing is checked against files a real encoder made, not bytes shaped by hand). Where Qt is
hidden (the CI's no-Qt job) PNGs come from a small zlib encoder here and other formats skip."""

from __future__ import annotations

import struct
import zlib

import pytest

try:
    from PySide6.QtCore import QBuffer, QIODevice
    from PySide6.QtGui import QColor, QImage
except ImportError:  # WORKBENCH_NO_QT=1
    QImage = None

#: The smallest GIF (1×1, GIF89a), as written by every GIF encoder; Qt writes no GIFs.
GIF_1X1 = bytes.fromhex(
    "47494638396101000100800000000000ffffff21f90401000000002c00000000010001000002024401003b"
)

_BLUE, _YELLOW = (40, 120, 200), (250, 200, 10)


def encode(width: int, height: int, fmt: str = "PNG", quality: int = -1) -> bytes:
    """A ``width`` × ``height`` image in ``fmt`` (PNG, JPEG, WEBP), blue with yellow stripes."""
    if QImage is None:
        if fmt != "PNG":
            reason = f"{fmt} needs Qt's encoders (hidden in this run)"
            pytest.skip(reason, allow_module_level=True)
        return _png(width, height)
    image = QImage(width, height, QImage.Format.Format_RGB32)
    image.fill(QColor(*_BLUE))
    for x in range(0, width, max(width // 8, 1)):
        for y in range(height):
            image.setPixelColor(x, y, QColor(*_YELLOW))
    buffer = QBuffer()
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    assert image.save(buffer, fmt, quality)
    return bytes(buffer.data().data())


def _png(width: int, height: int) -> bytes:
    """The same picture as an 8-bit RGB PNG (signature, IHDR, one IDAT, IEND)."""
    step = max(width // 8, 1)
    row = b"".join(bytes(_YELLOW if x % step == 0 else _BLUE) for x in range(width))
    pixels = b"".join(b"\x00" + row for _ in range(height))  # filter type 0 on every row

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(kind + data))
        return struct.pack(">I", len(data)) + kind + data + crc

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(pixels))
            + chunk(b"IEND", b""))
