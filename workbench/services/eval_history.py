"""A suite's history: every evaluation of it as a point, a trend of pass rate and mean score with
95% intervals, and a per-case matrix across runs.

Identity. A suite is known by its file: ``suite_key`` is ``file:`` and the resolved path, so a
suite whose cases, assertions or prompts are edited keeps its history (that is what a trend is
for), and a suite moved or renamed starts a new one. A case is matched across evaluations by its
variant and what defines the row (``case_keys``): its variables and, for a conversation row, its
user turns and simulated user's persona and goal; not by its position, nor by its assertions,
expected output or description. So rows added, removed or reordered keep their history, an edited
assertion is the same case, and a row whose inputs change is a new case. Rows with the same
identity (a plain row and a conversation with the same variables are two) are told apart by their
order among themselves: the second is ``#2``. A variant is
matched by its label (by position when two evaluations share no label, e.g. one run with
``--backend``, which renames them).

A case's outcome in one evaluation folds its repeats (``services.flaky``): it *passes* when more
than half its judged repeats passed, and it is flaky when they disagree.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path
from typing import Literal

from workbench.core.conversation_case import conversation_of
from workbench.core.experiments import TestCase, Variant
from workbench.services.eval_reports import case_name
from workbench.services.evaluation import Evaluation
from workbench.services.flaky import CaseVerdict, case_repeats
from workbench.services.scorecard import GroupStats, Scorecard
from workbench.storage.repositories import Store

Movement = Literal["better", "worse", "flaky", "unchanged", "new"]


def suite_key(path: Path) -> str:
    """The identity a suite's evaluations are grouped by (see the module docstring)."""
    return f"file:{path.resolve()}"


def case_key(test: TestCase) -> str:
    """A row's identity across evaluations, before duplicates are numbered (see the module
    docstring). A plain row's is its variables alone, as it always was, so older histories
    still match."""
    case = conversation_of(test)
    if case is None:
        return json.dumps(test.vars, sort_keys=True, ensure_ascii=False)
    user = case.simulated_user
    defines = {
        "vars": test.vars,
        "turns": [t.content for t in case.turns],
        "persona": None if user is None else user.persona,
        "goal": None if user is None else user.goal,
    }
    return json.dumps({"conversation": defines}, sort_keys=True, ensure_ascii=False)


def case_keys(tests: Sequence[TestCase]) -> list[str]:
    """Each row's identity; the n-th row sharing one (n >= 2, in file order) gets ``#n``."""
    seen: Counter[str] = Counter()
    keys = []
    for test in tests:
        key = case_key(test)
        seen[key] += 1
        keys.append(key if seen[key] == 1 else f"{key}#{seen[key]}")
    return keys


def version_of(variant: Variant) -> str:
    """The template version a variant ran: the library's number, else a hash of the prompt (an
    inline prompt edited in the suite is another version)."""
    if variant.template_version is not None:
        return f"{variant.template_key or variant.template.name} v{variant.template_version}"
    text = variant.template.model_dump_json(exclude_defaults=True)
    return "#" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:7]


@dataclass(frozen=True)
class CaseOutcome:
    """One case (variant × row) in one evaluation, its repeats folded."""

    verdict: CaseVerdict
    passed: int
    failed: int
    errors: int
    score: float | None  # mean over the judged repeats

    @property
    def passes(self) -> bool | None:
        """More than half the judged repeats passed; None when none could be judged."""
        judged = self.passed + self.failed
        return None if not judged else self.passed * 2 > judged

    @property
    def mark(self) -> str:
        return {"passing": "✓", "failing": "✗", "flaky": "≈", "error": "⚠"}[self.verdict]


@dataclass
class Snapshot:
    """One evaluation of the suite, read back: its scorecard and each case's outcome."""

    evaluation_id: str
    created_at: str
    labels: list[str]
    versions: list[str]  # per variant
    card: Scorecard
    cases: dict[tuple[int, str], CaseOutcome]  # (variant index, case key)
    names: dict[str, str]  # case key -> "row N: description or values"

    @classmethod
    def of(cls, evaluation: Evaluation, created_at: str) -> Snapshot:
        card = evaluation.scorecard()
        keys = case_keys(evaluation.spec.tests)
        scores: dict[tuple[int, int], list[float]] = {}
        for (v, t, _r), cell in card.cells.items():
            if cell.status != "error" and cell.score is not None:
                scores.setdefault((v, t), []).append(cell.score)
        cases = {}
        for c in case_repeats(card):
            got = scores.get((c.variant, c.test))
            mean = sum(got) / len(got) if got else None
            cases[c.variant, keys[c.test]] = CaseOutcome(
                c.verdict, c.passed, c.failed, c.errors, mean
            )
        names = {k: _name(evaluation, t, k) for t, k in enumerate(keys)}
        return cls(
            evaluation.id,
            created_at,
            evaluation.labels(),
            [version_of(v) for v in evaluation.spec.variants],
            card,
            cases,
            names,
        )


