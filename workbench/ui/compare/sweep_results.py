"""The runs of the sweep a sweep view shows, laid out in its matrix cells, and what each cell
reads: its metric, its answers' summary, or a note when it has no figure.

Separate from ``SweepView`` because this is bookkeeping over runs (which cell a run lands in,
the per-cell summaries cached until a cell gets a new run, how many runs a finished cell has)
that the view only draws; it holds no widgets.
"""

from __future__ import annotations

from collections.abc import Sequence

from workbench.core.experiments import ExperimentSpec
from workbench.core.models import RunResult
from workbench.core.outcome import status_of
from workbench.core.sweep_cells import CellSummary, ScoredRun, summarize_cell
from workbench.services.comparison import Comparison
from workbench.ui.compare.sweep_chart import CELL_METRICS, METRIC_BY_KEY, metric_value
from workbench.ui.compare.sweep_layout import SweepLayout, layout

Position = tuple[int, int]  # (row, column) in the matrix
CELL_KEYS = {m.key for m in CELL_METRICS}


class SweepResults:
    """The shown sweep (``spec``), its layout (``grid``) and its runs by (variant, test)."""

    def __init__(self) -> None:
        self.spec: ExperimentSpec | None = None
        self.grid: SweepLayout | None = None
        self.runs: dict[tuple[int, int | None], list[RunResult]] = {}  # (variant, test)
        self._summaries: dict[Position, tuple[int, CellSummary]] = {}  # (runs, summary)

    def show(self, comparison: Comparison, prefer: Sequence[str] = ()) -> SweepLayout:
        """Show a saved sweep: its latest run of each cell, laid out with ``prefer``red axes."""
        grid = self.plan(comparison.spec, prefer)
        for key, runs in sorted(comparison.runs.items(), key=lambda kv: kv[0]):
            self.add(key.variant, key.test, runs[-1].result)
        return grid

    def plan(self, spec: ExperimentSpec, prefer: Sequence[str] = ()) -> SweepLayout:
        """Show a sweep with no run yet (one not saved): its grid, every cell empty."""
        self.spec = spec
        self._summaries = {}
        self.runs = {}
        self.grid = layout(spec, prefer)
        return self.grid

    def clear(self) -> None:
        """Show no sweep (the one typed cannot be laid out)."""
        self.spec, self.grid, self.runs, self._summaries = None, None, {}, {}

    def add(self, variant: int, test: int | None, result: RunResult) -> None:
        self.runs.setdefault((variant, test), []).append(result)

    def by_position(self) -> dict[Position, list[RunResult]]:
        runs: dict[Position, list[RunResult]] = {}
        if self.grid is not None:
            for cell, pos in self.grid.positions.items():
                runs.setdefault(pos, []).extend(self.runs.get(cell, []))
        return runs

    def summaries(self) -> dict[Position, CellSummary]:
        """Each matrix cell's answers, agreement and assertion score (``core.sweep_cells``),
        redone only for cells with new runs."""
        grid, spec = self.grid, self.spec
        if grid is None or spec is None:
            return {}
        runs: dict[Position, list[ScoredRun]] = {}
        for (variant, test), pos in grid.positions.items():
            case = spec.tests[test] if test is not None else None
            runs.setdefault(pos, []).extend(
                ScoredRun(r, case) for r in self.runs.get((variant, test), []))
        out = {}
        for pos, found in runs.items():
            cached = self._summaries.get(pos)
            if cached is None or cached[0] != len(found):
                cached = self._summaries[pos] = (
                    len(found), summarize_cell(found, spec.default_assertions))
            out[pos] = cached[1]
        return out

    def values(self, key: str) -> dict[Position, float | None]:
        """The metric ``key`` per matrix cell: the mean over every run laid out there; for the
        cell figures, the agreement or score (answers: the score, else the agreement)."""
        if key in CELL_KEYS:
            return {pos: _cell_value(key, summary) for pos, summary in self.summaries().items()}
        metric = METRIC_BY_KEY[key]
        return {pos: metric_value(metric, found) for pos, found in self.by_position().items()}

    def expected_runs(self) -> dict[Position, int]:
        """How many runs each matrix cell gets when the sweep is complete."""
        grid = self.grid
        repeats = self.spec.repeats if self.spec is not None else 1
        counts: dict[Position, int] = {}
        for pos in grid.positions.values() if grid is not None else ():
            counts[pos] = counts.get(pos, 0) + repeats
        return counts

    def texts(self, metric_label: str, *, answers: bool,
              running: bool) -> dict[Position, tuple[str, str]]:
        """What a cell reads instead of its value: its answer (``answers`` view), or "–" for a
        finished cell without the figure (a finished cell never reads "…")."""
        runs = self.by_position()
        expected = self.expected_runs()
        summaries = self.summaries() if answers else {}
        texts = {}
        for pos, found in runs.items():
            done = len(found) >= expected.get(pos, 1) or not running
            if answers and pos in summaries and summaries[pos].groups:
                summary = summaries[pos]
                line = summary.label()
                texts[pos] = (summary.first_line + (f"\n{line}" if line else ""),
                              summary.answer[:2000])
            elif done and any(status_of(r) == "ok" for r in found):
                texts[pos] = ("–", f"no {metric_label} for these runs")  # failed: its note
            elif not found and not running:
                texts[pos] = ("not run", "No result yet: Run sweep (Resume sweep, for a "
                              "sweep stopped before it) runs it")
        return texts

    def notes(self) -> dict[Position, tuple[str, str]]:
        """Cells whose every run failed or was cancelled: what to show instead of a value."""
        notes = {}
        for pos, runs in self.by_position().items():
            if runs and all(status_of(r) != "ok" for r in runs):
                errors = [r.error for r in runs if status_of(r) == "error" and r.error]
                notes[pos] = ("failed", errors[-1]) if errors else ("cancelled", "")
        return notes


def _cell_value(key: str, summary: CellSummary) -> float | None:
    if key == "agreement":
        return summary.agreement
    if key == "score":
        return summary.score
    return summary.score if summary.score is not None else summary.agreement
