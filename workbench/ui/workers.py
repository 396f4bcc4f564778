"""Running model calls and other long work off the GUI thread.

A ``RunWorker`` (a ``QRunnable``) drives one backend stream in a pool thread. Its ``RunSignals``
object lives in the GUI thread and re-emits everything there, so only plain Python objects cross
threads and receivers never need locks.

Text does not cross as one queued event per token: the worker appends deltas to an outbox and
posts a wake-up only when the outbox goes from empty to non-empty. The GUI drains everything
that accumulated in one go, so a model streaming at full speed costs the event loop one event per
loop turn, never thousands (views then coalesce further on their own 30–60 Hz timer).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from dataclasses import dataclass

from PySide6.QtCore import (
    QCoreApplication,
    QEvent,
    QObject,
    QRunnable,
    Qt,
    QThreadPool,
    Signal,
    Slot,
)

from workbench.backends.base import (
    Backend,
    Cancelled,
    CancelToken,
    Failed,
    Finished,
    ReasoningDelta,
    Started,
    StreamEvent,
    TextDelta,
    TokenLogprobs,
    ToolCallDelta,
    UsageUpdate,
)
from workbench.backends.limits import LimitCancelled, Limits, RequestLimiter
from workbench.core.errors import KnownError
from workbench.core.logprobs import TokenLogprob
from workbench.core.models import RunRequest, Timings
from workbench.core.outcome import RunOutcome, Transcript, unsent
from workbench.services.runner import Runner, drive
from workbench.storage.repositories import RunRef
from workbench.ui.background import INTERNAL_ERROR, Progress, estimate, report_bug

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ChunkBatch:
    """Text that arrived since the last batch, with live statistics measured in the worker.

    ``deltas`` count text events, which is close to (not exactly) the number of tokens;
    ``reasoning`` is what a reasoning model thought meanwhile, apart from the answer's text;
    ``tokens`` the log-probabilities of the answer's tokens that arrived meanwhile (runs with
    ``top_logprobs``), so the token inspector colours them as they stream.
    """

    text: str
    deltas: int
    total_deltas: int
    ttft_s: float | None  # first text after the request was sent
    elapsed_s: float  # from the request being sent to the newest text
    reasoning: str = ""
    total_reasoning_deltas: int = 0
    tokens: tuple[TokenLogprob, ...] = ()

    @property
    def deltas_per_s(self) -> float | None:
        """Live rate after the first delta (the first one's wait is TTFT, not throughput)."""
        if self.ttft_s is None or self.total_deltas < 2:
            return None
        span = self.elapsed_s - self.ttft_s
        return (self.total_deltas - 1) / span if span > 0 else None


#: Text events the GUI has not taken yet before the worker waits for it. Only a stream faster
#: than the GUI can drain (thousands of events a second) ever reaches it; the wait hands the
#: GIL to the GUI thread instead of starving it.
HIGH_WATER = 256


class _Outbox:
    """Deltas waiting for the GUI thread; ``put`` says when a wake-up must be posted."""

    def __init__(self, cancel: CancelToken) -> None:
        self._cancel = cancel
        self._lock = threading.Condition()
        self._parts: list[str] = []
        self._thought: list[str] = []
        self._tokens: list[TokenLogprob] = []
        self._deltas = 0
        self.total = 0
        self.total_reasoning = 0
        self.sent_at: float | None = None
        self.first_at: float | None = None
        self.last_at = 0.0

    def mark_sent(self) -> None:
        self.sent_at = time.perf_counter()

    def put(self, text: str, reasoning: bool = False) -> bool:
        now = time.perf_counter()
        with self._lock:
            empty = not (self._parts or self._thought or self._tokens)
            if self.sent_at is None:
                self.sent_at = now
            if self.first_at is None:
                self.first_at = now
            self.last_at = now
            if reasoning:
                self.total_reasoning += 1
                self._thought.append(text)
            else:
                self.total += 1
                self._deltas += 1
                self._parts.append(text)
            waiting = len(self._parts) + len(self._thought)
            while waiting >= HIGH_WATER and not self._cancel.cancelled:
                self._lock.wait(0.05)
                waiting = len(self._parts) + len(self._thought)
            return empty

    def put_tokens(self, tokens: tuple[TokenLogprob, ...]) -> bool:
        """Tokens' log-probabilities (they come beside their text, which paces the stream)."""
        with self._lock:
            empty = not (self._parts or self._thought or self._tokens)
            self._tokens.extend(tokens)
            return empty

    def take(self) -> ChunkBatch | None:
        with self._lock:
            if not (self._parts or self._thought or self._tokens):
                return None
            text, deltas = "".join(self._parts), self._deltas
            thought, tokens = "".join(self._thought), tuple(self._tokens)
            self._parts, self._thought, self._tokens, self._deltas = [], [], [], 0
            self._lock.notify_all()
            start = self.sent_at if self.sent_at is not None else self.last_at
            ttft = None if self.first_at is None else self.first_at - start
            return ChunkBatch(text, deltas, self.total, ttft, self.last_at - start, thought,
                              self.total_reasoning, tokens)


class RunSignals(QObject):
    """What a run reports, always emitted in the GUI thread.

    Exactly one of ``finished``, ``failed``, ``cancelled`` is emitted per run (as its
    ``RunOutcome``'s status says), followed by ``ended`` with the same outcome; every chunk is
    emitted before it. The outcome carries the stored run's id: views need no side channel.
    """

    started = Signal(object)  # SentRequest: exactly what was sent
    chunk = Signal(object)  # ChunkBatch
    usage = Signal(object)  # Usage
    tool_call = Signal(object)  # ToolCallDelta: a piece of a tool call, as it streams
    finished = Signal(object)  # RunOutcome
    failed = Signal(object)  # RunOutcome (its result's error and error_kind)
    cancelled = Signal(object)  # RunOutcome (the partial text)
    ended = Signal(object)  # RunOutcome, after any of the three above

    _posted = Signal(str, object)  # worker thread -> GUI thread

    def __init__(self, outbox: _Outbox) -> None:
        super().__init__()
        self._outbox = outbox
        self.outcome: RunOutcome | None = None
        self._posted.connect(self._dispatch, Qt.ConnectionType.QueuedConnection)

    def post(self, kind: str, payload: object = None) -> None:
        """Called from the worker thread."""
        self._posted.emit(kind, payload)

    @Slot(str, object)
    def _dispatch(self, kind: str, payload: object) -> None:
        if kind == "text":
            self._drain()
        elif kind == "started":
            self.started.emit(payload)
        elif kind == "usage":
            self.usage.emit(payload)
        elif kind == "tool_call":
            self._drain()  # the text before the call shows first
            self.tool_call.emit(payload)
        elif kind == "bug":
            assert isinstance(payload, BaseException)
            report_bug(payload)
        else:
            self._drain()
            assert isinstance(payload, RunOutcome)
            self.outcome = payload
            terminal = {"ok": self.finished, "error": self.failed,
                        "cancelled": self.cancelled}[payload.status]
            terminal.emit(payload)
            self.ended.emit(payload)

    def _drain(self) -> None:
        batch = self._outbox.take()
        if batch is not None:
            self.chunk.emit(batch)


EventSink = Callable[[StreamEvent], None]
#: Runs a request to its end, passing every event (the terminal one included) to the sink and
#: what was sent and received to the transcript, and returns the outcome. ``direct`` streams a
#: backend; ``through_runner`` goes through ``services.Runner`` (limits, cost, saved to history).
Execute = Callable[[RunRequest, CancelToken, EventSink, Transcript], RunOutcome]


def direct(backend: Backend, limiter: Callable[[], RequestLimiter] | None = None) -> Execute:
    """Stream ``backend`` in the calling thread, inside the slot of the limiter ``limiter``
    gives there (deciding it may ask a local server what it takes: not on the GUI thread);
    nothing saved."""

    def execute(request: RunRequest, cancel: CancelToken, on_event: EventSink,
                transcript: Transcript) -> RunOutcome:
        try:
            with limiter().slot(cancel) if limiter is not None else nullcontext():
                terminal: Finished | Failed | Cancelled = drive(
                    backend, request, cancel, on_event, transcript)
        except LimitCancelled:  # cancelled while queued, as Runner.execute says it
            terminal = Cancelled(result=transcript.ended("cancelled"))
        on_event(terminal)
        return RunOutcome(terminal.result)

    return execute


def through_runner(runner: Runner, ref: RunRef | None = None, tool_steps: int = 0) -> Execute:
    """Run through the services layer: the backend's limiter, the price, and the run saved to
    history (its id in the outcome) before its end is announced. With ``tool_steps``, a request
    with tools is a whole tool conversation answered by the tools' mocks, for up to that many
    model turns (compare: each column's way to its answer), stored as one run."""

    def execute(request: RunRequest, cancel: CancelToken, on_event: EventSink,
                transcript: Transcript) -> RunOutcome:
        if request.tools and tool_steps:
            from workbench.services.tool_steps import run_tool_conversation

            return run_tool_conversation(runner, request, tool_steps, cancel,
                                         ref=ref or RunRef(), on_event=on_event)
        return runner.execute(request, cancel, ref=ref or RunRef(), on_event=on_event,
                              transcript=transcript)

    return execute


class RunWorker(QRunnable):
    """One run in a pool thread; ``cancel()`` from any thread. Create it in the GUI thread."""

    def __init__(self, execute: Execute, request: RunRequest) -> None:
        super().__init__()
        self.setAutoDelete(False)  # the RunManager keeps it until its terminal signal arrived
        self.execute = execute
        self.request = request
        self.cancel_token = CancelToken()
        self._outbox = _Outbox(self.cancel_token)
        self.signals = RunSignals(self._outbox)
        # what was asked for, until the runner knows what it sends; the runner fills it
        self.transcript = Transcript(unsent(request, backend=request.backend))
        self._done = threading.Event()

    def cancel(self) -> None:
        self.cancel_token.cancel()

    @property
    def cancel_requested(self) -> bool:
        return self.cancel_token.cancelled

    def run(self) -> None:
        bug: Exception | None = None
        try:
            outcome = self.execute(self.request, self.cancel_token, self._on_event,
                                   self.transcript)
        except KnownError as err:  # the backend is not installed, its config, the store…
            outcome = self._failed(str(err), err.code)
        except Exception as err:  # a bug: the run ends, and the crash dialog says why
            backend = self.request.backend
            log.exception("run on backend %s raised instead of yielding Failed", backend)
            bug, outcome = err, self._failed(
                f"internal error running '{backend}': {type(err).__name__}: {err}", INTERNAL_ERROR
            )
        self.signals.post("ended", outcome)
        if bug is not None:
            self.signals.post("bug", bug)
        self._done.set()

    def wait(self, timeout_s: float) -> bool:
        """Block until ``run`` returned (or was never started: False at the timeout)."""
        return self._done.wait(timeout_s)

    def _on_event(self, event: StreamEvent) -> None:
        """Called in the worker thread for every event of the stream."""
        if isinstance(event, TextDelta | ReasoningDelta):
            if self.cancel_token.cancelled:
                return  # the runner stops a backend that keeps streaming; show nothing more
            if self._outbox.put(event.text, event.kind == "reasoning"):
                self.signals.post("text")
        elif isinstance(event, Started):
            self._outbox.mark_sent()
            self.signals.post("started", event.request)
        elif isinstance(event, TokenLogprobs):
            if not self.cancel_token.cancelled and self._outbox.put_tokens(event.tokens):
                self.signals.post("text")
        elif isinstance(event, UsageUpdate):
            self.signals.post("usage", event.usage)
        elif isinstance(event, ToolCallDelta) and not self.cancel_token.cancelled:
            self.signals.post("tool_call", event)

    def _failed(self, error: str, code: str) -> RunOutcome:
        """A run that raised instead of ending: failed, with what the runner's transcript holds
        (the text so far, what was sent), timed here."""
        out = self._outbox
        ttft = None if out.first_at is None or out.sent_at is None else out.first_at - out.sent_at
        total = None if out.sent_at is None else time.perf_counter() - out.sent_at
        return RunOutcome(
            self.transcript.ended("error", error=error, error_kind=code,
                                  timings=Timings(ttft_s=ttft, total_s=total))
        )


class RunManager(QObject):
    """Starts runs in its own thread pool, applies each backend's concurrency limit, and stops
    everything on quit."""

    activeChanged = Signal(int)  # runs not yet ended

    def __init__(self, parent: QObject | None = None, *, runner: Runner | None = None,
                 max_threads: int = 8) -> None:
        super().__init__(parent)
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(max_threads)
        self.runner = runner
        self.limits = runner.limits if runner is not None else Limits()
        self._active: list[RunWorker] = []

    def start(self, backend: Backend, request: RunRequest, *, name: str | None = None) -> RunWorker:
        """Stream ``backend`` directly (nothing saved); ``name`` is the configured backend name
        whose concurrency limit applies. Connect to ``worker.signals`` right away: nothing is
        emitted before the event loop runs again."""
        def limiter() -> RequestLimiter:
            key = name or backend.id
            # where the backend's last run left its limit, as a sweep's estimate says it starts
            learned = self.runner.pace.last_reached(key) if self.runner is not None else None
            return self.limits.for_backend(key, backend.options, backend.runs_locally, learned)

        return self.submit(RunWorker(direct(backend, limiter), request))

    def start_run(self, request: RunRequest, *, ref: RunRef | None = None) -> RunWorker:
        """Run through the ``services.Runner`` given at construction: limited, priced and saved
        to history, the way every run of the app goes."""
        if self.runner is None:
            raise RuntimeError("this RunManager was created without a Runner")
        return self.submit(RunWorker(through_runner(self.runner, ref), request))

    def submit(self, worker: RunWorker) -> RunWorker:
        worker.signals.ended.connect(lambda _outcome, w=worker: self._forget(w))
        self._active.append(worker)
        self.activeChanged.emit(len(self._active))
        self.pool.start(worker)
        return worker

    def _forget(self, worker: RunWorker) -> None:
        if worker in self._active:
            self._active.remove(worker)
            self.activeChanged.emit(len(self._active))

    def active(self) -> list[RunWorker]:
        return list(self._active)

    def cancel_all(self) -> None:
        for worker in self._active:
            worker.cancel()

    def shutdown(self, timeout_s: float = 5.0) -> bool:
        """Cancel every run and wait for the threads; False if one is still busy at the timeout
        (a backend stuck in a blocking call). Call on quit."""
        self.cancel_all()
        return self.pool.waitForDone(round(timeout_s * 1000))


def stop_and_deliver(workers: Sequence[RunWorker], timeout_s: float) -> bool:
    """Cancel ``workers`` and wait for them, ``timeout_s`` at most in all, then deliver what they
    posted at once: a closing view hears each run end while its widgets still exist. False if
    one was still running at the timeout."""
    for worker in workers:
        worker.cancel()
    deadline = time.perf_counter() + timeout_s
    stopped = [w.wait(max(0.0, deadline - time.perf_counter())) for w in workers]
    for worker in workers:
        QCoreApplication.sendPostedEvents(worker.signals, QEvent.Type.MetaCall)
    return all(stopped)


class RepeatRunner(QObject):
    """Runs one request ``count`` times, ``parallel`` at a time, with progress and time left.

    Cancelling stops the runs in flight and skips the rest; ``done`` then lists the results that
    exist (cancelled ones included), in run order.
    """

    runStarted = Signal(int, object)  # index, RunWorker
    runEnded = Signal(int, object)  # index, RunOutcome
    progress = Signal(object)  # Progress over the runs
    done = Signal(list)  # list[RunOutcome]

    def __init__(
        self,
        manager: RunManager,
        backend: Backend,
        request: RunRequest,
        count: int,
        *,
        parallel: int = 1,
        name: str | None = None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        if count < 1 or parallel < 1:
            raise ValueError("count and parallel must be at least 1")
        self.manager, self.backend, self.request = manager, backend, request
        self.count, self.parallel, self.name = count, parallel, name
        self.results: dict[int, RunOutcome] = {}
        self._workers: dict[int, RunWorker] = {}
        self._next = 0
        self._cancelled = False
        self._start = 0.0

    def start(self) -> None:
        self._start = time.perf_counter()
        self.progress.emit(estimate(0, self.count, 0.0))
        for _ in range(min(self.parallel, self.count)):
            self._launch()

    def cancel(self) -> None:
        self._cancelled = True
        for worker in list(self._workers.values()):
            worker.cancel()

    @property
    def finished_count(self) -> int:
        return len(self.results)

    def _launch(self) -> None:
        index = self._next
        self._next += 1
        worker = self.manager.start(self.backend, self.request, name=self.name)
        self._workers[index] = worker
        worker.signals.ended.connect(lambda outcome, i=index: self._ended(i, outcome))
        self.runStarted.emit(index, worker)

    def _ended(self, index: int, outcome: RunOutcome) -> None:
        self._workers.pop(index, None)
        self.results[index] = outcome
        self.runEnded.emit(index, outcome)
        elapsed = time.perf_counter() - self._start
        self.progress.emit(estimate(len(self.results), self.count, elapsed))
        if not self._cancelled and self._next < self.count:
            self._launch()
        elif not self._workers:
            self.done.emit([self.results[i] for i in sorted(self.results)])


__all__ = [
    "ChunkBatch",
    "Progress",
    "RepeatRunner",
    "RunManager",
    "RunSignals",
    "RunWorker",
    "stop_and_deliver",
]
