"""A template's tools through promptfoo configs and prompty files, out and back in."""

from __future__ import annotations

from pathlib import Path

import prompty
import yaml

from tests.storage.factories import make_spec
from workbench.core.experiments import ExperimentSpec, Variant
from workbench.core.models import Message, Params, PromptTemplate, Variable
from workbench.core.tools import Tool
from workbench.storage.formats import export, import_text

WEATHER = Tool(
    name="get_weather",
    description="The weather now in a city",
    parameters={"type": "object", "properties": {"city": {"type": "string"},
                                                 "unit": {"enum": ["c", "f"]}},
                "required": ["city"]},
    mock='{"temp_c": 21}',
)
TIME = Tool(name="get_time", description="The local time")
ASK = [Message(role="user", content="Weather in {{ city }}?")]


def tooled(name: str = "weather", tools: tuple[Tool, ...] = (WEATHER, TIME),
           choice: str = "get_weather") -> PromptTemplate:
    return PromptTemplate(name=name, messages=ASK, tools=list(tools), tool_choice=choice,
                          parameters=Params(temperature=0.2), variables=[Variable(name="city")])


def declared(template: PromptTemplate) -> PromptTemplate:
    """What a file can hold of ``template``: its tools without the playground's mocks."""
    return template.model_copy(update={"tools": [t.declaration() for t in template.tools]})


def experiment(*templates: PromptTemplate) -> ExperimentSpec:
    spec = make_spec("Tools")
    models = [("openai_compat", "gpt-4o-mini"), ("anthropic", "claude-sonnet-4-5")]
    return spec.model_copy(update={"variants": [
        Variant(template=t, backend=b, model=m) for t in templates for b, m in models
    ]})


def test_promptfoo_writes_tools_in_the_providers_config_and_reads_them_back() -> None:
    spec = experiment(tooled())
    out = export("promptfoo", experiment=spec)
    data = yaml.safe_load(out.text)
    for provider in data["providers"]:
        assert provider["config"]["tools"] == [WEATHER.as_openai(), TIME.as_openai()]
        assert provider["config"]["tool_choice"] == {"type": "function",
                                                     "function": {"name": "get_weather"}}
    assert "tools" not in data["prompts"][0].get("config", {})
    assert any("mocks" in w for w in out.warnings)
    back = import_text(out.text, "promptfoo", "x.yaml")
    assert back.errors == [] and not any("not kept" in w.message for w in back.warnings)
    assert [t.tools for t in back.templates] == [[WEATHER.declaration(), TIME]]
    assert back.templates[0].tool_choice == "get_weather"
    assert back.experiment is not None
    assert [v.template for v in back.experiment.variants] == [back.templates[0]] * 2


def test_promptfoo_writes_different_tools_per_prompt_in_the_prompts_config() -> None:
    plain = PromptTemplate(name="plain", messages=ASK, variables=[Variable(name="city")])
    spec = experiment(tooled(), tooled("clock", (TIME,), "required"), plain)
    out = export("promptfoo", experiment=spec)
    data = yaml.safe_load(out.text)
    assert all(isinstance(p, str) for p in data["providers"])  # bare ids: no config
    assert [p.get("config", {}).get("tool_choice") for p in data["prompts"]] == [
        {"type": "function", "function": {"name": "get_weather"}}, "required", None]
    back = import_text(out.text, "promptfoo", "x.yaml")
    assert back.errors == []
    assert back.templates == [declared(tooled()), tooled("clock", (TIME,), "required"), plain]


def test_promptfoo_tools_as_its_docs_write_them_and_mistakes_on_their_line() -> None:
    text = """\
prompts: ['Weather in {{city}}?']
providers:
  - id: openai:chat:gpt-4.1-mini
    config:
      tool_choice: required
      tools:
        - type: function
          function:
            name: get_weather
            parameters: {type: object, properties: {city: {type: string}}}
  - id: anthropic:messages:claude-sonnet-4-5
  - id: openai:gpt-4o
    config:
      tools:
        - type: function
          function: {description: no name}
"""
    result = import_text(text, "promptfoo", "promptfooconfig.yaml")
    [error] = result.errors
    assert error.line == 15 and "tool 1 not kept" in error.message and "name" in error.message
    assert result.experiment is not None
    first, second, third = (v.template for v in result.experiment.variants)
    assert [t.name for t in first.tools] == ["get_weather"] and first.tool_choice == "required"
    assert second.tools == [] and third.tools == []
    assert result.templates[0].tools == []  # the providers give it different tools
    wrong = text.replace("tool_choice: required", "tool_choice: get_news")
    bad = import_text(wrong, "promptfoo", "promptfooconfig.yaml")
    assert any(e.line == 5 and "get_news" in e.message for e in bad.errors)


def test_prompty_keeps_tools_where_the_runtime_passes_them_to_the_api(tmp_path: Path) -> None:
    template = tooled()
    out = export("prompty", templates=[template])
    assert any("mocks" in w for w in out.warnings)
    back = import_text(out.text, "prompty", "weather.prompty")
    assert back.errors == [] and back.warnings == []
    assert back.templates == [declared(template)]
    path = tmp_path / "weather.prompty"
    path.write_text(out.text, encoding="utf-8")
    options = prompty.load(str(path)).model.options
    extra = options.additional_properties
    assert extra["tools"] == [WEATHER.as_openai(), TIME.as_openai()]
    assert extra["tool_choice"] == {"type": "function", "function": {"name": "get_weather"}}


def test_prompty_v1_tools_in_model_parameters() -> None:
    text = """\
---
name: v1
model:
  api: chat
  parameters:
    max_tokens: 50
    tools:
      - type: function
        function: {name: get_time, description: The local time}
---
user:
What time is it?
"""
    result = import_text(text, "prompty", "v1.prompty")
    assert result.errors == [] and result.warnings == []
    [template] = result.templates
    assert template.tools == [TIME] and template.tool_choice == "auto"
    assert template.parameters == Params(max_tokens=50)
