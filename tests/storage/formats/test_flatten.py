"""Components and few-shot examples written into the bodies of formats that have neither
(Prompty, llm templates, CSV, Markdown): every built-in template renders the same after a round
trip, and the Prompty runtime itself renders the exported file the same."""

from __future__ import annotations

from pathlib import Path

import prompty
import pytest

from workbench.core.models import Components, Example, FewShot, Message, PromptTemplate, Variable
from workbench.core.paths import builtin_templates_dir
from workbench.core.template_files import SUFFIX, loads
from workbench.core.templates import render
from workbench.storage.formats import ExportError, export, import_text
from workbench.storage.formats.flatten import flatten

BUILTINS = sorted(builtin_templates_dir().glob(f"*{SUFFIX}"))
#: Built-ins are plain messages now; their examples blocks are what gets flattened.
WITH_COMPONENTS = BUILTINS


def _builtin(path: Path) -> PromptTemplate:
    return loads(path.read_text(encoding="utf-8"))


def _defaults(template: PromptTemplate) -> dict[str, str]:
    return {v.name: v.default for v in template.variables if v.default is not None}


def test_the_round_trips_cover_the_built_ins() -> None:
    # The round trips below cover the built-ins; they must not shrink to nothing unnoticed.
    assert {p.name for p in WITH_COMPONENTS} >= {
        f"welcome{SUFFIX}",
        f"zero-shot-summarize{SUFFIX}",
        f"few-shot-sentiment{SUFFIX}",
        f"few-shot-completion-capitals{SUFFIX}",
    }


@pytest.mark.parametrize("path", WITH_COMPONENTS, ids=lambda p: p.name[: -len(SUFFIX)])
@pytest.mark.parametrize("fmt", ["prompty", "llm-template"])
def test_built_in_round_trip_renders_the_same(path: Path, fmt: str) -> None:
    template = _builtin(path)
    out = export(fmt, templates=[template])
    assert "parts." not in out.text and "examples_block" not in out.text
    back = import_text(out.text, fmt, f"x{'.prompty' if fmt == 'prompty' else '.yaml'}")
    assert back.errors == []
    [imported] = back.templates
    # The imported template's own defaults give the same messages as the original's.
    assert render(imported) == render(template)
    values = {name: f"<{name} value>" for name in _defaults(template)}
    assert render(imported, values) == render(template, values)


@pytest.mark.parametrize("path", WITH_COMPONENTS, ids=lambda p: p.name[: -len(SUFFIX)])
def test_built_in_prompty_export_renders_the_same_in_the_prompty_runtime(
    tmp_path: Path, path: Path
) -> None:
    template = _builtin(path)
    file = tmp_path / "t.prompty"
    file.write_text(export("prompty", templates=[template]).text, encoding="utf-8")
    values = _defaults(template)
    theirs = [(m.role, m.text) for m in prompty.prepare(prompty.load(file), values)]
    assert theirs == [(m.role, m.content) for m in render(template, values)]


@pytest.mark.parametrize("path", WITH_COMPONENTS, ids=lambda p: p.name[: -len(SUFFIX)])
def test_built_in_csv_round_trip_renders_the_same(path: Path) -> None:
    template = _builtin(path)
    if sum(m.role == "user" for m in template.messages) != len(template.messages):
        with pytest.raises(ExportError, match="one prompt per row"):
            export("csv", templates=[template])
        return
    out = export("csv", templates=[template])
    back = import_text(out.text, "csv", "x.csv", as_jinja=True)
    assert back.errors == []
    values = _defaults(template)  # CSV keeps no defaults: the values are given
    assert render(back.templates[0], values) == render(template, values)


def test_markdown_shows_the_component_text_in_the_body() -> None:
    template = _builtin(builtin_templates_dir() / f"zero-shot-summarize{SUFFIX}")
    text = export("markdown", templates=[template]).text
    assert "parts." not in text
    assert "Summarize the text below in {{ sentences }} sentences" in text
    assert "Text:\n{{ text }}\n\nSummary:" in text


def _with_parts(body: str, **components: str) -> PromptTemplate:
    return PromptTemplate(
        name="t",
        messages=[Message(role="user", content=body)],
        variables=[Variable(name="x", default="X")],
        components=Components(**components),
    )


