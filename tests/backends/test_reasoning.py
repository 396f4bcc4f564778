"""Which models take a reasoning effort or a thinking budget, by their ids as each provider
names them (the per-backend tests check what is then sent)."""

from __future__ import annotations

import pytest

from workbench.backends.openai_compat import CHAT_CAPABILITIES
from workbench.backends.reasoning import narrowed, takes_effort, takes_thinking_budget
from workbench.core.params import ParamCapability


@pytest.mark.parametrize(
    ("model", "takes"),
    [
        ("o1", True), ("o3-mini", True), ("o4-mini-2025-04-16", True), ("gpt-5", True),
        ("gpt-5-mini", True), ("gpt-5.1", True), ("openai/gpt-oss-20b", True),
        ("gpt-oss:120b", True),
        ("gpt-4o", False), ("gpt-4o-mini", False), ("gpt-4.1", False),
        ("gpt-5-chat-latest", False), ("llama-3.1-8b-instruct", False), ("r1", False),
        ("foo1-mini", False),
    ],
)
def test_openai_reasoning_models_take_an_effort(model: str, takes: bool) -> None:
    assert takes_effort(model) is takes


@pytest.mark.parametrize(
    ("model", "takes"),
    [
        ("claude-3-7-sonnet-20250219", True), ("claude-3-7-sonnet-latest", True),
        ("claude-sonnet-4-20250514", True), ("claude-opus-4-1-20250805", True),
        ("claude-haiku-4-5", True), ("claude-sonnet-4-5", True),
        ("anthropic.claude-3-7-sonnet-20250219-v1:0", True),
        ("us.anthropic.claude-opus-4-20250514-v1:0", True),
        ("claude-3-5-sonnet-20241022", False), ("claude-3-5-haiku-latest", False),
        ("claude-3-opus-20240229", False), ("anthropic.claude-v2", False),
        ("amazon.nova-pro-v1:0", False), ("meta.llama3-70b-instruct-v1:0", False),
    ],
)
def test_claude_37_and_4_take_a_thinking_budget(model: str, takes: bool) -> None:
    assert takes_thinking_budget(model) is takes


def test_narrowing_says_why_and_the_users_override_wins() -> None:
    table = narrowed(CHAT_CAPABILITIES, "gpt-4o", {}, effort=False)
    assert table.status("reasoning_effort") == "ignored"
    note = table.params["reasoning_effort"].note
    assert note.startswith("gpt-4o takes no reasoning effort: only OpenAI's o-series")
    assert "capability override" in note
    marked = narrowed(CHAT_CAPABILITIES, "qwq-32b", {"reasoning_effort": ParamCapability()},
                      effort=False)
    assert marked.status("reasoning_effort") == "supported"
    # an unknown model (the server's default) keeps the backend's table
    assert narrowed(CHAT_CAPABILITIES, "", {}, effort=False) == CHAT_CAPABILITIES
