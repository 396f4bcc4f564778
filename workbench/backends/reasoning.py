"""Which models reason and take a reasoning setting, per model.

A backend's table says what its API can carry; whether the chosen model takes a reasoning
effort or a thinking budget is a property of the model: OpenAI's o-series, gpt-5 and gpt-oss
take ``reasoning_effort`` (others reject it), Claude 3.7 and the Claude 4 family take an
extended-thinking budget (also on Bedrock), a GGUF reasons when its chat template writes a
``<think>`` block, and an Ollama model when its ``/api/show`` lists the "thinking" capability.
``Backend.model_capabilities`` narrows its table with these rules, so the Parameters panel
greys a control the model would not take, with the reason, and a run records the value as
ignored instead of sending it for the API to refuse. A user's ``capability_overrides`` are
applied after, so a reasoning model these rules do not know can still be marked.
"""

from __future__ import annotations

import re

from workbench.core.params import Capabilities, ParamCapability

#: Model ids taking OpenAI's ``reasoning_effort``: o1, o3, o4-mini…, the gpt-5 family (not its
#: non-reasoning chat snapshots) and gpt-oss, also under a provider prefix ("openai/gpt-oss-20b").
_EFFORT_MODELS = re.compile(r"(?:^|[/:])(?:o[1-9](?:-|$)|gpt-5(?!.*-chat)|gpt-oss)", re.I)
#: Model ids taking Anthropic's extended thinking: Claude 3.7 Sonnet and the Claude 4 family
#: (opus-4, sonnet-4, haiku-4-5 and later), as Anthropic names them and inside Bedrock's ids
#: ("us.anthropic.claude-sonnet-4-20250514-v1:0").
_THINKING_MODELS = re.compile(r"claude-(?:3-7-sonnet|(?:opus|sonnet|haiku)-[4-9])", re.I)

EFFORT_MODELS = "OpenAI's o-series, gpt-5 and gpt-oss models"
THINKING_MODELS = "Claude 3.7 Sonnet and the Claude 4 family"


def takes_effort(model: str) -> bool:
    """Whether ``model`` is an OpenAI reasoning model (takes ``reasoning_effort``)."""
    return bool(_EFFORT_MODELS.search(model))


def takes_thinking_budget(model: str) -> bool:
    """Whether ``model`` is a Claude model with extended thinking (takes a budget)."""
    return bool(_THINKING_MODELS.search(model))


def not_taken(model: str, setting: str, takers: str) -> ParamCapability:
    """The greyed capability of a reasoning setting ``model`` does not take, saying which do."""
    return ParamCapability(
        supported=False,
        note=f"{model} takes no {setting}: only {takers} do (a capability override can mark "
        "another reasoning model)",
    )


def narrowed(
    table: Capabilities,
    model: str,
    overrides: dict[str, ParamCapability],
    *,
    effort: bool | None = None,
    budget: bool | None = None,
) -> Capabilities:
    """``table`` for ``model``: ``reasoning_effort`` and ``thinking_budget`` greyed where
    ``effort`` / ``budget`` is False (None: left as the backend says), then the user's
    ``overrides``. An unknown model (empty: the server's default) keeps the backend's table."""
    changes: dict[str, ParamCapability] = {}
    if model and effort is False and table.status("reasoning_effort") == "supported":
        changes["reasoning_effort"] = not_taken(model, "reasoning effort", EFFORT_MODELS)
    if model and budget is False and table.status("thinking_budget") == "supported":
        changes["thinking_budget"] = not_taken(model, "thinking budget", THINKING_MODELS)
    return table.with_overrides({**changes, **overrides})
