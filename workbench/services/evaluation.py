"""Running an evaluation: dataset × variants × assertions through the runner.

An evaluation is an experiment in the store (``ExperimentSpec``: variants, test cases, default
assertions, repeats). Each cell (variant, test, repeat) is rendered, run through
``services.runner.Runner`` (the backend's concurrency limit, pricing, the run committed before it
is announced) and evaluated on the worker thread the moment its output is complete; the
assertion outcomes are written to ``store.evaluations`` in batches by the store's writer thread.
Only light ``CellResult``s (statuses and scores) are kept, so memory does not grow with the
outputs.

Resume: cells whose run finished without error are skipped; a finished run whose outcomes were
not written yet (a crash between the two) is evaluated from its stored text; failed and cancelled
cells run again. Workers are plain threads pulling cells one at a time; the grid runner of the
compare view (``services.grid_runner``) keeps every cell's ``RunResult`` for its report, which an
evaluation of thousands of rows must not; the per-backend limiter inside ``Runner.execute``
bounds what is in flight either way. The pre-run estimate is the grid runner's.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

from workbench.backends.base import CancelToken
from workbench.core.assertions.select_best import KIND as SELECT_BEST
from workbench.core.assertions.structured import SCHEMA_VALID, schema_valid
from workbench.core.conversation import (
    Turn,
    multi_turn,
    transcript_of,
    whole_threads,
)
from workbench.core.conversation_case import case_assertions, conversation_of
from workbench.core.errors import KnownError
from workbench.core.evaluation import (
    AssertionContext,
    EvaluationError,
    Grader,
    JavaScriptRunner,
    Outcome,
    PythonRunner,
    combine,
    evaluate,
    split_type,
    validate,
)
from workbench.core.experiments import AssertionSpec, ExperimentSpec, TestCase
from workbench.core.grid import Estimate
from workbench.core.models import PromptTemplate, RenderedMessage, RunRequest, RunResult
from workbench.core.outcome import RunOutcome
from workbench.services.conversations import evaluate_conversation
from workbench.services.evaluation_session import EvaluationSession, Progress, records_of
from workbench.services.experiment_lock import lock_experiment
from workbench.services.grid_runner import GridRunner
from workbench.services.runner import Runner, build_request
from workbench.services.scorecard import AssertionSummary, CellResult, Scorecard
from workbench.storage.repositories import EvaluationRecord, RunRef, Store, StoredExperiment
from workbench.storage.repositories.runs import prompt_text

CellKey = tuple[int, int, int]  # (variant, test, repeat)


def label(spec: AssertionSpec) -> str:
    """What the scorecard groups an assertion by: its metric, else its type as written."""
    return spec.metric or (("not-" if spec.negate else "") + spec.type)


def assertions_for(spec: ExperimentSpec, test: TestCase) -> list[AssertionSpec]:
    """A row's checks: the suite's, its own, then a conversation's per-turn ones."""
    return [*spec.default_assertions, *test.assertions, *case_assertions(test)]


@dataclass(frozen=True)
class CellDetail:
    """One cell opened: its values, expected and actual output, and each assertion's verdict."""

    cell: CellResult
    variables: dict[str, str]
    expected: str | None
    output: str
    error: str | None
    outcomes: list[tuple[AssertionSpec, Outcome]]
    # A multi-turn cell's messages, its reply last (empty for a one-turn cell).
    transcript: list[RenderedMessage] = field(default_factory=list)


