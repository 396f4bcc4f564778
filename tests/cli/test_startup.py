"""The CLI starts without its heavy dependencies: building the parser, ``--version`` and every
``--help`` import none of them (each sub-command imports what it needs when it runs). Checked by
the modules a fresh process has loaded, not by timing; bench/bench_cli.py measures the time."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import pytest

from workbench.cli import build_parser, main

#: Libraries that take tens to hundreds of milliseconds to import (or load native code).
HEAVY = ("pydantic", "pydantic_core", "jinja2", "httpx", "tiktoken", "PySide6", "llama_cpp")
HEAVY += ("numpy", "yaml", "sqlite3")

_CHILD = """
import json, sys
from workbench.cli import main
try:
    main(json.loads(sys.argv[1]))
except SystemExit:
    pass
print(json.dumps(sorted(sys.modules)), file=sys.stderr)
"""


def modules_loaded_by(argv: list[str], *, whole_names: bool = False) -> set[str]:
    """The top-level packages (or the modules) a new interpreter has imported after
    ``main(argv)``."""
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, json.dumps(argv)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    names = json.loads(done.stderr.splitlines()[-1])
    return set(names) if whole_names else {name.split(".")[0] for name in names}


def _commands() -> list[str]:
    parser = build_parser()
    (subparsers,) = (a for a in parser._actions if a.dest == "command")
    return sorted(subparsers.choices)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "argv",
    [["--version"], ["--help"], *([name, "--help"] for name in _commands())],
    ids=lambda argv: " ".join(argv),
)
def test_version_and_help_import_nothing_heavy(argv: list[str]) -> None:
    assert modules_loaded_by(argv).isdisjoint(HEAVY)


def test_the_parser_still_has_every_sub_command() -> None:
    """The parser (and docs generated from it) keeps every command module's sub-command."""
    assert {"count", "render", "library", "run", "eval", "compare", "backends"} <= set(_commands())


def _sub_parser(parser: argparse.ArgumentParser, command: str) -> argparse.ArgumentParser:
    (subparsers,) = (a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return subparsers.choices[command]  # type: ignore[no-any-return]


@pytest.mark.parametrize("command", _commands())
def test_a_command_alone_parses_as_in_the_whole_parser(command: str) -> None:
    """``main`` registers only the named command; its module is found by the command's name,
    and its options, help and usage are those of the whole parser."""
    alone = build_parser(command)
    (subparsers,) = (a for a in alone._actions if isinstance(a, argparse._SubParsersAction))
    assert list(subparsers.choices) == [command]
    whole = _sub_parser(build_parser(), command)
    assert _sub_parser(alone, command).format_help() == whole.format_help()


def test_a_command_imports_only_its_own_module() -> None:
    loaded = modules_loaded_by(["count", "--help"], whole_names=True)
    commands = {name for name in loaded if name.startswith("workbench.cli.")}
    assert "workbench.cli.count" in commands
    assert not commands & {"workbench.cli.render", "workbench.cli.library", "workbench.cli.run"}


@pytest.mark.parametrize("first", ["import_", "_common", "nosuch", "--help"])
def test_anything_else_gets_the_whole_parser(
    first: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit):
        main([first])
    out, err = capsys.readouterr()
    assert "history" in out + err  # every command is listed (in the help or the usage error)


def test_counting_text_on_a_named_encoding_loads_only_the_tokenizer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the CLI's quickest count (a bundled encoding, plain text) needs tiktoken alone: pydantic
    # and the template engine came in through the image-token formula and cost ~0.1 s
    monkeypatch.setenv("WORKBENCH_HOME", str(tmp_path))
    loaded = modules_loaded_by(["count", "--text", "hi", "--encoding", "cl100k_base"])
    assert "tiktoken" in loaded
    assert loaded.isdisjoint({"pydantic", "pydantic_core", "jinja2", "httpx", "llama_cpp"})


def test_counting_for_a_cloud_model_loads_no_model_runtime(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the local backend is asked whether it knows the model, which imports its module: numpy
    # (the token inspector's log-softmax) came in with it at module level, +50 ms per count
    monkeypatch.setenv("WORKBENCH_HOME", str(tmp_path))
    loaded = modules_loaded_by(["count", "--text", "hi", "--model", "gpt-4o"])
    assert loaded.isdisjoint({"numpy", "llama_cpp", "PySide6"})
