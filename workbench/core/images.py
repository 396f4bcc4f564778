"""Images in user messages: the part itself, its size read from the file's header, and the
tokens providers bill for it.

A message's content parts are its text (``content``, rendered with Jinja) and its images
(``images``, passed through unrendered). In memory an image always carries its bytes (base64);
in a library template file it is named by ``path`` relative to the file (``storage.images``
writes and reads them), so the YAML stays small and diffable.
"""

from __future__ import annotations

import base64
import hashlib
import math
import struct
from pathlib import PurePosixPath
from typing import Literal

from pydantic import BaseModel, ConfigDict, model_validator

ImageMediaType = Literal["image/png", "image/jpeg", "image/gif", "image/webp"]
#: How closely OpenAI looks at an image: "low" is a fixed 85 tokens at 512×512.
ImageDetail = Literal["auto", "low", "high"]

#: Each media type's file extension (also Bedrock's ``format``).
EXTENSIONS: dict[str, str] = {
    "image/png": "png", "image/jpeg": "jpeg", "image/gif": "gif", "image/webp": "webp"
}


class ImagePart(BaseModel):
    """An image given to the model with a user message."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    media_type: ImageMediaType
    data: str = ""  # base64 of the file's bytes; empty only in a file that names ``path``
    path: str = ""  # in a library template file: the image file, relative to the template
    detail: ImageDetail = "auto"

    @model_validator(mode="after")
    def _has_bytes_or_file(self) -> ImagePart:
        if not self.data and not self.path:
            raise ValueError("an image needs its data or a path to its file")
        parts = PurePosixPath(self.path).parts
        if self.path and (self.path.startswith(("/", "\\")) or ".." in parts or ":" in self.path):
            # a template from elsewhere must not make the app read (and send) any file
            raise ValueError(f"image path {self.path!r} must stay inside the template's folder")
        return self

    @classmethod
    def from_bytes(cls, raw: bytes, detail: ImageDetail = "auto") -> ImagePart:
        """An image from a file's bytes; its type is read from them (not trusted from a name),
        so a file that is no PNG, JPEG, GIF or WebP is a ``ValueError``."""
        return cls(media_type=sniff(raw), data=base64.b64encode(raw).decode("ascii"),
                   detail=detail)

    def __eq__(self, other: object) -> bool:
        """Equal by what the model sees: the same bytes are the same image wherever they are
        stored (an image attached in the editor equals the one read back from the library)."""
        if not isinstance(other, ImagePart):
            return NotImplemented
        if self.data and other.data:
            return (self.media_type, self.data, self.detail) == (
                other.media_type, other.data, other.detail
            )
        return (self.media_type, self.data, self.path, self.detail) == (
            other.media_type, other.data, other.path, other.detail
        )

    def __hash__(self) -> int:
        return hash((self.media_type, self.data or self.path, self.detail))

    def raw(self) -> bytes:
        if not self.data:
            raise ValueError(f"image {self.path or '(unnamed)'} has no data loaded")
        return base64.b64decode(self.data)

    def digest(self) -> str:
        """A short hash of the bytes: the stored file's name, so equal images are kept once
        and an old template version's image is never overwritten."""
        return hashlib.sha256(self.raw()).hexdigest()[:16]

    def data_url(self) -> str:
        return f"data:{self.media_type};base64,{self.data}"

    def size(self) -> tuple[int, int]:
        """``(width, height)`` in pixels, from the header."""
        return dimensions(self.raw())


