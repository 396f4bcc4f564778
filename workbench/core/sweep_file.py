"""Sweep files: a YAML description of a comparison or parameter sweep, for ``workbench compare``.

Example (every key but ``name`` and ``template``/``templates`` is optional)::

    name: capital sweep
    notes: which temperature keeps the answer to one word?
    template: capital.prompt.yaml     # a template file (relative to this file), a library key
                                      # (KEY or KEY@VERSION, as `workbench run` takes) or a built-in
    # templates:                      # or several versions, crossed with everything else
    #   - {file: capital-v1.prompt.yaml, version: "1"}
    #   - {file: capital-v2.prompt.yaml, version: "2", label: terse}
    backend: llamacpp                 # a backend id or configured backend name (default llamacpp)
    model: ""                         # default: the backend's default model
    params: {max_tokens: 16, seed: 1} # over the template's own parameters
    variables: {country: France}      # base values, for every cell
    sweep:                            # parameter axes (Params fields); the first varies slowest
      temperature: [0, 0.4, 0.8, 1.2]
      top_p: [0.5, 0.9]
    models:                           # a model axis (replaces backend/model above)
      - {backend: llamacpp}
      - {backend: my-vllm, model: qwen2.5-7b, label: qwen}
    variable_sets:                    # dataset rows: values only, or a test case
      - {country: Peru}
      - vars: {country: Japan}
        expected: Tokyo
    repeats: 3                        # samples per cell

Each combination of template version × model × parameter values is one variant (a column of the
comparison); every variant runs once per variable set and repeat.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from workbench.core import safe_yaml
from workbench.core.errors import KnownError
from workbench.core.experiments import TestCase, Variant, version_number
from workbench.core.grid import ModelChoice, SweepSpec, TemplateChoice
from workbench.core.models import Params


class SweepFileError(KnownError):
    """A sweep file that cannot be read."""


class _TemplateRef(BaseModel):
    model_config = ConfigDict(extra="forbid")

    file: str
    version: str | None = None
    label: str = ""


class _SweepFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    notes: str = ""
    template: str | None = None
    templates: list[_TemplateRef] = Field(default_factory=list)
    backend: str = "llamacpp"
    model: str = ""
    params: Params = Field(default_factory=Params)
    variables: dict[str, str] = Field(default_factory=dict)
    sweep: dict[str, list[Any]] = Field(default_factory=dict)
    models: list[ModelChoice] = Field(default_factory=list)
    variable_sets: list[dict[str, Any]] = Field(default_factory=list)
    repeats: int = Field(1, ge=1)


def is_sweep_file(data: object) -> bool:
    """Whether parsed YAML looks like a sweep file (not, say, a promptfoo config)."""
    return isinstance(data, dict) and ("template" in data or "templates" in data)


#: Looks a template name up in the library: the version it names (``KEY`` or ``KEY@VERSION``)
#: with its key and number, else None. Given by the caller (storage is not core's to open).
Resolver = Callable[[str], TemplateChoice | None]


def _template(ref: str, folder: Path, resolve: Resolver | None) -> TemplateChoice:
    """A template file (relative to the sweep file), else a library key, else a built-in: the
    order ``workbench run`` looks a TEMPLATE up in."""
    from workbench.core.paths import builtin_templates_dir
    from workbench.core.template_files import SUFFIX, read_template

    if (folder / ref).is_file():
        return TemplateChoice(template=read_template(folder / ref))
    found = resolve(ref) if resolve is not None else None
    if found is not None:
        return found
    builtin = builtin_templates_dir() / f"{ref}{SUFFIX}"
    if builtin.is_file():
        return TemplateChoice(template=read_template(builtin))
    where = "template file, library template" if resolve is not None else "template file"
    raise SweepFileError(f"no {where} or built-in template named '{ref}'")


def _test_case(row: dict[str, Any]) -> TestCase:
    if "vars" in row:
        return TestCase.model_validate(row)
    return TestCase(vars={str(k): str(v) for k, v in row.items()})


def parse_sweep(
    data: object, folder: Path, source: str = "<sweep>", resolve: Resolver | None = None
) -> SweepSpec:
    """A sweep from parsed YAML; template files are found relative to ``folder``, else through
    ``resolve`` (library keys), else among the built-ins."""
    try:
        raw = _SweepFile.model_validate(data)
        if (raw.template is None) == (not raw.templates):
            raise SweepFileError(f"{source}: give either 'template' or 'templates'")
        choices = []
        for ref in raw.templates:
            found = _template(ref.file, folder, resolve)
            choices.append(found.model_copy(update={
                "version": found.version if ref.version is None else version_number(ref.version),
                "label": ref.label}))
        base = _template(raw.template, folder, resolve) if raw.template else choices[0]
        template = base.template
        params = template.parameters.merged(raw.params) if raw.template else raw.params
        return SweepSpec(
            name=raw.name,
            notes=raw.notes,
            base=Variant(
                label=raw.name,
                template=template,
                template_key=base.key,
                template_version=base.version,
                params=params,
                backend=raw.backend,
                model=raw.model,
                variables=raw.variables,
            ),
            parameters=raw.sweep,
            models=raw.models,
            templates=choices,
            variable_sets=[_test_case(row) for row in raw.variable_sets],
            repeats=raw.repeats,
        )
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise SweepFileError(f"{source}: {where + ': ' if where else ''}{first['msg']}") from None


def load_sweep(path: Path, resolve: Resolver | None = None) -> SweepSpec:
    """Read a sweep file (``resolve``: library keys, as in ``parse_sweep``)."""
    try:
        data = safe_yaml.load(path.read_text(encoding="utf-8"))
    except OSError as err:
        raise SweepFileError(f"cannot read {path}: {err.strerror or err}") from None
    except UnicodeDecodeError as err:
        raise SweepFileError(f"{path}: not UTF-8 text ({err.reason})") from None
    except yaml.YAMLError as err:
        line, column, reason = safe_yaml.position(err)
        where = str(path) if line is None else f"{path}:{line}"
        reason += "" if column is None else f" (column {column})"
        raise SweepFileError(f"{where}: not valid YAML: {reason}") from None
    if not is_sweep_file(data):
        raise SweepFileError(f"{path}: not a sweep file (it has no 'template' or 'templates')")
    return parse_sweep(data, path.parent, str(path), resolve)
