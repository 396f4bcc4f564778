"""Prompty files, checked against the prompty runtime itself (``prompty.load`` + ``prepare``)."""

from __future__ import annotations

from pathlib import Path

import prompty
import pytest

from workbench.core.models import Message, Params, PromptTemplate, Variable
from workbench.core.templates import literal, render
from workbench.storage.formats import ExportError, export, import_text

V1 = """---
name: ExamplePrompt
description: A prompt that uses context to ground an incoming question
authors:
  - Seth Juarez
model:
  api: chat
  configuration:
    type: azure_openai
    azure_deployment: <your-deployment>
  parameters:
    max_tokens: 3000
    temperature: 0.2
sample:
  firstName: Seth
  question: What can you tell me about your tents?
---

system:
You are an AI assistant who helps people find information.

# Customer
You are helping {{firstName}} to find answers to their questions.

user:
{{question}}
"""

V2 = """---
name: support
description: Second-generation front matter
metadata:
  tags: [support, v2]
  authors: [someone]
model:
  id: gpt-4o
  provider: openai
  apiType: chat
  options:
    temperature: 0.7
    maxOutputTokens: 256
    stopSequences: ["\\n\\n"]
    additionalProperties:
      min_p: 0.05
inputs:
  - name: customer
    kind: string
    description: who is asking
    default: friend
  - name: question
    kind: string
    example: Where is my order?
template:
  format: jinja2
  parser: prompty
---
Preamble without a marker is the system message.

# user:
Hello, I am {{ customer }}.


  assistant:
How can I help?

developer:
Keep it short.

user:
{{ question }}
"""


def prepared(tmp_path: Path, text: str, values: dict[str, str]) -> list[tuple[str, str]]:
    path = tmp_path / "p.prompty"
    path.write_text(text, encoding="utf-8")
    return [(m.role, m.text) for m in prompty.prepare(prompty.load(path), values)]


def ours(template: PromptTemplate, values: dict[str, str]) -> list[tuple[str, str]]:
    return [(m.role, m.content) for m in render(template, values)]


def test_v1_file_matches_the_prompty_runtime(tmp_path: Path) -> None:
    result = import_text(V1, "prompty", "basic.prompty")
    [template] = result.templates
    assert template.name == "ExamplePrompt"
    assert template.parameters == Params(max_tokens=3000, temperature=0.2)
    assert [v.name for v in template.variables] == ["firstName", "question"]
    assert result.tests[0].vars == {
        "firstName": "Seth",
        "question": "What can you tell me about your tents?",
    }
    values = {"firstName": "Ada", "question": "Tents?"}
    assert ours(template, values) == prepared(tmp_path, V1, values)
    assert {(p.line, p.severity) for p in result.problems} == {(4, "warning"), (8, "warning")}


def test_v2_file_matches_the_prompty_runtime(tmp_path: Path) -> None:
    result = import_text(V2, "prompty", "support.prompty")
    [template] = result.templates
    assert template.tags == ["support", "v2"]
    assert template.parameters == Params(temperature=0.7, max_tokens=256, stop=["\n\n"], min_p=0.05)
    assert template.variables == [
        Variable(name="customer", description="who is asking", default="friend"),
        Variable(name="question"),
    ]
    assert result.tests[0].vars == {"question": "Where is my order?"}
    assert [m.role for m in template.messages] == ["system", "user", "assistant", "system", "user"]
    values = {"customer": "Grace", "question": "Refund?"}
    theirs = [("system" if r == "developer" else r, t) for r, t in prepared(tmp_path, V2, values)]
    assert ours(template, values) == theirs
    warned = " ".join(p.message for p in result.warnings)
    assert "model.id" in warned and "metadata.authors" in warned and "'developer:'" in warned