def sniff(raw: bytes) -> ImageMediaType:
    """The media type of an image file's bytes, by its magic number."""
    if raw.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if raw.startswith(b"\xff\xd8"):
        return "image/jpeg"
    if raw[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if raw[:4] == b"RIFF" and raw[8:12] == b"WEBP":
        return "image/webp"
    raise ValueError("not a PNG, JPEG, GIF or WebP image")


def dimensions(raw: bytes) -> tuple[int, int]:
    """``(width, height)`` read from a PNG, JPEG, GIF or WebP header, without decoding the
    image (core stays free of image libraries). A truncated or unknown file: ``ValueError``."""
    kind = sniff(raw)
    try:
        if kind == "image/png":
            width, height = struct.unpack(">II", raw[16:24])
        elif kind == "image/gif":
            width, height = struct.unpack("<HH", raw[6:10])
        elif kind == "image/webp":
            width, height = _webp(raw)
        else:
            width, height = _jpeg(raw)
    except struct.error:
        raise ValueError(f"truncated {kind} header") from None
    if width <= 0 or height <= 0:
        raise ValueError(f"{kind} header gives no size")
    return width, height


def _webp(raw: bytes) -> tuple[int, int]:
    chunk = raw[12:16]
    if chunk == b"VP8X":  # extended: 24-bit width-1 and height-1
        return (int.from_bytes(raw[24:27], "little") + 1, int.from_bytes(raw[27:30], "little") + 1)
    if chunk == b"VP8L":  # lossless: 14-bit fields after the 0x2f signature
        bits = int.from_bytes(raw[21:25], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if chunk == b"VP8 ":  # lossy: after the 3-byte frame tag and 0x9d012a start code
        width, height = struct.unpack("<HH", raw[26:30])
        return width & 0x3FFF, height & 0x3FFF
    raise ValueError("unknown WebP chunk")


#: JPEG start-of-frame markers (baseline, progressive, …), which carry the size; not DHT (C4),
#: JPG (C8) or DAC (CC).
_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}


def _jpeg(raw: bytes) -> tuple[int, int]:
    at = 2
    while at + 4 <= len(raw):
        if raw[at] != 0xFF:
            raise ValueError("malformed JPEG segment")
        marker = raw[at + 1]
        if marker == 0xFF:  # fill byte
            at += 1
            continue
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:  # no length field
            at += 2
            continue
        (length,) = struct.unpack(">H", raw[at + 2 : at + 4])
        if marker in _SOF:
            height, width = struct.unpack(">HH", raw[at + 5 : at + 9])
            return width, height
        at += 2 + length
    raise ValueError("JPEG without a frame header")


# --- tokens ------------------------------------------------------------------------------------

ImageFormula = Literal["openai", "anthropic"]


def openai_tokens(width: int, height: int, detail: ImageDetail = "auto") -> int:
    """OpenAI's published count (GPT-4o/4.1 vision): 85 for "low"; else the image is scaled to
    fit 2048×2048, then its shortest side to 768, and costs 85 plus 170 per 512-px tile."""
    if detail == "low":
        return 85
    scale = min(1.0, 2048 / max(width, height))
    w, h = width * scale, height * scale
    scale = min(1.0, 768 / min(w, h))
    w, h = w * scale, h * scale
    return 85 + 170 * math.ceil(w / 512) * math.ceil(h / 512)


def anthropic_tokens(width: int, height: int) -> int:
    """Anthropic's published estimate: width × height / 750, after an image longer than
    1568 px on its long edge is scaled down to it (aspect kept)."""
    scale = min(1.0, 1568 / max(width, height))
    return math.ceil(round(width * scale) * round(height * scale) / 750)


def image_formula(model: str | None) -> ImageFormula:
    """Whose formula counts a model's images: Anthropic's for Claude models (also through
    Bedrock or a proxy), else OpenAI's tiles (what OpenAI-compatible vision servers follow)."""
    return "anthropic" if model and "claude" in model.lower() else "openai"


def image_tokens(image: ImagePart, formula: ImageFormula) -> int:
    width, height = image.size()
    if formula == "anthropic":
        return anthropic_tokens(width, height)
    return openai_tokens(width, height, image.detail)


def images_of(messages: list[object]) -> list[ImagePart]:
    """Every image of ``messages`` (anything with an ``images`` list), in order."""
    return [image for m in messages for image in getattr(m, "images", [])]


__all__ = [
    "EXTENSIONS",
    "ImageDetail",
    "ImageFormula",
    "ImageMediaType",
    "ImagePart",
    "anthropic_tokens",
    "dimensions",
    "image_formula",
    "image_tokens",
    "images_of",
    "openai_tokens",
    "sniff",
]
