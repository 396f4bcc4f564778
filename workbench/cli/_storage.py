"""Opening the store and the library for a command, and printing what they hold."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from workbench.storage.library import Library, RescanReport
    from workbench.storage.repositories import Store


def add_library_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--library",
        metavar="DIR",
        type=Path,
        help="the library folder (default: 'library' in the data folder)",
    )


def open_store() -> Store:
    from workbench.storage.repositories import Store

    return Store.open()


def open_library(store: Store, args: argparse.Namespace) -> Library:
    """The library, brought up to date with its folder (files are the source of truth)."""
    from workbench.storage.library import Library

    library = Library(store.db, getattr(args, "library", None))
    report_problems(library.rescan())
    return library


def report_problems(report: RescanReport) -> None:
    """Files the rescan could not read are warnings: the rest of the library still works."""
    for problem in report.problems:
        print(f"warning: {problem} (its last good version is kept)", file=sys.stderr)


def clip(text: str, width: int) -> str:
    """One line of at most ``width`` characters."""
    line = " ".join(text.split())
    return line if len(line) <= width else line[: width - 1] + "…"
