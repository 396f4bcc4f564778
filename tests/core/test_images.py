"""Image parts: sizes read from real encoders' headers, and the providers' published token
formulas checked against their documentation's own worked examples."""

from __future__ import annotations

import pytest

from tests.images import GIF_1X1, encode
from workbench.core.images import (
    ImagePart,
    anthropic_tokens,
    dimensions,
    image_tokens,
    openai_tokens,
    sniff,
)
from workbench.core.models import Message, PromptTemplate, RenderedMessage
from workbench.core.templates import render


@pytest.mark.parametrize(("fmt", "quality", "media_type"), [
    ("PNG", -1, "image/png"),
    ("JPEG", 80, "image/jpeg"),
    ("WEBP", 80, "image/webp"),   # lossy: VP8
    ("WEBP", 100, "image/webp"),  # Qt writes quality 100 lossless: VP8L
])
def test_the_size_comes_from_the_header(fmt: str, quality: int, media_type: str) -> None:
    raw = encode(333, 217, fmt, quality)
    assert sniff(raw) == media_type
    assert dimensions(raw) == (333, 217)
    assert ImagePart.from_bytes(raw).size() == (333, 217)


def test_gif_and_unknown_files() -> None:
    assert dimensions(GIF_1X1) == (1, 1)
    with pytest.raises(ValueError, match="not a PNG"):
        ImagePart.from_bytes(b"%PDF-1.7 not an image")
    with pytest.raises(ValueError, match="truncated"):
        dimensions(encode(10, 10)[:18])


def test_openai_formula_matches_its_documented_examples() -> None:
    assert openai_tokens(1024, 1024) == 765  # 768×768: 4 tiles
    assert openai_tokens(2048, 4096) == 1105  # 1024×2048 then 768×1536: 6 tiles
    assert openai_tokens(4096, 8192, "low") == 85
    assert openai_tokens(100, 100) == 255  # small: one tile, never scaled up


def test_anthropic_formula_matches_its_documented_examples() -> None:
    assert anthropic_tokens(200, 200) == 54
    assert anthropic_tokens(1000, 1000) == 1334
    assert anthropic_tokens(1092, 1092) == 1590
    assert anthropic_tokens(3000, 3000) == anthropic_tokens(1568, 1568) == 3279  # scaled down
    assert image_tokens(ImagePart.from_bytes(encode(1000, 1000)), "anthropic") == 1334


def test_images_pass_through_rendering_and_only_on_user_messages() -> None:
    image = ImagePart.from_bytes(encode(20, 10))
    template = PromptTemplate(name="t", messages=[
        Message(role="system", content="Describe {{ what }}."),
        Message(role="user", content="What is in {{ what }}?", images=[image]),
    ])
    [system, user] = render(template, {"what": "the chart"})
    assert user.content == "What is in the chart?" and user.images == [image]
    assert system.images == []
    assert user.as_openai()["content"] == [
        {"type": "image_url", "image_url": {"url": image.data_url(), "detail": "auto"}},
        {"type": "text", "text": "What is in the chart?"},
    ]
    assert "images" not in Message(role="user", content="plain").model_dump()  # additive
    assert "images" not in RenderedMessage(role="user", content="plain").model_dump()
    with pytest.raises(ValueError, match="only a user message carries images"):
        RenderedMessage(role="assistant", content="x", images=[image])


def test_a_chat_count_adds_image_tokens_not_their_base64() -> None:
    from workbench.core.tokens import count_chat, tokenizer_for

    tokenizer = tokenizer_for("gpt-4o")
    plain = RenderedMessage(role="user", content="What is this?")
    pictured = plain.model_copy(update={"images": [ImagePart.from_bytes(encode(1024, 1024))]})
    base = count_chat([plain], tokenizer)
    openai = count_chat([pictured], tokenizer)
    assert openai.total == base.total + 765 and openai.messages[0].images == 765
    assert openai.exact  # OpenAI's formula is its billing
    claude = count_chat([pictured], tokenizer, "anthropic")
    assert claude.total == base.total + 1399 and not claude.exact  # 1024²/750, an estimate
