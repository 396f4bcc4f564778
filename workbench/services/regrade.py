"""Repeating only the model-graded assertions: each output generated once, judged N times.

``workbench eval --repeat N --repeat-graded-only`` asks whether the *grader* is stable: the
model-graded assertions (``MODEL_GRADED``: LLM judges) of every finished cell are graded again on
the same stored output, N - 1 more times; the other assertions are deterministic on one output,
so their first verdict stands for every grading. A conversation case is not graded again (its
turns are graded with the whole conversation). Grading 0 is the evaluation's own; gradings 1..
are stored in ``store.grades`` one run at a time, so an interrupted regrade resumes where it
stopped. The result is a scorecard whose cell (variant, row, r) is grading r of that row's
output, which ``services.flaky`` reads like generated repeats.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from workbench.backends.base import CancelToken
from workbench.core.conversation_case import conversation_of
from workbench.core.evaluation import Outcome, evaluate, split_type
from workbench.core.outcome import RunOutcome
from workbench.services.evaluation import Evaluation, outcomes_of
from workbench.services.scorecard import CellResult, Scorecard
from workbench.storage.repositories.grades import Grade

#: Assertion kinds whose verdict comes from a model, so may change on the same output.
MODEL_GRADED = frozenset({"llm-rubric", "factuality", "model-graded-closedqa"})


def regrade(
    evaluation: Evaluation,
    repeats: int,
    cancel: CancelToken | None = None,
    on_cell: Callable[[int, int], None] | None = None,
) -> Scorecard:
    """Grade every finished output ``repeats`` times in all (see the module docstring);
    ``on_cell(done, total)`` after each output."""
    if repeats < 1:
        raise ValueError("repeats must be at least 1")
    cancel = cancel or CancelToken()
    store = evaluation.store
    first = evaluation.scorecard()
    card = Scorecard.empty(evaluation.labels())
    cells = [c for c in first.cells.values() if c.repeat == 0]
    stored = store.grades.for_runs([c.run_id for c in cells if c.run_id is not None])
    for done, cell in enumerate(cells, start=1):
        if cancel.cancelled:
            break
        for again in _gradings(evaluation, cell, repeats, stored, cancel):
            card.add(again)
        if on_cell is not None:
            on_cell(done, len(cells))
    return card


def _gradings(
    evaluation: Evaluation,
    cell: CellResult,
    repeats: int,
    stored: dict[str, dict[int, list[Grade]]],
    cancel: CancelToken,
) -> list[CellResult]:
    """The cell's gradings 0..repeats-1: stored ones read back, missing ones made and stored."""
    if cell.run_id is None:
        return [cell]
    run = evaluation.store.runs.get(cell.run_id)
    if run.status == "error":  # nothing to judge: every grading would be the same error
        return [cell]
    if conversation_of(evaluation.spec.tests[cell.test]) is not None:
        return [cell]  # a conversation's turns are graded with the conversation: not repeated
    specs_outcomes = outcomes_of(evaluation.store, cell.run_id)
    specs = [s for s, _ in specs_outcomes]
    base = [o for _, o in specs_outcomes]
    graded = [i for i, s in enumerate(specs) if split_type(s)[0] in MODEL_GRADED]
    outcome = RunOutcome(run.result, cell.run_id)
    out = [cell]
    for r in range(1, repeats):
        grades = stored.get(cell.run_id, {}).get(r)
        if grades is None:
            if cancel.cancelled:
                break
            context = evaluation._context((cell.variant, cell.test, 0), run.result)
            fresh = evaluate([specs[i] for i in graded], context)
            grades = [
                Grade(i, o.status, o.score, o.reason) for i, o in zip(graded, fresh, strict=True)
            ]
            evaluation.store.grades.record(cell.run_id, r, grades)
        outcomes = list(base)
        for g in grades:
            was = outcomes[g.position]
            outcomes[g.position] = Outcome(
                g.outcome, g.score, g.reason, type=was.type, metric=was.metric, weight=was.weight
            )
        again = evaluation._cell((cell.variant, cell.test, r), outcome, outcomes)
        out.append(replace(again, cost=None))  # no new generation was paid for
    return out
