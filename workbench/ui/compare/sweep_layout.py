"""What a sweep's two axes are, as data: the sweep built from them, and any saved sweep laid out
as a matrix (which setting runs down the rows, which across, and each cell's place).

An axis is a parameter with its values, models, template versions or variable sets (a sweep's
test cases). The same layout serves a sweep just typed (the typed axes win) and one reopened from
the store, which knows only its variants and test cases: there a model axis is the variants'
(backend, model), a template axis their version, and a setting that only follows another (a
version's own temperature) is not an axis of its own. ``reopen`` turns those axes back into
typed ones, over the base they share, for the editors. Pure Python, no Qt.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from workbench.core.experiments import ExperimentSpec, TestCase, Variant
from workbench.core.grid import CellKey, ModelChoice, SweepSpec, TemplateChoice, axes
from workbench.core.models import Params
from workbench.core.params import PARAM_NAMES
from workbench.core.wording import plural
from workbench.ui.compare.variants import format_value, version_name

PARAMETER = "parameter"
MODEL = "model"
TEMPLATE = "template version"
VARIABLES = "variable set"
#: What an axis can sweep, besides a parameter (named by the parameter itself).
KINDS = (MODEL, TEMPLATE, VARIABLES)
#: The parameters an axis offers (a list of stop sequences or n samples is no sweep).
SWEEPABLE = tuple(name for name in PARAM_NAMES if name not in ("stop", "n", "best_of"))
#: How long an axis's listed values may be in a sweep's default name before a range or a count.
PHRASE_CHARS = 24


@dataclass(frozen=True)
class Axis:
    """One typed axis: ``kind`` with its ``values`` (parameter values, ``ModelChoice``s,
    ``TemplateChoice``s or ``TestCase``s); ``name`` is the parameter of a parameter axis."""

    kind: str
    values: tuple[Any, ...]
    name: str = ""

    @property
    def dimension(self) -> str:
        """The axis as the layout names it: the parameter, else its kind."""
        return self.name if self.kind == PARAMETER else self.kind


def build_spec(
    name: str, base: Variant, rows: Axis | None, cols: Axis | None, repeats: int
) -> SweepSpec:
    """The sweep of ``base`` over the typed axes (``ValueError`` says what is missing)."""
    parameters: dict[str, list[Any]] = {}
    models: list[ModelChoice] = []
    templates: list[TemplateChoice] = []
    sets: list[TestCase] = []
    typed = [a for a in (rows, cols) if a is not None]
    if not typed:
        raise ValueError("choose at least one setting to sweep")
    if len(typed) == 2 and typed[0].dimension == typed[1].dimension:
        raise ValueError(f"{typed[0].dimension} is swept twice")
    for axis in typed:
        if not axis.values:
            raise ValueError(f"pick at least one {axis.dimension} to sweep")
        if axis.kind == PARAMETER:
            parameters[axis.name] = list(axis.values)
        elif axis.kind == MODEL:
            models = list(axis.values)
        elif axis.kind == TEMPLATE:
            templates = list(axis.values)
        else:
            sets = list(axis.values)
    return SweepSpec(name=name, base=base, parameters=parameters, models=models,
                     templates=templates, variable_sets=sets, repeats=repeats)


def experiment_of(spec: SweepSpec, rows: Axis | None) -> ExperimentSpec:
    """``spec`` as an experiment whose variants run the row axis slowest, so a reopened sweep
    (which has no typed axes) puts the same setting down the rows."""
    experiment = spec.to_experiment()
    if rows is None or rows.kind == VARIABLES:
        return experiment
    keys = [_key(v, rows.dimension) for v in experiment.variants]
    order = _unique(keys)
    ranked = sorted(range(len(keys)), key=lambda i: order.index(keys[i]))  # stable
    return experiment.model_copy(update={"variants": [experiment.variants[i] for i in ranked]})


def model_labels(choices: Sequence[ModelChoice]) -> list[str]:
    """Models as a person names them: the model id (else the backend); where two would read the
    same, the backend (one model on two configurations), else both."""
    plain = [c.model or c.backend for c in choices]
    backends = [c.backend for c in choices]
    out = []
    for name, choice in zip(plain, choices, strict=True):
        if plain.count(name) == 1:
            out.append(name)
        elif backends.count(choice.backend) == 1:
            out.append(choice.backend)
        else:
            out.append(f"{choice.backend} · {choice.model}")
    return out


def axis_phrase(axis: Axis) -> str:
    """An axis as a sweep's default name says it, short: "temperature 0.2, 0.7, 1.2", the range
    of more numbers ("temperature 0.2–1.2"), "model a, b", else a count ("5 variable sets"), so
    two sweeps of one setting over other values are told apart in the Experiments window."""
    values = axis.values
    if axis.kind == MODEL:
        labels = model_labels(values)
    elif axis.kind == TEMPLATE:
        labels = [f"v{c.version}" if c.version is not None else "edited" for c in values]
    elif axis.kind == VARIABLES:
        labels = [set_label(t) for t in values]
    else:
        labels = [format_value(v) for v in values]
    listed = ", ".join(labels)
    if len(labels) <= 3 and len(listed) <= PHRASE_CHARS:
        return f"{axis.dimension} {listed}"
    if axis.kind == PARAMETER and all(_is_number(v) for v in values):
        return f"{axis.dimension} {format_value(min(values))}–{format_value(max(values))}"
    return plural(len(values), axis.dimension if axis.kind != PARAMETER
                  else f"{axis.dimension} value")


def set_label(test: TestCase) -> str:
    """A variable set as a header: its description, else its values."""
    if test.description:
        return test.description
    return " · ".join(test.vars.values()) or "base values"


# --- a saved sweep back in the editors ------------------------------------------------------------


@dataclass(frozen=True)
class Reopened:
    """A saved sweep as typed axes over one base (what the editors show), or ``problem``: why
    two axes cannot say it (then the axes are whatever could be read, not to be trusted)."""

    base: Variant
    rows: Axis | None
    cols: Axis | None
    problem: str = ""


def reopen(spec: ExperimentSpec) -> Reopened:
    """The axes ``spec`` was typed with, inferred from its variants and test cases: the settings
    that vary, oriented as ``layout`` shows them (the slowest down the rows, as ``experiment_of``
    saved them); each axis's values in the order they first appear; the base is the first
    variant with only the parameters every variant shares (a template version's own ones come
    back from the version). Whether the axes rebuild exactly ``spec`` is the caller's check."""
    variants = spec.variants
    if not variants:
        raise ValueError("a sweep without variants has no axes")
    keys = _keys(variants)
    dims = _dimensions(spec, keys, ())
    if spec.tests and VARIABLES not in dims:
        dims.append(VARIABLES)  # a single set of values is an axis too
    found = [_typed_axis(spec, dim) for dim in dims[:2]]
    first, rest = variants[0], [v.params.model_dump(exclude_defaults=True) for v in variants]
    shared = {name: value for name, value in rest[0].items()
              if all(name in other and other[name] == value for other in rest[1:])}
    base = first.model_copy(update={"label": "", "params": Params.model_validate(shared)})
    return Reopened(base, found[0] if found else None, found[1] if len(found) > 1 else None,
                    _problem(spec, dims))


