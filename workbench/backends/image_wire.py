"""A user message's images in each provider's wire shape.

OpenAI's ``image_url`` content parts are built by ``RenderedMessage.as_openai`` (the fine-tuning
export writes the same). Anthropic: ``image`` blocks with a base64 ``source``; Bedrock Converse:
``image`` blocks with the raw bytes (boto3 base64-encodes them on the wire); Ollama's native
chat: an ``images`` list of base64 strings beside the text. Images go before the text, as
Anthropic advises (the model reads the picture, then the question about it).
"""

from __future__ import annotations

from typing import Any

from workbench.core.images import EXTENSIONS
from workbench.core.models import RenderedMessage


def anthropic_content(message: RenderedMessage) -> str | list[dict[str, Any]]:
    """A message's ``content``: its text, or its image blocks then a text block."""
    if not message.images:
        return message.content
    blocks: list[dict[str, Any]] = [
        {"type": "image",
         "source": {"type": "base64", "media_type": i.media_type, "data": i.data}}
        for i in message.images
    ]
    return [*blocks, {"type": "text", "text": message.content}]


def bedrock_images(message: RenderedMessage) -> list[dict[str, Any]]:
    """A message's image blocks for Converse (``format`` png/jpeg/gif/webp, raw ``bytes``)."""
    return [
        {"image": {"format": EXTENSIONS[i.media_type], "source": {"bytes": i.raw()}}}
        for i in message.images
    ]


def ollama_images(message: RenderedMessage) -> dict[str, Any]:
    """The ``images`` field of a message for Ollama's /api/chat (empty: none)."""
    return {"images": [i.data for i in message.images]} if message.images else {}
