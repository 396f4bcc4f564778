"""The request checks the chat-only remote APIs share, and the options checks behind them."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from workbench.backends.anthropic import AnthropicOptions
from workbench.backends.bedrock import BedrockOptions
from workbench.backends.http import http_base_url
from workbench.backends.messages import chat_turns, chosen_model
from workbench.backends.openai_compat import OpenAICompatOptions
from workbench.core.errors import BadRequestError, KnownError
from workbench.core.models import RenderedMessage, RunRequest


def _request(**fields: object) -> RunRequest:
    chat = {"messages": [{"role": "user", "content": "Hi"}]}
    return RunRequest.model_validate({"backend": "anthropic", **chat, **fields})


def test_chat_turns_takes_the_system_prompts_apart_in_order() -> None:
    messages = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Hi"},
        {"role": "system", "content": "No emoji."},
        {"role": "assistant", "content": "Hello"},
    ]
    system, turns = chat_turns(_request(messages=messages), "Some API")
    assert system == ["Be brief.", "No emoji."]
    assert turns == [
        RenderedMessage(role="user", content="Hi"),
        RenderedMessage(role="assistant", content="Hello"),
    ]


def test_a_completion_prompt_is_refused_naming_the_api() -> None:
    with pytest.raises(BadRequestError, match=r"^Bedrock's Converse API takes chat messages") as e:
        chat_turns(_request(messages=[], prompt="Once upon a time"), "Bedrock's Converse API")
    assert e.value.hint == "use a chat template"


def test_chosen_model_prefers_the_run_then_the_default() -> None:
    assert chosen_model(_request(model="m-run"), "m-default", "a model") == "m-run"
    assert chosen_model(_request(), "m-default", "a model") == "m-default"
    with pytest.raises(KnownError, match=r"^choose an Anthropic model \(") as e:
        chosen_model(_request(), "", "an Anthropic model")
    assert "--model" in (e.value.hint or "")


def test_base_urls_are_trimmed_and_must_be_http() -> None:
    assert http_base_url("  https://example.test/v1/ ") == "https://example.test/v1"
    with pytest.raises(ValueError, match="must start with http"):
        http_base_url("ftp://example.test")
    assert AnthropicOptions(base_url="http://127.0.0.1:9/").base_url == "http://127.0.0.1:9"
    with pytest.raises(ValidationError, match="must start with http"):
        OpenAICompatOptions(base_url="127.0.0.1:8080/v1")


def test_capability_overrides_name_known_parameters_only() -> None:
    bad: dict[str, object] = {"capability_overrides": {"temprature": {}}}
    for options in (AnthropicOptions, BedrockOptions):
        with pytest.raises(ValidationError, match=r"unknown parameter\(s\) temprature"):
            options.model_validate(bad)
    with pytest.raises(ValidationError, match="temprature; known: temperature"):
        OpenAICompatOptions.model_validate(bad)