def _typed_axis(spec: ExperimentSpec, dim: str) -> Axis:
    if dim == VARIABLES:
        return Axis(VARIABLES, tuple(spec.tests))
    order = _unique([_key(v, dim) for v in spec.variants])
    first = [next(v for v in spec.variants if _key(v, dim) == k) for k in order]
    if dim == MODEL:
        return Axis(MODEL, tuple(ModelChoice(backend=v.backend, model=v.model) for v in first))
    if dim == TEMPLATE:
        return Axis(TEMPLATE, tuple(
            TemplateChoice(template=v.template, key=v.template_key, version=v.template_version)
            for v in first))
    return Axis(PARAMETER, tuple(_raw(v, dim) for v in first), dim)


def _problem(spec: ExperimentSpec, dims: list[str]) -> str:
    """Why the sweep window's two axes cannot hold ``spec`` ("" when they may)."""
    if len(dims) > 2:
        return f"it varies {_listed([_title(d) for d in dims])}: more than two axes hold"
    for dim in dims:
        if dim.startswith("var:"):
            return (f"its variants set the variable {dim[4:]} apart, which only a variable "
                    "set (a row of values per cell) does in a sweep")
        if dim not in (MODEL, TEMPLATE, VARIABLES) and dim not in SWEEPABLE:
            return f"it varies {dim}, which no axis sweeps"
        if dim not in (MODEL, TEMPLATE, VARIABLES) and any(
                _raw(v, dim) is None for v in spec.variants):
            return f"some of its cells leave {dim} unset, which an axis cannot type"
    if any(t != TestCase(vars=t.vars) for t in spec.tests):
        return "its variable sets carry expected answers or checks the editors do not show"
    if spec.default_assertions:
        return "it checks every answer with assertions the sweep window does not set"
    if spec.notes:
        return "it has notes the sweep window does not keep"
    return ""


