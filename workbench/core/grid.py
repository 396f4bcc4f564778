"""Sweeps: a base variant crossed with parameter values, models, template versions, variable sets
and repeats, expanded into cells with stable keys; and the estimate shown before anything runs.

A sweep is saved as an ordinary ``ExperimentSpec`` (its variants are the crossed settings), so a
sweep and a hand-made comparison run, resume, reopen and export the same way. A cell is one
(variant, test case, repeat); its key ``v2.t0.r1`` names positions, which the store keeps stable
(variant and test ids are matched by position), so a resumed run finds the cells already done.

The estimate counts the real rendered prompts with the model's tokenizer (``core.tokens``), takes
``max_tokens`` as the output budget (an upper bound; a stated default when it is unset), prices
both with the model table and lists every cell whose prompt plus budget overflows its context
window. How tokens and windows are looked up is a ``PromptCounter``: the default uses the model
table and tiktoken/GGUF tokenizers; services supply one that asks the backend itself (exact for a
local model's chat template).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from workbench.core.batch_offer import BatchOffer, batch_lines
from workbench.core.effects import Effects, Ignored, check
from workbench.core.errors import KnownError
from workbench.core.experiments import (
    AssertionSpec,
    ExperimentSpec,
    TestCase,
    Variant,
    version_number,
)
from workbench.core.images import image_formula
from workbench.core.model_table import Price, cost_of, load_model_table
from workbench.core.models import Params, PromptTemplate, RunRequest
from workbench.core.pace import BackendPace, pace_lines, wall_time
from workbench.core.tokens import count_chat, fit_context, tokenizer_for

#: Output budget assumed per call when a variant sets no max_tokens (stated in the estimate).
DEFAULT_MAX_TOKENS = 512


def output_budget(max_tokens: int | None) -> int:
    """The most output tokens a call is priced and fitted for: its ``max_tokens`` (or the limit
    its backend sends for an unset one), else ``DEFAULT_MAX_TOKENS`` (no other bound known)."""
    return max_tokens if max_tokens is not None else DEFAULT_MAX_TOKENS


class SweepError(KnownError):
    """A sweep that cannot be expanded (an unknown parameter, an invalid value)."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ModelChoice(_Model):
    """One model axis value: a backend (id or configured name) and a model on it."""

    backend: str
    model: str = ""
    label: str = ""

    def describe(self) -> str:
        return self.label or (f"{self.backend}:{self.model}" if self.model else self.backend)


class TemplateChoice(_Model):
    """One template axis value: a template to run, with its library key and version number
    when it is a saved version (None for an edit never saved)."""

    template: PromptTemplate
    key: str | None = None
    version: int | None = None
    label: str = ""
    message: str = ""  # the version's message in the library ("added examples")

    @field_validator("version", mode="before")
    @classmethod
    def _typed_version(cls, value: Any) -> int | None:
        return version_number(value)

    def describe(self) -> str:
        if self.label:
            return self.label
        return f"{self.template.name} v{self.version}" if self.version else self.template.name

    def variant_update(self) -> dict[str, Any]:
        """The fields a variant takes to run this version (``Variant.model_copy(update=…)``)."""
        return {"template": self.template, "template_key": self.key,
                "template_version": self.version}


