"""Big templates render in the helper process with exactly the results and errors of core."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from workbench.core.errors import MissingVariableError, TemplateError
from workbench.core.models import Example, FewShot, Message, PromptTemplate, Variable
from workbench.core.templates import discover, render, render_completion
from workbench.ui.widgets import render_process
from workbench.ui.widgets.render_process import (
    BIG_CHARS,
    discover_variables,
    is_big,
    render_chat,
    render_text_prompt,
)

LINE = "Line {{ n }}: the router reboots every hour since the firmware update.\n"
BIG_BODY = LINE * (BIG_CHARS // len(LINE) + 10)
BIG = PromptTemplate(
    name="big",
    messages=[
        Message(role="system", content="You are terse."),
        Message(role="user", content=BIG_BODY + "{% if urgent %}URGENT{% endif %} {{ ticket }}"),
    ],
    variables=[Variable(name="n", default="1"), Variable(name="ticket")],
)


@pytest.fixture(autouse=True)
def helper_process() -> Iterator[None]:
    yield
    render_process.shutdown()  # no helper process outlives the test


def test_only_big_templates_go_to_the_helper_process() -> None:
    assert is_big(BIG)
    small = BIG.model_copy(update={"messages": [Message(role="user", content="Hi {{ n }}")]})
    assert not is_big(small)
    budgeted = BIG.model_copy(
        update={"examples": [Example(input="a", output="b")], "few_shot": FewShot(token_budget=50)}
    )
    assert not is_big(budgeted)  # needs the model's tokenizer while rendering


def test_renders_exactly_what_core_renders() -> None:
    values = {"ticket": "It broke.", "urgent": "yes"}
    assert render_chat(BIG, values) == render(BIG, values)
    assert render_process._executor is not None  # it really went to the helper process
    completion = PromptTemplate(name="c", mode="completion", text=BIG_BODY + "A: {{ ticket }}",
                                variables=BIG.variables)
    assert render_text_prompt(completion, values) == render_completion(completion, values)


def test_errors_come_back_as_the_same_errors() -> None:
    with pytest.raises(MissingVariableError) as missing:
        render_chat(BIG, {})
    with pytest.raises(MissingVariableError) as local:
        render(BIG, {})
    assert (missing.value.name, missing.value.source, missing.value.line) == (
        local.value.name, local.value.source, local.value.line
    )
    assert str(missing.value) == str(local.value)
    broken = BIG.model_copy(
        update={"messages": [Message(role="user", content=BIG_BODY + "{{ oops }")]}
    )
    with pytest.raises(TemplateError) as syntax:
        render_chat(broken, {"n": "1"})
    with pytest.raises(TemplateError) as expected:
        render(broken, {"n": "1"})
    assert type(syntax.value) is TemplateError
    assert (syntax.value.line, syntax.value.column) == (expected.value.line, expected.value.column)
    assert str(syntax.value) == str(expected.value)


def test_discovers_what_core_discovers() -> None:
    assert discover_variables(BIG) == discover(BIG)


def test_a_dead_helper_process_falls_back_to_this_one() -> None:
    values = {"ticket": "x", "urgent": ""}
    render_chat(BIG, values)
    executor = render_process._executor
    assert executor is not None
    for process in list(executor._processes.values()):  # the helper crashes
        process.kill()
        process.join(10)
    assert render_chat(BIG, values) == render(BIG, values)
    assert render_chat(BIG, values) == render(BIG, values)  # in a new helper process
    assert render_process._executor is not None and render_process._executor is not executor


def test_a_render_that_runs_too_long_is_stopped_by_killing_the_process(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    values = {"ticket": "It broke.", "urgent": ""}
    render_chat(BIG, values)  # the helper process is up
    executor = render_process._executor
    assert executor is not None
    (helper,) = executor._processes.values()
    # Slower than the hard limit, made tiny here (the sandbox itself would stop it at 1.5 s).
    monkeypatch.setattr(render_process, "HARD_SECONDS", 0.3)
    slow = "{% for a in range(100000) %}{% for b in range(100000) %}{% endfor %}{% endfor %}"
    runaway = BIG.model_copy(update={"messages": [Message(role="user", content=BIG_BODY + slow)]})
    with pytest.raises(TemplateError) as stopped:
        render_chat(runaway, values)
    assert str(stopped.value) == (
        "rendering took longer than 0.3 s and was stopped (simplify the template's loops)"
    )
    helper.join(timeout=10)
    assert not helper.is_alive() and render_process._executor is None
    monkeypatch.setattr(render_process, "HARD_SECONDS", 10.0)
    assert render_chat(BIG, values) == render(BIG, values)  # a new helper process


def test_the_helper_process_has_a_memory_limit() -> None:
    import resource

    render_chat(BIG, {"ticket": "x", "urgent": ""})
    executor = render_process._executor
    assert executor is not None
    limit = executor.submit(resource.getrlimit, resource.RLIMIT_AS).result(timeout=30)
    assert limit == (render_process.HELPER_ADDRESS_SPACE,) * 2
