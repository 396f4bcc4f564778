"""Every built-in template file: canonical, renders with defaults, generated from its scaffold."""

from __future__ import annotations

from pathlib import Path

import pytest

from workbench.core.answers import JSONOutputError, extract_answer, parse_json_output
from workbench.core.builtin_templates import builtin_templates, write_builtin_templates
from workbench.core.models import PromptTemplate
from workbench.core.paths import builtin_templates_dir
from workbench.core.techniques import (
    apply_technique,
    get_technique,
    technique_warnings,
    techniques,
)
from workbench.core.template_files import SUFFIX, dumps, loads
from workbench.core.templates import discover, render, render_completion

FILES = sorted(builtin_templates_dir().glob(f"*{SUFFIX}"))
DEFINED = {t.name: t for t in builtin_templates()}


def _load(path: Path) -> tuple[str, PromptTemplate]:
    text = path.read_bytes().decode("utf-8")
    return text, loads(text, str(path))


def _rendered_text(template: PromptTemplate) -> str:
    if template.mode == "completion":
        return render_completion(template)
    return "\n\n".join(m.content for m in render(template))


def test_every_definition_has_a_file_and_no_file_is_stale() -> None:
    assert sorted(p.name for p in FILES) == sorted(f"{name}{SUFFIX}" for name in DEFINED)


def test_every_technique_has_a_built_in_template() -> None:
    used = {t.technique for t in DEFINED.values()}
    assert used == {t.id for t in techniques()}
    assert any(t.mode == "completion" for t in DEFINED.values())


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_file_is_canonical_and_generated_from_its_scaffold(path: Path) -> None:
    text, template = _load(path)
    assert dumps(template) == text  # byte for byte
    assert path.name == f"{template.name}{SUFFIX}"
    assert dumps(DEFINED[template.name]) == text  # files and code cannot drift apart


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_file_renders_with_defaults_and_has_no_warnings(path: Path) -> None:
    _, template = _load(path)
    assert template.description and template.tags
    get_technique(template.technique)  # registered
    assert discover(template).warnings == []
    assert technique_warnings(template) == []
    for variable in template.variables:
        assert variable.description, variable.name
        assert variable.default is not None, variable.name
    text = _rendered_text(template)
    assert text.strip()
    assert "parts." not in text and "examples_block" not in text
    for variable in template.variables:
        if variable.default and "\n" not in variable.default:
            assert variable.default in text, variable.name  # every variable reaches the prompt


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_reapplying_its_own_technique_changes_nothing(path: Path) -> None:
    _, template = _load(path)
    assert apply_technique(template, template.technique) == template


def test_writing_the_built_ins_reproduces_the_files(tmp_path: Path) -> None:
    written = write_builtin_templates(tmp_path)
    assert sorted(p.name for p in written) == [p.name for p in FILES]
    for path in FILES:
        assert (tmp_path / path.name).read_bytes() == path.read_bytes()


def test_welcome_is_short_with_one_defaulted_variable() -> None:
    _, template = _load(builtin_templates_dir() / f"welcome{SUFFIX}")
    assert [v.name for v in template.variables] == ["topic"]
    assert template.variables[0].default
    messages = render(template)
    assert [m.role for m in messages] == ["user"]
    assert len(messages[0].content.split()) <= 20  # a tiny model needs a short, plain task
    assert template.parameters.max_tokens is not None and template.parameters.max_tokens <= 256
    assert render(template, {"topic": "volcanoes"})[0].content.count("volcanoes") == 1


def test_completion_template_for_base_models() -> None:
    _, template = _load(builtin_templates_dir() / f"few-shot-completion-capitals{SUFFIX}")
    assert template.mode == "completion" and template.messages == []
    assert template.parameters.stop == ["\n"]
    text = render_completion(template)
    assert text.startswith("Q: What is the capital of France?\nA: Paris\n\n")
    assert text.endswith("\n\nQ: What is the capital of Italy?\nA:")


def test_self_consistency_template_samples_and_votes() -> None:
    _, template = _load(builtin_templates_dir() / f"self-consistency-math{SUFFIX}")
    params = template.parameters
    assert params.n is not None and params.n >= 3
    assert params.temperature is not None and params.temperature > 0 and not params.greedy
    # The default question's answer is 10; the pattern reads it from a typical final line.
    assert extract_answer("120 / 12 = 10 days.\nAnswer: 10 days", template.answer_pattern) == "10"


def test_structured_template_accepts_a_correct_answer_and_rejects_a_wrong_one() -> None:
    _, template = _load(builtin_templates_dir() / f"structured-json-extraction{SUFFIX}")
    assert template.output_schema is not None
    good = ('```json\n{"name": "María Gómez", "title": "Head of Partnerships", "company": '
            '"Nordwind Logistics", "email": "maria.gomez@nordwind.example", '
            '"phone": "+49 30 1234 5678"}\n```')
    assert parse_json_output(good, template.output_schema)["company"] == "Nordwind Logistics"
    with pytest.raises(JSONOutputError, match="required property"):
        parse_json_output('{"name": "María Gómez"}', template.output_schema)