class SweepSpec(_Model):
    """A base variant crossed with ``parameters`` (each a Params field → its values, first axis
    slowest), ``models``, ``templates``, ``variable_sets`` (test cases) and ``repeats``. An empty
    axis keeps the base's value."""

    name: str
    notes: str = ""
    base: Variant
    parameters: dict[str, list[Any]] = Field(default_factory=dict)
    models: list[ModelChoice] = Field(default_factory=list)
    templates: list[TemplateChoice] = Field(default_factory=list)
    variable_sets: list[TestCase] = Field(default_factory=list)
    repeats: int = Field(1, ge=1)
    default_assertions: list[AssertionSpec] = Field(default_factory=list)

    @field_validator("parameters")
    @classmethod
    def _known_parameters(cls, axes: dict[str, list[Any]]) -> dict[str, list[Any]]:
        for name, values in axes.items():
            if name not in Params.model_fields:
                raise ValueError(
                    f"'{name}' is not a parameter (one of {', '.join(Params.model_fields)})"
                )
            if not values:
                raise ValueError(f"parameter '{name}' has no values to sweep")
        return axes

    def variants(self) -> list[Variant]:
        """Every combination, templates outermost, then models, then parameter axes in order.

        Parameters: a template version's own, then the base variant's, then the axis values."""
        templates: list[TemplateChoice | None] = list(self.templates) or [None]
        models: list[ModelChoice | None] = list(self.models) or [None]
        names = list(self.parameters)
        combos = list(itertools.product(*(self.parameters[n] for n in names)))
        out = []
        for template, model, combo in itertools.product(templates, models, combos):
            params = self.base.params
            if template is not None:  # the version's own parameters, the base's winning
                params = template.template.parameters.merged(params)
            try:
                params = params.merged(Params.model_validate(dict(zip(names, combo, strict=True))))
            except ValidationError as err:
                first = err.errors()[0]
                where = ".".join(str(p) for p in first["loc"])
                raise SweepError(f"sweep value for {where}: {first['msg']}") from None
            parts = []
            if len(templates) > 1 and template is not None:
                parts.append(template.describe())
            if len(models) > 1 and model is not None:
                parts.append(model.describe())
            parts += [f"{n}={_show(v)}" for n, v in zip(names, combo, strict=True)]
            out.append(
                self.base.model_copy(
                    update={
                        "label": " · ".join(parts) or self.base.label,
                        "params": params,
                        **(template.variant_update() if template else {}),
                        **({"backend": model.backend, "model": model.model} if model else {}),
                    }
                )
            )
        return out

    def to_experiment(self) -> ExperimentSpec:
        """The sweep as an experiment: one variant per combination, the variable sets as tests."""
        return ExperimentSpec(
            name=self.name,
            notes=self.notes,
            variants=self.variants(),
            tests=list(self.variable_sets),
            default_assertions=list(self.default_assertions),
            repeats=self.repeats,
        )


def _show(value: Any) -> str:
    return ",".join(map(str, value)) if isinstance(value, list) else str(value)


# --- cells -----------------------------------------------------------------------------------

_KEY = re.compile(r"^v(\d+)(?:\.t(\d+))?\.r(\d+)$")


@dataclass(frozen=True, order=True)
class CellKey:
    """Positions of a cell: variant, test case (None when the experiment has no tests), repeat."""

    variant: int
    test: int | None
    repeat: int

    def __str__(self) -> str:
        test = "" if self.test is None else f".t{self.test}"
        return f"v{self.variant}{test}.r{self.repeat}"

    @classmethod
    def parse(cls, text: str) -> CellKey:
        match = _KEY.match(text.strip())
        if match is None:
            raise KnownError(f"'{text}' is not a cell key", hint="cell keys look like v2.t0.r1")
        variant, test, repeat = match.groups()
        return cls(int(variant), None if test is None else int(test), int(repeat))


@dataclass(frozen=True)
class Cell:
    key: CellKey
    variant: Variant
    test: TestCase | None
    values: dict[str, str]  # the variant's variables, then the test's, later winning


def expand(spec: ExperimentSpec) -> list[Cell]:
    """Every cell of an experiment, repeat-major (every cell once before any twice), then by
    test case and variant, so a partial run covers the matrix evenly."""
    tests: list[TestCase | None] = list(spec.tests) or [None]
    cells = []
    for repeat in range(spec.repeats):
        for t, test in enumerate(tests):
            for v, variant in enumerate(spec.variants):
                values = {**variant.variables, **(test.vars if test is not None else {})}
                key = CellKey(v, None if test is None else t, repeat)
                cells.append(Cell(key, variant, test, values))
    return cells


def cell_count(spec: ExperimentSpec) -> int:
    return len(spec.variants) * max(1, len(spec.tests)) * spec.repeats


_VARIANT_FIELDS = ("backend", "model", "template_version")


def variant_differences(first: Variant, other: Variant) -> dict[str, Any]:
    """What ``other`` sets differently from ``first``: backend, model, template (by name and
    version), each parameter, each variable; values are ``other``'s (None when unset there)."""
    diff: dict[str, Any] = {}
    for name in _VARIANT_FIELDS:
        if getattr(first, name) != getattr(other, name):
            diff[name] = getattr(other, name)
    if first.template != other.template and "template_version" not in diff:
        diff["template"] = other.template.name
    # as set, not as sent: under greedy decoding a swept temperature is still an axis (the
    # estimate says it changes nothing), never silently folded away
    a, b = first.params.model_dump(exclude_defaults=True), other.params.model_dump(
        exclude_defaults=True)
    for name in Params.model_fields:
        if a.get(name) != b.get(name):
            diff[name] = b.get(name)
    for name in sorted({*first.variables, *other.variables}):
        if first.variables.get(name) != other.variables.get(name):
            diff[f"var:{name}"] = other.variables.get(name)
    return diff


