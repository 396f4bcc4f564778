"""The app in a Linux desktop's menus: a freedesktop desktop entry, its icon in the hicolor theme
and a MIME type for ``*.prompt.yaml`` files, so they open in the app from a file manager.

Everything goes under ``$XDG_DATA_HOME`` (``~/.local/share``): per user, no root, removed again
by :func:`uninstall`. PNG sizes are rendered from the SVG by the caller (Qt lives in ``ui/``).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable, Sequence
from pathlib import Path

NAME = "prompt-workbench"
MIME_TYPE = "application/x-prompt-workbench+yaml"
#: The fixed sizes icon themes look up first; ``scalable`` holds the SVG for all others.
PNG_SIZES = (16, 24, 32, 48, 64, 128, 256, 512)
# The Exec key's reserved characters: an argument holding one is quoted (desktop entry spec).
_RESERVED = set(' \t\n"\'\\><~|&;$*?#()`')


def data_home() -> Path:
    value = os.environ.get("XDG_DATA_HOME", "")
    # The spec says a relative value is invalid and must be ignored.
    return Path(value) if value and Path(value).is_absolute() else Path.home() / ".local" / "share"


def _exec_argument(arg: str) -> str:
    if arg and not _RESERVED.intersection(arg):
        return arg.replace("%", "%%")
    quoted = "".join("\\" + c if c in '"`$\\' else c for c in arg).replace("%", "%%")
    # The string-value escape applies on top of the quoting rule: each backslash is doubled.
    return '"' + quoted.replace("\\", "\\\\") + '"'


def exec_line(command: Sequence[str]) -> str:
    """The ``Exec`` value: ``command`` quoted per the spec, then ``%f`` (the file to open)."""
    return " ".join(_exec_argument(arg) for arg in command) + " %f"


def desktop_entry(command: Sequence[str]) -> str:
    """The ``prompt-workbench.desktop`` text; ``command`` starts the app (before the file)."""
    return "\n".join(
        [
            "[Desktop Entry]",
            "Type=Application",
            "Version=1.4",  # the newest desktop-file-validate 0.26 (Debian 12) knows
            "Name=Prompt Workbench",
            "GenericName=Prompt Editor",
            "Comment=Write, run, compare and evaluate prompts for language models",
            f"Exec={exec_line(command)}",
            f"Icon={NAME}",
            "Terminal=false",
            "Categories=Development;",
            f"MimeType={MIME_TYPE};",
            "Keywords=prompt;LLM;AI;template;evaluation;",
            "StartupNotify=true",
            # X11 window managers match windows by WM_CLASS, which Qt sets to the app's name.
            "StartupWMClass=Prompt Workbench",
            "",
        ]
    )


def mime_package() -> str:
    """The shared-mime-info package declaring ``*.prompt.yaml`` (longer than ``*.yaml``, so its
    glob wins) as a YAML sub-type with the app's icon."""
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<mime-info xmlns="http://www.freedesktop.org/standards/shared-mime-info">
  <mime-type type="{MIME_TYPE}">
    <comment>Prompt Workbench template</comment>
    <sub-class-of type="application/yaml"/>
    <glob pattern="*.prompt.yaml"/>
    <icon name="{NAME}"/>
  </mime-type>
</mime-info>
"""


def planned_files(home: Path) -> list[Path]:
    """Every file :func:`install` writes under ``home``, in the order it writes them."""
    icons = home / "icons" / "hicolor"
    return [
        home / "applications" / f"{NAME}.desktop",
        home / "mime" / "packages" / f"{NAME}.xml",
        icons / "scalable" / "apps" / f"{NAME}.svg",
        *(icons / f"{n}x{n}" / "apps" / f"{NAME}.png" for n in PNG_SIZES),
    ]


def install(
    home: Path, command: Sequence[str], svg: Path, render_png: Callable[[int], bytes]
) -> list[Path]:
    """Write the desktop entry, the MIME package and the icons under ``home``, refresh the
    desktop's caches, and return the files written."""
    desktop, mime, scalable, *pngs = planned_files(home)
    contents: list[tuple[Path, bytes]] = [
        (desktop, desktop_entry(command).encode()),
        (mime, mime_package().encode()),
        (scalable, svg.read_bytes()),
        *((path, render_png(size)) for path, size in zip(pngs, PNG_SIZES, strict=True)),
    ]
    for path, data in contents:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    refresh_caches(home)
    return [path for path, _ in contents]


def uninstall(home: Path) -> list[Path]:
    """Remove what :func:`install` wrote (those present) and refresh the caches."""
    removed = [path for path in planned_files(home) if path.is_file()]
    for path in removed:
        path.unlink()
    refresh_caches(home)
    return removed


def refresh_caches(home: Path) -> None:
    """Run the desktop's cache tools that are installed; a desktop without them reads the
    files directly (or on its next login), so an absent tool is skipped silently."""
    commands = [
        ["update-desktop-database", "-q", str(home / "applications")],
        ["update-mime-database", str(home / "mime")],
        # -t: the user's hicolor folder has no index.theme of its own.
        ["gtk-update-icon-cache", "-q", "-t", "-f", str(home / "icons" / "hicolor")],
    ]
    for command in commands:
        if shutil.which(command[0]) and Path(command[-1]).is_dir():
            subprocess.run(command, check=False, capture_output=True, timeout=60)
