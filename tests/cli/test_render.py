"""``workbench render`` and the CLI's exit codes."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import pytest

from workbench.cli import build_parser, main
from workbench.core.models import Message, PromptTemplate, Variable
from workbench.core.template_files import dumps


@pytest.fixture
def template_file(tmp_path: Path) -> Path:
    path = tmp_path / "greet.prompt.yaml"
    path.write_text(
        dumps(
            PromptTemplate(
                name="greet",
                messages=[
                    Message(role="system", content="Be {{ tone }}."),
                    Message(role="user", content="Hello {{ who }}!"),
                ],
                variables=[Variable(name="tone", default="kind"), Variable(name="who")],
            )
        ),
        encoding="utf-8",
    )
    return path


def test_render_json(template_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["render", str(template_file), "--var", "who=Ada", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["messages"] == [
        {"role": "system", "content": "Be kind."},
        {"role": "user", "content": "Hello Ada!"},
    ]
    assert out["warnings"] == []


def test_render_text_and_value_from_file(
    template_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "who.txt").write_text("{{ not rendered }}", encoding="utf-8")
    assert main(["render", str(template_file), "--var", f"who=@{tmp_path / 'who.txt'}"]) == 0
    assert (
        capsys.readouterr().out
        == "--- system ---\nBe kind.\n\n--- user ---\nHello {{ not rendered }}!\n"
    )


def test_user_errors_exit_1_with_one_line(
    template_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["render", str(template_file)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "'who'" in err
    assert main(["render", "no-such-template"]) == 1


def test_a_grammar_error_is_said_at_its_file_line_and_column(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Every command that reads a template reports a grammar llama.cpp would refuse as
    compilers do (``file:line:col: message``), the line and column those of the file."""
    path = tmp_path / "yes-no.prompt.yaml"
    path.write_text(
        "format_version: 1\nname: yes-no\nmessages:\n  - role: user\n    content: Sky blue?\n"
        "response_format: grammar\ngrammar: |\n  root ::= answer \".\"\n"
        "  answer ::= \"yes\" | \"no\" | mabye\n  maybe ::= \"maybe\"\n",
        encoding="utf-8",
    )
    for command in ("render", "run", "count"):
        assert main([command, str(path)]) == 1
        err = capsys.readouterr().err
        assert err == (f"workbench {command}: {path}:9:29: grammar: undefined rule 'mabye'; "
                       "did you mean 'maybe'?\n")