def _name(evaluation: Evaluation, test: int, key: str) -> str:
    """The row as case_name says it, told apart from a row it would otherwise read the same as:
    a conversation says so, a duplicate identity keeps its ``#n``."""
    name = case_name(evaluation, test, 0, numbered=False).split(": ", 1)[1]
    if conversation_of(evaluation.spec.tests[test]) is not None:
        name += " (conversation)"
    base = case_key(evaluation.spec.tests[test])
    return name + key.removeprefix(base).replace("#", " #")


def load_history(
    store: Store, key: str, open_evaluation: Callable[[str], Evaluation], last: int | None = None
) -> list[Snapshot]:
    """The suite's evaluations (the ``last`` ones), oldest first."""
    found = store.suites.evaluations(key)
    if last is not None:
        found = found[-last:] if last > 0 else []
    return [Snapshot.of(open_evaluation(e.experiment_id), e.created_at) for e in found]


def variant_map(before: Snapshot, after: Snapshot) -> dict[int, int]:
    """after's variant index -> before's: by label, else by position when no label is shared."""
    shared = {label: i for i, label in enumerate(before.labels)}
    by_label = {i: shared[label] for i, label in enumerate(after.labels) if label in shared}
    if by_label:
        return by_label
    return {i: i for i in range(min(len(before.labels), len(after.labels)))}


# --- trend ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TrendPoint:
    """A variant's pass rate and mean score in one evaluation (or pooled over a version)."""

    label: str
    version: str
    evaluations: tuple[str, ...]
    created_at: str
    stats: GroupStats


def trend(snapshots: Sequence[Snapshot]) -> list[TrendPoint]:
    """One point per evaluation and variant, oldest first (the scorecard's own figures: Wilson
    intervals for pass rates, Student-t for mean scores)."""
    return [
        TrendPoint(label, s.versions[v], (s.evaluation_id,), s.created_at, stats.overall)
        for s in snapshots
        for v, (label, stats) in enumerate(zip(s.labels, s.card.variants, strict=True))
    ]


def by_version(snapshots: Sequence[Snapshot]) -> list[TrendPoint]:
    """The cells of every evaluation of a (variant, template version) pooled into one point, in
    the order the versions first ran."""
    stats: dict[tuple[str, str], GroupStats] = {}
    runs: dict[tuple[str, str], list[Snapshot]] = {}
    for s in snapshots:
        for (v, _t, _r), cell in s.card.cells.items():
            key = (s.labels[v], s.versions[v])
            stats.setdefault(key, GroupStats()).add(cell.status, cell.score)
            seen = runs.setdefault(key, [])
            if not seen or seen[-1] is not s:
                seen.append(s)
    return [
        TrendPoint(
            *key,
            tuple(s.evaluation_id for s in runs[key]),
            runs[key][0].created_at,
            group,
        )
        for key, group in stats.items()
    ]


# --- per-case matrix -----------------------------------------------------------------------------


@dataclass(frozen=True)
class MatrixRow:
    """One case across the evaluations (None where it did not run) and how it moved."""

    variant: str
    case: str
    name: str
    outcomes: tuple[CaseOutcome | None, ...]
    movement: Movement


def case_matrix(snapshots: Sequence[Snapshot]) -> list[MatrixRow]:
    """Every case of the latest evaluation across all of them. Movement: *flaky* when its
    repeats disagree in the latest run or it went pass -> fail -> pass (or back) across runs;
    else *better* / *worse* when it passes now and did not in the run before it (or the
    reverse); *new* with fewer than two judged runs; else *unchanged*."""
    if not snapshots:
        return []
    latest = snapshots[-1]
    maps = [variant_map(s, latest) for s in snapshots]
    rows = []
    for (v, key), now in latest.cases.items():
        outcomes = tuple(
            s.cases.get((m[v], key)) if v in m else None
            for s, m in zip(snapshots, maps, strict=True)
        )
        rows.append(
            MatrixRow(latest.labels[v], key, latest.names[key], outcomes, _movement(outcomes, now))
        )
    return rows


def _movement(outcomes: Sequence[CaseOutcome | None], now: CaseOutcome) -> Movement:
    judged = [o.passes for o in outcomes if o is not None and o.passes is not None]
    flips = sum(a != b for a, b in pairwise(judged))
    if now.verdict == "flaky" or flips >= 2:
        return "flaky"
    if len(judged) < 2 or now.passes is None:
        return "new"
    if judged[-1] == judged[-2]:
        return "unchanged"
    return "better" if judged[-1] else "worse"
