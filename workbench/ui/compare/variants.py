"""Naming variants: what one column changes compared with column A, in a few words.

A header reads "temperature 1.2", "v6" or "Claude", so the difference between two columns is
visible without opening anything. Pure Python: the column headers, the A/B picker and the export
all name variants the same way.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from workbench.core.experiments import Variant, version_settings
from workbench.core.grid import TemplateChoice
from workbench.core.models import Params
from workbench.core.wording import one_line

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




def model_name(variant: Variant) -> str:
    """The model as a person names it: the model id, else the backend."""
    return variant.model or variant.backend


#: Version messages by (library key, version number): what a header quotes after "v3".
Messages = Mapping[tuple[str, int], str]
_NO_MESSAGES: Messages = {}


def version_label(number: int, message: str = "") -> str:
    """"v3", or "v3 “added examples”" when the version has a message."""
    return f"v{number} “{one_line(message, VALUE_CHARS)}”" if message.strip() else f"v{number}"


def version_name(variant: Variant, messages: Messages = _NO_MESSAGES) -> str:
    """The variant's template version ("v3 “added examples”"), or "edited template" for a
    template not saved as a version."""
    number = variant.template_version
    if number is None:
        return "edited template"
    key = variant.template_key
    return version_label(number, messages.get((key, number), "") if key else "")


def _param_values(params: Params) -> dict[str, Any]:
    return params.model_dump(exclude_defaults=True)


def param_differences(base: Params, other: Params, skip: frozenset[str] = frozenset()
                      ) -> list[str]:
    """"temperature 1.2", "top_p default", "greedy on"… for every parameter that differs
    (except those in ``skip``)."""
    a, b = _param_values(base), _param_values(other)
    parts = []
    for name in (n for n in Params.model_fields if (n in a or n in b) and n not in skip):
        if a.get(name) != b.get(name):
            parts.append(f"{name} {format_value(b[name])}" if name in b else f"{name} default")
    return parts


def with_version(variant: Variant, choice: TemplateChoice) -> Variant:
    """``variant`` switched to the template version ``choice``: with that version's own
    parameters (few-shot's stop sequence is part of it), keeping what the comparison changed
    from its present version's (a temperature set for this column)."""
    own, now = variant.template.parameters.model_dump(), variant.params.model_dump()
    changed = {name: value for name, value in now.items() if value != own.get(name)}
    params = Params.model_validate({**choice.template.parameters.model_dump(), **changed})
    return variant.model_copy(update={**choice.variant_update(), "params": params, "label": ""})


def differences(base: Variant, other: Variant,
                messages: Messages = _NO_MESSAGES) -> list[str]:
    """Every way ``other`` differs from ``base``: template (by name when it is another one) and
    version, model, parameters, variables."""
    parts: list[str] = []
    if other.template != base.template or other.template_version != base.template_version:
        version = version_name(other, messages)
        keys = (base.template_key, other.template_key)
        other_template = other.template.name != base.template.name or (
            None not in keys and keys[0] != keys[1])
        parts.append(f"{other.template.name} {version}" if other_template else version)
    if (other.backend, other.model) != (base.backend, base.model):
        same_backend = other.backend == base.backend
        parts.append(model_name(other) if same_backend or other.model in ("", other.backend)
                     else f"{other.backend} · {other.model}")
    parts.extend(param_differences(base.params, other.params, version_settings(base, other)))
    for name in sorted(set(base.variables) | set(other.variables)):
        if base.variables.get(name) != other.variables.get(name):
            parts.append(f"{name} = {one_line(other.variables.get(name, ''), VALUE_CHARS)!r}")
    return parts


def describe(variant: Variant, messages: Messages = _NO_MESSAGES) -> str:
    """What column A is: template and version (with its message), model, the parameters it
    sets."""
    parts = [f"{variant.template.name} {version_name(variant, messages)}"
             if variant.template_version is not None else variant.template.name]
    parts.append(model_name(variant))
    parts.extend(f"{n} {format_value(v)}" for n, v in _param_values(variant.params).items())
    return " · ".join(parts)


def header(base: Variant, other: Variant, index: int,
           messages: Messages = _NO_MESSAGES) -> str:
    """A column's header text: column A describes itself, the others say what they change."""
    if index == 0:
        return describe(other, messages)
    diff = differences(base, other, messages)
    return " · ".join(diff) if diff else "same as A"
