"""promptfoo's own example configs with JavaScript assertions and transforms (tests/fixtures/
promptfoo, copied from promptfoo's examples) imported and run with ``workbench eval`` against a
scripted backend that gives a fixed answer: the cells and verdicts promptfoo gives for that
answer. They were refused whole before ("no JavaScript runtime here")."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from workbench.backends.config import add_config
from workbench.cli import main
from workbench.core.experiments import ScriptFile
from workbench.services.suites import load_suite
from workbench.storage.repositories import Store

FIXTURES = Path(__file__).parent.parent / "fixtures" / "promptfoo"


def answering(text: str) -> str:
    """A configured scripted backend that always answers ``text`` (named after it)."""
    name = f"fixed-{abs(hash(text)) % 10_000}"
    add_config(name, "scripted", {"script": [{"text": text}]})
    return name


def run(config: Path, backend: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, dict]:
    code = main(["eval", str(config), "--backend", backend, "--json"])
    return code, json.loads(capsys.readouterr().out)


def outcomes(run_id: str) -> list[tuple[str, float | None, str]]:
    with Store.open() as store:
        return [(r.outcome, r.score, r.reason) for r in store.evaluations.for_run(run_id)]


def test_javascript_assert_external_file_assertion_on_every_test(
    workbench_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = FIXTURES / "javascript-assert-external" / "promptfooconfig.yaml"
    suite = load_suite(config)
    (default,) = suite.spec.default_assertions
    assert ScriptFile.model_validate(default.value).path == "assert.js"
    code, data = run(config, answering("Bananas, lemons, pineapples"), capsys)
    assert code == 0  # promptfoo: 4 cells (1 prompt x 1 provider x 4 tests), all pass
    assert [c["status"] for c in data["cells"]] == ["pass"] * 4
    assert outcomes(data["cells"][0]["run_id"]) == [("pass", 0.75, "Looks good to me")]


@pytest.mark.parametrize(
    ("answer", "statuses", "cell"),
    [
        ("hello world from promptfoo", ["pass", "pass"], "pass"),  # what promptfoo's echo gives
        ("hello there", ["pass", "fail"], "fail"),  # 11 characters: >= 5, < 20
    ],
)
def test_assertion_config_reaches_the_script(
    workbench_home: Path, capsys: pytest.CaptureFixture[str], answer: str,
    statuses: list[str], cell: str,
) -> None:
    config = FIXTURES / "eval-javascript-assert-params" / "promptfooconfig.yaml"
    code, data = run(config, answering(answer), capsys)
    assert code == (0 if cell == "pass" else 1)
    [only] = data["cells"]
    assert only["status"] == cell
    got = outcomes(only["run_id"])
    assert [o[0] for o in got] == statuses
    assert got[1][2] == f"Output length {len(answer)} vs minLength 20"


def test_default_test_transform_from_a_file(
    workbench_home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = FIXTURES / "config-transform-file"
    suite = load_suite(source / "promptfooconfig.yaml")
    [test] = suite.spec.tests
    assert isinstance(test.transform, ScriptFile) and test.transform.path == "transform.js"
    code, data = run(source / "promptfooconfig.yaml", answering("Bananas!"), capsys)
    assert code == 0 and [c["status"] for c in data["cells"]] == ["pass"]  # no assertions
    # The same config with a check on the transformed output: it sees the upper-cased answer.
    config = tmp_path / "promptfooconfig.yaml"
    config.write_text(
        (source / "promptfooconfig.yaml").read_text(encoding="utf-8")
        + "    assert:\n      - type: equals\n        value: BANANAS!\n",
        encoding="utf-8",
    )
    (tmp_path / "transform.js").write_text((source / "transform.js").read_text("utf-8"), "utf-8")
    code, data = run(config, answering("Bananas!"), capsys)
    assert code == 0 and [c["status"] for c in data["cells"]] == ["pass"]


def test_transforms_at_three_levels_in_promptfoos_order(
    workbench_home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """defaultTest's transform applies to tests without their own; a test's own replaces it
    (promptfoo merges options); an assertion's transform applies after either."""
    (tmp_path / "t.py").write_text(
        "def get_transform(output, context):\n    return output + '|py:' + context['vars']['k']\n",
        encoding="utf-8")
    config = tmp_path / "promptfooconfig.yaml"
    config.write_text(textwrap.dedent("""\
        prompts: ['Say {{k}}']
        providers: [openai:gpt-4o-mini]
        defaultTest:
          options:
            transform: output + '|default'
        tests:
          - vars: {k: a}
            assert:
              - type: equals
                value: Answer|default
              - type: equals
                value: Answer|default|own
                transform: output + '|own'
          - vars: {k: b}
            options:
              transform: file://t.py
            assert:
              - type: javascript
                value: output === 'Answer|py:b' && context.vars.k === 'b'
              - type: javascript
                value: output.length === 2
                transform: output.split('|')
        """), encoding="utf-8")
    code, data = run(config, answering("Answer"), capsys)
    assert code == 0, data
    assert [c["status"] for c in data["cells"]] == ["pass", "pass"]


