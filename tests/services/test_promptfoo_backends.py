"""promptfoo providers on configured backends of their kind, or on the local model with a note on
their line; ``{{ env.X }}`` from the process environment; unsupported lines refused alone."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from workbench.backends.config import BackendConfig, add_config
from workbench.cli import main
from workbench.services.promptfoo_backends import choose_backends
from workbench.services.suites import load_suite
from workbench.storage.formats import import_file, import_text
from workbench.storage.repositories import Store

CONFIG = textwrap.dedent("""\
    prompts: ['Say {{ word }}']
    providers:
      - openai:gpt-4o-mini
      - openai:chat:gpt-4o
      - anthropic:messages:claude-3-5-haiku
      - bedrock:anthropic.claude-v2
      - ollama:chat:llama3
      - vertex:gemini-pro
      - exec:./run.sh
      - python:provider.py
    tests:
      - vars: {word: hi}
    """)


def configs(*items: tuple[str, str, dict[str, object]]) -> dict[str, BackendConfig]:
    return {n: BackendConfig(name=n, backend=b, options=o) for n, b, o in items}


def mapped(cfg: dict[str, BackendConfig]) -> tuple[list[tuple[str, str]], list[tuple[int | None,
                                                                                       str]]]:
    result = import_text(CONFIG, "promptfoo", "promptfooconfig.yaml")
    choose_backends(result, cfg)
    assert result.experiment is not None
    return ([(v.backend, v.model) for v in result.experiment.variants],
            [(p.line, p.message) for p in result.problems])


def test_without_configured_backends_every_provider_runs_on_the_local_model_said_per_line() -> None:
    variants, problems = mapped({})
    assert variants == [("llamacpp", "")] * 6  # 6 providers kept, promptfoo's cell count
    lines = dict(problems)
    assert lines[3] == ("provider 'openai:gpt-4o-mini': no OpenAI backend is configured; it runs "
                        "on the local embedded model (set one up in Tools ▸ Backends to run it "
                        "there)")
    assert "no Anthropic backend" in lines[5] and "no Bedrock backend" in lines[6]
    assert "no Ollama (an OpenAI-compatible server at 127.0.0.1:11434) backend" in lines[7]
    assert "the workbench has no 'vertex' backend" in lines[8]
    assert "code or a program to run" in lines[9] and "code or a program to run" in lines[10]


def test_providers_run_on_the_configured_backend_of_their_kind() -> None:
    cfg = configs(
        ("local-vllm", "openai_compat", {"base_url": "http://127.0.0.1:8000/v1"}),
        ("my-openai", "openai_compat", {}),  # api.openai.com, the type's default
        ("ollama", "openai_compat", {"base_url": "http://localhost:11434/v1"}),
        ("claude", "anthropic", {}),
        ("aws", "bedrock", {"region": "us-east-1"}),
    )
    variants, problems = mapped(cfg)
    assert variants == [
        ("my-openai", "gpt-4o-mini"), ("my-openai", "gpt-4o"), ("claude", "claude-3-5-haiku"),
        ("aws", "anthropic.claude-v2"), ("ollama", "llama3"), ("llamacpp", "")]
    notes = [m for _, m in problems if "runs on the local" in m]
    assert len(notes) == 1 and "'vertex:gemini-pro'" in notes[0]  # only the one
    # No remote call is silent: each provider sent to a cloud backend says where, on its line.
    away = [(line, m) for line, m in problems if "leave this computer" in m]
    assert away == [
        (3, "provider 'openai:gpt-4o-mini': runs on your backend 'my-openai' (api.openai.com); "
            "its prompts leave this computer"),
        (4, "provider 'openai:chat:gpt-4o': runs on your backend 'my-openai' (api.openai.com); "
            "its prompts leave this computer"),
        (5, "provider 'anthropic:messages:claude-3-5-haiku': runs on your backend 'claude' "
            "(api.anthropic.com); its prompts leave this computer"),
        (6, "provider 'bedrock:anthropic.claude-v2': runs on your backend 'aws' (AWS Bedrock "
            "(us-east-1)); its prompts leave this computer")]  # ollama at 127.0.0.1 stays


def test_a_workbench_backend_id_as_provider_is_kept() -> None:
    result = import_text("prompts: [hi]\nproviders: [scripted, llamacpp]\ntests: [{vars: {}}]\n",
                         "promptfoo", "p.yaml")
    choose_backends(result, {})
    assert result.experiment is not None
    assert [v.backend for v in result.experiment.variants] == ["scripted", "llamacpp"]
    assert result.warnings == []


def test_env_templates_read_the_process_environment(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PF_TOPIC", "bananas")
    monkeypatch.delenv("PF_MISSING", raising=False)
    text = textwrap.dedent("""\
        env:
          PF_TOPIC: apples
        prompts:
          - 'Write about {{ env.PF_TOPIC }} and {{ topic }}'
        providers: [openai:gpt-4o-mini]
        tests:
          - vars:
              topic: "{{ env['PF_TOPIC'] }} $PF_TOPIC"
              other: "{{ env.PF_MISSING | default('none') }}"
            assert:
              - type: contains
                value: "{{env.PF_MISSING}}x"
        """)
    result = import_text(text, "promptfoo", "promptfooconfig.yaml")
    [template] = result.templates
    assert template.messages[0].content == "Write about bananas and {{ topic }}"
    [test] = result.tests
    assert test.vars == {"topic": "bananas $PF_TOPIC", "other": "none"}  # $X is not expanded
    assert test.assertions[0].value == "x"
    problems = [(p.line, p.severity, p.message) for p in result.problems]
    assert (1, "warning", "'env' is not applied: {{ env.X }} reads the process environment "
            "only") in problems
    assert (12, "warning", "environment variable PF_MISSING is not set; read as empty text, as "
            "promptfoo does") in problems


def test_unsupported_lines_are_refused_alone_and_the_rest_runs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    add_config("fixed", "scripted", {"script": [{"text": "Bonjour"}]})
    config = tmp_path / "promptfooconfig.yaml"
    config.write_text(textwrap.dedent("""\
        prompts: ['Translate {{ word }}']
        providers: [vertex:gemini-pro, file://provider.py]
        tests:
          - vars: {word: hello}
            assert:
              - type: answer-relevance
                value: greeting
              - type: icontains
                value: bonjour
          - vars: {word: bye}
            assert:
              - type: assert-set
                assert: [{type: contains, value: x}]
              - type: contains
                value: Au revoir
        """), encoding="utf-8")
    suite = load_suite(config)
    assert any(p.startswith("promptfooconfig.yaml:6: assertion type 'answer-relevance' is not "
                            "supported here") for p in suite.problems)
    assert any(p.startswith("promptfooconfig.yaml:2: provider 'file://provider.py'")
               for p in suite.problems)
    code = main(["eval", str(config), "--backend", "fixed", "--json"])
    captured = capsys.readouterr()
    data = json.loads(captured.out)
    assert code == 1  # the second test fails; the first passes on what is left of it
    assert [c["status"] for c in data["cells"]] == ["pass", "fail"]
    assert "promptfooconfig.yaml:6" in captured.err and "promptfooconfig.yaml:12" in captured.err


GRADED = textwrap.dedent("""\
    prompts: ['Say {{ word }}']
    providers: [fixed]
    defaultTest:
      metadata: {team: search, tier: gold}
      options:
        provider: openai:gpt-4o-mini
      assert:
        - type: llm-rubric
          value: polite
    tests:
      - vars: {word: hi}
        metadata: {tier: silver}
        assert:
          - type: model-graded-closedqa
            value: says hi
      - vars: {word: bye}
        options:
          provider: {id: grader-5}
        assert:
          - type: llm-rubric
            value: says bye
          - type: factuality
            value: bye
            provider: anthropic:messages:claude-3-5-haiku
          - type: contains
            value: bye
""")


def test_default_test_metadata_and_graders_merge_as_promptfoo_does() -> None:
    result = import_text(GRADED, "promptfoo", "promptfooconfig.yaml")
    first, second = result.tests
    assert first.metadata == {"team": "search", "tier": "silver"}  # the test's own win
    assert second.metadata == {"team": "search", "tier": "gold"}
    assert [a.provider for a in first.assertions] == ["openai:gpt-4o-mini"]
    assert [a.provider for a in second.assertions] == [
        "grader-5", "anthropic:messages:claude-3-5-haiku", None]  # contains has no grader
    choose_backends(result, configs(("grader-5", "scripted", {}), ("claude", "anthropic", {})))
    assert result.experiment is not None
    [default] = result.experiment.default_assertions
    assert default.provider == "llamacpp"  # no OpenAI backend configured
    assert [a.provider for a in result.experiment.tests[1].assertions] == [
        "grader-5", "claude:claude-3-5-haiku", None]
    notes = [(p.line, p.message) for p in result.problems if "grader" in p.message]
    assert notes == [(6, "grader provider 'openai:gpt-4o-mini': no OpenAI backend is configured; "
                         "it runs on the local embedded model (set one up in Tools ▸ Backends "
                         "to run it there)"),
                     (24, "grader provider 'anthropic:messages:claude-3-5-haiku': runs on your "
                          "backend 'claude' (api.anthropic.com); its prompts leave this computer")]


def test_a_named_grader_grades(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    add_config("fixed", "scripted", {"script": [{"text": "bye"}]})
    add_config("grader-5", "scripted", {"script": [{"text": '{"score": 5, "reason": "fine"}'}]})
    config = tmp_path / "promptfooconfig.yaml"
    config.write_text(GRADED.replace("openai:gpt-4o-mini", "grader-5").replace(
        "anthropic:messages:claude-3-5-haiku", "grader-5"), encoding="utf-8")
    code = main(["eval", str(config), "--json"])
    data = json.loads(capsys.readouterr().out)
    statuses = [c["status"] for c in data["cells"]]
    # closedqa and factuality cannot read a rubric's answer: errors, never fails; the rubric
    # and contains pass, so the second cell is an error only through factuality.
    assert statuses == ["error", "error"], data
    with Store.open() as store:
        got = [(r.assertion.type, r.outcome, r.reason[:16])
               for r in store.evaluations.for_run(data["cells"][1]["run_id"])]
    assert got[0] == ("llm-rubric", "pass", "judge score 5/5:")
    assert got[1] == ("llm-rubric", "pass", "judge score 5/5:") and got[3][1] == "pass"
    assert got[2][:2] == ("factuality", "error")
    assert code == 1


def test_a_provider_runs_only_the_prompts_it_names() -> None:
    """promptfoo's provider ``prompts``: the ollama example's shape (2 × 3 would be 6 variants)."""
    result = import_text(textwrap.dedent("""\
        prompts:
          - id: 'a {{x}}'
            label: openai_prompt
          - id: 'b {{x}}'
            label: llama_prompt
        providers:
          - id: ollama:chat:llama4-scout
            prompts: [llama_prompt]
          - id: ollama:chat:llama4-maverick
            prompts: [llama_prompt, missing_prompt]
          - id: openai:gpt-5-mini
            prompts:
              - openai_prompt
        tests: [{vars: {x: 1}}]
        """), "promptfoo", "p.yaml")
    assert result.experiment is not None
    assert [v.label for v in result.experiment.variants] == [
        "openai_prompt · openai:gpt-5-mini", "llama_prompt · ollama:llama4-scout",
        "llama_prompt · ollama:llama4-maverick"]
    assert [(r.id if r else None) for r in result.providers] == [
        "openai:gpt-5-mini", "ollama:chat:llama4-scout", "ollama:chat:llama4-maverick"]
    assert [(p.line, p.message) for p in result.problems] == [
        (9, "provider 'ollama:chat:llama4-maverick': no prompt labelled 'missing_prompt'")]


def test_eval_filters_tests_by_metadata(tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    add_config("fixed", "scripted", {"script": [{"text": "ok"}]})
    config = tmp_path / "promptfooconfig.yaml"
    config.write_text(textwrap.dedent("""\
        prompts: ['{{ q }}']
        providers: [fixed]
        defaultTest:
          metadata: {suite: smoke}
        tests:
          - vars: {q: a}
            metadata: {tags: [fast, en]}
          - vars: {q: b}
            metadata: {tags: slow}
          - vars: {q: c}
            metadata: {suite: full, tags: fast}
        """), encoding="utf-8")
    code = main(["eval", str(config), "--json", "--filter-metadata", "tags=fast",
                 "--filter-metadata", "suite=smoke"])
    data = json.loads(capsys.readouterr().out)
    assert code == 0 and [c["test"] for c in data["cells"]] == [0]
    assert data["cells"][0]["metadata"] == {"suite": "smoke", "tags": ["fast", "en"]}  # shown
    with Store.open() as store:
        [run_id] = [c["run_id"] for c in data["cells"]]
        assert store.runs.get(run_id).result.text == "ok"
        assert store.runs.get(run_id).result.request.messages[0].content == "a"
    assert main(["eval", str(config), "--filter-metadata", "tags=none"]) == 1
    assert "no test has the metadata tags=none" in capsys.readouterr().err


def test_env_templates_in_prompt_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PF_TONE", "formal")
    monkeypatch.delenv("PF_NOPE", raising=False)
    (tmp_path / "prompts.txt").write_text(
        "Be {{ env.PF_TONE }}: {{ q }}\n---\nSay {{ env.PF_NOPE }}{{ q }}\n", encoding="utf-8")
    config = tmp_path / "promptfooconfig.yaml"
    config.write_text("prompts: [file://prompts.txt]\nproviders: [llamacpp]\n"
                      "tests: [{vars: {q: hi}}]\n", encoding="utf-8")
    result = import_file(config)
    assert [t.messages[0].content for t in result.templates] == ["Be formal: {{ q }}",
                                                                  "Say {{ q }}"]
    assert [t.variables[0].name for t in result.templates] == ["q", "q"]  # no 'env' variable
    [missing] = [p for p in result.problems if "PF_NOPE" in p.message]
    assert missing.source == "prompts.txt" and missing.line == 3


def test_the_suite_window_keeps_its_own_backends_and_grades_locally_what_would_leave() -> None:
    """Without the local fallback (the app's suite window, which offers the local model and asks
    before the variants' prompts leave), a variant keeps its kind's backend, and a grader that
    would send outputs away grades on the local model, said on its line."""
    result = import_text(GRADED, "promptfoo", "promptfooconfig.yaml")
    choose_backends(result, configs(("claude", "anthropic", {}), ("grader-5", "scripted", {})),
                    local_fallback=False)
    assert result.experiment is not None
    assert [v.backend for v in result.experiment.variants] == ["fixed"]  # kept as written
    assert [a.provider for a in result.experiment.tests[1].assertions] == [
        "grader-5", "llamacpp", None]
    assert (24, "grader provider 'anthropic:messages:claude-3-5-haiku': it would grade away from "
                "this computer; the local embedded model grades instead (run the suite with "
                "'workbench eval' to use it)") in [(p.line, p.message) for p in result.problems]
