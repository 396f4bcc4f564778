"""What a comparison is in the store: an experiment whose variants are the columns, and runs that
point at their column and repeat. No Qt here: the compare view and its tests share it.

Runs are saved as they end (the runner commits each one before announcing it), so a saved
comparison reopens with every output that finished, even after a crash.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from workbench.core.experiments import ExperimentSpec, Variant
from workbench.core.models import RunRequest
from workbench.services.comparison import unclaimed_name
from workbench.services.experiments_overview import default_name as name_for
from workbench.services.experiments_overview import what_varies
from workbench.services.runner import build_request
from workbench.storage.repositories import RunRef, Store
from workbench.ui.compare.variants import Messages, header


def request_for(variant: Variant) -> RunRequest:
    """The request a column sends (``KnownError`` for a template that does not render)."""
    return build_request(variant.template, variant.variables, backend=variant.backend,
                         model=variant.model, params=variant.params)


def ref_for(variant: Variant, experiment_id: str | None, variant_id: str | None,
            repeat: int) -> RunRef:
    return RunRef.of_cell(variant, variant.variables, experiment_id=experiment_id,
                          variant_id=variant_id, repeat_index=repeat)


def default_name(variants: Sequence[Variant], store: Store | None = None,
                 when: datetime | None = None) -> str:
    """"triage · temperature, models · Dec 7 14:05": column A's template, what the columns
    change, and when; numbered (" (2)") past a stored experiment of that name (two made in
    one minute read alike in the Experiments window)."""
    template = variants[0].template.name if variants else ""
    name = name_for("compare", template, what_varies(variants), when)
    return unclaimed_name(store, name) if store is not None else name


def spec_for(name: str, variants: Sequence[Variant], repeats: int) -> ExperimentSpec:
    return ExperimentSpec(name=name, variants=list(variants), repeats=repeats)


def labelled(variants: Sequence[Variant], keys: Sequence[str], messages: Messages) -> list[Variant]:
    """The variants labelled as their columns are ("B: temperature 1.2"), so exports and the CLI
    name them the way the view does (``keys``: the columns' letters)."""
    if not variants:
        return []
    base = variants[0]
    return [v.model_copy(update={"label": f"{keys[i]}: {header(base, v, i, messages)}"})
            for i, v in enumerate(variants)]
