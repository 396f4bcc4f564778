"""``workbench --version``, read from the package metadata only when asked: importing
``importlib.metadata`` costs tens of milliseconds that every other command would pay if the
parser held the version string itself."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any


class VersionAction(argparse.Action):
    """Prints ``workbench X.Y.Z`` on stdout and exits 0, as argparse's own version action."""

    def __init__(self, option_strings: Sequence[str], dest: str = argparse.SUPPRESS) -> None:
        super().__init__(
            option_strings,
            dest,
            nargs=0,
            default=argparse.SUPPRESS,
            help="show the version and exit",
        )

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> None:
        import workbench

        print(f"{parser.prog} {workbench.__version__}")
        parser.exit()