class Evaluation:
    """One stored evaluation: run its pending cells, or read its results back."""

    def __init__(
        self,
        store: Store,
        experiment: StoredExperiment,
        runner: Runner,
        *,
        python: PythonRunner | None = None,
        judge: Grader | None = None,
        javascript: JavaScriptRunner | None = None,
        workers: int | None = None,
    ) -> None:
        if runner.writer is None:
            raise ValueError("an evaluation runs through a Runner with a StoreWriter")
        self.store = store
        self.experiment = experiment
        self.runner = runner
        self.python = python
        self.judge = judge
        self.javascript = javascript
        self.workers = workers
        spec = experiment.spec
        for test in spec.tests:
            for assertion in assertions_for(spec, test):
                validate(assertion)  # an unknown type stops the suite before any run
        self._variant_index = {vid: i for i, vid in enumerate(experiment.variant_ids)}
        self._test_index = {tid: i for i, tid in enumerate(experiment.test_ids)}

    @classmethod
    def create(cls, store: Store, spec: ExperimentSpec, runner: Runner, **kw: object) -> Evaluation:
        """Save ``spec`` as a new experiment and return its (not yet run) evaluation."""
        return cls(store, store.experiments.create(spec), runner, **kw)  # type: ignore[arg-type]

    @classmethod
    def open(cls, store: Store, experiment_id: str, runner: Runner, **kw: object) -> Evaluation:
        return cls(store, store.experiments.get(experiment_id), runner, **kw)  # type: ignore[arg-type]

    @property
    def id(self) -> str:
        return self.experiment.id

    @property
    def spec(self) -> ExperimentSpec:
        return self.experiment.spec

    def labels(self) -> list[str]:
        return [v.label or f"variant {i + 1}" for i, v in enumerate(self.spec.variants)]

    def cells(self) -> Iterator[CellKey]:
        for t in range(len(self.spec.tests)):
            for v in range(len(self.spec.variants)):
                for r in range(self.spec.repeats):
                    yield (v, t, r)

    @property
    def total(self) -> int:
        return len(self.spec.tests) * len(self.spec.variants) * self.spec.repeats

    def _key(self, ref: RunRef) -> CellKey | None:
        v = self._variant_index.get(ref.variant_id or "")
        t = self._test_index.get(ref.test_case_id or "")
        if v is None or t is None or ref.repeat_index >= self.spec.repeats:
            return None
        return (v, t, ref.repeat_index)

    def _ref(self, key: CellKey) -> RunRef:
        v, t, r = key
        variant, test = self.spec.variants[v], self.spec.tests[t]
        return RunRef.of_cell(
            variant,
            {**variant.variables, **test.vars},
            experiment_id=self.id,
            variant_id=self.experiment.variant_ids[v],
            test_case_id=self.experiment.test_ids[t],
            repeat_index=r,
        )

    # --- reading back ----------------------------------------------------------------------------

    def stored_cells(self, *, reevaluate: bool = False) -> Iterator[tuple[CellKey, CellResult]]:
        """Every stored run of this evaluation as a cell, oldest first (a later run of the same
        cell supersedes an earlier one). Cancelled runs are skipped. With ``reevaluate``, a
        finished run without outcomes is evaluated now and its outcomes written."""
        ids = self.store.runs.ids(experiment_id=self.id)
        for start in range(0, len(ids), 256):
            chunk = ids[start : start + 256]
            records = self.store.evaluations.for_runs(chunk)
            for run_id in chunk:
                run = self.store.runs.get(run_id)
                key = self._key(run.ref)
                if key is None or run.status == "cancelled":
                    continue
                found = records.get(run_id)
                if found is None and (run.status == "error" or reevaluate):
                    outcomes = self._evaluate(key, run.result)
                    self.store.evaluations.record(run_id, records_of(self._specs(key), outcomes))
                    yield key, self._cell(key, RunOutcome(run.result, run_id), outcomes)
                elif found is not None:
                    outcomes = [_outcome(r) for r in found]
                    yield key, self._cell(key, RunOutcome(run.result, run_id), outcomes)

    def scorecard(self) -> Scorecard:
        """The evaluation's results as stored (the latest run of each cell)."""
        latest = dict(self.stored_cells())
        card = Scorecard.empty(self.labels())
        for cell in latest.values():
            card.add(cell)
        return card

    def detail(self, cell: CellResult) -> CellDetail:
        """Everything the drill-down shows for one cell, read from the store."""
        test = self.spec.tests[cell.test]
        variant = self.spec.variants[cell.variant]
        if cell.run_id is None:
            return CellDetail(cell, {**variant.variables, **test.vars}, test.expected, "", None, [])
        run = self.store.runs.get(cell.run_id).result
        return CellDetail(
            cell,
            {**variant.variables, **test.vars},
            test.expected,
            run.text,
            run.error,
            outcomes_of(self.store, cell.run_id),
            multi_turn(run) if conversation_of(test) is None else transcript_of(run),
        )

    # --- evaluating one output -------------------------------------------------------------------

    def _specs(self, key: CellKey) -> list[AssertionSpec]:
        return assertions_for(self.spec, self.spec.tests[key[1]])

    def _context(self, key: CellKey, result: RunResult) -> AssertionContext:
        return AssertionContext(
            output=result.text,
            test=self.spec.tests[key[1]],
            result=result,
            prompt=prompt_text(result.request),
            python=self.python,
            judge=self.judge,
            javascript=self.javascript,
        )

    def _evaluate(self, key: CellKey, result: RunResult) -> list[Outcome]:
        ctx = self._context(key, result)
        test = self.spec.tests[key[1]]
        if conversation_of(test) is None:
            return evaluate(self._specs(key), ctx)
        try:  # the variant's own messages, told apart from the turns
            opening = self._request(key).messages
        except KnownError:
            opening = []
        return evaluate_conversation(test, self.spec.default_assertions, opening, ctx)

    def _schema_valid(self, key: CellKey, run: RunOutcome) -> tuple[AssertionSummary, ...]:
        """The schema-valid check of a variant whose template has an output_schema: a figure
        of the scorecard beside the assertions, which does not decide the case."""
        schema = self.spec.variants[key[0]].template.output_schema
        if schema is None or run.status == "error":
            return ()
        try:
            passed = bool(schema_valid(run.result.text, schema).passed)
        except EvaluationError:
            return (AssertionSummary(SCHEMA_VALID, "error", None),)
        return (AssertionSummary(SCHEMA_VALID, "pass" if passed else "fail", float(passed)),)

    def _cell(self, key: CellKey, run: RunOutcome, outcomes: Sequence[Outcome]) -> CellResult:
        verdict = combine(outcomes)
        result, run_id = run.result, run.run_id
        failed_run = run.status == "error"
        specs = self._specs(key)
        return CellResult(
            variant=key[0],
            test=key[1],
            repeat=key[2],
            run_id=run_id,
            status="error" if failed_run else verdict.status,
            score=None if failed_run else verdict.score,
            assertions=tuple(
                AssertionSummary(label(s), o.status, o.score)
                for s, o in zip(specs, outcomes, strict=True)
            ) + self._schema_valid(key, run),
            cost=result.cost,
            latency_s=result.timings.total_s,
        )

    # --- running ---------------------------------------------------------------------------------

    def pending(self) -> list[CellKey]:
        """Cells without a finished run (what ``run`` will run)."""
        done = {
            key
            for v, t, r in self.store.runs.completed_cells(self.id)
            if (key := self._key(RunRef(self.id, v, t, r))) is not None
        }
        return [key for key in self.cells() if key not in done]

    def cost_preview(self) -> Estimate:
        """Calls, tokens and list price of the pending cells (the compare view's estimate)."""
        return GridRunner(self.runner, self.store).estimate(self.experiment)

    def _values(self, key: CellKey) -> dict[str, str]:
        variant, test = self.spec.variants[key[0]], self.spec.tests[key[1]]
        return {**variant.variables, **test.vars}

    def _request(self, key: CellKey, history: Sequence[Turn] = ()) -> RunRequest:
        v, t, _ = key
        variant, test = self.spec.variants[v], self.spec.tests[t]
        return build_request(
            variant.template,
            {**variant.variables, **test.vars},
            backend=variant.backend,
            model=variant.model,
            params=variant.template.parameters.merged(variant.params),
            history=history,
        )

    def run(
        self,
        cancel: CancelToken | None = None,
        *,
        on_progress: Callable[[Progress], None] | None = None,
        on_cell: Callable[[CellResult], None] | None = None,
        rerun_all: bool = False,
        wait: bool = False,
    ) -> Scorecard:
        """Run the pending cells (every cell with ``rerun_all``) and evaluate each output as it
        completes; returns the scorecard of the whole evaluation, finished cells included.

        The evaluation is locked while it runs: a second run of it (another process resuming
        it, a second click) raises ``ExperimentBusy``, or with ``wait`` waits for the first to
        end (a cancel stops the wait) and then runs only what is still pending."""
        cancel = cancel or CancelToken()
        lock = lock_experiment(self.store, self.experiment, wait=cancel.wait if wait else None)
        try:
            return self._run(cancel, on_progress, on_cell, rerun_all)
        finally:
            lock.release()

    def _run(
        self,
        cancel: CancelToken,
        on_progress: Callable[[Progress], None] | None,
        on_cell: Callable[[CellResult], None] | None,
        rerun_all: bool,
    ) -> Scorecard:
        card = Scorecard.empty(self.labels())
        done: dict[CellKey, CellResult] = {}
        if not rerun_all:
            completed = set(self.cells()) - set(self.pending())
            for key, cell in self.stored_cells(reevaluate=True):
                if key in completed:
                    done[key] = cell
        rerun = whole_threads(self.spec, list(self.cells()), set(self.cells()) - set(done))
        done = {key: cell for key, cell in done.items() if key not in rerun}
        for cell in done.values():
            card.add(cell)
        todo = [key for key in self.cells() if key not in done]
        EvaluationSession(self, card, todo, cancel, on_progress, on_cell).run()
        if any(split_type(a)[0] == SELECT_BEST for t in self.spec.tests
               for a in assertions_for(self.spec, t)):
            from workbench.services.select_best import decide  # it reads this module's cells

            decide(self, card, cancel, on_cell)
        return card


