"""``workbench check``: lint template files without rendering or running them, one problem a
line as ``FILE:LINE:COL: message`` (the file's own line and column), for CI and editors."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "check",
        help="check template files for errors without running them",
        description="Check each FILE (a *.prompt.yaml template) as the app reads it: YAML, keys "
        "and values, the output schema, the grammar (GBNF, with llama.cpp's rules) and every "
        "Jinja body's syntax, without rendering or running anything. Each error is one line on "
        "stdout, FILE:LINE:COL: message, the line and column those of the file; warnings "
        "(variables used but not declared, or declared but unused) follow as FILE: warning: "
        "message. Exits 1 when a file has an error.",
    )
    p.add_argument("files", nargs="+", metavar="FILE", type=Path)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from workbench.core.template_check import check_file

    failed = 0
    for path in args.files:
        found = check_file(path)
        for error in found.errors:
            print(error)
        for warning in found.warnings:
            print(f"{path}: warning: {warning}")
        failed += bool(found.errors)
    checked = len(args.files)
    print(f"{checked} file{'s' if checked != 1 else ''} checked, "
          f"{failed or 'none'} with errors", file=sys.stderr)
    return 1 if failed else 0
