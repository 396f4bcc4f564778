"""``workbench --install-desktop-entry`` / ``--uninstall-desktop-entry``: the app in a Linux
desktop's menus, with its icon and ``*.prompt.yaml`` files opening in it.

Windows and macOS have no freedesktop entries: the command says what to do there instead.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path


def launch_command() -> list[str]:
    """How the desktop starts this installation: the ``workbench`` script beside this Python (a
    venv's or pipx's bin folder), else this Python with ``-m workbench``. A ``WORKBENCH_HOME``
    in effect now is kept, so the menu entry opens the same (portable) data."""
    script = Path(sys.executable).with_name("workbench")
    command = [str(script)] if os.access(script, os.X_OK) else [sys.executable, "-m", "workbench"]
    home = os.environ.get("WORKBENCH_HOME")
    if home:
        command = ["env", f"WORKBENCH_HOME={Path(home).expanduser().absolute()}", *command]
    return command


def run(*, uninstall: bool) -> int:
    from workbench.services import desktop_entry

    if not sys.platform.startswith("linux"):
        where = "Windows" if sys.platform == "win32" else "macOS"
        print(
            f"workbench: desktop entries are for Linux desktops; on {where} see the README's "
            f"'Desktop integration' (a shortcut to: {' '.join(launch_command())})",
            file=sys.stderr,
        )
        return 1
    home = desktop_entry.data_home()
    if uninstall:
        removed = desktop_entry.uninstall(home)
        for path in removed:
            print(f"removed {path}")
        if not removed:
            print(f"nothing to remove under {home}")
        return 0
    from workbench.ui import app_icon  # Qt renders the PNG sizes from the SVG

    for path in desktop_entry.install(home, launch_command(), app_icon.svg_path(), app_icon.png):
        print(f"wrote {path}")
    return 0
