"""Running a comparison or sweep: every cell through ``Runner.execute``, in parallel per backend,
with progress, time left, cancellation and resume.

Each backend gets its own worker threads pulling from its own queue, so a local model's cells
queue one at a time while a remote server's run in parallel, and a slow backend never holds up a
fast one's threads. The backend's shared limiter (``Runner.limits``) bounds what is in flight
(its ``concurrency`` option, GUI runs on the same backend included). A lane starts one thread,
and its threads follow the limiter: one per request the limit allows at the server and per
refused request waiting out a ``Retry-After`` (they hold no place), and one more, so a slot
freed by a finished run is reused while that run is being committed (an adaptive limit that
settles at 16 runs 17 threads, not the 64 its ceiling would take; when it comes down, the
threads too many leave).

Every finished cell is committed (``RunRef`` with experiment, variant, test case and repeat)
before it is reported; a sweep restarted on the same experiment skips the cells the store already
holds as ``ok`` (``completed_cells``), so a killed sweep resumes without re-running anything.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from workbench.backends.base import CancelToken, StreamEvent
from workbench.backends.limits import RequestLimiter
from workbench.core.effects import Ignored
from workbench.core.errors import KnownError
from workbench.core.experiments import ExperimentSpec
from workbench.core.grid import (
    CellKey,
    Estimate,
    PlannedCell,
    PromptCount,
    TableCounter,
    estimate,
    expand,
)
from workbench.core.model_table import NO_CHARGE, Price
from workbench.core.models import Params, RunRequest, RunResult
from workbench.core.outcome import RunOutcome, RunStatus
from workbench.core.params import PARAM_NAMES
from workbench.services.batch_offers import batch_offers
from workbench.services.experiment_lock import lock_experiment
from workbench.services.pace import pace_of
from workbench.services.runner import Runner, build_request
from workbench.services.tool_steps import run_tool_conversation
from workbench.storage.locks import FileLock
from workbench.storage.repositories import RunRef, Store, StoredExperiment

CellStatus = RunStatus
#: The most worker threads a sweep's lane grows to, whatever its backend allows.
MAX_WORKERS = 64


@dataclass(frozen=True)
class CellOutcome:
    """How one cell ended in this run: the runner's ``RunOutcome`` as it came back, or None for
    a cell cancelled before it started or one that never ran (``reason`` says why)."""

    key: CellKey
    run: RunOutcome | None
    reason: str | None = None

    @property
    def status(self) -> CellStatus:
        if self.run is not None:
            return self.run.status
        return "error" if self.reason is not None else "cancelled"

    @property
    def run_id(self) -> str | None:
        return self.run.run_id if self.run is not None else None

    @property
    def result(self) -> RunResult | None:
        return self.run.result if self.run is not None else None

    @property
    def error(self) -> str | None:
        return self.run.result.error if self.run is not None else self.reason


@dataclass(frozen=True)
class Progress:
    """``done`` of ``total`` cells of this run have ended; ``eta_s`` is the time left at the pace
    so far (None until a cell ends)."""

    done: int
    total: int
    failed: int
    cancelled: int
    elapsed_s: float
    eta_s: float | None
    last: CellOutcome | None


@dataclass
class SweepReport:
    experiment_id: str | None
    outcomes: list[CellOutcome]
    skipped: list[CellKey]  # done by an earlier run of the same experiment, or in a batch job
    wall_s: float
    cancelled: bool

    def by_key(self) -> dict[CellKey, CellOutcome]:
        return {o.key: o for o in self.outcomes}

    @property
    def counts(self) -> dict[str, int]:
        out = {"ok": 0, "error": 0, "cancelled": 0}
        for o in self.outcomes:
            out[o.status] += 1
        return out


ProgressSink = Callable[[Progress], None]
CellEventSink = Callable[[CellKey, StreamEvent], None]


class BackendCounter(TableCounter):
    """Counts with the backend itself where it can say exactly what the model reads (a local
    model's chat template and tokenizer, via ``preview``), else like ``TableCounter``."""

    def __init__(self, runner: Runner) -> None:
        self.runner = runner

    def count(self, request: RunRequest) -> PromptCount:
        backend = self.runner.backend(request.backend)
        preview = getattr(backend, "preview", None)
        if preview is None:
            return super().count(request)
        prepared = preview(request)
        return PromptCount(
            len(prepared.tokens),
            True,
            f"{backend.display_name}: the model's own tokenizer and chat template",
        )

    def context_window(self, request: RunRequest) -> int | None:
        window = super().context_window(request)
        backend = self.runner.backend(request.backend)
        if window is not None or getattr(backend, "preview", None) is None:
            return window
        # A local backend lists its models without a network call; their window is its n_ctx.
        models = backend.list_models()
        match = [m.context_window for m in models if m.id == request.model]
        windows = match or list({m.context_window for m in models})
        return windows[0] if len(windows) == 1 else None

    def price(self, request: RunRequest) -> Price | None:
        if self.runner.backend(request.backend).runs_locally:
            return NO_CHARGE
        return super().price(request)

    def default_max_tokens(self, request: RunRequest) -> int | None:
        return self.runner.backend(request.backend).default_max_tokens()


def ignored_by(runner: Runner) -> Ignored:
    """Which parameters each backend's model ignores, for ``core.effects.check`` (none known
    for a backend that cannot be opened: running it says why). Asks each model once; a model's
    table may come from its file or its server, so call this off the GUI thread."""
    known: dict[tuple[str, str], frozenset[str]] = {}

    def ignored(backend: str, model: str) -> frozenset[str]:
        if (backend, model) not in known:
            try:
                capabilities = runner.backend(backend).model_capabilities(model)
            except KnownError:
                capabilities = None
            known[backend, model] = frozenset() if capabilities is None else frozenset(
                n for n in PARAM_NAMES if capabilities.status(n) == "ignored")
        return known[backend, model]

    return ignored


def plan(spec: ExperimentSpec) -> list[PlannedCell]:
    """Every cell with its rendered request; a cell that cannot render carries the error.

    Rendering is a pure function of the template and the values, so variants that share a
    template (a parameter sweep: every variant but its parameters alike) render each test case
    once: rendering was ~95 % of planning, and a sweep plans before its first call starts."""
    rendered: dict[tuple[int, int | None], PlannedCell] = {}
    templates: dict[int, str] = {}  # variant index -> its template, serialised (a cache key)
    renders: dict[tuple[str, tuple[tuple[str, str], ...]], RunRequest | str] = {}
    out = []
    for cell in expand(spec):
        pair = (cell.key.variant, cell.key.test)
        first = rendered.get(pair)
        if first is None:
            v = cell.variant
            source = templates.get(cell.key.variant)
            if source is None:
                source = templates[cell.key.variant] = v.template.model_dump_json()
            key = (source, tuple(sorted(cell.values.items())))
            shape = renders.get(key)
            if shape is None:
                try:
                    shape = build_request(v.template, cell.values, backend="", params=Params())
                except KnownError as err:
                    shape = str(err)
                renders[key] = shape
            if isinstance(shape, str):
                first = PlannedCell(cell, None, shape)
            else:
                # The variant's parameters refine the template's own (max_tokens, stop…).
                params = v.template.parameters.merged(v.params)
                request = shape.model_copy(
                    update={
                        "backend": v.backend,
                        "model": v.model,
                        "params": params,
                        "messages": list(shape.messages),
                    }
                )
                first = PlannedCell(cell, request)
            rendered[pair] = first
        out.append(PlannedCell(cell, first.request, first.error))
    return out


def completed_keys(store: Store, experiment: StoredExperiment) -> set[CellKey]:
    """The cells of ``experiment`` the store holds a successful run for."""
    variants = {vid: i for i, vid in enumerate(experiment.variant_ids)}
    tests = {tid: i for i, tid in enumerate(experiment.test_ids)}
    keys = set()
    for variant_id, test_id, repeat in store.runs.completed_cells(experiment.id):
        if variant_id not in variants or (test_id is not None and test_id not in tests):
            continue
        keys.add(CellKey(variants[variant_id], None if test_id is None else tests[test_id], repeat))
    return keys


def waiting_keys(store: Store, experiment_id: str) -> set[CellKey]:
    """The cells of an experiment sent in a batch job not ended whose answer has not landed:
    running them live would pay for them twice."""
    return {
        CellKey(*cell.key)
        for job in store.batches.jobs(experiment_id=experiment_id, unfinished=True)
        for cell in store.batches.cells(job.id)
        if cell.outcome is None
    }


class SweepHandle:
    """A running sweep: cancel one cell or all of them, wait for the report."""

    def __init__(self, total: int, skipped: list[CellKey], experiment_id: str | None) -> None:
        self._tokens: dict[CellKey, CancelToken] = {}  # cells that started
        self._cancelled_keys: set[CellKey] = set()
        self._lock = threading.Lock()
        self._report_lock = threading.Lock()
        self._outcomes: list[CellOutcome] = []
        self._counts = {"ok": 0, "error": 0, "cancelled": 0}
        self._finished = threading.Event()
        self._cancel_all = threading.Event()
        self._bug: BaseException | None = None
        self._started = time.perf_counter()
        self._total = total
        self._skipped = skipped
        self._experiment_id = experiment_id
        self._wall: float | None = None
        self._lock_file: FileLock | None = None  # the experiment's, released when all ended

    # --- control --------------------------------------------------------------------------------

    def cancel(self, key: CellKey) -> None:
        """Cancel one cell: a running one stops streaming, a queued one never starts."""
        with self._lock:
            self._cancelled_keys.add(key)
            token = self._tokens.get(key)
        if token is not None:
            token.cancel()

    def cancel_all(self) -> None:
        with self._lock:
            self._cancel_all.set()
            tokens = list(self._tokens.values())
        for token in tokens:
            token.cancel()

    @property
    def cancelled(self) -> bool:
        return self._cancel_all.is_set()

    @property
    def done(self) -> bool:
        return self._finished.is_set()

    def wait(self, timeout: float | None = None) -> SweepReport:
        """The report once every cell has ended; ``TimeoutError`` if not within ``timeout``.
        A bug in a worker (not a failed run) is raised here."""
        if not self._finished.wait(timeout):
            raise TimeoutError("the sweep is still running")
        if self._bug is not None:
            raise self._bug
        with self._lock:
            outcomes = sorted(self._outcomes, key=lambda o: o.key)
        return SweepReport(
            self._experiment_id,
            outcomes,
            list(self._skipped),
            self._wall if self._wall is not None else 0.0,
            self.cancelled,
        )

    # --- bookkeeping (worker threads) -------------------------------------------------------------

    def _record(self, outcome: CellOutcome) -> Progress:
        with self._lock:
            self._outcomes.append(outcome)
            self._counts[outcome.status] += 1
            done = len(self._outcomes)
            failed, cancelled = self._counts["error"], self._counts["cancelled"]
        elapsed = time.perf_counter() - self._started
        eta = elapsed / done * (self._total - done) if done else None
        return Progress(done, self._total, failed, cancelled, elapsed, eta, outcome)

    def _token_for(self, key: CellKey) -> CancelToken | None:
        """The token of a cell about to start; None if it was cancelled while queued."""
        with self._lock:
            if self._cancel_all.is_set() or key in self._cancelled_keys:
                return None
            token = self._tokens[key] = CancelToken()
            return token

    def _bug_in_worker(self, err: BaseException) -> None:
        with self._lock:
            self._bug = self._bug or err
        self.cancel_all()

    def _finish(self) -> None:
        self._wall = time.perf_counter() - self._started
        if self._lock_file is not None:
            self._lock_file.release()
        self._finished.set()


@dataclass
class _Lane:
    """One backend's queue of cells and how many threads work it."""

    name: str
    workers: int = 1
    cells: queue.SimpleQueue[PlannedCell] = field(default_factory=queue.SimpleQueue)
    lock: threading.Lock = field(default_factory=threading.Lock)
    limiter: RequestLimiter | None = None  # the backend's, once a worker asked for it


class GridRunner:
    """Runs experiments cell by cell through a ``Runner`` (which persists through its writer)."""

    def __init__(self, runner: Runner, store: Store | None = None) -> None:
        self.runner = runner
        self.store = store

    def counter(self) -> BackendCounter:
        return BackendCounter(self.runner)

    def estimate(
        self, experiment: StoredExperiment | ExperimentSpec, *, resume: bool = True
    ) -> Estimate:
        """The pre-run estimate of what ``start`` would run now (done cells skipped)."""
        spec = experiment.spec if isinstance(experiment, StoredExperiment) else experiment
        est = estimate(plan(spec), self.counter(), skip=self._skip(experiment, resume),
                       waiting=self._waiting(experiment), ignored=ignored_by(self.runner))
        est.pace.extend(pace_of(self.runner, est.cells))
        est.batch.extend(batch_offers(self.runner, est.cells))
        return est

    def _skip(self, experiment: StoredExperiment | ExperimentSpec, resume: bool) -> set[CellKey]:
        if not resume or self.store is None or not isinstance(experiment, StoredExperiment):
            return set()
        return completed_keys(self.store, experiment)

    def _waiting(self, experiment: StoredExperiment | ExperimentSpec) -> set[CellKey]:
        if self.store is None or not isinstance(experiment, StoredExperiment):
            return set()
        return waiting_keys(self.store, experiment.id)

    def start(
        self,
        experiment: StoredExperiment | ExperimentSpec,
        *,
        on_progress: ProgressSink | None = None,
        on_event: CellEventSink | None = None,
        resume: bool = True,
        planned: Sequence[PlannedCell] | None = None,
        wait: Callable[[float], bool] | None = None,
        locked: FileLock | None = None,
    ) -> SweepHandle:
        """Start running every cell not already done; returns at once. Callbacks come from
        worker threads. A stored experiment's runs carry its ids (and resume); a bare spec's
        runs are stored unattached.

        A stored experiment is locked until its last cell ended: a second start, in this
        process or another, raises ``ExperimentBusy`` naming the holder, or with ``wait`` (a
        cancel token's ``wait``) waits for it to end and then runs only what is still missing.
        ``locked`` is its lock already taken by the caller (``lock_experiment``), who refused
        a busy experiment before printing its estimate; it is released like one taken here."""
        stored = experiment if isinstance(experiment, StoredExperiment) else None
        spec = stored.spec if stored is not None else experiment
        assert isinstance(spec, ExperimentSpec)
        held = locked
        if held is None and stored is not None and self.store is not None:
            held = lock_experiment(self.store, stored, wait=wait)
        try:
            return self._start(stored, spec, held, on_progress, on_event, resume, planned)
        except BaseException:
            if held is not None:
                held.release()
            raise

    def _start(
        self,
        stored: StoredExperiment | None,
        spec: ExperimentSpec,
        held: FileLock | None,
        on_progress: ProgressSink | None,
        on_event: CellEventSink | None,
        resume: bool,
        planned: Sequence[PlannedCell] | None,
    ) -> SweepHandle:
        cells = list(planned) if planned is not None else plan(spec)
        skip = self._skip(stored or spec, resume)
        skip |= self._waiting(stored or spec)  # a batch job brings their answers
        todo = [c for c in cells if c.cell.key not in skip]
        skipped = sorted(c.cell.key for c in cells if c.cell.key in skip)
        handle = SweepHandle(len(todo), skipped, stored.id if stored else None)
        handle._lock_file = held
        lanes: dict[str, _Lane] = {}
        for item in todo:
            name = _lane_of(item)
            lane = lanes.get(name)
            if lane is None:
                lane = lanes[name] = _Lane(name)
            lane.cells.put(item)
        remaining = [len(lanes)]
        if not remaining[0]:
            handle._finish()
            return handle
        lock = threading.Lock()

        def grow(lane: _Lane, more: int) -> None:
            with lock:  # counted before they start: the last worker to end is the last
                remaining[0] += more
            for _ in range(more):
                spawn(lane)

        def worker(lane: _Lane) -> None:
            try:
                self._work(lane, handle, stored, on_progress, on_event, grow)
            finally:
                with lock:
                    remaining[0] -= 1
                    last = remaining[0] == 0
                if last:
                    pace = self.runner.pace
                    pace.note_limits(self.runner.limits, lanes)
                    pace.save()
                    handle._finish()

        def spawn(lane: _Lane) -> None:
            threading.Thread(
                target=worker, args=(lane,), name=f"sweep-{lane.name or 'unrendered'}", daemon=True
            ).start()

        for lane in lanes.values():
            spawn(lane)
        return handle

    def run(
        self,
        experiment: StoredExperiment | ExperimentSpec,
        *,
        on_progress: ProgressSink | None = None,
        on_event: CellEventSink | None = None,
        resume: bool = True,
    ) -> SweepReport:
        """``start`` and wait for the report."""
        handle = self.start(experiment, on_progress=on_progress, on_event=on_event, resume=resume)
        return handle.wait()

    def _more_workers(self, lane: _Lane) -> int:
        """Threads ``lane`` lacks (negative: one too many, and the caller leaves): one per
        request its backend's limit allows at the server and per refused request waiting to be
        sent again, plus a spare (see the module docstring), no more than it has cells left.
        Not twice the limit while it is still doubling: the limit reached 16 in two rounds
        rather than five, but the burst of threads went up to 30 requests past a server that
        takes 16 before its first refusal was read, and a sweep lost more to that than the
        ramp. One, with no more, for cells that cannot run (the unrendered, a backend that
        cannot be opened)."""
        if lane.limiter is None:
            if not lane.name:
                return 0
            try:
                limiter = self.runner.limiter(lane.name)
            except KnownError:
                return 0
            lane.limiter = limiter
        want = min(MAX_WORKERS, lane.limiter.limit + lane.limiter.away + 1)
        with lane.lock:
            if lane.workers > want:
                lane.workers -= 1
                return -1
            more = max(0, min(want - lane.workers, lane.cells.qsize()))
            lane.workers += more
        return more

    def _work(
        self,
        lane: _Lane,
        handle: SweepHandle,
        stored: StoredExperiment | None,
        on_progress: ProgressSink | None,
        on_event: CellEventSink | None,
        grow: Callable[[_Lane, int], None],
    ) -> None:
        try:
            while True:
                more = self._more_workers(lane)
                if more < 0:
                    return  # the limit came down: a thread too many
                if more:
                    grow(lane, more)
                try:
                    item = lane.cells.get_nowait()
                except queue.Empty:
                    return
                outcome = self._run_cell(item, handle, stored, on_event)
                with handle._report_lock:  # callbacks see done counts in order
                    progress = handle._record(outcome)
                    if on_progress is not None:
                        on_progress(progress)
        except BaseException as err:  # a bug: stop the sweep, raise it from wait()
            handle._bug_in_worker(err)

    def _run_cell(
        self,
        item: PlannedCell,
        handle: SweepHandle,
        stored: StoredExperiment | None,
        on_event: CellEventSink | None,
    ) -> CellOutcome:
        key = item.cell.key
        if item.request is None:
            return CellOutcome(key, None, item.error or "the cell could not be rendered")
        token = handle._token_for(key)
        if token is None:
            return CellOutcome(key, None)
        ref = RunRef.of_cell(
            item.cell.variant,
            item.cell.values,
            experiment_id=stored.id if stored else None,
            variant_id=stored.variant_ids[key.variant] if stored else None,
            test_case_id=stored.test_ids[key.test] if stored and key.test is not None else None,
            repeat_index=key.repeat,
        )
        sink = None if on_event is None else (lambda event: on_event(key, event))
        try:
            if item.request.tools:  # each call answered by its tool's mock
                steps = item.cell.variant.template.max_tool_steps
                outcome = run_tool_conversation(self.runner, item.request, steps, token, ref=ref,
                                                on_event=sink)
            else:
                outcome = self.runner.execute(item.request, token, ref=ref, on_event=sink)
        except KnownError as err:  # e.g. a backend that cannot be opened
            return CellOutcome(key, None, str(err))
        return CellOutcome(key, outcome)


def _lane_of(item: PlannedCell) -> str:
    return item.request.backend if item.request is not None else ""
