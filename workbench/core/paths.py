"""Where things live on disk.

``WORKBENCH_HOME`` overrides every per-user location (tests and portable installs use it);
otherwise platformdirs picks the platform's conventional folders.
"""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

APP_NAME = "prompt-workbench"
_PACKAGE_ROOT = Path(__file__).resolve().parent.parent


def _home() -> Path | None:
    value = os.environ.get("WORKBENCH_HOME")
    return Path(value).expanduser() if value else None


def data_dir() -> Path:
    """Database, library and autosaves."""
    home = _home()
    return home / "data" if home else Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def config_dir() -> Path:
    """Settings, user presets, backend configurations (never secrets)."""
    home = _home()
    return (
        home / "config" if home else Path(platformdirs.user_config_dir(APP_NAME, appauthor=False))
    )


def cache_dir() -> Path:
    """Regenerable files: tokenizer caches."""
    home = _home()
    return home / "cache" if home else Path(platformdirs.user_cache_dir(APP_NAME, appauthor=False))


def _bundled(name: str) -> Path:
    """A folder of bundled data: inside the installed package (``workbench/_bundled/<name>``, how
    a wheel, pipx or ``pip install .`` carries it), else the checkout's top-level folder beside
    the package (an editable install or a source tree on ``sys.path``). Callers get a real
    folder: they glob it and hand paths to Qt and YAML readers (an install is always unpacked)."""
    from importlib import resources  # imports zipfile: kept off the CLI's startup path

    packaged = resources.files("workbench").joinpath("_bundled", name)
    if isinstance(packaged, Path) and packaged.is_dir():
        return packaged
    folder = _PACKAGE_ROOT.parent / name
    if not folder.is_dir():
        raise FileNotFoundError(
            f"bundled folder '{name}' is missing: expected {packaged} or {folder}"
        )
    return folder


def builtin_templates_dir() -> Path:
    """The built-in prompt templates (``templates/``)."""
    return _bundled("templates")


def resources_dir() -> Path:
    """Icons, themes and built-in presets (``resources/``)."""
    return _bundled("resources")
