"""The argparse value types every sub-command shares, checked through the real command line."""

from __future__ import annotations

import argparse
import importlib.metadata
import subprocess
import sys

import pytest

from workbench.cli import main
from workbench.cli._common import int_between, positive_int


def test_positive_int_accepts_whole_numbers_from_one() -> None:
    assert positive_int("1") == 1
    assert positive_int("250") == 250
    for bad, message in (("0", "at least 1"), ("-3", "at least 1"), ("2.5", "whole number")):
        with pytest.raises(argparse.ArgumentTypeError, match=message):
            positive_int(bad)


def test_int_between_is_inclusive() -> None:
    parse = int_between(1, 64)
    assert (parse("1"), parse("64")) == (1, 64)
    for bad in ("0", "65"):
        with pytest.raises(argparse.ArgumentTypeError, match="between 1 and 64"):
            parse(bad)
    with pytest.raises(argparse.ArgumentTypeError, match="whole number, got 'x'"):
        parse("x")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["history", "list", "--limit", "0"], "must be at least 1"),
        (["count", "--text", "hi", "--max-tokens", "x"], "expected a whole number, got 'x'"),
        (["finetune", "check", "f.jsonl", "--token-limit", "-1"], "must be at least 1"),
        (["compare", "exp", "--concurrency", "65"], "must be between 1 and 64"),
    ],
)
def test_commands_reject_bad_numbers_as_usage_errors(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_freeze_heap_freezes_only_a_process_that_main_owns() -> None:
    code = (
        "import argparse, gc\n"
        "from workbench.cli._common import freeze_heap\n"
        "freeze_heap(argparse.Namespace())\n"
        "freeze_heap(argparse.Namespace(owns_process=False))\n"
        "before = gc.get_freeze_count()\n"
        "freeze_heap(argparse.Namespace(owns_process=True))\n"
        "print(before, gc.get_freeze_count() > 1000)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["0", "True"]


def test_version_is_the_installed_distributions(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--version"])
    assert exited.value.code == 0
    expected = importlib.metadata.version("prompt-workbench")
    assert capsys.readouterr().out == f"workbench {expected}\n"
