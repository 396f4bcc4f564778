"""Helpers shared by the sub-commands."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from workbench.core.errors import KnownError
from workbench.core.models import PromptTemplate


def parse_assignments(items: list[str] | None, what: str = "--var") -> dict[str, str]:
    """``["k=v", ...]`` to a dict; ``k=@file`` reads the value from a file."""
    values: dict[str, str] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise KnownError(f"{what} expects NAME=VALUE, got '{item}'")
        if value.startswith("@") and len(value) > 1:
            try:
                value = Path(value[1:]).read_text(encoding="utf-8")
            except OSError as err:
                raise KnownError(f"{what} {key}: cannot read {value[1:]}: {err.strerror}") from None
        values[key] = value
    return values


def load_template(ref: str) -> PromptTemplate:
    """A template from a file path, or a built-in template by name."""
    from workbench.core.paths import builtin_templates_dir
    from workbench.core.template_files import SUFFIX, read_template

    path = Path(ref)
    if path.is_file():
        return read_template(path)
    builtin = builtin_templates_dir() / f"{ref}{SUFFIX}"
    if builtin.is_file():
        return read_template(builtin)
    raise KnownError(f"no template file or built-in template named '{ref}'")


def print_json(data: Any) -> None:
    json.dump(data, sys.stdout, ensure_ascii=False, indent=2)
    sys.stdout.write("\n")
