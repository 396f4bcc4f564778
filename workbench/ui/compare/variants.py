"""Naming variants: what one column changes compared with column A, in a few words.

A header reads "temperature 1.2", "v6" or "Claude", so the difference between two columns is
visible without opening anything. Pure Python: the column headers, the A/B picker and the export
all name variants the same way.
"""

from __future__ import annotations

from typing import Any

from workbench.core.experiments import Variant
from workbench.core.models import Params

#: Longest variable value quoted in a header before it is shortened with "…".
VALUE_CHARS = 24


def letter(index: int) -> str:
    """Column letters: A…Z, then AA, AB…"""
    name = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        name = chr(ord("A") + rest) + name
    return name


def format_value(value: Any) -> str:
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, list):
        return ", ".join(repr(v) for v in value) or "none"
    return str(value)


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= VALUE_CHARS else text[: VALUE_CHARS - 1] + "…"


def model_name(variant: Variant) -> str:
    """The model as a person names it: the model id, else the backend."""
    return variant.model or variant.backend


def version_name(variant: Variant) -> str:
    if variant.template_version:
        version = variant.template_version
        return version if not version.isdigit() else f"v{version}"
    return "edited template"


def _param_values(params: Params) -> dict[str, Any]:
    return params.model_dump(exclude_defaults=True)


def param_differences(base: Params, other: Params) -> list[str]:
    """"temperature 1.2", "top_p default", "greedy on"… for every parameter that differs."""
    a, b = _param_values(base), _param_values(other)
    parts = []
    for name in (n for n in Params.model_fields if n in a or n in b):
        if a.get(name) != b.get(name):
            parts.append(f"{name} {format_value(b[name])}" if name in b else f"{name} default")
    return parts


def differences(base: Variant, other: Variant) -> list[str]:
    """Every way ``other`` differs from ``base``: template version, model, parameters, variables."""
    parts: list[str] = []
    if other.template != base.template or other.template_version != base.template_version:
        parts.append(version_name(other))
    if (other.backend, other.model) != (base.backend, base.model):
        same_backend = other.backend == base.backend
        parts.append(model_name(other) if same_backend or other.model in ("", other.backend)
                     else f"{other.backend} · {other.model}")
    parts.extend(param_differences(base.params, other.params))
    for name in sorted(set(base.variables) | set(other.variables)):
        if base.variables.get(name) != other.variables.get(name):
            parts.append(f"{name} = {_short(other.variables.get(name, ''))!r}")
    return parts


def describe(variant: Variant) -> str:
    """What column A is: template and version, model, the parameters it sets."""
    parts = [variant.template.name]
    if variant.template_version:
        parts[0] += f" {version_name(variant)}"
    parts.append(model_name(variant))
    parts.extend(f"{n} {format_value(v)}" for n, v in _param_values(variant.params).items())
    return " · ".join(parts)


def header(base: Variant, other: Variant, index: int) -> str:
    """A column's header text: column A describes itself, the others say what they change."""
    if index == 0:
        return describe(other)
    diff = differences(base, other)
    return " · ".join(diff) if diff else "same as A"
