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
    """A folder of the checkout beside the package (the README installs in editable mode)."""
    folder = _PACKAGE_ROOT.parent / name
    if not folder.is_dir():
        raise FileNotFoundError(f"bundled folder '{name}' is missing: expected {folder}")
    return folder


def builtin_templates_dir() -> Path:
    """The built-in prompt templates (``templates/``)."""
    return _bundled("templates")


def resources_dir() -> Path:
    """Icons, themes and built-in presets (``resources/``)."""
    return _bundled("resources")
