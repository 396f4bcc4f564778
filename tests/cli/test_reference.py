"""docs/cli.md is the reference generated from the real parser, and it is current."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO
from workbench.cli import build_parser
from workbench.cli._reference import REGENERATE, reference

CHECKED_IN = REPO / "docs" / "cli.md"


def _parsers(parser: argparse.ArgumentParser) -> list[argparse.ArgumentParser]:
    """``parser`` and every sub-command's parser below it."""
    found = [parser]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in dict.fromkeys(action.choices.values()):
                found += _parsers(child)
    return found


def test_docs_cli_md_is_current() -> None:
    expected = reference()
    actual = CHECKED_IN.read_text(encoding="utf-8") if CHECKED_IN.exists() else ""
    assert actual == expected, (
        f"docs/cli.md is out of date with the command line: regenerate it with `{REGENERATE}` "
        "(from the repository root) and commit the result"
    )


def test_every_command_option_and_help_text_is_in_the_reference() -> None:
    text = reference()
    for parser in _parsers(build_parser()):
        assert f"`{parser.prog}`" in text, parser.prog
        for action in parser._actions:
            if action.help == argparse.SUPPRESS or isinstance(action, argparse._HelpAction):
                continue
            for option in action.option_strings:
                assert f"`{option}" in text, f"{parser.prog} {option}"
            for choice in action.choices or ():
                if not isinstance(action, argparse._SubParsersAction):
                    assert str(choice) in text, f"{parser.prog} {action.dest}: {choice}"


def test_choices_defaults_and_rules_are_stated() -> None:
    text = reference()
    assert "`--status {ok,error,cancelled}`" not in text  # argparse's layout is not used
    assert "`--status STATUS`: only these runs — choices: `ok`, `error`, `cancelled`" in text
    assert "`--limit N`: how many (20) — default: `20`" in text
    assert "Exactly one of `TEMPLATE`, `--text`." in text  # count's required group
    assert "literal @TEXT — repeatable" in text  # --var
    assert "(repeatable) — repeatable" not in text  # eval --criterion says so itself
    assert "choices: 1 to 5" in text  # export --min-stars, a range
    assert "| 130 |" in text


def test_the_reference_does_not_depend_on_the_terminal_or_the_user(tmp_path: Path) -> None:
    """Generated in another process with another terminal width, another home and data folder,
    it is the same text, naming none of those folders (count's help names the config folder)."""
    home = tmp_path / "someone-else"
    env = {
        **os.environ,
        "COLUMNS": "37",
        "LINES": "5",
        "WORKBENCH_HOME": str(home),
        "HOME": str(tmp_path),
        "PYTHONPATH": str(REPO),
    }
    result = subprocess.run(
        [sys.executable, "-m", "workbench.cli._reference"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout == reference()
    assert str(tmp_path) not in result.stdout
    assert "<config folder>" in result.stdout


def test_the_module_writes_the_file_it_is_given(tmp_path: Path) -> None:
    from workbench.cli._reference import main

    target = tmp_path / "cli.md"
    assert main([str(target)]) == 0
    assert target.read_bytes() == reference().encode("utf-8")