def axes(variants: Sequence[Variant]) -> dict[str, list[Any]]:
    """The settings that vary across ``variants`` and each one's value per variant (in order):
    the rows and columns of a sweep matrix, the x axis of a metric chart."""
    if not variants:
        return {}
    names: dict[str, None] = {}
    for other in variants[1:]:
        names.update(dict.fromkeys(variant_differences(variants[0], other)))
    canonical = [*_VARIANT_FIELDS, "template", *Params.model_fields]
    ordered = sorted(names, key=lambda n: (canonical.index(n) if n in canonical else 999, n))
    out: dict[str, list[Any]] = {}
    for name in ordered:
        out[name] = [_setting(v, name) for v in variants]
    return out


def _setting(variant: Variant, name: str) -> Any:
    if name.startswith("var:"):
        return variant.variables.get(name[4:])
    if name == "template":
        return variant.template.name
    if name in _VARIANT_FIELDS:
        return getattr(variant, name)
    return variant.params.model_dump(exclude_defaults=True).get(name)


# --- the pre-run estimate ----------------------------------------------------------------------


@dataclass(frozen=True)
class PromptCount:
    tokens: int
    exact: bool
    note: str = ""


class PromptCounter(Protocol):
    """Counts a request's input tokens and knows its model's context window and price."""

    def count(self, request: RunRequest) -> PromptCount: ...

    def context_window(self, request: RunRequest) -> int | None: ...

    def price(self, request: RunRequest) -> Price | None: ...

    def default_max_tokens(self, request: RunRequest) -> int | None: ...


class TableCounter:
    """Counts with ``tokenizer_for(model)`` (chat overhead by OpenAI's formula) and takes windows
    and prices from the model table; exact for OpenAI models, an estimate otherwise."""

    def count(self, request: RunRequest) -> PromptCount:
        tokenizer = tokenizer_for(request.model or None)
        if request.prompt is not None:
            return PromptCount(tokenizer.count(request.prompt), tokenizer.exact, tokenizer.note)
        chat = count_chat(request.messages, tokenizer, image_formula(request.model))
        note = (
            tokenizer.note
            if chat.exact or not tokenizer.exact
            else (f"{tokenizer.note}; chat overhead estimated with OpenAI's formula")
        )
        return PromptCount(chat.total, chat.exact, note)

    def context_window(self, request: RunRequest) -> int | None:
        info = load_model_table().lookup(request.model) if request.model else None
        return info.context_window if info is not None else None

    def price(self, request: RunRequest) -> Price | None:
        info = load_model_table().lookup(request.model) if request.model else None
        return info.price if info is not None else None

    def default_max_tokens(self, request: RunRequest) -> int | None:
        """The limit sent for an unset ``max_tokens``: unknown without the backend."""
        del request
        return None


@dataclass(frozen=True)
class PlannedCell:
    """A cell with the request it will send, or why it cannot be rendered."""

    cell: Cell
    request: RunRequest | None
    error: str | None = None


@dataclass(frozen=True)
class CellEstimate:
    key: CellKey
    backend: str
    model: str
    input_tokens: int | None  # None: the prompt could not be rendered or counted
    input_exact: bool
    output_tokens: int  # max_tokens, else the backend's own limit, else DEFAULT_MAX_TOKENS
    output_assumed: bool  # True when max_tokens was unset
    context_window: int | None
    fits: bool | None  # None: window unknown
    overflow: int
    cost: float | None
    currency: str | None
    error: str | None = None


