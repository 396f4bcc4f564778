"""Comparisons as experiments: save one, find it again to resume, reopen it with every output,
and summarise its stability and human preferences per variant.

A comparison (N columns) and a sweep (a grid of settings) are both an ``ExperimentSpec``: the
columns or grid points are its variants. Runs point at their cell through ``RunRef``, so
reopening groups the stored runs back into cells by position.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from workbench.core.errors import KnownError
from workbench.core.experiments import ExperimentSpec
from workbench.core.grid import CellKey, cell_count
from workbench.core.preferences import Judgement, Score, VariantPreference, summarize
from workbench.core.stability import Stability, stability
from workbench.storage.repositories import Store, StoredExperiment, StoredRun
from workbench.storage.repositories.experiments import Kind


def save_comparison(store: Store, spec: ExperimentSpec) -> StoredExperiment:
    """Save ``spec`` as a new comparison."""
    return store.experiments.create(spec, "compare")


def find_experiment(store: Store, ref: str) -> StoredExperiment:
    """An experiment by id, else by its name when exactly one has it. Several of one name (an
    evaluation run twice saves two) is an error listing them: picking one silently would show
    or export results the user did not mean."""
    from workbench.storage.db import NotFoundError

    try:
        return store.experiments.get(ref)
    except NotFoundError:
        pass
    named = [s for s in store.experiments.summaries() if s.name == ref]
    if len(named) == 1:
        return store.experiments.get(named[0].id)
    if named:
        listed = "; ".join(
            f"{s.id} (created {s.created_at[:19].replace('T', ' ')}, {s.runs} runs)"
            for s in named[:10]
        )
        more = f"; and {len(named) - 10} more" if len(named) > 10 else ""
        raise KnownError(
            f"{len(named)} experiments are named '{ref}'",
            hint=f"give one's id: {listed}{more}",
        )
    raise KnownError(
        f"no experiment with id or name '{ref}'",
        hint="'workbench history' lists runs; a sweep file path runs a new sweep",
    )


def find_same(store: Store, spec: ExperimentSpec) -> StoredExperiment | None:
    """The stored experiment with this name and contents (what a re-run resumes): the same
    spec, else one whose variants differ only in their labels (a reopened sweep's axis shows
    1.0 as 1 and labels that variant "temperature=1": the same cell, already run)."""
    named = [store.experiments.get(s.id) for s in store.experiments.summaries()
             if s.name == spec.name]
    same = next((stored for stored in named if stored.spec == spec), None)
    if same is None:
        same = next((stored for stored in named if same_cells(stored.spec, spec)), None)
    return same


def same_cells(first: ExperimentSpec, other: ExperimentSpec) -> bool:
    """Whether two specs are one experiment to resume: equal but for their variants' labels."""
    return first == other or _unlabelled(first) == _unlabelled(other)


def _unlabelled(spec: ExperimentSpec) -> ExperimentSpec:
    return spec.model_copy(
        update={"variants": [v.model_copy(update={"label": ""}) for v in spec.variants]})


def unclaimed_name(store: Store, name: str, spec: ExperimentSpec | None = None) -> str:
    """``name``, else "name (2)", "name (3)"…: the first no stored experiment has, or (given
    ``spec``) the one ``spec``'s own stored cells have. Two sweeps or comparisons of one
    default name read alike in the Experiments window; the same sweep typed again keeps its
    name, which is how ``find_same`` resumes it."""
    named: dict[str, list[str]] = {}
    for summary in store.experiments.summaries():
        named.setdefault(summary.name, []).append(summary.id)
    candidate, count = name, 1
    while candidate in named:
        own = spec.model_copy(update={"name": candidate}) if spec is not None else None
        if own is not None and any(same_cells(store.experiments.get(i).spec, own)
                                   for i in named[candidate]):
            break
        count += 1
        candidate = f"{name} ({count})"
    return candidate


def saved_or_new(
    store: Store, spec: ExperimentSpec, kind: Kind | None = None
) -> tuple[StoredExperiment, bool]:
    """The stored experiment with exactly this spec (to resume it), else a new one of ``kind``.
    Returns ``(experiment, created)``."""
    stored = find_same(store, spec)
    if stored is not None:
        return stored, False
    return store.experiments.create(spec, kind), True


@dataclass(frozen=True)
class Comparison:
    """A reopened experiment: its spec and ids, and its runs grouped by cell (oldest first)."""

    experiment: StoredExperiment
    runs: dict[CellKey, list[StoredRun]]

    @property
    def spec(self) -> ExperimentSpec:
        return self.experiment.spec

    def latest(self, key: CellKey) -> StoredRun | None:
        """The newest run of a cell (what a reopened column shows)."""
        runs = self.runs.get(key)
        return runs[-1] if runs else None

    def outputs(self, variant: int, test: int | None = None) -> list[str]:
        """The latest successful output of every repeat of one (variant, test) cell."""
        texts = []
        for repeat in range(self.spec.repeats):
            run = self._latest_ok(CellKey(variant, test, repeat))
            if run is not None:
                texts.append(run.result.text)
        return texts

    def _latest_ok(self, key: CellKey) -> StoredRun | None:
        ok = [r for r in self.runs.get(key, []) if r.status == "ok"]
        return ok[-1] if ok else None

    def stability(self, variant: int, test: int | None = None) -> Stability:
        """Agreement of a cell's repeats; votes on the template's answer pattern when it has
        one."""
        pattern = self.spec.variants[variant].template.answer_pattern or None
        return stability(self.outputs(variant, test), pattern)

    @property
    def complete(self) -> bool:
        return sum(1 for k in self.runs if self._latest_ok(k)) == cell_count(self.spec)


def open_comparison(store: Store, experiment_id: str) -> Comparison:
    """An experiment with all its runs, grouped by cell."""
    experiment = store.experiments.get(experiment_id)
    variants = {vid: i for i, vid in enumerate(experiment.variant_ids)}
    tests = {tid: i for i, tid in enumerate(experiment.test_ids)}
    runs: dict[CellKey, list[StoredRun]] = {}
    for run in store.runs.for_experiment(experiment_id):
        ref = run.ref
        if ref.variant_id not in variants or (
            ref.test_case_id is not None and ref.test_case_id not in tests
        ):
            continue  # a run of a variant or test since deleted
        test = None if ref.test_case_id is None else tests[ref.test_case_id]
        key = CellKey(variants[ref.variant_id], test, ref.repeat_index)
        runs.setdefault(key, []).append(run)
    return Comparison(experiment, runs)


def preference_summary(
    store: Store, comparison: Comparison, *, labels: Sequence[str] | None = None
) -> list[VariantPreference]:
    """Per-variant A/B win rates (Wilson 95%), thumbs and stars from the store's ratings of the
    comparison's runs. Variants are named by ``labels`` (default: their labels, else v0, v1…)."""
    names = (
        list(labels)
        if labels is not None
        else [v.label or f"v{i}" for i, v in enumerate(comparison.spec.variants)]
    )
    variant_of = {
        run.id: names[key.variant] for key, runs in comparison.runs.items() for run in runs
    }
    judgements = [
        Judgement(variant_of[p.run_a], variant_of[p.run_b], p.choice)
        for p in store.ratings.preferences(comparison.experiment.id)
        if p.run_a in variant_of and p.run_b in variant_of
    ]
    scores = []
    for run_id, variant in variant_of.items():
        rating = store.ratings.get(run_id)
        if rating is not None:
            scores.append(Score(variant, rating.thumbs, rating.stars))
    return summarize(judgements, scores, variants=names)
