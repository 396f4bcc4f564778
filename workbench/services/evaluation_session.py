"""The worker threads of one evaluation run: cells pulled one at a time (a conversation's
turns in order), each run through the runner and evaluated the moment its output is complete,
the outcomes written in batches by the store's writer thread. Workers follow the backends'
limits as an adaptive limit grows (``Evaluation.run`` starts a session; ``services.evaluation``
has the rest).
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from workbench.backends.base import CancelToken
from workbench.backends.limits import RequestLimiter
from workbench.core.conversation import Turn, thread_units
from workbench.core.conversation_case import conversation_of
from workbench.core.errors import KnownError
from workbench.core.evaluation import Outcome
from workbench.core.experiments import AssertionSpec
from workbench.core.models import RunResult
from workbench.core.outcome import RunOutcome, unsent
from workbench.services.conversations import run_conversation, stop_check
from workbench.services.interrupts import wait_all, wait_all_through_interrupts
from workbench.services.scorecard import CellResult, Scorecard
from workbench.services.tool_steps import run_tool_conversation
from workbench.storage.repositories import EvaluationRecord, Store

if TYPE_CHECKING:
    from workbench.services.evaluation import CellKey, Evaluation

#: Outcomes are written in batches of this many runs (one transaction each).
FLUSH_EVERY = 64


@dataclass(frozen=True)
class Progress:
    """Where a running evaluation is: cells done of total, outcomes so far, time left."""

    done: int
    total: int
    passed: int
    failed: int
    errors: int
    elapsed_s: float
    eta_s: float | None
    cost: float



@dataclass
class EvaluationSession:
    """The worker threads of one ``Evaluation.run``."""

    evaluation: Evaluation
    card: Scorecard
    todo: list[CellKey]
    cancel: CancelToken
    on_progress: Callable[[Progress], None] | None
    on_cell: Callable[[CellResult], None] | None
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _pending_records: list[tuple[str, list[EvaluationRecord]]] = field(default_factory=list)
    _done: int = 0
    _cost: float = 0.0
    _errors: list[BaseException] = field(default_factory=list)
    _futures: list[Future[None]] = field(default_factory=list)
    _ended: list[threading.Event] = field(default_factory=list)  # one per worker started
    _limiters: list[RequestLimiter] = field(default_factory=list)

    def run(self) -> None:
        self._iter = iter(thread_units(self.evaluation.spec, self.todo))
        self._start = time.perf_counter()
        self._limiters = self._backend_limiters()
        ended = self._ended
        with self._lock:
            self._spawn(max(1, min(self.evaluation.workers or 1, len(self.todo))))
        try:
            wait_all(ended)
        except KeyboardInterrupt:  # Ctrl+C in the CLI: stop the runs in flight, keep the rest
            self.cancel.cancel()
            wait_all_through_interrupts(ended)
            self._flush(force=True)
            raise
        self._flush(force=True)
        if self._errors:
            raise self._errors[0]

    def _backend_limiters(self) -> list[RequestLimiter]:
        """The limiters of the suite's backends (opened here, off the GUI thread; a local
        server is asked what it takes): none when ``workers`` was given, or for a backend that
        cannot be opened (its cells say why)."""
        if self.evaluation.workers:
            return []
        limiters = []
        for name in sorted({v.backend for v in self.evaluation.spec.variants}):
            with contextlib.suppress(KnownError):
                limiters.append(self.evaluation.runner.limiter(name))
        return limiters

    def _grow(self) -> None:
        """Start the workers the backends' limits can use now: per backend, one per request
        its limit allows and per refused one waiting out a Retry-After; no more than cells.
        They follow an adaptive limit as it grows (all its ceiling of 64 at once before). No
        spare, unlike a sweep's lane: one waiting for a slot when Ctrl+C stops the suite would
        be saved as one more cancelled run."""
        if not self._limiters:
            return
        want = sum(limiter.limit + limiter.away for limiter in self._limiters)
        with self._lock:
            more = min(want, len(self.todo)) - len(self._ended)
            if more > 0:
                self._spawn(more)

    def _spawn(self, count: int) -> None:
        """Start ``count`` workers (the lock is held): their events go on the list ``run`` waits
        on before they start, so it waits for them too."""
        for _ in range(count):
            event = threading.Event()
            self._ended.append(event)
            name = f"eval-{len(self._ended) - 1}"
            threading.Thread(target=self._work, args=(event,), name=name, daemon=True).start()

    def _work(self, ended: threading.Event) -> None:
        try:
            while not self.cancel.cancelled:
                self._grow()
                with self._lock:
                    unit = next(self._iter, None)
                if unit is None:
                    return
                history: list[Turn] = []  # a thread's turns so far (a unit of one: unused)
                for key in unit:
                    if self.cancel.cancelled:
                        return
                    self._one(key, history)
        except BaseException as err:  # a bug: stop everyone, re-raised by run()
            self._errors.append(err)
            self.cancel.cancel()
        finally:
            ended.set()

    def _one(self, key: CellKey, history: list[Turn]) -> None:
        ev = self.evaluation
        ref = ev._ref(key)
        try:
            request = ev._request(key, history)
        except KnownError as err:  # a row the template cannot render: an error cell, saved
            variant = ev.spec.variants[key[0]]
            result = RunResult(
                request=unsent(None, backend=variant.backend, model=variant.model),
                finish_reason="error",
                error=str(err),
                error_kind=err.code,
            )
            writer = ev.runner.writer
            assert writer is not None
            outcome = RunOutcome(result, writer.add_run(result, ref).result())
        else:
            case = conversation_of(ev.spec.tests[key[1]])
            steps = ev.spec.variants[key[0]].template.max_tool_steps
            if case is None and request.tools:  # each call answered by its tool's mock
                outcome = run_tool_conversation(ev.runner, request, steps, self.cancel, ref=ref)
            elif case is None:
                outcome = ev.runner.execute(request, self.cancel, ref=ref)
            else:
                stop = stop_check(case, lambda result: ev._context(key, result))
                outcome = run_conversation(
                    ev.runner, case, request, ev._values(key), ref, self.cancel, stop
                )
        if outcome.status == "cancelled":
            return
        result, run_id = outcome.result, outcome.run_id
        if result.request.messages:  # a row that did not render is no turn
            template = ev.spec.variants[key[0]].template
            history.append(Turn.of(template, result.request.messages, result.text))
        outcomes = ev._evaluate(key, result)
        cell = ev._cell(key, outcome, outcomes)
        with self._lock:
            if run_id is not None:
                self._pending_records.append((run_id, records_of(ev._specs(key), outcomes)))
            self.card.add(cell)
            self._done += 1
            self._cost += result.cost or 0.0
            progress = self._progress()
        self._flush()
        if self.on_cell is not None:
            self.on_cell(cell)
        if self.on_progress is not None:
            self.on_progress(progress)

    def _progress(self) -> Progress:
        elapsed = time.perf_counter() - self._start
        remaining = len(self.todo) - self._done
        eta = elapsed / self._done * remaining if self._done else None
        overall = [v.overall.cases for v in self.card.variants]
        return Progress(
            done=len(self.card.cells),
            total=self.evaluation.total,
            passed=sum(c.passed for c in overall),
            failed=sum(c.failed for c in overall),
            errors=sum(c.errors for c in overall),
            elapsed_s=elapsed,
            eta_s=eta,
            cost=self._cost,
        )

    def _flush(self, *, force: bool = False) -> None:
        with self._lock:
            if not self._pending_records or (
                len(self._pending_records) < FLUSH_EVERY and not force
            ):
                return
            batch, self._pending_records = self._pending_records, []
        writer = self.evaluation.runner.writer
        assert writer is not None

        def job(store: Store) -> None:
            store.evaluations.record_many(batch)  # one commit and one INSERT for the batch

        self._futures.append(writer.submit(job))
        if force:
            for future in self._futures:
                future.result()  # a failed write surfaces here


def records_of(
    specs: Sequence[AssertionSpec], outcomes: Sequence[Outcome]
) -> list[EvaluationRecord]:
    """What is stored of a cell's outcomes: each assertion with its verdict."""
    return [
        EvaluationRecord(s, o.status, o.score, o.reason)
        for s, o in zip(specs, outcomes, strict=True)
    ]
