"""One YAML loader for every reader: aliases, anchors, duplicate keys and huge documents are refused
with their line and column, fast, instead of exhausting memory or silently keeping the last key."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import yaml

from workbench.backends.config import BackendConfigError, load_configs
from workbench.cli import main
from workbench.core import safe_yaml
from workbench.core.errors import KnownError, TemplateFileError
from workbench.core.params import load_presets
from workbench.core.sweep_file import SweepFileError, load_sweep
from workbench.core.template_files import loads
from workbench.services.suites import SuiteError, load_suite
from workbench.storage.formats import import_file, import_text


def billion_laughs(key: str = "output_schema") -> str:
    """The classic alias bomb (ten levels of nine) under ``key`` of a template file: 10**10
    strings once expanded (PyYAML's safe loader alone reached 7.5 GB, then a MemoryError)."""
    lines = ['lol0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for n in range(1, 10):
        p = f"*a{n - 1}"
        lines.append(f"  lol{n}: &a{n} [{','.join([p] * 9)}]")
    body = "\n".join(lines)
    head = "format_version: 1\nname: bomb\nmessages:\n- role: user\n  content: hi\n"
    return f"{head}{key}:\n  {body}\n"


def test_the_bomb_is_about_600_bytes() -> None:
    assert 560 <= len(billion_laughs()) <= 640


def test_a_billion_laughs_template_is_refused_at_once_with_its_line() -> None:
    start = time.perf_counter()
    with pytest.raises(TemplateFileError) as caught:
        loads(billion_laughs(), "bomb.prompt.yaml")
    assert time.perf_counter() - start < 0.5
    assert caught.value.line == 7
    assert "anchor (&a0) is not accepted" in str(caught.value)
    assert "column" in str(caught.value)


def test_library_add_refuses_the_bomb_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "bomb.prompt.yaml"
    path.write_text(billion_laughs(), encoding="utf-8")
    start = time.perf_counter()
    assert main(["library", "add", str(path)]) != 0
    assert time.perf_counter() - start < 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert "bomb.prompt.yaml:7" in err and "anchor" in err


def test_bundle_import_refuses_the_bomb_and_keeps_nothing(tmp_path: Path) -> None:
    text = "format_version: 1\nkind: workbench-bundle\ntemplates:\n" + "\n".join(
        "  " + line for line in billion_laughs("metadata").splitlines()
    ).replace("  format_version", "- format_version", 1)
    result = import_text(text, "bundle-yaml", "b.yaml")
    assert result.templates == []
    [error] = result.errors
    assert error.line == 10 and "anchor" in error.message


def test_an_alias_without_its_anchor_is_refused_with_position() -> None:
    with pytest.raises(yaml.YAMLError) as caught:
        safe_yaml.load("a: 1\nb: *nothing\n")
    assert safe_yaml.position(caught.value)[0] == 2


def test_duplicate_keys_are_refused_naming_both_lines() -> None:
    text = "format_version: 1\nname: first\nmessages: []\nname: second\n"
    with pytest.raises(TemplateFileError) as caught:
        loads(text, "t.prompt.yaml")
    assert caught.value.line == 4
    assert "'name' appears twice (first on line 2)" in str(caught.value)
    # nested mappings too, and in every reader
    with pytest.raises(safe_yaml.UnsafeYamlError):
        safe_yaml.load("a:\n  x: 1\n  y: 2\n  x: 3\n")
    assert safe_yaml.load("a: {x: 1}\nb: {x: 1}\n") == {"a": {"x": 1}, "b": {"x": 1}}


def test_documents_over_the_cap_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(safe_yaml, "MAX_CHARS", 100)
    with pytest.raises(safe_yaml.UnsafeYamlError, match="not read"):
        safe_yaml.load("x: " + "y" * 200)


def test_a_nul_byte_is_reported_with_line_and_column() -> None:
    with pytest.raises(TemplateFileError) as caught:
        loads('format_version: 1\nname: "a\x00b"\n', "t.prompt.yaml")
    assert caught.value.line == 2
    assert "U+0000" in str(caught.value) and "column 9" in str(caught.value)


def test_impossible_values_are_yaml_errors_not_tracebacks() -> None:
    with pytest.raises(yaml.YAMLError):
        safe_yaml.load("when: 2024-13-45\n")


BOMB = "a: &a [x, x, x]\nb: [*a, *a, *a]\n"


@pytest.mark.parametrize(
    ("reader", "name"),
    [
        (lambda p: load_sweep(p), "sweep.yaml"),
        (lambda p: load_suite(p), "suite.yaml"),
        (lambda p: load_configs(p), "backends.yaml"),
        (lambda p: load_presets(p), "presets.yaml"),
    ],
)
def test_every_file_reader_refuses_aliases_as_a_known_error(
    tmp_path: Path, reader: object, name: str
) -> None:
    path = tmp_path / name
    path.write_text(BOMB, encoding="utf-8")
    with pytest.raises(KnownError) as caught:
        reader(path)  # type: ignore[operator]
    assert "anchor (&a)" in str(caught.value)
    assert isinstance(caught.value, SweepFileError | SuiteError | BackendConfigError | KnownError)


def test_promptfoo_prompty_llm_and_preset_imports_refuse_aliases(tmp_path: Path) -> None:
    cases = {
        "promptfooconfig.yaml": "prompts: &p ['hi {{x}}']\ntests: [{vars: {x: 1}}]\n",
        "t.prompty": "---\nname: &n x\n---\nuser:\nhi\n",
        "llm.yaml": "system: &s be brief\nprompt: hi\n",
        "tgw.yaml": "temperature: &t 0.7\ntop_p: *t\n",
    }
    fmts = {"llm.yaml": "llm-template", "tgw.yaml": "tgw-preset"}
    for name, text in cases.items():
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        result = import_file(path, fmts.get(name))
        assert not result.templates and not result.presets, name
        assert any("anchor" in p.message for p in result.errors), (name, result.problems)


def test_the_loader_reads_json_like_yaml() -> None:
    data = {"a": [1, 2, {"b": "c"}], "d": None}
    assert safe_yaml.load(json.dumps(data)) == data


@pytest.mark.parametrize(
    ("text", "fmt"),
    [
        ("{", "promptfoo"),
        ("\ufeff[", "tgw-preset"),
        ("? A", "tgw-preset"),
        ("a: [1,\n", "promptfoo"),
    ],
)
def test_problems_at_the_end_of_a_file_point_at_its_last_line(text: str, fmt: str) -> None:
    """Found by the fuzz suite: an error or empty value at the very end was put on the line
    after the file's last one, which no editor shows."""
    result = import_text(text, fmt, "f.yaml")
    last = text.rstrip().count("\n") + 1
    assert result.problems and all(p.line == last for p in result.problems), result.problems
