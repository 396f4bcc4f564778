"""Experiments as data: variants, test cases and assertion specs.

Storage persists these, importers produce them, the runner expands them into ``RunRequest``s.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from workbench.core.models import Params, PromptTemplate


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ScriptFile(_Model):
    """A script file a suite names (``file://checks.js:fn``), read when the suite is loaded:
    evaluations are stored self-contained and never read files while they run."""

    path: str  # as written, relative to the suite's folder
    language: Literal["javascript", "python"]
    source: str
    function: str | None = None  # the exported (JS) or defined (Python) function to call


#: A transform: inline JavaScript (an expression, or a function body with ``return``) or a file.
Transform = str | ScriptFile


class AssertionSpec(_Model):
    """One check on an output, e.g. ``contains`` a value; ``negate`` is promptfoo's ``not-``.
    ``transform`` rewrites the output this assertion sees (after the test's own transform);
    ``config`` is data for a script check (promptfoo's ``context.config``); ``provider`` is who
    grades a model-graded check: a configured backend name or backend id, ``NAME:MODEL`` for a
    model (None: the evaluation's judge)."""

    type: str
    value: Any = None
    threshold: float | None = None
    weight: float = 1.0
    negate: bool = False
    metric: str | None = None
    transform: Transform | None = None
    config: dict[str, Any] | None = None
    provider: str | None = None


class TestCase(_Model):
    """One dataset row: variable values, an optional expected output, its own assertions and a
    ``transform`` of the output every assertion of the row sees (promptfoo's
    ``options.transform``)."""

    __test__ = False  # not a pytest class

    description: str = ""
    vars: dict[str, str] = Field(default_factory=dict)
    expected: str | None = None
    assertions: list[AssertionSpec] = Field(default_factory=list)
    metadata: dict[str, Any] = Field(default_factory=dict)
    transform: Transform | None = None


def version_number(value: Any) -> int | None:
    """A template version number from what older files and databases hold ("v3", "3", 3);
    anything else (an imported experiment once kept a library version's id) is no number."""
    if value is None or (isinstance(value, int) and not isinstance(value, bool)):
        return value
    if isinstance(value, str):
        digits = value.strip().removeprefix("v")
        return int(digits) if digits.isdigit() else None
    raise ValueError(f"{value!r} is not a template version number")


class Variant(_Model):
    """One column of a comparison: a template (version), parameters and a backend/model.

    ``template_key`` and ``template_version`` say which library version ``template`` is (both
    None for an edit never saved), so every run of the variant records where it came from and
    reopens that version; ``template_file``, the template file it was opened from instead (its
    runs reopen bound to that file)."""

    label: str = ""
    template: PromptTemplate
    template_key: str | None = None
    template_version: int | None = None
    template_file: str | None = None
    params: Params = Field(default_factory=Params)
    backend: str = "llamacpp"
    model: str = ""
    variables: dict[str, str] = Field(default_factory=dict)

    @field_validator("template_version", mode="before")
    @classmethod
    def _typed_version(cls, value: Any) -> int | None:
        return version_number(value)


def version_settings(base: Variant, other: Variant) -> frozenset[str]:
    """The parameters both variants take from their own template version (few-shot's stop
    sequence): naming the version says them, so a header or a name does not list them apart.
    Empty when the two run the same version."""
    if (other.template, other.template_version) == (base.template, base.template_version):
        return frozenset()
    return frozenset(
        name for name in Params.model_fields
        if getattr(base.params, name) == getattr(base.template.parameters, name)
        and getattr(other.params, name) == getattr(other.template.parameters, name))


class ExperimentSpec(_Model):
    """What an experiment runs: variants × test cases, checked by default assertions."""

    name: str
    notes: str = ""
    variants: list[Variant] = Field(default_factory=list)
    tests: list[TestCase] = Field(default_factory=list)
    default_assertions: list[AssertionSpec] = Field(default_factory=list)
    repeats: int = Field(1, ge=1)
