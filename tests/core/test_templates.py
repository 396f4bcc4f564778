"""Template rendering, variable discovery and error positions."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from workbench.core.errors import MissingVariableError, TemplateError
from workbench.core.models import Components, Example, FewShot, Message, PromptTemplate, Variable
from workbench.core.templates import discover, literal, render, render_completion, render_text


def chat(*messages: Message, **kwargs: object) -> PromptTemplate:
    return PromptTemplate(name="t", messages=list(messages), **kwargs)  # type: ignore[arg-type]


def test_render_messages_with_values_and_defaults() -> None:
    template = chat(
        Message(role="system", content="You are {{ persona }}."),
        Message(role="user", content="Summarize {{ ticket }} in {{ n }} bullets."),
        variables=[
            Variable(name="persona", default="helpful"),
            Variable(name="ticket"),
            Variable(name="n", default="3"),
        ],
    )
    messages = render(template, {"ticket": "T-1"})
    assert [(m.role, m.content) for m in messages] == [
        ("system", "You are helpful."),
        ("user", "Summarize T-1 in 3 bullets."),
    ]


def test_missing_variable_names_it_and_its_line() -> None:
    template = chat(Message(role="user", content="line one\n{{ ticket }}"))
    with pytest.raises(MissingVariableError) as info:
        render(template, {})
    assert info.value.name == "ticket"
    assert info.value.line == 2
    assert "'ticket'" in str(info.value)


def test_missing_variable_inside_a_loop_and_an_attribute() -> None:
    with pytest.raises(MissingVariableError) as info:
        render_text("{% for x in items %}{{ x }}{% endfor %}", {})
    assert info.value.name == "items"
    with pytest.raises(TemplateError, match="no attribute"):
        render_text("{{ d.missing }}", {"d": {}})  # type: ignore[dict-item]


def test_optional_variable_with_is_defined() -> None:
    source = "{% if extra is defined %}[{{ extra }}]{% endif %}ok"
    assert render_text(source, {}) == "ok"
    assert render_text(source, {"extra": "x"}) == "[x]ok"


@pytest.mark.parametrize(
    ("source", "line", "column"),
    [
        ("Hello {{ name }", 1, 15),
        ("ok\nHello {{ name name }}", 2, 15),
        ("a\nb\n{% if x %}\nunclosed", 4, 9),
        ("{% bogus %}", 1, 4),
        ("x {{ 'unterminated }}", 1, 6),
        ("line\n  {{ a + }}", 2, 10),
    ],
)
def test_syntax_errors_give_line_and_column(source: str, line: int, column: int) -> None:
    with pytest.raises(TemplateError) as info:
        render_text(source, {"name": "n", "x": "1", "a": "1"}, "messages[0] (user)")
    assert (info.value.line, info.value.column) == (line, column), str(info.value)
    assert str(info.value).startswith(f"messages[0] (user), line {line}, column {column}: ")


def test_discovery_finds_variables_in_loops_and_conditionals() -> None:
    template = chat(
        Message(role="system", content="{% if formal %}Be formal.{% endif %}"),
        Message(
            role="user", content="{% for d in docs %}{{ d }} {{ sep }}{% endfor %}{{ question }}"
        ),
        variables=[Variable(name="question"), Variable(name="unused_one")],
    )
    found = discover(template)
    assert found.used == ["docs", "formal", "question", "sep"]
    assert found.undeclared == ["docs", "formal", "sep"]
    assert found.unused == ["unused_one"]
    assert "'unused_one' is declared but never used" in found.warnings
    assert "'docs' is used but not declared" in found.warnings


def test_discovery_ignores_literal_messages_and_reserved_names() -> None:
    template = chat(
        Message(role="user", content="{{ not_a_variable }}", literal=True),
        Message(role="user", content="{{ examples_block }}{{ parts.instruction }}"),
    )
    assert discover(template).used == []


def test_literal_messages_are_sent_verbatim() -> None:
    text = "Use {{ braces }} and {% tags %} freely\r\n"
    (message,) = render(chat(Message(role="user", content=text, literal=True)))
    assert message.content == text


@given(st.text())
def test_literal_escapes_anything(text: str) -> None:
    assert render_text(literal(text), {}) == text


def test_values_are_never_rendered_again() -> None:
    assert render_text("{{ a }}", {"a": "{{ b }}", "b": "no"}) == "{{ b }}"


def test_components_are_rendered_first_and_exposed_as_parts() -> None:
    template = chat(
        Message(role="user", content="{{ parts.instruction }}\n\n{{ parts.input_data }}"),
        components=Components(instruction="Translate to {{ lang }}.", input_data="{{ text }}"),
    )
    (message,) = render(template, {"lang": "French", "text": "cheese"})
    assert message.content == "Translate to French.\n\ncheese"
    assert discover(template).used == ["lang", "text"]


def test_few_shot_examples_k_order_and_budget() -> None:
    examples = [Example(input=f"q{i}", output=f"a{i}") for i in range(6)]
    template = chat(
        Message(role="user", content="{{ examples_block }}\nInput: {{ q }}\nOutput:"),
        examples=examples,
        few_shot=FewShot(k=3, separator="\n"),
    )
    (message,) = render(template, {"q": "x"})
    assert (
        message.content
        == "Input: q0\nOutput: a0\nInput: q1\nOutput: a1\nInput: q2\nOutput: a2\nInput: x\nOutput:"
    )

    shuffled = template.model_copy(
        update={"few_shot": FewShot(k=3, order="shuffle", seed=7, separator="\n")}
    )
    first = render(shuffled, {"q": "x"})
    assert first == render(shuffled, {"q": "x"})
    assert first != render(template, {"q": "x"})

    budget = template.model_copy(update={"few_shot": FewShot(token_budget=9, separator="\n")})
    (cut,) = render(budget, {"q": "x"}, count_tokens=lambda s: len(s.split()))
    assert cut.content.count("Input: q") == 2  # 4 words per example: two fit in 9


def test_completion_templates() -> None:
    template = PromptTemplate(
        name="c",
        mode="completion",
        text="Q: {{ q }}\nA:",
        variables=[Variable(name="q", default="2+2?")],
    )
    assert render_completion(template) == "Q: 2+2?\nA:"
    (message,) = render(template)
    assert message.content == "Q: 2+2?\nA:"
    with pytest.raises(TemplateError):
        render_completion(chat(Message(role="user", content="x")))


def test_output_is_limited() -> None:
    with pytest.raises(TemplateError, match="not allowed"):
        render_text("{% for i in range(100000) %}{{ 'x' * 1000 }}{% endfor %}", {})


def test_unknown_filters_are_template_errors_in_discovery_too() -> None:
    template = chat(Message(role="user", content="ok\n{{ x | no_such_filter }}"))
    with pytest.raises(TemplateError) as info:
        discover(template)
    assert info.value.line == 2 and "no_such_filter" in str(info.value)


def test_fromjson_and_promptfoos_load_filter() -> None:
    source = "{{ (cfg | load).tone }} {{ (cfg | fromjson).n + 1 }}"
    assert render_text(source, {"cfg": '{"tone": "calm", "n": 1}'}) == "calm 2"
    with pytest.raises(TemplateError, match="not JSON"):
        render_text("{{ cfg | fromjson }}", {"cfg": "{oops"})


def test_names_the_sandbox_provides_are_not_variables() -> None:
    """``range`` was reported as a variable 'used but not declared' (and imports declared it)."""
    body = (
        "{% for i in range(n) %}{{ i }}{% endfor %}{{ dict(a=1) }}"
        "{% set ns = namespace(x=1) %}{{ ns.x }}"
    )
    template = PromptTemplate(name="t", messages=[Message(role="user", content=body)])
    found = discover(template)
    assert found.used == ["n"] and found.undeclared == ["n"]
    assert found.warnings == ["'n' is used but not declared"]
