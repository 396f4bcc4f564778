"""``workbench key``: store, remove and check API keys in the OS keyring.

The key is read from the terminal without echo (or from stdin when piped), never from the command
line, where it would land in the shell history and the process list.
"""

from __future__ import annotations

import argparse
import sys


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "key",
        help="store or remove API keys in the OS keyring",
        description="Keys are looked up as: passed explicitly, then the OS keyring entry "
        "'prompt-workbench/NAME', then the backend's environment variable. Without an OS "
        "keyring (a headless Linux) use the environment variable.",
    )
    p.set_defaults(func=run_status)
    actions = p.add_subparsers(dest="action", metavar="ACTION")
    put = actions.add_parser(
        "set", help="store a key (read from the terminal or stdin, never an argument)"
    )
    put.add_argument("name", metavar="NAME", help="entry name, e.g. openai or anthropic")
    put.set_defaults(func=run_set)
    delete = actions.add_parser("delete", help="remove a stored key")
    delete.add_argument("name", metavar="NAME")
    delete.set_defaults(func=run_delete)
    status = actions.add_parser("status", help="say whether an OS keyring is available")
    status.set_defaults(func=run_status)


def run_set(args: argparse.Namespace) -> int:
    import getpass

    from workbench.backends import credentials
    from workbench.core.errors import KnownError

    if sys.stdin.isatty():
        value = getpass.getpass(f"API key for '{args.name}': ")
    else:
        value = sys.stdin.readline()
    value = value.strip()
    if not value:
        raise KnownError("no key given", hint="type or pipe the key on standard input")
    credentials.store(args.name, value)
    print(f"stored the key '{args.name}' in the OS keyring")
    return 0


def run_delete(args: argparse.Namespace) -> int:
    from workbench.backends import credentials
    from workbench.core.errors import KnownError

    if not credentials.delete(args.name):
        raise KnownError(f"no stored key '{args.name}'")
    print(f"removed the key '{args.name}'")
    return 0


def run_status(args: argparse.Namespace) -> int:
    from workbench.backends import credentials

    status = credentials.keyring_status()
    print(status.message)
    return 0
