"""The ``workbench`` command.

No arguments starts the desktop app; a template file as the only argument starts it with that
file open (or hands the file to the app already running). Each sub-command lives in its own
module of this package, which exposes ``register(subparsers)``; modules import their heavy
dependencies lazily so ``workbench --help`` stays fast. Exit codes: 0 ok, 1 a user error (one
line on stderr), 2 usage.
"""

from __future__ import annotations

import argparse
import importlib
import keyword
import os
import pkgutil
import sys
from collections.abc import Sequence

from workbench.cli._version import VersionAction
from workbench.core.errors import KnownError


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The whole command line; with ``command``, a sub-command's name, only that sub-command is
    registered (``main`` parses a command's arguments with it, importing one module, not all)."""
    parser = argparse.ArgumentParser(
        prog="workbench",
        description="Prompt Workbench: write, run, compare and evaluate prompts. "
        "Without a command, the desktop app starts; 'workbench FILE.prompt.yaml' starts it "
        "with that file open.",
    )
    parser.add_argument("--version", action=VersionAction)
    desktop = parser.add_mutually_exclusive_group()
    desktop.add_argument(
        "--install-desktop-entry",
        action="store_true",
        help="Linux: add the app to the desktop's menus, with its icon, and open *.prompt.yaml "
        "files with it (under $XDG_DATA_HOME, default ~/.local/share)",
    )
    desktop.add_argument(
        "--uninstall-desktop-entry",
        action="store_true",
        help="remove what --install-desktop-entry wrote",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    if command is None:
        modules = _command_modules()
    else:
        module = _module_of(command)
        if module is None:
            raise ValueError(f"no sub-command '{command}'")
        modules = [module]
    for name in modules:
        importlib.import_module(f"{__name__}.{name}").register(subparsers)
    return parser


def _command_modules() -> list[str]:
    return sorted(m.name for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_"))


def _module_of(command: str) -> str | None:
    """The module of sub-command ``command`` (None if there is none): named after it, with a
    ``_`` after a Python keyword (``import_``); tests/cli/test_startup.py holds every module to
    that."""
    if command.endswith("_"):
        return None
    module = f"{command}_" if keyword.iskeyword(command) else command
    return module if module in _command_modules() else None


def _is_file(arg: str, parser: argparse.ArgumentParser) -> bool:
    """A first argument naming a template file rather than a command (never a command's name)."""
    commands = next(
        a.choices for a in parser._actions if isinstance(a, argparse._SubParsersAction)
    )
    if arg.startswith("-") or arg in commands:
        return False
    return arg.endswith((".yaml", ".yml")) or os.path.isfile(arg)


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    # A command's arguments are parsed with its own sub-parser only: one module imported, not
    # every command's. Anything else (help, an option, a file, a typo) gets the whole parser.
    named = arguments[0] if arguments and _module_of(arguments[0]) else None
    parser = build_parser(named)
    if arguments and _is_file(arguments[0], parser):
        if len(arguments) > 1:
            parser.error("a file to open takes no other arguments")
        from workbench.app import main as gui_main

        return gui_main(arguments[0])
    args = parser.parse_args(arguments)
    # A command may freeze the process's heap (``_common.freeze_heap``) only when this is the
    # process's own entry: tests call ``main([...])`` inside pytest's process.
    args.owns_process = argv is None
    if args.install_desktop_entry or args.uninstall_desktop_entry:
        from workbench.cli import _desktop

        return _desktop.run(uninstall=args.uninstall_desktop_entry)
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
