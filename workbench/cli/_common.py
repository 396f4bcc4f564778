"""Helpers shared by the sub-commands."""

from __future__ import annotations

import argparse
import gc
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from workbench.core.errors import KnownError

if TYPE_CHECKING:
    from workbench.core.models import PromptTemplate

T = TypeVar("T")


def assignment(value: str) -> str:
    """argparse ``type=`` for ``--var``-like options: ``NAME=VALUE`` (a usage error, exit 2,
    when the ``=`` or the name is missing)."""
    key, sep, _ = value.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got '{value}'")
    return value


VAR_HELP = "a variable value; NAME=@FILE reads a file, NAME=@@TEXT is the literal @TEXT"
VAR_FILE_HELP = "a variable value read from a file (UTF-8 text), whatever its name starts with"


def add_var_options(parser: argparse.ArgumentParser) -> None:
    """``--var NAME=VALUE`` and ``--var-file NAME=PATH`` (read with :func:`template_values`)."""
    parser.add_argument(
        "--var", type=assignment, action="append", metavar="NAME=VALUE", help=VAR_HELP
    )
    parser.add_argument(
        "--var-file", type=assignment, action="append", metavar="NAME=PATH", help=VAR_FILE_HELP
    )


def template_values(args: argparse.Namespace) -> dict[str, str]:
    """The values of ``--var`` and ``--var-file`` (a ``--var-file`` wins over a ``--var``)."""
    values = parse_assignments(args.var)
    for item in args.var_file or []:
        key, _, path = item.partition("=")
        values[key] = _read_value(key, path, "--var-file")
    return values


def _read_value(key: str, path: str, what: str) -> str:
    try:
        return Path(path).read_bytes().decode("utf-8")
    except OSError as err:
        raise KnownError(f"{what} {key}: cannot read {path}: {err.strerror or err}") from None
    except UnicodeDecodeError as err:
        raise KnownError(
            f"{what} {key}: cannot read {path}: not UTF-8 text "
            f"(byte 0x{err.object[err.start]:02x} at offset {err.start})"
        ) from None


def parse_assignments(items: list[str] | None, what: str = "--var") -> dict[str, str]:
    """``["k=v", ...]`` to a dict; ``k=@file`` reads the value from a file and ``k=@@text`` is
    the literal ``@text`` (a value that must begin with ``@``)."""
    values: dict[str, str] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise KnownError(f"{what} expects NAME=VALUE, got '{item}'")
        if value.startswith("@@"):
            value = value[1:]
        elif value.startswith("@") and len(value) > 1:
            value = _read_value(key, value[1:], what)
        values[key] = value
    return values


def unknown_values(template: PromptTemplate, values: dict[str, str]) -> list[str]:
    """A warning for each ``--var`` the template neither declares nor uses (a typo would
    otherwise run silently on the default)."""
    from workbench.core.templates import discover

    known = {v.name for v in template.variables} | set(discover(template).used)
    return [
        f"'{name}' is not a variable of this template ({', '.join(sorted(known)) or 'none'})"
        for name in values
        if name not in known
    ]


def print_json(data: Any) -> None:
    json.dump(data, sys.stdout, ensure_ascii=False, indent=2)
    sys.stdout.write("\n")


def _whole_number(value: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got '{value}'") from None


def positive_int(value: str) -> int:
    """argparse ``type=`` for counts and limits: a whole number of at least 1."""
    number = _whole_number(value)
    if number < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return number


def int_between(low: int, high: int) -> Callable[[str], int]:
    """argparse ``type=`` for a whole number in ``low..high`` (inclusive)."""

    def parse(value: str) -> int:
        number = _whole_number(value)
        if not low <= number <= high:
            raise argparse.ArgumentTypeError(f"must be between {low} and {high}")
        return number

    parse.__name__ = f"int_between_{low}_{high}"
    return parse


def freeze_heap(args: argparse.Namespace) -> None:
    """Before a long run (a sweep, an evaluation), once the command's imports and setup are done:
    what is loaded now lives until exit, so move it out of the cyclic GC's generations and its
    full collections stop re-scanning it (as the app does once its window is up). Only when
    ``main`` is the process's entry: a caller's own heap (pytest's) must stay collectable."""
    if getattr(args, "owns_process", False):
        gc.freeze()


def add_wait_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--wait",
        action="store_true",
        help="if this experiment is already running elsewhere, wait for that run to end, then "
        "run what it left (default: refuse, naming the process that runs it)",
    )


def start_or_wait(
    args: argparse.Namespace, start: Callable[[Callable[[float], bool] | None], T]
) -> T:
    """``start(None)``; when its experiment is already running elsewhere and ``--wait`` was
    given, say (on stderr) who runs it and ``start`` again with a pause to wait with (Ctrl+C
    stops the wait)."""
    import threading

    from workbench.services.experiment_lock import ExperimentBusy

    try:
        return start(None)
    except ExperimentBusy as busy:
        if not args.wait:
            raise
        print(
            f"waiting for {busy.holder.describe()} to finish this experiment…",
            file=sys.stderr,
            flush=True,
        )
    return start(threading.Event().wait)