def _listed(names: list[str]) -> str:
    return ", ".join(names[:-1]) + f" and {names[-1]}"


# --- laying out a saved sweep --------------------------------------------------------------------


@dataclass
class SweepLayout:
    """Rows × columns of a sweep: each axis's name, header labels and raw values (numbers for a
    numeric chart axis), and each (variant, test) cell's (row, column)."""

    row_name: str = ""
    rows: list[str] = field(default_factory=lambda: [""])
    row_values: list[Any] = field(default_factory=lambda: [None])
    col_name: str = ""
    cols: list[str] = field(default_factory=lambda: [""])
    col_values: list[Any] = field(default_factory=lambda: [None])
    positions: dict[tuple[int, int | None], tuple[int, int]] = field(default_factory=dict)

    def cell_name(self, key: CellKey, repeats: int = 1) -> str:
        """A cell as the matrix names it ("smol-256 × v2"), with the repeat when there are
        several, and its key where more settings than two share the matrix cell."""
        pos = self.positions.get((key.variant, key.test))
        if pos is None:
            return str(key)
        name = " × ".join(t for t in (self.rows[pos[0]], self.cols[pos[1]]) if t) or str(key)
        if sum(1 for p in self.positions.values() if p == pos) > 1:
            name += f" [{key}]"
        return f"{name}, repeat {key.repeat + 1}" if repeats > 1 else name

    @property
    def numeric_rows(self) -> bool:
        """Whether the rows are numbers a line chart can place (else categories)."""
        return bool(self.row_values) and all(_is_number(v) for v in self.row_values)


def layout(spec: ExperimentSpec, prefer: Sequence[str] = ()) -> SweepLayout:
    """Lay ``spec`` out on at most two axes: the ``prefer``red ones (the typed axes, rows first),
    else the settings that vary, slowest-varying first (the rows); variable sets go across
    unless preferred elsewhere. Settings beyond two share a cell (their runs are averaged)."""
    variants = spec.variants
    keys = _keys(variants)
    chosen = _dimensions(spec, keys, prefer)[:2]
    out = SweepLayout()
    places: list[list[int]] = []
    for axis, dim in enumerate(chosen):
        if dim == VARIABLES:
            labels = [set_label(t) for t in spec.tests]
            raw: list[Any] = labels
            place = list(range(len(spec.tests)))
        else:
            order = _unique(keys[dim])
            first = [variants[keys[dim].index(k)] for k in order]
            labels = _labels(dim, first)
            raw = [_raw(v, dim) for v in first]
            place = [order.index(k) for k in keys[dim]]
        places.append(place)
        if axis == 0:
            out.row_name, out.rows, out.row_values = _title(dim), labels, raw
        else:
            out.col_name, out.cols, out.col_values = _title(dim), labels, raw
    tests: list[int | None] = list(range(len(spec.tests))) if spec.tests else [None]
    for v in range(len(variants)):
        for t in tests:
            where = [p[t or 0] if d == VARIABLES else p[v]
                     for d, p in zip(chosen, places, strict=True)]
            out.positions[(v, t)] = (where[0] if where else 0, where[1] if len(where) > 1 else 0)
    return out