def _outcome(record: EvaluationRecord) -> Outcome:
    spec = record.assertion
    return Outcome(
        record.outcome,
        record.score,
        record.reason,
        type=("not-" if spec.negate else "") + spec.type,
        metric=label(spec),
        weight=spec.weight,
    )


def outcomes_of(store: Store, run_id: str) -> list[tuple[AssertionSpec, Outcome]]:
    """A run's stored assertions with their outcomes (the drill-down's reasons)."""
    return [(r.assertion, _outcome(r)) for r in store.evaluations.for_run(run_id)]


def rerun(
    evaluation: Evaluation,
    *,
    template: PromptTemplate | None = None,
    template_key: str | None = None,
    template_version: int | None = None,
    backend: str | None = None,
    model: str | None = None,
) -> Evaluation:
    """A new evaluation with the same rows, assertions and repeats as ``evaluation``, every
    variant switched to ``template`` (a new version of the prompt) and/or another backend or
    model; run it, then ``scorecard.compare`` the two scorecards for the regression check."""
    spec = evaluation.spec
    variants = []
    for v in spec.variants:
        update: dict[str, object] = {}
        if template is not None:
            update |= {
                "template": template,
                "template_key": template_key,
                "template_version": template_version,
            }
        if backend is not None:
            update["backend"] = backend
        if model is not None:
            update["model"] = model
        variants.append(v.model_copy(update=update))
    new_spec = spec.model_copy(
        update={"variants": variants, "notes": f"re-run of evaluation {evaluation.id}"}
    )
    return Evaluation.create(
        evaluation.store,
        new_spec,
        evaluation.runner,
        python=evaluation.python,
        judge=evaluation.judge,
        javascript=evaluation.javascript,
        workers=evaluation.workers,
    )
