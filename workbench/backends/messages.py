"""What the chat-only remote APIs (Anthropic's Messages, Bedrock's Converse) ask of a request.

Both take chat messages only, want a model named, and carry the system prompt apart from the
conversation; the checks and their messages are the same, so they live here once.
"""

from __future__ import annotations

from typing import Any

from workbench.core.errors import BadRequestError, KnownError, ParameterError
from workbench.core.models import RenderedMessage, RunRequest
from workbench.core.params import NOT_WHILE_THINKING


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


#: Anthropic's extended thinking: its smallest budget, the same through Bedrock.
MIN_THINKING_BUDGET = 1024


def anthropic_thinking(
    sent: dict[str, Any], ignored: dict[str, Any], *, forced_tool: bool, api: str
) -> dict[str, Any] | None:
    """Anthropic's ``thinking`` setting for a run's ``thinking_budget`` (None: thinking off).

    The budget counts towards ``max_tokens``, so it must be below it; with thinking on,
    Anthropic accepts no temperature or top-k change (those move from ``sent`` to ``ignored``,
    so the run records they were not sent) and no forced tool (a response format), both said
    before anything is sent."""
    budget = sent.get("thinking_budget")
    if budget is None:
        return None
    max_tokens = sent.get("max_tokens")
    if max_tokens is None:
        raise ParameterError(
            f"thinking_budget {budget} needs max_tokens set above it ({api} counts the "
            "thinking towards max_tokens)",
            hint=f"set max_tokens to more than {budget}",
        )
    if budget >= max_tokens:
        raise ParameterError(
            f"thinking_budget {budget} must be below max_tokens {max_tokens}: {api} counts "
            "the thinking towards max_tokens, leaving no room for the answer",
            hint=f"raise max_tokens above {budget} or lower the thinking budget",
        )
    if forced_tool:
        raise ParameterError(
            f"{api} cannot think and answer in a response format at once (the format is a "
            "forced tool, which extended thinking does not allow)",
            hint="clear the thinking budget, or set the template's response_format to text",
        )
    for name in NOT_WHILE_THINKING:
        if name in sent:
            ignored[name] = sent.pop(name)
    return {"type": "enabled", "budget_tokens": budget}