def _keys(variants: Sequence[Variant]) -> dict[str, list[Any]]:
    """Each setting that varies (a model, a template version, a parameter, a variable) and its
    key per variant."""
    keys: dict[str, list[Any]] = {}
    for name in axes(variants):
        dim = _dimension(name)
        if dim not in keys:
            keys[dim] = [_key(v, dim) for v in variants]
    return keys


def _dimensions(spec: ExperimentSpec, keys: dict[str, list[Any]],
                prefer: Sequence[str]) -> list[str]:
    """The settings that make the axes, rows first: the preferred, then the slowest-varying;
    a setting that follows those chosen before it is none; variable sets go last."""
    chosen: list[str] = []
    for dim in sorted(keys, key=lambda d: (_rank(prefer, d), _changes(keys[d]))):
        if not _follows(keys[dim], [keys[c] for c in chosen]):
            chosen.append(dim)
    if len(spec.tests) > 1 or (spec.tests and VARIABLES in prefer):
        chosen.append(VARIABLES)
    return sorted(chosen, key=lambda d: _rank(prefer, d))  # stable: unpreferred keep order


def _dimension(name: str) -> str:
    if name in ("backend", "model"):
        return MODEL
    if name in ("template_version", "template"):
        return TEMPLATE
    return name


def _key(variant: Variant, dim: str) -> Any:
    """What identifies ``variant``'s value on ``dim`` (hashable, comparable for equality)."""
    if dim == MODEL:
        return (variant.backend, variant.model)
    if dim == TEMPLATE:
        return variant.template_version or variant.template.model_dump_json()
    return _raw(variant, dim)


def _raw(variant: Variant, dim: str) -> Any:
    if dim.startswith("var:"):
        return variant.variables.get(dim[4:])
    if dim == MODEL:
        return variant.model or variant.backend
    if dim == TEMPLATE:
        return version_name(variant)
    value = variant.params.model_dump(exclude_defaults=True).get(dim)  # as set, not as sent
    return tuple(value) if isinstance(value, list) else value


def _labels(dim: str, first: list[Variant]) -> list[str]:
    if dim == MODEL:
        return model_labels([ModelChoice(backend=v.backend, model=v.model) for v in first])
    if dim == TEMPLATE:
        names = [version_name(v) for v in first]
        return [n if names.count(n) == 1 else f"{v.template.name} {n}"
                for n, v in zip(names, first, strict=True)]
    title = _title(dim)
    return [f"{title} {'unset' if (r := _raw(v, dim)) is None else format_value(r)}"
            for v in first]


def _title(dim: str) -> str:
    return dim[4:] if dim.startswith("var:") else dim


def _rank(prefer: Sequence[str], dim: str) -> int:
    return prefer.index(dim) if dim in prefer else len(prefer)


def _changes(keys: list[Any]) -> int:
    """How often the value changes along the variants: the fewest is the slowest axis."""
    return sum(1 for a, b in itertools.pairwise(keys) if a != b)


def _follows(keys: list[Any], chosen: list[list[Any]]) -> bool:
    """Whether ``keys`` is a function of the chosen axes' values (nothing new to lay out)."""
    seen: dict[tuple[Any, ...], Any] = {}
    for i, key in enumerate(keys):
        where = tuple(c[i] for c in chosen)
        if seen.setdefault(where, key) != key:
            return False
    return True


def _unique(values: Sequence[Any]) -> list[Any]:
    out: list[Any] = []
    for value in values:
        if value not in out:
            out.append(value)
    return out


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