@pytest.mark.parametrize(
    "body",
    [
        "A {{ parts.instruction }} B",
        "A {{parts['instruction']}} B",
        "A  {{- parts.instruction -}}  B",
        "A\n{{ parts.instruction }}\n{{ parts.context }}\nB",
        "{% for i in range(2) %}[{{ parts.instruction }}]{% endfor %}",
    ],
)
@pytest.mark.parametrize(
    "instruction", ["do {{ x }}", "  {{- x -}}  ", "{% if x %}yes{% endif %}\n", "{# c #}{{ x }}"]
)
def test_flattening_keeps_what_renders(body: str, instruction: str) -> None:
    template = _with_parts(body, instruction=instruction)
    flat = flatten(template, "test")
    assert flat.template.components == Components()
    assert "parts" not in flat.template.messages[0].content
    for values in ({}, {"x": "other"}):
        assert render(flat.template, values) == render(template, values)


def test_raw_and_comments_are_text_not_tags() -> None:
    template = _with_parts(
        "{% raw %}{{ parts.instruction }}{% endraw %}{# {{ parts.instruction }} #}"
        "{{ parts.instruction }}",
        instruction="I",
    )
    flat = flatten(template, "test")
    assert flat.template.messages[0].content == (
        "{% raw %}{{ parts.instruction }}{% endraw %}{# {{ parts.instruction }} #}I"
    )
    assert render(flat.template) == render(template)


@pytest.mark.parametrize(
    "body",
    [
        "{{ parts.instruction | upper }}",
        "{% if parts.context %}{{ parts.context }}{% endif %}",
        "{% for e in examples %}{{ e.input }}{% endfor %}",
        "{{ parts }}",
    ],
)
def test_other_uses_are_refused_with_the_template_named(body: str) -> None:
    with pytest.raises(ExportError, match="template 't': the user message 1 uses"):
        flatten(_with_parts(body, instruction="I"), "prompty")


def test_examples_block_becomes_fixed_text_and_a_token_budget_is_said() -> None:
    template = PromptTemplate(
        name="shots",
        messages=[Message(role="user", content="{{ examples_block }}\nQ: {{ x }}")],
        variables=[Variable(name="x")],
        examples=[Example(input="1 {{ x }}", output="one"), Example(input="2", output="two")],
        few_shot=FewShot(k=1, order="shuffle", seed=3, token_budget=500),
    )
    flat = flatten(template, "prompty")
    assert flat.template.examples == [] and flat.template.few_shot == FewShot()
    assert render(flat.template, {"x": "q"}) == render(template, {"x": "q"})
    assert "token budget (500)" in flat.warnings[0]
    # Markdown lists the examples itself and keeps the placeholder.
    kept = flatten(template, "Markdown", examples=False).template
    assert kept.messages[0].content == template.messages[0].content
    assert kept.examples == template.examples


def test_completion_text_is_flattened() -> None:
    template = PromptTemplate(
        name="c",
        mode="completion",
        text="{{ parts.instruction }}:",
        components=Components(instruction="Say {{ x }}"),
        variables=[Variable(name="x", default="hi")],
    )
    flat = flatten(template, "prompty")
    assert flat.template.text == "Say {{ x }}:"
    assert render(flat.template) == render(template)


def test_markdown_shows_components_apart_when_they_cannot_be_written_in() -> None:
    template = _with_parts("{{ parts.instruction | upper }}", instruction="shout {{ x }}")
    text = export("markdown", templates=[template]).text
    assert "**Component `parts.instruction`**\n\n```jinja\nshout {{ x }}\n```" in text
    assert "{{ parts.instruction | upper }}" in text


def test_csv_leaves_out_what_a_row_cannot_hold_and_says_so() -> None:
    reviewer, welcome = (
        _builtin(builtin_templates_dir() / f"{n}{SUFFIX}")
        for n in ("role-expert-reviewer", "welcome")
    )
    out = export("csv", templates=[reviewer, welcome])
    assert [t.name for t in import_text(out.text, "csv", "x.csv").templates] == ["welcome"]
    assert out.warnings == [
        "template 'role-expert-reviewer' has 2 messages; a CSV prompt library holds one prompt "
        "per row (export a bundle instead); left out"
    ]
