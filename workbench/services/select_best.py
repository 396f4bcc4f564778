"""``select-best`` decided across a row's cells, once the evaluation's runs are in.

Each cell's ``select-best`` outcome is first a placeholder (``core.assertions.select_best``).
After a run, every row (test × repeat) with a placeholder left is decided whole: its outputs from
every variant go to the judge in variant order, the chosen cell's outcome becomes a pass and the
others' a fail (promptfoo's semantics), and the cells' stored outcomes and scorecard entries are
replaced. A row re-run in part is decided again whole, so its verdicts always compare the
outputs it has now. Failed runs take no part (their outcomes stay errors); a row with fewer than
two outputs keeps an error saying so, as promptfoo refuses it. The judge is the assertion's
``provider``, else the evaluation's, else the local embedded model.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from workbench.backends.base import CancelToken
from workbench.core.assertions.select_best import (
    KIND,
    PENDING,
    judge_prompt,
    judge_values,
    verdict,
)
from workbench.core.evaluation import EvaluationError, Outcome, split_type
from workbench.core.experiments import AssertionSpec
from workbench.core.outcome import RunOutcome
from workbench.services.grader_pool import JudgePool
from workbench.services.judges import EMBEDDED_BACKEND, Judge
from workbench.services.runner import build_request
from workbench.services.scorecard import CellResult, Scorecard
from workbench.storage.repositories import EvaluationRecord

if TYPE_CHECKING:
    from workbench.services.evaluation import CellKey, Evaluation


@dataclass
class _Cell:
    key: CellKey
    run: RunOutcome
    records: list[EvaluationRecord]


def judge_of(evaluation: Evaluation, spec: AssertionSpec) -> tuple[str, str]:
    """``(backend, model)`` that picks for ``spec``."""
    if spec.provider is not None:
        backend, _, model = spec.provider.partition(":")
        return backend, model
    judge = evaluation.judge
    if isinstance(judge, JudgePool):
        judge = judge.default
    if isinstance(judge, Judge):
        return judge.backend, judge.model
    return EMBEDDED_BACKEND, ""


def decide(evaluation: Evaluation, card: Scorecard, cancel: CancelToken,
           on_cell: Callable[[CellResult], None] | None = None) -> None:
    """Decide every row of ``card`` whose ``select-best`` is still pending (see the module)."""
    rows: dict[tuple[int, int], list[_Cell]] = {}
    pending: set[tuple[int, int]] = set()
    for key, cell in sorted(card.cells.items()):
        specs = evaluation._specs(key)
        if cell.run_id is None or not any(split_type(s)[0] == KIND for s in specs):
            continue
        records = evaluation.store.evaluations.for_run(cell.run_id)
        run = RunOutcome(evaluation.store.runs.get(cell.run_id).result, cell.run_id)
        rows.setdefault((key[1], key[2]), []).append(_Cell(key, run, records))
        if any(r.reason == PENDING for r in records):
            pending.add((key[1], key[2]))
    for row in sorted(pending):
        if cancel.cancelled:
            return
        cells = [c for c in rows[row] if c.run.status == "ok"]
        for index, spec in enumerate(evaluation._specs(rows[row][0].key)):
            if split_type(spec)[0] == KIND:
                _decide(evaluation, cells, index, spec)
        _store(evaluation, card, cells, on_cell)


def _decide(evaluation: Evaluation, cells: list[_Cell], index: int, spec: AssertionSpec) -> None:
    """Replace record ``index`` of every cell with the judge's pick."""
    _, negate = split_type(spec)
    try:
        if len(cells) < 2:
            raise EvaluationError("select-best needs at least two outputs of this test to "
                                  "compare (several prompts or providers)")
        criteria = spec.value if isinstance(spec.value, str) else str(spec.value or "")
        outputs = [c.run.result.text for c in cells]
        backend, model = judge_of(evaluation, spec)
        template = judge_prompt(len(outputs))
        request = build_request(template, judge_values(criteria, outputs), backend=backend,
                                model=model, params=template.parameters)
        answer = evaluation.runner.execute(request)
        if answer.status != "ok":
            raise EvaluationError(f"the select-best judge ({backend}) failed: "
                                  f"{answer.result.error or answer.result.finish_reason}")
        best = verdict(answer.result.text, len(outputs))
    except EvaluationError as err:
        for c in cells:
            c.records[index] = EvaluationRecord(spec, "error", None, str(err))
        return
    for i, c in enumerate(cells):
        won = (i == best) != negate
        reason = (f"output selected as the best: {criteria}" if i == best
                  else f"output not selected: {criteria}")
        c.records[index] = EvaluationRecord(spec, "pass" if won else "fail", float(won),
                                            f"not: {reason}" if negate else reason)


def _store(evaluation: Evaluation, card: Scorecard, cells: list[_Cell],
           on_cell: Callable[[CellResult], None] | None) -> None:
    from workbench.services.evaluation import _outcome

    batch = [(c.run.run_id or "", c.records) for c in cells]
    writer = evaluation.runner.writer
    assert writer is not None
    writer.submit(lambda store: store.evaluations.record_many(batch)).result()
    for c in cells:
        outcomes: list[Outcome] = [_outcome(r) for r in c.records]
        cell = evaluation._cell(c.key, c.run, outcomes)
        card.add(cell)
        if on_cell is not None:
            on_cell(cell)