@dataclass(frozen=True)
class Estimate:
    """What running the cells will take. Output tokens and cost are upper bounds: every call
    is assumed to use its whole ``max_tokens``."""

    calls: int
    skipped: int  # cells already done (a resumed sweep)
    input_tokens: int
    input_exact: bool
    output_tokens: int
    assumed_output_calls: int  # calls without max_tokens (budgeted as ``output_tokens`` says)
    costs: dict[str, float]  # currency -> upper bound over the priced calls
    unpriced_calls: int
    cells: list[CellEstimate] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    effects: Effects = field(default_factory=Effects)  # settings that change nothing
    variant_labels: list[str] = field(default_factory=list)  # each variant as named in notes
    repeats: int = 1
    pace: list[BackendPace] = field(default_factory=list)  # concurrency and wall time
    batch: list[BatchOffer] = field(default_factory=list)  # the same calls as a batch job
    waiting: int = 0  # cells sent in a batch job not ended: their answers are on the way

    @property
    def overflowing(self) -> list[CellEstimate]:
        return [c for c in self.cells if c.fits is False]

    @property
    def unrenderable(self) -> list[CellEstimate]:
        return [c for c in self.cells if c.error is not None]

    def to_dict(self) -> dict[str, Any]:
        return {
            "calls": self.calls,
            "skipped": self.skipped,
            "waiting_in_batch": self.waiting,
            "input_tokens": self.input_tokens,
            "input_exact": self.input_exact,
            "output_tokens_upper_bound": self.output_tokens,
            "assumed_output_calls": self.assumed_output_calls,
            "default_max_tokens": DEFAULT_MAX_TOKENS,
            "cost_upper_bound": self.costs,
            "unpriced_calls": self.unpriced_calls,
            "overflowing": [_cell_dict(c) for c in self.overflowing],
            "unrenderable": [{"cell": str(c.key), "error": c.error} for c in self.unrenderable],
            "notes": self.notes,
            "no_effect": self._effect_lines("variants"),
            "pace": [p.to_dict() for p in self.pace],
            "wall_s": wall_time(self.pace),
            "batch": [offer.to_dict() for offer in self.batch],
        }

    def _effect_lines(self, unit: str) -> list[str]:
        labels = self.variant_labels
        return self.effects.lines(
            unit, lambda i: labels[i] if i < len(labels) and labels[i] else f"v{i}",
            self.repeats)

    def lines(self, name: Callable[[CellKey], str] = str, *, unit: str = "variants"
              ) -> list[str]:
        """The estimate as text, as the CLI prints it and the sweep dialog shows it; ``name``
        says which cell a problem is in (default: its key, ``v2.t0.r1``). Settings that change
        nothing (greedy decoding, a parameter the backend ignores) come first after the counts:
        they decide whether the run is worth its calls."""
        approx = "" if self.input_exact else "≈ "
        out = [
            f"calls:          {self.calls:,}"
            + (f" ({self.skipped:,} cells already done, skipped)" if self.skipped else "")
            + (f" ({self.waiting:,} cells waiting in a batch job, not sent again)"
               if self.waiting else "")
        ]
        out.append(f"input tokens:   {approx}{self.input_tokens:,}")
        output = f"output tokens:  ≤ {self.output_tokens:,} (upper bound: max_tokens per call"
        if self.assumed_output_calls:
            budgets = sorted({c.output_tokens for c in self.cells if c.output_assumed})
            output += (
                f"; {self.assumed_output_calls:,} calls set no max_tokens, assumed "
                + ", ".join(f"{b:,}" for b in budgets)
                + (" (the backend's own limit where it sends one)"
                   if budgets != [DEFAULT_MAX_TOKENS] else "")
            )
        out.append(output + ")")
        if any(self.costs.values()):
            money = ", ".join(f"{amount:.4f} {cur}" for cur, amount in self.costs.items())
            out.append(f"cost:           ≤ {money} (list price)")
        elif self.costs:
            out.append("cost:           free (the models run on this computer)")
        if self.unpriced_calls:
            out.append(f"                {self.unpriced_calls:,} calls have no known price")
        out += pace_lines(self.pace)
        out += batch_lines(self.batch)
        out += [f"no effect:      {line}" for line in self._effect_lines(unit)]
        for cell in self.overflowing:
            out.append(
                f"does not fit:   {name(cell.key)} ({_where(cell)})"
                f" {cell.input_tokens:,} + {cell.output_tokens:,} > {cell.context_window:,}"
                f" tokens, {cell.overflow:,} over"
            )
        for cell in self.unrenderable:
            out.append(f"cannot render:  {name(cell.key)}: {cell.error}")
        out += [f"note:           {note}" for note in self.notes]
        return out


def _where(c: CellEstimate) -> str:
    return f"{c.backend}:{c.model}" if c.model else c.backend


def _cell_dict(c: CellEstimate) -> dict[str, Any]:
    return {
        "cell": str(c.key),
        "backend": c.backend,
        "model": c.model,
        "input_tokens": c.input_tokens,
        "max_tokens": c.output_tokens,
        "context_window": c.context_window,
        "overflow": c.overflow,
    }