def test_markers_printed_by_the_template_are_reported(tmp_path: Path) -> None:
    text = (
        "---\nname: chat\n---\nsystem:\nBe kind.\n"
        "{% for item in history %}\n{{item.role}}:\n{{item.content}}\n{% endfor %}\n"
    )
    result = import_text(text, "prompty", "chat.prompty")
    assert len(result.templates[0].messages) == 1
    assert any("prompty makes role markers" in w.message and w.line == 4 for w in result.warnings)


TEMPLATES = [
    PromptTemplate(
        name="roundtrip",
        description="all the fields prompty has",
        tags=["a", "b"],
        messages=[
            Message(role="system", content="You are {{ persona }}.\n\nStay on topic."),
            Message(role="user", content="Data: {{ not a var }} stays {% raw %}", literal=True),
            Message(role="assistant", content="Sure."),
            Message(role="user", content="{{ question }}"),
        ],
        variables=[
            Variable(name="persona", default="a librarian", description="who"),
            Variable(name="question"),
        ],
        parameters=Params(temperature=0.4, top_k=40, max_tokens=99, seed=7, repetition_penalty=1.1),
    ),
    PromptTemplate(
        name="single",
        messages=[Message(role="user", content="Just {{ x }}")],
        variables=[Variable(name="x")],
    ),
]


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda t: t.name)
def test_export_round_trips_and_the_runtime_agrees(
    tmp_path: Path, template: PromptTemplate
) -> None:
    out = export("prompty", templates=[template])
    back = import_text(out.text, "prompty", "x.prompty")
    assert back.errors == []
    [imported] = back.templates
    # A literal message comes back as the Jinja body that prints exactly its text.
    expected = [
        Message(role=m.role, content=literal(m.content)) if m.literal else m
        for m in template.messages
    ]
    assert imported == template.model_copy(update={"messages": expected})
    values = {"persona": "a pirate", "question": "Why?", "x": "this"}
    assert prepared(tmp_path, out.text, values) == ours(template, values)


def test_export_refuses_what_prompty_would_misread() -> None:
    bad = PromptTemplate(
        name="b", messages=[Message(role="user", content="Transcript:\nuser:\nhello")]
    )
    with pytest.raises(ExportError, match="role marker"):
        export("prompty", templates=[bad])
    padded = PromptTemplate(name="p", messages=[Message(role="user", content="\nhi\n")])
    assert "drops blank lines" in export("prompty", templates=[padded]).warnings[0]
    crlf = PromptTemplate(name="c", messages=[Message(role="user", content="a\r\nb", literal=True)])
    assert "line breaks" in export("prompty", templates=[crlf]).warnings[0]


def test_completion_api_of_v1() -> None:
    text = "---\nname: c\nmodel:\n  api: completion\n---\nQ: {{ q }}\nA:"
    [template] = import_text(text, "prompty", "c.prompty").templates
    assert template.mode == "completion" and template.text == "Q: {{ q }}\nA:"


@pytest.mark.parametrize(
    ("text", "line", "needle"),
    [
        ("no front matter here", 1, "front matter"),
        ("---\nname: [oops\n---\nuser:\nhi\n", 2, "not valid YAML"),
        ("---\nname: x\n---\n\nuser:\n{{ broken\n", 6, "not valid Jinja"),
        ("---\nname: x\n---\nuser:\nhi\ntools:\n- a\n", 6, "'tools:' section"),
        ("---\n- a list\n---\nhi\n", 2, "must be a mapping"),
        ("---\ninputs:\n  1bad: {}\n---\nhi\n", 3, "not a valid variable name"),
        # Found by the reader fuzz: Jinja's parser recursed out as a RecursionError traceback.
        ("---\nname: x\n---\nuser:\n{{ " + "[" * 3000 + " }}\n", 4, "nested too deeply"),
    ],
)
def test_malformed_files_report_lines(text: str, line: int, needle: str) -> None:
    result = import_text(text, "prompty", "bad.prompty")
    assert any(p.line == line and needle in p.message for p in result.errors), result.problems
