"""Experiments as data: variants, test cases and assertion specs.

Storage persists these, importers produce them, the runner expands them into ``RunRequest``s.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from workbench.core.models import Params, PromptTemplate


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AssertionSpec(_Model):
    """One check on an output, e.g. ``contains`` a value; ``negate`` is promptfoo's ``not-``."""

    type: str
    value: Any = None
    threshold: float | None = None
    weight: float = 1.0
    negate: bool = False
    metric: str | None = None


class TestCase(_Model):
    """One dataset row: variable values, an optional expected output, its own assertions."""

    __test__ = False  # not a pytest class

    description: str = ""
    vars: dict[str, str] = Field(default_factory=dict)
    expected: str | None = None
    assertions: list[AssertionSpec] = Field(default_factory=list)
    metadata: dict[str, Any] = Field(default_factory=dict)


class Variant(_Model):
    """One column of a comparison: a template (version), parameters and a backend/model."""

    label: str = ""
    template: PromptTemplate
    template_version: str | None = None
    params: Params = Field(default_factory=Params)
    backend: str = "llamacpp"
    model: str = ""
    variables: dict[str, str] = Field(default_factory=dict)


class ExperimentSpec(_Model):
    """What an experiment runs: variants × test cases, checked by default assertions."""

    name: str
    notes: str = ""
    variants: list[Variant] = Field(default_factory=list)
    tests: list[TestCase] = Field(default_factory=list)
    default_assertions: list[AssertionSpec] = Field(default_factory=list)
    repeats: int = Field(1, ge=1)
