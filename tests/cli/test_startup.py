"""The CLI starts without its heavy dependencies: building the parser, ``--version`` and every
``--help`` import none of them (each sub-command imports what it needs when it runs). Checked by
the modules a fresh process has loaded, not by timing; bench/bench_cli.py measures the time."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from workbench.cli import build_parser

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


def modules_loaded_by(argv: list[str]) -> set[str]:
    """The top-level packages a new interpreter has imported after ``main(argv)``."""
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, json.dumps(argv)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return {name.split(".")[0] for name in json.loads(done.stderr.splitlines()[-1])}


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
