"""A template's outline (what a version diff compares) and the names of what changed."""

from __future__ import annotations

from typing import Any

import pytest

from workbench.core.models import (
    Components,
    Example,
    FewShot,
    Message,
    Params,
    PromptTemplate,
    Variable,
)
from workbench.core.template_outline import changes, outline
from workbench.core.tools import Tool


def _template() -> PromptTemplate:
    return PromptTemplate(
        name="summarize-ticket",
        messages=[
            Message(role="system", content="You are a support analyst."),
            Message(role="user", content="Summarize {{ ticket }}\nin {{ n }} bullets."),
        ],
        variables=[Variable(name="ticket", multiline=True), Variable(name="n", default="3")],
        parameters=Params(temperature=0.7, stop=["\n\n"]),
    )


def test_outline_reads_as_messages_then_settings() -> None:
    assert outline(_template()) == (
        "── system ──\n"
        "You are a support analyst.\n\n"
        "── user ──\n"
        "Summarize {{ ticket }}\nin {{ n }} bullets.\n\n"
        "── settings ──\n"
        "name: summarize-ticket\n"
        "technique: zero-shot\n"
        "variables: ticket (multi-line) · n (default 3)\n"
        'parameters: temperature 0.7 · stop ["\\n\\n"]'
    )


def test_outline_shows_every_part_a_file_can_hold() -> None:
    template = PromptTemplate(
        name="classify",
        description="Sort tickets",
        tags=["support", "few-shot"],
        technique="few-shot",
        messages=[Message(role="user", content="{{ raw }}", literal=True)],
        examples=[Example(input="Printer on fire", output="hardware", rationale="a device")],
        few_shot=FewShot(k=2, order="shuffle", seed=7),
        components=Components(instruction="Pick one label", output_indicator="Label:"),
        answer_pattern=r"Label: (\w+)",
        output_schema={"type": "object", "required": ["label"]},
        grammar='root ::= label\nlabel ::= "hardware" | "software"',
    )
    completion = PromptTemplate(name="classify", mode="completion", text="Classify: {{ t }}")
    assert outline(completion) == (
        "── prompt text ──\nClassify: {{ t }}\n\n"
        "── settings ──\nname: classify\ntechnique: zero-shot\nmode: completion"
    )
    text = outline(template)
    for part in (
        "── user (literal) ──\n{{ raw }}",
        "── instruction ──\nPick one label",
        "── output indicator ──\nLabel:",
        "── example 1 ──\ninput: Printer on fire\noutput: hardware\nrationale: a device",
        '── grammar (GBNF) ──\nroot ::= label\nlabel ::= "hardware" | "software"',
        "description: Sort tickets",
        "tags: support, few-shot",
        "technique: few-shot",
        "few_shot: k 2 · order shuffle · seed 7",
        "answer_pattern: Label: (\\w+)",
        'output_schema: {"required": ["label"], "type": "object"}',
    ):
        assert part in text, part


#: A different value for every field of a template (format_version aside).
_CHANGED: dict[str, Any] = {
    "name": "renamed",
    "description": "now described",
    "tags": ["new"],
    "technique": "chain-of-thought",
    "mode": "completion",
    "messages": [Message(role="user", content="Summarize {{ ticket }}")],
    "text": "raw text",
    "variables": [Variable(name="ticket")],
    "examples": [Example(input="a", output="b")],
    "few_shot": FewShot(k=1),
    "components": Components(context="More context"),
    "parameters": Params(temperature=0.7, stop=["\n\n"], seed=1),
    "answer_pattern": "(\\d+)",
    "output_schema": {"type": "string"},
    "metadata": {"act": "Linux terminal"},
    "response_format": "json_object",
    "grammar": 'root ::= "yes" | "no"',
    "tools": [Tool(name="get_weather", description="Weather for a city")],
    "tool_choice": "required",
    "max_tool_steps": 2,
}


def test_the_changed_values_cover_every_field() -> None:
    assert set(_CHANGED) == set(PromptTemplate.model_fields) - {"format_version"}


@pytest.mark.parametrize("field", sorted(_CHANGED))
def test_no_change_to_any_field_hides_from_the_outline(field: str) -> None:
    old = _template()
    new = old.model_copy(update={field: _CHANGED[field]})
    assert outline(old) != outline(new)
    assert changes(old, new)


def test_changes_name_messages_settings_and_values() -> None:
    old = _template()
    new = old.model_copy(
        update={
            "technique": "chain-of-thought",
            "messages": [
                Message(role="system", content="You are a careful support analyst."),
                Message(role="user", content="Summarize {{ ticket }}\nin {{ n }} bullets."),
                Message(role="user", content="Think step by step."),
            ],
            "variables": [Variable(name="ticket"), Variable(name="tone")],
            "parameters": Params(stop=["\n\n"], max_tokens=256),
            "examples": [Example(input="a", output="b")],
            "description": "A much longer description than a glance can take in",
        }
    )
    assert changes(old, new) == [
        "system message",
        "user 2 message added",
        "description",
        "technique zero-shot → chain-of-thought",
        "variables (+tone, −n, ~ticket)",
        "examples (0 → 1)",
        "temperature 0.7 → —",
        "max_tokens — → 256",
    ]
    assert changes(new, old)[:2] == ["system message", "user 2 message removed"]
    assert changes(old, old) == []
    swapped = old.model_copy(update={"variables": list(reversed(old.variables))})
    assert changes(old, swapped) == ["variables (order)"]
