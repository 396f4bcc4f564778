"""simonw/llm templates, checked against llm's own Template and its CLI's template rules."""

from __future__ import annotations

import pytest
import yaml
from llm.cli import _apply_template
from llm.templates import Template

from workbench.core.models import Message, Params, PromptTemplate, Variable
from workbench.core.templates import render
from workbench.storage.formats import ExportError, export, import_text

CASES = {
    "summarize": "system: Summarize this text in the voice of $voice\ndefaults:\n  voice: GlaDOS\n",
    "recipe": (
        "prompt: |\n"
        "    Suggest a recipe using ingredients: $ingredients\n\n"
        "    It should be based on cuisine from this country: $country\n"
    ),
    "steampunk": "prompt: >\n    Summarize the following text.\n\n    Text to summarize: $input\n",
    "estimate": "system: 'Estimate the cost in $$ of this: $input'\n",
    "plain": "'Explain ${topic}s to a child: $input {{ not jinja }}'\n",
    "both": (
        "system: You speak like $who\n"
        "prompt: 'Summarize this: $input'\n"
        "defaults: {who: an excitable Victorian adventurer}\n"
    ),
}
VALUES = {
    "voice": "Yoda",
    "ingredients": "sausages, milk",
    "country": "Germany",
    "topic": "graph",
    "who": "a pirate",
}


def llm_says(text: str, user_input: str, params: dict[str, str]) -> tuple[str | None, str | None]:
    """``(prompt, system)`` exactly as ``llm -t TEMPLATE -p ...`` builds them."""
    data = yaml.safe_load(text)
    template = Template(name="t", **({"prompt": data} if isinstance(data, str) else data))
    return _apply_template(template, user_input, params, None)


@pytest.mark.parametrize("name", list(CASES))
@pytest.mark.parametrize("user_input", ["The quick brown fox.", ""])
def test_imports_render_what_llm_sends(name: str, user_input: str) -> None:
    text = CASES[name]
    result = import_text(text, "llm-template", f"{name}.yaml")
    assert result.errors == []
    [template] = result.templates
    assert template.name == name
    prompt, system = llm_says(text, user_input, dict(VALUES))
    values = {k: v for k, v in VALUES.items() if template.variable(k) is not None}
    values["input"] = user_input
    if template.variable("voice") is not None:
        values.pop("voice")  # use the template's default, as llm does without -p
        prompt, system = llm_says(
            text, user_input, {k: v for k, v in VALUES.items() if k != "voice"}
        )
    messages = {m.role: m.content for m in render(template, values)}
    assert messages.get("system") == system
    assert messages["user"] == (prompt or "")


@pytest.mark.parametrize("name", list(CASES))
def test_round_trip(name: str) -> None:
    [template] = import_text(CASES[name], "llm-template", f"{name}.yaml").templates
    out = export("llm-template", templates=[template])
    assert out.warnings == []
    [again] = import_text(out.text, "llm-template", f"{name}.yaml").templates
    assert again == template


def test_options_schema_and_unsupported_keys() -> None:
    text = (
        "model: gpt-4o\n"
        "system: Be brief\n"
        "options:\n  temperature: 1.8\n  max_tokens: 20\n  json_object: true\n"
        "schema_object:\n  type: object\n  properties: {answer: {type: string}}\n"
        "extract: true\n"
        "fragments: [docs:x]\n"
        "surprise: 1\n"
    )
    result = import_text(text, "llm-template", "opts.yaml")
    [template] = result.templates
    assert template.parameters == Params(temperature=1.8, max_tokens=20)
    assert template.output_schema == {
        "type": "object",
        "properties": {"answer": {"type": "string"}},
    }
    lines = {(p.line, p.severity) for p in result.problems}
    assert lines == {
        (1, "warning"),
        (6, "warning"),
        (10, "warning"),
        (11, "warning"),
        (12, "warning"),
    }
    assert "json_object" in next(p.message for p in result.problems if p.line == 6)


def test_a_lone_dollar_is_text_with_a_warning() -> None:
    result = import_text("prompt: It costs $5\n", "llm-template", "cost.yaml")
    assert render(result.templates[0], {"input": ""})[0].content == "It costs $5"
    assert "'$' not followed by a name" in result.warnings[0].message


def test_exporting_a_workbench_template() -> None:
    template = PromptTemplate(
        name="t",
        messages=[
            Message(role="system", content="Costs in $ for {{ item }}s"),
            Message(role="user", content="{{ input }}"),
        ],
        variables=[Variable(name="item", default="apple"), Variable(name="input")],
        parameters=Params(temperature=0.5),
        description="lost in llm",
    )
    out = export("llm-template", templates=[template])
    assert yaml.safe_load(out.text) == {
        "system": "Costs in $$ for ${item}s",
        "defaults": {"item": "apple"},
        "options": {"temperature": 0.5},
    }
    assert out.warnings == ["description and tags are not part of an llm template"]


@pytest.mark.parametrize(
    "template",
    [
        PromptTemplate(
            name="loop",
            messages=[Message(role="user", content="{% for x in xs %}{{ x }}{% endfor %}")],
        ),
        PromptTemplate(
            name="two",
            messages=[Message(role="user", content="a"), Message(role="user", content="b")],
        ),
        PromptTemplate(name="assistant", messages=[Message(role="assistant", content="a")]),
    ],
    ids=lambda t: t.name,
)
def test_what_llm_templates_cannot_hold_is_refused(template: PromptTemplate) -> None:
    with pytest.raises(ExportError):
        export("llm-template", templates=[template])


@pytest.mark.parametrize(
    ("text", "line", "needle"),
    [
        ("prompt: [a\n", 1, "not valid YAML"),
        ("- a\n- b\n", 1, "is a mapping"),
        ("model: x\n", 1, "neither 'system' nor 'prompt'"),
        ("prompt: hi\nsystem: [1, 2]\n", 2, "'system' must be text"),
        ("prompt: hi\ndefaults: 3\n", 2, "'defaults' must be a mapping"),
        ("prompt: hi\noptions: {temperature: 7}\n", 2, "temperature"),
    ],
)
def test_malformed_templates_report_lines(text: str, line: int, needle: str) -> None:
    result = import_text(text, "llm-template", "bad.yaml")
    assert any(p.line == line and needle in p.message for p in result.errors), result.problems
