"""``workbench check``: template files linted without running them, each problem as
``FILE:LINE:COL: message`` at the file's own line and column."""

from __future__ import annotations

from pathlib import Path

import pytest

from workbench.cli import main
from workbench.core.paths import builtin_templates_dir

HEAD = "format_version: 1\nname: t\nvariables: [{name: who}]\nmessages:\n"


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_each_error_is_one_line_at_its_place_in_the_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    grammar = write(tmp_path, "g.prompt.yaml", HEAD + (
        "  - role: user\n    content: Hi {{ who }}\nresponse_format: grammar\ngrammar: |\n"
        "  root ::= answer\n  answer ::= (\"yes\" | \"no\"\n"))
    jinja = write(tmp_path, "j.prompt.yaml", HEAD + (
        "  - role: system\n    content: 'Be {{ who }'\n"
        "  - role: user\n    content: |\n      Hello {{ who }}!\n"
        "      {% if who %}yes{% endfi %}\n"))
    good = write(tmp_path, "ok.prompt.yaml", HEAD + "  - role: user\n    content: Hi {{ them }}\n")
    assert main(["check", str(grammar), str(jinja), str(good)]) == 1
    out, err = capsys.readouterr()
    lines = out.splitlines()
    assert lines[0] == f"{grammar}:10:14: grammar: this '(' is never closed by ')'"
    assert lines[1].startswith(f"{jinja}:6:25: messages[0] (system): unexpected '}}'")
    assert lines[2].startswith(f"{jinja}:10:25: messages[1] (user): Encountered unknown tag "
                               "'endfi'")
    assert lines[3:] == [f"{good}: warning: 'them' is used but not declared",
                         f"{good}: warning: 'who' is declared but never used"]
    assert err == "3 files checked, 2 with errors\n"


def test_the_built_in_templates_pass(capsys: pytest.CaptureFixture[str]) -> None:
    files = sorted(str(p) for p in builtin_templates_dir().glob("*.prompt.yaml"))
    assert len(files) >= 5
    assert main(["check", *files]) == 0
    assert capsys.readouterr().err == f"{len(files)} files checked, none with errors\n"


def test_a_file_that_cannot_be_read_is_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["check", str(tmp_path / "missing.prompt.yaml")]) == 1
    missing = tmp_path / "missing.prompt.yaml"
    assert capsys.readouterr().out == f"{missing}: No such file or directory\n"
