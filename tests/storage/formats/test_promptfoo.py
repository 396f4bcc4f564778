"""promptfoo configs: the upstream examples, prompt files, tests, asserts, providers, and back."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.storage.factories import make_spec
from workbench.core.conversation import is_rendered_chat
from workbench.core.experiments import AssertionSpec
from workbench.core.models import Message, Params, PromptTemplate
from workbench.core.templates import render
from workbench.services.runner import build_request
from workbench.storage.formats import export, import_file, import_text
from workbench.storage.formats.promptfoo_export import prompt_text

GETTING_STARTED = Path("promptfoo") / "getting-started" / "promptfooconfig.yaml"
SIMPLE_CSV = Path("promptfoo") / "simple-csv" / "promptfooconfig.yaml"


def write(folder: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text, encoding="utf-8")
    return folder / "promptfooconfig.yaml"


def test_getting_started_is_two_prompts_by_two_tests(fixtures_dir: Path) -> None:
    result = import_file(fixtures_dir / GETTING_STARTED)
    assert result.format == "promptfoo" and result.errors == []
    assert [t.messages[0].content for t in result.templates] == [
        "Convert this English to {{language}}: {{input}}",
        "Translate to {{language}}: {{input}}",
    ]
    assert [t.vars for t in result.tests] == [
        {"language": "French", "input": "Hello world"},
        {"language": "Spanish", "input": "Where is the library?"},
    ]
    assert result.tests[0].assertions == [AssertionSpec(type="contains", value="Bonjour le monde")]
    assert result.tests[1].assertions == [
        AssertionSpec(type="icontains", value="Dónde está la biblioteca")
    ]
    spec = result.experiment
    assert spec is not None and spec.name == "Getting started"
    assert (
        len(spec.variants) * len(spec.tests) == 8
    )  # 2 prompts × 2 providers × 2 tests, as promptfoo runs
    assert {(v.backend, v.model) for v in spec.variants} == {
        ("openai_compat", "gpt-4.1"),
        ("openai_compat", "o4-mini"),
    }
    first = render(result.templates[0], result.tests[0].vars)
    assert first[0].content == "Convert this English to French: Hello world"


def test_simple_csv_is_two_prompts_by_four_tests(fixtures_dir: Path) -> None:
    result = import_file(fixtures_dir / SIMPLE_CSV)
    assert result.errors == []
    assert len(result.templates) == 2 and len(result.tests) == 4
    assert result.templates[0].messages[0].content.startswith("You are a skilled translator")
    assert result.templates[1].messages[0].content.endswith("keeping it casual and friendly.")
    assert [t.vars["language"] for t in result.tests] == ["French", "French", "Pirate", "Pirate"]
    assert result.tests[1].vars["style_config"] == (
        '{"tone":"casual","length":"brief","formatting":{"bullets":true}}'
    )
    assert [t.assertions for t in result.tests] == [
        [AssertionSpec(type="icontains", value=v)] for v in ("bonjour", "faim", "Ahoy", "grub")
    ]
    # promptfoo's `load` (JSON.parse) is a filter of the renderer: no warning, and it renders.
    assert result.warnings == []
    assert {v.name for v in result.templates[1].variables} == {"body", "language", "style_config"}
    first = render(result.templates[0], result.tests[1].vars)[0].content
    assert "- Tone: casual\n- Length: brief\n" in first
    second = render(result.templates[1], result.tests[2].vars)[0].content
    assert (
        'Translate this text to Pirate in a natural, conversational way:\n"Hello world"' in second
    )


@pytest.mark.parametrize("config", [GETTING_STARTED, SIMPLE_CSV])
def test_fixtures_round_trip_through_export(fixtures_dir: Path, config: Path) -> None:
    first = import_file(fixtures_dir / config)
    out = export("promptfoo", experiment=first.experiment)
    assert out.warnings == []
    again = import_text(out.text, "promptfoo", "exported.yaml")
    assert again.errors == []
    assert again.templates == first.templates
    assert again.tests == first.tests
    assert again.experiment == first.experiment


def test_workbench_experiment_round_trips_and_says_what_promptfoo_cannot_hold() -> None:
    spec = make_spec()
    out = export("promptfoo", experiment=spec)
    assert out.text.startswith("# Which prompt gets capitals right?\n# second line\n")
    joined = "\n".join(out.warnings)
    assert "variants terse: their own values of 'tone' differ and are not written" in joined
    assert "2 more combinations" in joined
    assert "'llamacpp' has no promptfoo provider" in joined
    back = import_text(out.text, "promptfoo", "x.yaml")
    assert back.errors == []
    assert back.tests == spec.tests  # expected and threshold-free metadata survive
    assert (
        back.experiment is not None
        and back.experiment.default_assertions == spec.default_assertions
    )
    assert back.experiment.repeats == 3
    assert [m for t in back.templates for m in t.messages] == [
        m for v in spec.variants for m in v.template.messages
    ]


def test_literal_and_multi_message_templates_export_as_promptfoo_reads_them() -> None:
    literal = PromptTemplate(
        name="data",
        messages=[Message(role="user", content="Keep {{ this }}\r\nverbatim", literal=True)],
    )
    chat = PromptTemplate(
        name="chat",
        messages=[
            Message(role="system", content="Be {{ tone | tojson }}"),
            Message(role="user", content="{{ q }}"),
        ],
        parameters=Params(temperature=0.3),
    )
    looks_like_file = PromptTemplate(
        name="file", messages=[Message(role="user", content="notes.txt")]
    )
    from workbench.core.experiments import ExperimentSpec, Variant

    spec = ExperimentSpec(
        name="x",
        variants=[
            Variant(template=t, backend="anthropic", model="claude")
            for t in (literal, chat, looks_like_file)
        ],
    )
    out = export("promptfoo", experiment=spec)
    assert "| dump" in out.text and "anthropic:claude" in out.text
    back = import_text(out.text, "promptfoo", "x.yaml")
    assert back.errors == []
    assert render(back.templates[0])[0].content == "Keep {{ this }}\r\nverbatim"
    assert [m.role for m in back.templates[1].messages] == ["system", "user"]
    assert back.templates[1].messages[0].content == "Be {{ tone | tojson }}"
    assert back.templates[1].parameters == Params(temperature=0.3)
    assert back.templates[2].messages[0].content == "notes.txt"
    assert back.experiment is not None and back.experiment.variants[0].backend == "anthropic"


def test_prompt_files_chat_json_and_nunjucks(tmp_path: Path) -> None:
    config = write(
        tmp_path,
        {
            "promptfooconfig.yaml": (
                "prompts:\n"
                "  - file://chat.json\n"
                "  - file://rendered.json\n"
                "  - id: file://prompts/*.md\n"
                "    label: Markdown\n"
                "  - |-\n"
                "    - role: system\n"
                "      content: Answer in {{ lang }}.\n"
                "    - role: user\n"
                "      content: '{{ q }}'\n"
                "  - 'Hi {% if formal %}Sir{% elseif x %}you{% endif %} "
                "{{ data | dump }} {{ name.toUpperCase() }}'\n"
                "providers: [openai:chat:gpt-4o]\n"
                "tests:\n  - vars: {q: Why?}\n"
            ),
            "chat.json": json.dumps(
                [
                    {"role": "system", "content": "Be {{ mood }}"},
                    {"role": "user", "content": "{{ q }}"},
                ]
            ),
            "rendered.json": (
                '[\n  {"role": "developer", "content": "Rules"},\n'
                '  {"role": "user", "content": {{ q | dump }}}\n]\n'
            ),
            "prompts/a.md": "# A\n{{ q }}\n",
            "prompts/b.md": "# B\n{{ q }}\n",
        },
    )
    result = import_file(config)
    assert result.errors == []
    names = [t.name for t in result.templates]
    assert names == [
        "chat.json",
        "rendered.json",
        "Markdown: a.md",
        "Markdown: b.md",
        names[4],
        names[5],
    ]
    chat, rendered, md_a, md_b, yaml_chat, nunjucks = result.templates
    assert [(m.role, m.content) for m in chat.messages] == [
        ("system", "Be {{ mood }}"),
        ("user", "{{ q }}"),
    ]
    assert [(m.role, m.content) for m in rendered.messages] == [
        ("system", "Rules"),
        ("user", "{{ q }}"),
    ]
    assert render(rendered, {"q": 'He said "hi"\n'})[1].content == 'He said "hi"\n'
    assert (
        md_a.messages[0].content == "# A\n{{ q }}\n"
        and md_b.messages[0].content == "# B\n{{ q }}\n"
    )
    assert [m.role for m in yaml_chat.messages] == ["system", "user"]
    assert nunjucks.messages[0].content == (
        "Hi {% if formal %}Sir{% elif x %}you{% endif %} "
        "{{ data | tojson }} {{ name.toUpperCase() }}"
    )
    warnings = " ".join(w.message for w in result.warnings)
    assert "'developer' read as 'system'" in warnings
    assert "toUpperCase" in warnings
    assert result.experiment is not None and result.experiment.variants[0].model == "gpt-4o"


def test_prompts_built_by_a_loop_are_rendered_first_and_parsed_after(tmp_path: Path) -> None:
    config = write(
        tmp_path,
        {
            "promptfooconfig.yaml": "prompts: [file://loop.json, 'ok {{ x }}']\ntests: []\n",
            "loop.json": "[{% for m in history | load %}"
            '{"role": "{{ m.role }}", "content": {{ m.content | dump }}},{% endfor %}\n'
            '{"role": "user", "content": {{ q | dump }}}]\n',
        },
    )
    result = import_file(config)
    assert result.errors == []
    assert [t.name for t in result.templates] == ["loop.json", "ok {{ x }}"]
    loop = result.templates[0]
    assert is_rendered_chat(loop) and [v.name for v in loop.variables] == ["history", "q"]
    assert prompt_text(loop) == (tmp_path / "loop.json").read_text()  # exported as it came
    history = (
        '[{"role": "user", "content": "Hi \\"there\\""}, {"role": "assistant", "content": "Hello"}]'
    )
    request = build_request(loop, {"history": history, "q": "Bye"}, backend="scripted")
    assert [(m.role, m.content) for m in request.messages] == [
        ("user", 'Hi "there"'),
        ("assistant", "Hello"),
        ("user", "Bye"),
    ]


def test_txt_prompts_split_on_dashes_with_lines(tmp_path: Path) -> None:
    config = write(
        tmp_path,
        {
            "promptfooconfig.yaml": "prompts: file://p.txt\ntests: []\n",
            "p.txt": "\n\nFirst {{ a }}\n---\nSecond\n  ---  \nThird {{ b | nosuchfilter }}\n---\n",
        },
    )
    result = import_file(config)
    assert [t.messages[0].content for t in result.templates] == [
        "First {{ a }}",
        "Second",
        "Third {{ b | nosuchfilter }}",
    ]
    [warning] = [w for w in result.warnings if w.source == "p.txt"]
    assert warning.line == 7 and "nosuchfilter" in warning.message


def test_tests_from_csv_yaml_and_jsonl_files(tmp_path: Path) -> None:
    config = write(
        tmp_path,
        {
            "promptfooconfig.yaml": (
                "prompts: ['{{ q }}']\n"
                "defaultTest:\n"
                "  vars: {lang: en}\n"
                "  assert:\n"
                "    - type: not-contains\n"
                "      value: sorry\n"
                "      weight: 2\n"
                "tests:\n"
                "  - file://cases.csv\n"
                "  - file://more/*.yaml\n"
                "  - file://lines.jsonl\n"
                "  - description: inline\n"
                "    vars: {q: [one, two], n: 3}\n"
                "    threshold: 0.5\n"
                "    assert:\n"
                "      - {type: similar, value: x, threshold: 0.9, metric: sim, provider: foo}\n"
            ),
            "cases.csv": (
                "q,__expected1,__expected2,__description,__metric\n"
                "hi,icontains:hello,not-regex:^no,greeting,polite\n"
                "bye,grade:says goodbye kindly,similar(0.7):farewell,leaving,\n"
                "plain,just this text,,exact,\n"
                '"bad,row\n'
            ),
            "more/a.yaml": (
                "- vars: {q: from yaml}\n  assert:\n    - type: contains-any\n      value: [a, b]\n"
            ),
            "lines.jsonl": '{"vars": {"q": "from jsonl"}}\nnot json\n',
        },
    )
    result = import_file(config)
    tests = {t.vars["q"]: t for t in result.tests}
    assert list(tests) == ["hi", "bye", "plain", "from yaml", "from jsonl", "one", "two"]
    assert all(t.vars["lang"] == "en" for t in result.tests)
    assert tests["hi"].assertions == [
        AssertionSpec(type="icontains", value="hello", metric="polite"),
        AssertionSpec(type="regex", value="^no", negate=True, metric="polite"),
    ]
    assert tests["hi"].description == "greeting"
    assert tests["bye"].assertions == [
        AssertionSpec(type="llm-rubric", value="says goodbye kindly"),
        AssertionSpec(type="similar", value="farewell", threshold=0.7),
    ]
    assert tests["plain"].assertions == [AssertionSpec(type="equals", value="just this text")]
    assert tests["from yaml"].assertions == [AssertionSpec(type="contains-any", value=["a", "b"])]
    assert tests["one"].vars["n"] == "3" and tests["one"].metadata == {"threshold": 0.5}
    assert tests["one"].assertions == [
        AssertionSpec(type="similar", value="x", threshold=0.9, metric="sim")
    ]
    spec = result.experiment
    assert spec is not None
    assert spec.default_assertions == [
        AssertionSpec(type="contains", value="sorry", negate=True, weight=2)
    ]
    problems = {(p.source, p.line, p.severity) for p in result.problems}
    assert ("cases.csv", 5, "error") in problems  # the unterminated record
    assert ("lines.jsonl", 2, "error") in problems
    assert any(p.severity == "warning" and "provider" in p.message for p in result.problems)


def test_file_vars_are_read_like_promptfoo_reads_them(tmp_path: Path) -> None:
    config = write(
        tmp_path,
        {
            "promptfooconfig.yaml": (
                "prompts: ['{{ doc }} {{ cfg }}']\n"
                "tests:\n"
                "  - vars:\n"
                "      doc: file://docs/a.txt\n"
                "      cfg: file://cfg.yaml\n"
                "      code: file://gen.py\n"
            ),
            "docs/a.txt": "  Document text\n\n",
            "cfg.yaml": "tone: formal\nn: 2\n",
        },
    )
    result = import_file(config)
    [test] = result.tests
    assert test.vars == {
        "doc": "Document text",
        "cfg": '{"tone": "formal", "n": 2}',
        "code": "file://gen.py",
    }
    assert any("code or media" in w.message for w in result.warnings)


def test_providers_and_their_parameters(tmp_path: Path) -> None:
    text = (
        "prompts: ['{{ q }}']\n"
        "providers:\n"
        "  - id: openai:gpt-4o-mini\n"
        "    label: mini\n"
        "    config: {temperature: 0.2, max_tokens: 50, stop: END, apiKey: sk-secret,\n"
        "             response_format: json}\n"
        "  - anthropic:messages:claude-3-haiku\n"
        "  - ollama:chat:llama3\n"
        "  - bedrock:anthropic.claude-v2: {config: {top_p: 0.9}}\n"
        "  - id: openai:gpt-4o\n"
        "    config: {temperature: 9}\n"
        "  - file://provider.py\n"
        "tests: []\n"
    )
    result = import_text(text, "promptfoo", "p.yaml")
    spec = result.experiment
    assert spec is not None
    found = [(v.backend, v.model, v.params.set_values(), v.label) for v in spec.variants]
    assert found == [
        (
            "openai_compat",
            "gpt-4o-mini",
            {"temperature": 0.2, "max_tokens": 50, "stop": ["END"]},
            "{{ q }} · mini",
        ),
        ("anthropic", "claude-3-haiku", {}, "{{ q }} · anthropic:claude-3-haiku"),
        ("ollama", "llama3", {}, "{{ q }} · ollama:llama3"),
        ("bedrock", "anthropic.claude-v2", {"top_p": 0.9}, "{{ q }} · bedrock:anthropic.claude-v2"),
        ("openai_compat", "gpt-4o", {}, "{{ q }} · openai:gpt-4o"),
    ]
    messages = [(p.line, p.severity, p.message) for p in result.problems]
    assert (
        5,
        "warning",
        "provider 'openai:gpt-4o-mini': config keys not kept: apiKey, response_format",
    ) in messages
    # Each variant's provider as written, with its line, for the backend mapping of the services.
    assert [(r.id, r.kind, r.line) for r in result.providers if r is not None] == [
        ("openai:gpt-4o-mini", "openai", 3), ("anthropic:messages:claude-3-haiku", "anthropic", 7),
        ("ollama:chat:llama3", "ollama", 8), ("bedrock:anthropic.claude-v2", "bedrock", 9),
        ("openai:gpt-4o", "openai", 10)]
    assert any(sev == "error" and "temperature" in m for _, sev, m in messages)
    assert any(line == 12 and "code or a program" in m for line, _, m in messages)
    assert "sk-secret" not in " ".join(m for _, _, m in messages)


@pytest.mark.parametrize(
    ("text", "line", "needle"),
    [
        ("prompts: ['a'\ntests: []\n", 2, "not valid YAML"),
        ("- just\n- a list\n", 1, "is a mapping"),
        ("prompts: 42\n", 1, "'prompts' must be a list"),
        ("prompts: ['x']\ntests: {a: 1}\n", 2, "'tests' must be a list"),
        ("prompts: ['x']\ntests:\n  - vars: [1]\n", 3, "'vars' must be a mapping"),
        ("prompts: ['x']\ntests:\n  - assert: [{value: 1}]\n", 3, "without a 'type'"),
        ("prompts: ['x']\ntests:\n  - assert: [{type: assert-set, assert: []}]\n", 3, "assert-set"),
        ("prompts: ['{{ x']\n", 1, "not valid Jinja"),
        ("prompts: [file://missing.txt]\n", 1, "no such file"),
        ("prompts: [file://gen.py:make]\n", 1, "no such file"),
    ],
)
def test_malformed_configs_report_lines(tmp_path: Path, text: str, line: int, needle: str) -> None:
    result = import_text(text, "promptfoo", "bad.yaml", base_dir=tmp_path)
    assert any(p.line == line and needle in p.message for p in result.errors), result.problems


def test_file_references_need_the_config_folder() -> None:
    result = import_text("prompts: [file://p.txt]\n", "promptfoo", "<pasted>")
    assert "config's folder is unknown" in result.errors[0].message


def test_unknown_top_level_keys_are_reported() -> None:
    text = (
        "description: d\nprompts: [x]\nenv: {OPENAI_API_KEY: sk-1}\nscenarios: []\n"
        "evaluateOptions: {repeat: 2, maxConcurrency: 4}\n"
    )
    result = import_text(text, "promptfoo", "c.yaml")
    assert {p.line for p in result.warnings} == {3, 4, 5, None}  # None: there are no providers
    assert result.experiment is not None and result.experiment.repeats == 2
    assert "sk-1" not in " ".join(p.message for p in result.problems)


def test_file_references_outside_the_config_folder_are_refused_per_line(tmp_path: Path) -> None:
    """``file://../../../../etc/passwd``, ``file:///etc/passwd`` and escaping globs were read
    silently (and would be sent to a model); each is refused on its line, the rest imports."""
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP SECRET", encoding="utf-8")
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "x.txt").write_text("ALSO SECRET", encoding="utf-8")
    project = tmp_path / "project"
    (project / "prompts").mkdir(parents=True)
    (project / "link.txt").symlink_to(secret)
    config = write(
        project,
        {
            "prompts/ok.txt": "Inside {{ q }}",
            "promptfooconfig.yaml": (
                "prompts:\n"  # 1
                "  - file://../../../../../../../../etc/passwd\n"  # 2
                f"  - file://{secret}\n"  # 3
                "  - file://../*.txt\n"  # 4
                "  - file:///**/secret.txt\n"  # 5
                "  - file://link.txt\n"  # 6
                "  - file://prompts/../../elsewhere/*.txt\n"  # 7
                "  - file://prompts/*.txt\n"  # 8
                "tests:\n"  # 9
                "  - vars: {q: file://../secret.txt}\n"  # 10
                "  - file://../elsewhere/x.txt\n"  # 11
                "  - vars: {q: fine}\n"
            ),
        },
    )
    result = import_file(config)
    assert [t.messages[0].content for t in result.templates] == ["Inside {{ q }}"]
    assert [p.line for p in result.errors] == [2, 3, 4, 5, 6, 7, 10, 11]
    assert all("outside the config's folder" in p.message for p in result.errors)
    everything = json.dumps(
        [t.model_dump() for t in result.templates] + [c.model_dump() for c in result.tests]
    )
    assert "SECRET" not in everything and "root:" not in everything
    # as for a missing file, the refused var keeps its reference text (never the file's)
    assert [c.vars for c in result.tests] == [{"q": "file://../secret.txt"}, {"q": "fine"}]

def test_components_examples_and_values_export_so_promptfoo_renders_the_same_prompt() -> None:
    """The export wrote `{{ parts.instruction }}` and `{{ examples_block }}` as they were
    (promptfoo has no parts or examples: it rendered them empty) and dropped the variable values:
    now the bodies are flattened and the values go along, so the config renders the same."""
    from workbench.core.experiments import ExperimentSpec, TestCase, Variant
    from workbench.core.models import Components, Example, Variable

    template = PromptTemplate(
        name="sentiment",
        messages=[Message(role="user", content=(
            "{{ parts.instruction }}\n\n{{ examples_block }}\n\nReview: {{ review }}\n"
            "Sentiment:"))],
        components=Components(instruction="Classify the {{ kind }} as positive or negative."),
        examples=[Example(input="Great food", output="positive"),
                  Example(input="Cold soup", output="negative")],
        variables=[Variable(name="kind", default="review"), Variable(name="review")],
    )
    values = {"review": "The staff were lovely"}
    spec = ExperimentSpec(name="s", variants=[
        Variant(template=template, backend="openai_compat", model="gpt-4o-mini",
                variables=values)])
    out = export("promptfoo", experiment=spec)
    assert "parts." not in out.text and "examples_block" not in out.text
    assert "Great food" in out.text and "{{ kind }}" in out.text
    back = import_text(out.text, "promptfoo", "x.yaml")
    assert back.errors == []
    assert [t.vars for t in back.tests] == [{"kind": "review", "review": "The staff were lovely"}]
    rendered = render(back.templates[0], back.tests[0].vars)
    assert rendered == render(template, values)
    assert rendered[0].content.startswith("Classify the review as positive or negative.")

    # With test rows, the shared values are defaults the rows override.
    rows = spec.model_copy(update={"tests": [TestCase(vars={"review": "Slow"})]})
    data = import_text(export("promptfoo", experiment=rows).text, "promptfoo", "y.yaml")
    assert "defaultTest" in export("promptfoo", experiment=rows).text
    assert render(data.templates[0], {"kind": "review", "review": "Slow"}) == render(
        template, {"review": "Slow"})


def test_ref_assertions_and_yaml_12_booleans_read_as_promptfoo_reads_them() -> None:
    text = (
        "prompts: ['{{ body }}']\n"
        "tests:\n"
        "  - vars: {body: Yes, flag: true, modes: [on, off]}\n"
        "    assert:\n"
        "      - $ref: '#/assertionTemplates/pirate'\n"
        "      - $ref: '#/assertionTemplates/missing'\n"
        "      - $ref: '#/tests/0/assert/2'\n"
        "assertionTemplates:\n"
        "  pirate: {type: icontains, value: arrr}\n"
    )
    result = import_text(text, "promptfoo", "p.yaml")
    assert [t.vars for t in result.tests] == [
        {"body": "Yes", "flag": "true", "modes": "on"},
        {"body": "Yes", "flag": "true", "modes": "off"},
    ]
    assert result.tests[0].assertions == [AssertionSpec(type="icontains", value="arrr")]
    refused = "names no assertion in this file (a reference is not followed twice); not imported"
    assert [(p.line, p.message) for p in result.errors] == [
        (6, f"'$ref: #/assertionTemplates/missing' {refused}"),
        (7, f"'$ref: #/tests/0/assert/2' {refused}"),  # itself
    ]
    assert not any("assertionTemplates" in p.message for p in result.warnings)


def test_vars_referencing_vars_are_filled_in() -> None:
    """promptfoo's examples/vars-referencing-vars: a var naming another is rendered with it."""
    config = Path(__file__).parents[2] / "fixtures" / "promptfoo" / "vars-referencing-vars"
    result = import_file(config / "promptfooconfig.yaml")
    assert [t.vars["sentence"] for t in result.tests] == [
        "tweet about bananas", "tweet about fruits", "tweet about weasels"]
    [template] = result.templates
    assert render(template, result.tests[0].vars)[0].content == "Write a tweet about bananas"
    kept = import_text("prompts: ['{{a}}']\ntests: [{vars: {a: '{{ a }} {{ b }} {{ c }}', "
                       "b: x}}]\n", "promptfoo", "p.yaml")
    assert kept.tests[0].vars["a"] == "{{ a }} x {{ c }}"  # itself and unknown names stay