def estimate(
    planned: Sequence[PlannedCell],
    counter: PromptCounter | None = None,
    *,
    skip: Collection[CellKey] = (),
    waiting: Collection[CellKey] = (),
    ignored: Ignored | None = None,
) -> Estimate:
    """Calls, tokens, cost and context overflows of running ``planned`` minus ``skip`` (cells
    done) and ``waiting`` (cells whose answer a batch job will bring), and the varied settings
    that change nothing (``ignored``: a backend's ignored parameters)."""
    counter = counter or TableCounter()
    counts: dict[str, PromptCount] = {}
    models: dict[tuple[str, str], tuple[int | None, Price | None, int | None]] = {}
    notes: dict[str, None] = {}
    cells: list[CellEstimate] = []
    skipped = held = 0
    for item in planned:
        if item.cell.key in skip:
            skipped += 1
            continue
        if item.cell.key in waiting:
            held += 1
            continue
        cells.append(_estimate_cell(item, counter, counts, models, notes))
    costs: dict[str, float] = {}
    for c in cells:
        if c.cost is not None and c.currency is not None:
            costs[c.currency] = costs.get(c.currency, 0.0) + c.cost
    counted = [c for c in cells if c.input_tokens is not None]
    by_position = {item.cell.key.variant: item.cell.variant for item in planned}
    variants = [by_position[i] for i in sorted(by_position)]
    return Estimate(
        calls=len(cells),
        skipped=skipped,
        input_tokens=sum(c.input_tokens or 0 for c in counted),
        input_exact=all(c.input_exact for c in counted),
        output_tokens=sum(c.output_tokens for c in cells),
        assumed_output_calls=sum(1 for c in cells if c.output_assumed),
        costs=costs,
        unpriced_calls=sum(1 for c in cells if c.cost is None),
        cells=cells,
        notes=list(notes),
        effects=check(variants, ignored) if ignored is not None else check(variants),
        variant_labels=[v.label for v in variants],
        repeats=1 + max((item.cell.key.repeat for item in planned), default=0),
        waiting=held,
    )


def _estimate_cell(
    item: PlannedCell,
    counter: PromptCounter,
    counts: dict[str, PromptCount],
    models: dict[tuple[str, str], tuple[int | None, Price | None, int | None]],
    notes: dict[str, None],
) -> CellEstimate:
    variant = item.cell.variant
    request = item.request
    max_tokens = (request.params if request else variant.params).max_tokens
    output = output_budget(max_tokens)
    backend, model = (
        (request.backend, request.model) if request else (variant.backend, variant.model)
    )
    error = item.error or "cannot be rendered" if request is None else None
    count: PromptCount | None = None
    window: int | None = None
    price: Price | None = None
    if request is not None:
        try:
            cache_key = request.model_dump_json()
            found = counts.get(cache_key)
            if found is None:
                found = counts[cache_key] = counter.count(request)
                if found.note:
                    notes.setdefault(found.note)
            count = found
            if (backend, model) not in models:
                models[(backend, model)] = (
                    counter.context_window(request),
                    counter.price(request),
                    counter.default_max_tokens(request),
                )
            window, price, limit = models[(backend, model)]
            if max_tokens is None and limit is not None:
                output = limit  # what the backend sends for an unset max_tokens
        except KnownError as err:  # e.g. the backend cannot be opened to count
            error = f"cannot count the prompt: {err}"
    if count is None:
        return CellEstimate(
            key=item.cell.key,
            backend=backend,
            model=model,
            input_tokens=None,
            input_exact=False,
            output_tokens=output,
            output_assumed=max_tokens is None,
            context_window=None,
            fits=None,
            overflow=0,
            cost=None,
            currency=None,
            error=error,
        )
    fit = fit_context(count.tokens, window, output) if window else None
    cost = cost_of(price, count.tokens, output, exact=count.exact)
    return CellEstimate(
        key=item.cell.key,
        backend=backend,
        model=model,
        input_tokens=count.tokens,
        input_exact=count.exact,
        output_tokens=output,
        output_assumed=max_tokens is None,
        context_window=window,
        fits=None if fit is None else fit.fits,
        overflow=0 if fit is None else fit.overflow,
        cost=None if cost is None else cost.total,
        currency=None if cost is None else cost.currency,
    )
