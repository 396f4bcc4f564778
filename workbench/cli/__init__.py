"""The ``workbench`` command.

No arguments starts the desktop app. Each sub-command lives in its own module of this package,
which exposes ``register(subparsers)``; modules import their heavy dependencies lazily so
``workbench --help`` stays fast. Exit codes: 0 ok, 1 a user error (one line on stderr), 2 usage.
"""

from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import sys
from collections.abc import Sequence

from workbench import __version__
from workbench.core.errors import KnownError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="workbench",
        description="Prompt Workbench: write, run, compare and evaluate prompts. "
        "Without a command, the desktop app starts.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if not info.name.startswith("_"):
            importlib.import_module(f"{__name__}.{info.name}").register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # A command may freeze the process's heap (``_common.freeze_heap``) only when this is the
    # process's own entry: tests call ``main([...])`` inside pytest's process.
    args.owns_process = argv is None
    if args.command is None:
        from workbench.app import main as gui_main

        return gui_main()
    try:
        code = int(args.func(args) or 0)
        sys.stdout.flush()  # here, not at exit: a reader gone by then is caught below
        return code
    except KnownError as err:
        print(f"workbench {args.command}: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader went away (`workbench history list | head`): stop quietly like other
        # Unix tools. Python would report the broken pipe again when it flushes stdout at
        # exit, so stdout is pointed at /dev/null first (the recipe in Python's signal docs).
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
