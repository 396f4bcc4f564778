"""What the chat-only remote APIs (Anthropic's Messages, Bedrock's Converse) ask of a request.

Both take chat messages only, want a model named, and carry the system prompt apart from the
conversation; the checks and their messages are the same, so they live here once.
"""

from __future__ import annotations

from workbench.core.errors import BadRequestError, KnownError
from workbench.core.models import RenderedMessage, RunRequest


def chat_turns(request: RunRequest, api: str) -> tuple[list[str], list[RenderedMessage]]:
    """``(system prompts, the other messages)`` of a chat request; a completion prompt is a
    :class:`BadRequestError` naming ``api`` (e.g. "Anthropic's Messages API")."""
    if request.prompt is not None:
        raise BadRequestError(
            f"{api} takes chat messages, not a completion prompt", hint="use a chat template"
        )
    system = [m.content for m in request.messages if m.role == "system"]
    return system, [m for m in request.messages if m.role != "system"]


def chosen_model(request: RunRequest, default: str, what: str) -> str:
    """The run's model, else the backend's default; neither is a :class:`KnownError` asking
    to ``choose {what}`` (e.g. "an Anthropic model")."""
    model = request.model or default
    if not model:
        raise KnownError(
            f"choose {what}", hint="pass --model or set default_model (see `workbench backends`)"
        )
    return model