def test_script_files_outside_the_config_folder_are_refused_on_their_line(
    workbench_home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "suite"
    folder.mkdir()
    (tmp_path / "secret.js").write_text("module.exports = () => true;\n", encoding="utf-8")
    (folder / "inside.js").write_text("module.exports = (o) => o.includes('A');\n", "utf-8")
    config = folder / "promptfooconfig.yaml"
    config.write_text(textwrap.dedent("""\
        prompts: ['Say {{k}}']
        providers: [openai:gpt-4o-mini]
        tests:
          - vars: {k: a}
            assert:
              - type: javascript
                value: file://inside.js
              - type: javascript
                value: file://../secret.js
              - type: javascript
                value: file:///etc/hostname.js
        """), encoding="utf-8")
    suite = load_suite(config)
    refused = [p for p in suite.problems if "outside the config's folder" in p]
    assert [p.split(":")[1] for p in refused] == ["8", "10"]  # the lines of those assertions
    code, data = run(config, answering("Answer"), capsys)
    assert code == 1  # errors are not a pass; the rest of the suite still ran
    [cell] = data["cells"]
    got = outcomes(cell["run_id"])
    assert [o[0] for o in got] == ["pass", "error", "error"]
    assert "was not read" in got[1][2]


def test_our_suite_format_has_javascript_files_and_transforms(
    workbench_home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "checks.js").write_text(
        "exports.short = (output, context) => output.length <= context.config.max;\n", "utf-8")
    (tmp_path / "rows.csv").write_text(
        "word,__expected\nhi,javascript:output.startsWith('ANSWER')\n", encoding="utf-8")
    suite = tmp_path / "suite.yaml"
    suite.write_text(textwrap.dedent(f"""\
        dataset: rows.csv
        variants: [{{prompt: "Say {{{{ word }}}}", backend: {answering("Answer")}}}]
        transform: output.toUpperCase()
        tests:
          - vars: {{word: own}}
            transform: output + '!'
            assert: [{{type: equals, value: Answer!}}]
        assert:
          - {{type: javascript, value: "file://checks.js:short", config: {{max: 7}}}}
        """), encoding="utf-8")
    assert main(["eval", str(suite), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [c["status"] for c in data["cells"]] == ["pass", "pass"]
    with Store.open() as store:  # the row's transform is kept with the evaluation
        [stored] = store.experiments.summaries()
        spec = store.experiments.get(stored.id).spec
    assert [t.transform for t in spec.tests] == ["output.toUpperCase()", "output + '!'"]
    assert ScriptFile.model_validate(spec.default_assertions[0].value).function == "short"


def test_exported_configs_carry_their_scripts_inline_and_give_the_same_verdicts(
    workbench_home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A config whose checks and transform came from files exports self-contained (the code
    inline, as promptfoo runs inline code) and, re-imported without the files, judges alike."""
    from workbench.storage.formats.promptfoo_export import export_promptfoo

    (tmp_path / "transform.js").write_text(
        (FIXTURES / "config-transform-file" / "transform.js").read_text("utf-8"), "utf-8")
    (tmp_path / "assert-length.js").write_text(
        (FIXTURES / "eval-javascript-assert-params" / "assert-length.js").read_text("utf-8"),
        "utf-8")
    source = tmp_path / "promptfooconfig.yaml"
    source.write_text(textwrap.dedent("""\
        prompts: ['{{reply}}']
        providers: [echo]
        defaultTest:
          options:
            transform: file://transform.js
        tests:
          - vars: {reply: hello there}
            assert:
              - {type: javascript, value: file://assert-length.js, config: {minLength: 5}}
              - {type: javascript, value: file://assert-length.js, config: {minLength: 20}}
              - {type: equals, value: HELLO THERE}
        """), encoding="utf-8")
    exported = export_promptfoo(load_suite(source).spec)
    # promptfoo's echo provider has no backend here: the variant is proposed on the local model.
    assert "file://" not in exported.text and exported.warnings == [
        "backend 'llamacpp' has no promptfoo provider; written as 'llamacpp'"]
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "promptfooconfig.yaml").write_text(exported.text, encoding="utf-8")
    backend = answering("hello there")
    for config in (source, elsewhere / "promptfooconfig.yaml"):
        code, data = run(config, backend, capsys)
        [cell] = data["cells"]
        assert code == 1 and cell["status"] == "fail"
        assert [o[0] for o in outcomes(cell["run_id"])] == ["pass", "fail", "pass"], config


def test_python_assertion_files_and_csv_file_references(
    workbench_home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "check.py").write_text(
        "import re\n\ndef get_assert(output, context):\n"
        "    return {'pass': bool(re.search(context['vars']['k'], output)), 'score': 0.5,\n"
        "            'reason': 'looked for ' + context['vars']['k']}\n\n"
        "def strict(output, context):\n    return output == context['vars']['k']\n",
        encoding="utf-8")
    (tmp_path / "check.js").write_text("module.exports = (o) => o.startsWith('Ans');\n", "utf-8")
    (tmp_path / "tests.csv").write_text(
        "k,__expected1,__expected2\nAnswer,file://check.js,file://check.py:strict\n", "utf-8")
    config = tmp_path / "promptfooconfig.yaml"
    config.write_text(textwrap.dedent("""\
        prompts: ['Say {{k}}']
        providers: [openai:gpt-4o-mini]
        defaultTest:
          assert:
            - type: python
              value: file://check.py
        tests: file://tests.csv
        """), encoding="utf-8")
    code, data = run(config, answering("Answer"), capsys)
    assert code == 0, data
    [cell] = data["cells"]
    assert outcomes(cell["run_id"]) == [
        ("pass", 0.5, "looked for Answer"), ("pass", 1.0, "JavaScript returned true"),
        ("pass", 1.0, "returned True")]
