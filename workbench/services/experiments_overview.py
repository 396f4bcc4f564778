"""The saved experiments as a list a person picks from: comparisons, sweeps and evaluations with
their name, date, template, cells and best variant so far.

The best variant is what the stored judgements say, in this order: the evaluation's pass rate
(assertions), else A/B wins, else mean stars, else thumbs up minus down; an experiment nobody
judged has none. Everything comes from a few aggregate queries over the whole store, so listing
hundreds of experiments never loads their runs.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from workbench.core.experiments import Variant, version_settings
from workbench.core.models import Params
from workbench.storage.repositories import Store
from workbench.storage.repositories.experiments import ExperimentSummary, Kind

KIND_WORD: dict[str, str] = {"compare": "Comparison", "sweep": "Sweep", "eval": "Evaluation"}


@dataclass(frozen=True)
class Overview:
    """One experiment as the browser lists it."""

    summary: ExperimentSummary
    best: str = ""  # "B: temperature 0.9 (won 3 of 4)"; empty when nothing was judged

    @property
    def id(self) -> str:
        return self.summary.id

    @property
    def kind(self) -> Kind:
        return self.summary.kind


@dataclass
class _Tally:
    passed: int = 0
    judged: int = 0
    wins: int = 0
    votes: int = 0
    stars: int = 0
    starred: int = 0
    thumbs: int = 0


def _tallies(store: Store) -> dict[str, dict[str, _Tally]]:
    """experiment id -> variant id -> what its runs were judged."""
    conn = store.db.connection()
    found: dict[str, dict[str, _Tally]] = defaultdict(lambda: defaultdict(_Tally))
    for experiment, variant, passed, judged in conn.execute(
        "SELECT r.experiment_id, r.variant_id, sum(e.outcome = 'pass'),"
        " sum(e.outcome IN ('pass', 'fail')) FROM evaluations e JOIN runs r ON r.id = e.run_id"
        " WHERE r.experiment_id IS NOT NULL AND r.variant_id IS NOT NULL"
        " GROUP BY r.experiment_id, r.variant_id"
    ):
        tally = found[experiment][variant]
        tally.passed, tally.judged = passed or 0, judged or 0
    for experiment, variant, stars, starred, thumbs in conn.execute(
        "SELECT r.experiment_id, r.variant_id, sum(coalesce(g.stars, 0)), count(g.stars),"
        " sum(coalesce(g.thumbs, 0)) FROM ratings g JOIN runs r ON r.id = g.run_id"
        " WHERE r.experiment_id IS NOT NULL AND r.variant_id IS NOT NULL"
        " GROUP BY r.experiment_id, r.variant_id"
    ):
        tally = found[experiment][variant]
        tally.stars, tally.starred, tally.thumbs = stars, starred, thumbs
    for experiment, variant_a, variant_b, choice in conn.execute(
        "SELECT a.experiment_id, a.variant_id, b.variant_id, p.choice FROM preferences p"
        " JOIN runs a ON a.id = p.run_a JOIN runs b ON b.id = p.run_b"
        " WHERE a.experiment_id IS NOT NULL AND a.variant_id IS NOT NULL"
        " AND b.variant_id IS NOT NULL AND a.variant_id <> b.variant_id"
    ):
        for variant, won in ((variant_a, choice == "a"), (variant_b, choice == "b")):
            tally = found[experiment][variant]
            tally.votes += 1
            tally.wins += won
    return found


def _best(tallies: dict[str, _Tally], labels: dict[str, str]) -> str:
    """The best-judged variant of one experiment, with the figure that makes it best."""
    if not tallies:
        return ""
    judged = {v: t for v, t in tallies.items() if v in labels}
    ranked: list[tuple[str, float, str]] = []
    if any(t.judged for t in judged.values()):
        ranked = [(v, t.passed / t.judged, f"passed {t.passed} of {t.judged}")
                  for v, t in judged.items() if t.judged]
    elif any(t.votes for t in judged.values()):
        ranked = [(v, t.wins / t.votes, f"won {t.wins} of {t.votes}")
                  for v, t in judged.items() if t.votes]
    elif any(t.starred for t in judged.values()):
        ranked = [(v, t.stars / t.starred, f"★ {t.stars / t.starred:.1f}")
                  for v, t in judged.items() if t.starred]
    elif any(t.thumbs for t in judged.values()):
        ranked = [(v, float(t.thumbs), f"thumbs {t.thumbs:+d}") for v, t in judged.items()]
    if not ranked:
        return ""
    variant, _score, why = max(ranked, key=lambda r: r[1])
    return f"{labels[variant]} ({why})"


def _labels(store: Store) -> dict[str, str]:
    """variant id -> its label (``v1``, ``v2``… for unlabelled ones)."""
    return {
        vid: label or f"v{position + 1}"
        for vid, label, position in store.db.connection().execute(
            "SELECT id, label, position FROM variants"
        )
    }


def overview(store: Store) -> list[Overview]:
    """Every saved experiment, most recently changed first, with its best variant."""
    tallies = _tallies(store)
    labels = _labels(store)
    summaries = store.experiments.summaries()
    return [Overview(s, _best(tallies.get(s.id, {}), labels)) for s in summaries]


def default_name(kind: Kind, template: str, varies: str = "", when: datetime | None = None) -> str:
    """A name that says what an experiment is: "triage · temperature × top_p · Mar 3 14:05".

    ``varies`` names what changes between its variants (the swept axes, the columns' headers);
    unnamed templates fall back to the kind of experiment.
    """
    when = when or datetime.now()
    parts = [template.strip() or KIND_WORD[kind], varies.strip(),
             f"{when.strftime('%b')} {when.day} {when.strftime('%H:%M')}"]
    return " · ".join(p for p in parts if p)


def what_varies(variants: Sequence[Variant]) -> str:
    """What changes between ``variants``, named by dimension: "versions, temperature, models"
    (empty for one variant or identical ones)."""
    if len(variants) < 2:
        return ""
    base, names = variants[0], dict[str, None]()
    for other in variants[1:]:
        if (other.template, other.template_version) != (base.template, base.template_version):
            names["versions"] = None
        if (other.backend, other.model) != (base.backend, base.model):
            names["models"] = None
        a = base.params.model_dump(exclude_defaults=True)
        b = other.params.model_dump(exclude_defaults=True)
        own = version_settings(base, other)
        names.update(dict.fromkeys(n for n in Params.model_fields
                                   if a.get(n) != b.get(n) and n not in own))
        names.update(dict.fromkeys(
            sorted(n for n in set(base.variables) | set(other.variables)
                   if base.variables.get(n) != other.variables.get(n))))
    return ", ".join(names)