@pytest.mark.parametrize(
    "argv",
    [
        ["render", "welcome", "--var", "topic"],
        ["render", "welcome", "--var", "=x"],
        ["count", "welcome", "--var", "topic"],
        ["run", "welcome", "--var", "topic"],
        ["run", "welcome", "--param", "temperature"],
        ["backends", "add", "x", "openai_compat", "--option", "base_url"],
        ["import", "prompts.csv", "--column", "name"],
    ],
)
def test_an_assignment_without_a_value_is_a_usage_error(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "usage: workbench" in err and "expected NAME=VALUE, got '" in err


def test_usage_errors_exit_2() -> None:
    with pytest.raises(SystemExit) as info:
        main(["render"])
    assert info.value.code == 2
    with pytest.raises(SystemExit) as info:
        main(["no-such-command"])
    assert info.value.code == 2


def test_every_command_has_help(capsys: pytest.CaptureFixture[str]) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "workbench", "--help"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0 and "render" in result.stdout
    action = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    assert "render" in action.choices
    for command in action.choices:
        with pytest.raises(SystemExit) as info:
            main([command, "--help"])
        assert info.value.code == 0
        assert capsys.readouterr().out.startswith(f"usage: workbench {command}")


def test_a_mistyped_variable_is_reported(
    template_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        main(["render", str(template_file), "--var", "who=Ada", "--var", "tonne=x", "--json"]) == 0
    )
    warnings = json.loads(capsys.readouterr().out)["warnings"]
    assert warnings == ["'tonne' is not a variable of this template (tone, who)"]
    assert main(["render", str(template_file), "--var", "who=Ada", "--var", "tonne=x"]) == 0
    assert "warning: 'tonne' is not a variable" in capsys.readouterr().err


def test_a_reader_that_stops_early_ends_the_command_quietly(
    template_file: Path, tmp_path: Path
) -> None:
    """`workbench render ... | head -1`: no BrokenPipe traceback when the reader goes away."""
    big = tmp_path / "big.txt"
    big.write_text("a line of text\n" * 20_000, encoding="utf-8")
    process = subprocess.Popen(
        [sys.executable, "-m", "workbench", "render", str(template_file), f"--var=who=@{big}"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stdout is not None and process.stderr is not None
    assert process.stdout.readline() == b"--- system ---\n"
    process.stdout.close()  # ~300 kB are still to be written: more than a pipe holds
    errors = process.stderr.read().decode()
    assert process.wait(timeout=60) == 1
    assert "Traceback" not in errors and "BrokenPipe" not in errors, errors


def test_a_binary_value_file_is_a_one_line_error_naming_it(
    template_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    binary = tmp_path / "program"
    binary.write_bytes(b"\x7fELF\x02\x01\x01\x00\xff\xfe\x00\x00")
    assert main(["render", str(template_file), "--var", f"who=@{binary}"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert f"--var who: cannot read {binary}: not UTF-8 text (byte 0xff at offset 8)" in err


def test_a_runaway_template_is_a_one_line_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "wide.prompt.yaml"
    wide = PromptTemplate(
        name="wide", messages=[Message(role="user", content="{{ 'x'|center(999999999) }}")]
    )
    path.write_text(dumps(wide), encoding="utf-8")
    assert main(["render", str(path)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "'center' filter would be longer than 2,000,000" in err


@pytest.mark.parametrize(
    "argv",
    [["backends", "--no-models"], ["history", "list"], ["render", "--help"], ["--help"]],
    ids=["backends", "history", "render-help", "help"],
)
def test_every_command_ends_quietly_when_its_reader_is_gone(
    argv: list[str], workbench_home: Path
) -> None:
    """`workbench … | head`: whatever the command, a reader that went away before anything was
    written (the output still buffered when the command returns) ends it without a traceback
    or Python's 'Exception ignored … BrokenPipeError' at exit."""
    process = subprocess.Popen(
        [sys.executable, "-m", "workbench", *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stdout is not None and process.stderr is not None
    process.stdout.close()
    errors = process.stderr.read().decode()
    assert process.wait(timeout=60) in (0, 1)
    assert "Traceback" not in errors and "BrokenPipe" not in errors, errors


def _user_message(capsys: pytest.CaptureFixture[str]) -> str:
    return str(json.loads(capsys.readouterr().out)["messages"][1]["content"])


def test_double_at_is_a_literal_leading_at_and_var_file_always_reads(
    template_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``--var who=@…`` always read a file: no way to pass a value beginning with '@' (a handle,
    a decorator), and a script passing untrusted text so read local files."""
    assert main(["render", str(template_file), "--var", "who=@@ada", "--json"]) == 0
    assert _user_message(capsys) == "Hello @ada!"
    assert main(["render", str(template_file), "--var", "who=@@@x", "--json"]) == 0
    assert _user_message(capsys) == "Hello @@x!"
    (tmp_path / "@odd name.txt").write_text("Grace", encoding="utf-8")
    path = tmp_path / "@odd name.txt"
    assert main(["render", str(template_file), "--var-file", f"who={path}", "--json"]) == 0
    assert _user_message(capsys) == "Hello Grace!"
    # for one name, --var-file wins over --var
    assert main(["render", str(template_file), "--var", "who=x", "--var-file", f"who={path}"]) == 0
    assert "Hello Grace!" in capsys.readouterr().out


def test_a_binary_or_missing_var_file_is_one_line_not_a_traceback(
    template_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    binary = tmp_path / "true"
    binary.write_bytes(b"\x7fELF\x02\x01\x01\x00\xff\xfe\x00")
    for argv in (
        ["--var", f"who=@{binary}"],
        ["--var-file", f"who={binary}"],
        ["--var-file", f"who={tmp_path / 'missing'}"],
    ):
        assert main(["render", str(template_file), *argv]) == 1
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "Traceback" not in err, err
        assert "who" in err and ("not UTF-8" in err or "cannot read" in err)


def test_help_texts_name_the_escape_and_var_file(capsys: pytest.CaptureFixture[str]) -> None:
    for command in ("render", "run", "count"):
        with pytest.raises(SystemExit):
            build_parser().parse_args([command, "--help"])
        out = " ".join(capsys.readouterr().out.split())
        assert "NAME=@@TEXT is the literal @TEXT" in out and "--var-file NAME=PATH" in out
