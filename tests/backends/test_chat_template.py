"""Chat templates render exactly as Hugging Face's apply_chat_template does.

The shared fixtures hold 14 real templates and 112 renders produced by transformers; the raw prompt
a local model is shown and sent must match them byte for byte.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from workbench.backends.chat_template import NAMED_FORMATS, ChatTemplate, for_model
from workbench.core.errors import TemplateError
from workbench.core.models import RenderedMessage


def _cases(fixtures: Path) -> list[dict[str, Any]]:
    return json.loads((fixtures / "chat_templates" / "expected_renders.json").read_text())["cases"]


def test_every_reference_render_is_reproduced(fixtures_dir: Path) -> None:
    folder = fixtures_dir / "chat_templates"
    conversations = json.loads((folder / "conversations.json").read_text())["conversations"]
    cases = _cases(fixtures_dir)
    assert len(cases) == 112
    mismatches = []
    for case in cases:
        kwargs = case["render_kwargs"]
        template = ChatTemplate(
            (folder / case["template"]).read_text(encoding="utf-8"),
            "custom",
            bos_token=kwargs.get("bos_token", ""),
            eos_token=kwargs.get("eos_token", ""),
        )
        conversation = conversations[case["conversation"]]
        messages = conversation["messages"]
        tools = conversation.get("tools") if case.get("tools_passed") else None
        where = (case["template"], case["conversation"], case["add_generation_prompt"])
        try:
            rendered = template.render(
                [RenderedMessage(**m) for m in messages], case["add_generation_prompt"], tools
            ).text
        except TemplateError as err:
            expected_error = case.get("expected_error")
            if expected_error is None or expected_error["message"] not in str(err):
                mismatches.append((where, f"error: {err}"))
            continue
        if "expected_error" in case:
            mismatches.append((where, "rendered but the reference raised"))
        elif rendered != case["expected"]:
            mismatches.append((where, rendered))
    assert mismatches == []


def test_a_refusing_template_raises_its_own_message(fixtures_dir: Path) -> None:
    source = (fixtures_dir / "chat_templates" / "templates" / "gemma-it.jinja").read_text()
    template = ChatTemplate(source, "gguf", bos_token="<bos>", eos_token="<eos>")
    with pytest.raises(TemplateError, match="System role not supported") as err:
        template.render(
            [RenderedMessage(role="system", content="s"), RenderedMessage(role="user", content="u")]
        )
    assert "the model's chat template" in str(err.value)


def test_every_upstream_template_loads_without_crashing(fixtures_dir: Path) -> None:
    upstream = fixtures_dir / "chat_templates" / "upstream"
    gpt4all = json.loads((upstream / "gpt4all-models3.json").read_text())
    ollama = json.loads((upstream / "ollama-template-index.json").read_text())
    sources = [m["chatTemplate"] for m in gpt4all if m.get("chatTemplate")]
    sources += [t["template"] for t in ollama]
    assert len(sources) >= 60
    user = [RenderedMessage(role="user", content="Hello")]
    outcomes = {"rendered": 0, "refused": 0}
    for source in sources:
        try:
            template = ChatTemplate(source, "custom", bos_token="<s>", eos_token="</s>")
            assert isinstance(template.render(user).text, str)
            outcomes["rendered"] += 1
        except TemplateError as err:  # a clear, user-facing error is fine; a crash is not
            assert str(err)
            outcomes["refused"] += 1
    assert outcomes["rendered"] > outcomes["refused"]


def test_syntax_errors_name_the_line() -> None:
    with pytest.raises(TemplateError, match="line 2") as err:
        ChatTemplate("{% for m in messages %}\n{{ m.content }\n{% endfor %}", "custom")
    assert err.value.line == 2


def test_named_formats_and_custom_templates_replace_the_gguf_one() -> None:
    metadata = {"tokenizer.chat_template": "GGUF {{ messages[0].content }}"}
    tokens = {"bos_token": "<s>", "eos_token": "</s>"}
    user = [RenderedMessage(role="user", content="hi")]
    gguf = for_model(metadata, **tokens)
    assert gguf is not None and gguf.origin == "gguf" and gguf.render(user).text == "GGUF hi"
    custom = for_model(metadata, chat_template="MINE {{ messages[0].content }}", **tokens)
    assert custom is not None and custom.render(user).text == "MINE hi"
    chatml = for_model(metadata, chat_format="chatml", **tokens)
    assert chatml is not None
    rendered = chatml.render(user)
    assert rendered.text == "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n"
    assert "<|im_end|>" in rendered.stops
    assert set(NAMED_FORMATS) == {"chatml", "llama-3", "mistral-instruct"}
    with pytest.raises(TemplateError, match="unknown chat format"):
        for_model(metadata, chat_format="alpaca", **tokens)


def test_no_template_means_none_never_a_guessed_format() -> None:
    assert for_model({}, bos_token="<s>", eos_token="</s>") is None


@pytest.mark.parametrize(
    ("source", "reason"),
    [
        ("{{ 'x'|center(999999999) }}", "the 'center' filter would be longer than 2,000,000"),
        ("{{ (((9**99)**99)**99)**99 }}", "a power would be larger than 14,000 bits"),
        (
            "{% for a in 'x' * 1000000 %}{% for b in 'x' * 1000000 %}{% endfor %}{% endfor %}",
            "rendering took longer than 1.5 s",
        ),
        ("{{ raise_exception|string }}", "the 'string' filter cannot take a function"),
        ("{% if true %}" * 2000 + "{% endif %}" * 2000, None),
    ],
)
def test_a_runaway_chat_template_is_stopped_with_one_line(source: str, reason: str | None) -> None:
    """A GGUF's chat template is as untrusted as an imported template (issue 15 item 4): it
    renders in the same bounded sandbox, and fails with one line instead of running for
    minutes, taking gigabytes or printing internals."""
    user = [RenderedMessage(role="user", content="hi")]
    with pytest.raises(TemplateError) as err:
        ChatTemplate(source, "gguf").render(user)
    assert "\n" not in str(err.value)
    assert reason is None or reason in str(err.value)
