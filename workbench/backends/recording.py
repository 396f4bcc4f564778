"""Timing and text bookkeeping for one run, and the terminal events built from it.

Every streaming backend needs the same arithmetic: time to first token from the moment the request
is sent, total time, tokens/s over the generation after the first token, and a result that keeps
whatever text arrived before a failure or a cancel.
"""

from __future__ import annotations

import time
from abc import abstractmethod
from collections.abc import Callable, Generator, Iterator
from typing import Generic, TypeVar

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
)
from workbench.backends.credentials import redact
from workbench.core.errors import KnownError
from workbench.core.logprobs import TokenLogprob
from workbench.core.models import FinishReason, RunRequest, RunResult, SentRequest, Timings, Usage
from workbench.core.outcome import unsent
from workbench.core.tools import ToolCall

Plan = TypeVar("Plan")


class RunCancelled(Exception):
    """The CancelToken fired; :func:`run_stream` turns this into the ``Cancelled`` event."""


class RunRecorder:
    """Create it right before sending; feed it text; ask it for the one terminal event."""

    __slots__ = (
        "_calls", "_parts", "_start", "_thought", "_tokens", "_ttft", "load_s", "request", "usage"
    )

    def __init__(self, request: SentRequest) -> None:
        self.request = request
        self.usage = Usage()
        #: Model loading the server reported apart from generation (Ollama's load_duration).
        self.load_s: float | None = None
        self._parts: list[str] = []
        self._thought: list[str] = []
        self._start = time.perf_counter()
        self._ttft: float | None = None
        self._tokens: list[TokenLogprob] = []
        self._calls: dict[int, list[str]] = {}  # index -> [id, name, arguments so far]

    def text(self, piece: str) -> TextDelta:
        if self._ttft is None:
            self._ttft = time.perf_counter() - self._start
        self._parts.append(piece)
        return TextDelta(piece)  # positional: a keyword costs more, once per token

    def reasoning(self, piece: str) -> ReasoningDelta:
        """A piece of the model's reasoning: kept apart from the answer; it starts the clock
        of the first token like text does (the model is generating)."""
        if self._ttft is None:
            self._ttft = time.perf_counter() - self._start
        self._thought.append(piece)
        return ReasoningDelta(piece)

    def whole(self, text: str) -> TextDelta:
        """A non-streamed answer: all text at once, so there is no time to first token."""
        self._parts.append(text)
        return TextDelta(text=text)

    def logprobs(self, tokens: tuple[TokenLogprob, ...]) -> TokenLogprobs:
        """The event for tokens' log-probabilities, kept for the result too."""
        self._tokens.extend(tokens)
        return TokenLogprobs(tokens)

    def tool_call(self, index: int, call_id: str, name: str, arguments: str) -> ToolCallDelta:
        """A piece of tool call ``index``: the first sets its id and name (later pieces may
        leave them empty), every piece adds to its arguments."""
        if self._ttft is None:
            self._ttft = time.perf_counter() - self._start
        call = self._calls.setdefault(index, ["", "", ""])
        call[0] = call[0] or call_id
        call[1] = call[1] or name
        call[2] += arguments
        return ToolCallDelta(index, call_id, name, arguments)

    @property
    def called(self) -> bool:
        """Whether any tool call arrived."""
        return bool(self._calls)

    @property
    def calls(self) -> int:
        """How many tool calls arrived so far."""
        return len(self._calls)

    @property
    def thought(self) -> bool:
        """Whether any reasoning arrived."""
        return bool(self._thought)

    @property
    def chars(self) -> int:
        return sum(map(len, self._parts))

    def finished(self, finish_reason: FinishReason) -> Finished:
        return Finished(result=self._result(finish_reason))

    def failed(self, error: KnownError) -> Failed:
        result = self._result("error")
        result.error = redact(str(error))
        result.error_kind = error.code
        return Failed(result=result)

    def cancelled(self) -> Cancelled:
        return Cancelled(result=self._result("cancelled"))

    def _result(self, finish_reason: FinishReason) -> RunResult:
        total = time.perf_counter() - self._start
        rate = None
        out = self.usage.output_tokens
        if out and finish_reason != "error":
            if self._ttft is None:
                rate = out / total
            elif out > 1 and total > self._ttft:
                # Tokens after the first over the time after the first: the decode rate, not
                # diluted by queueing and prompt processing (those are in ttft_s).
                rate = (out - 1) / (total - self._ttft)
        return RunResult(
            request=self.request,
            text="".join(self._parts),
            reasoning="".join(self._thought),
            finish_reason=finish_reason,
            usage=self.usage,
            timings=Timings(
                load_s=self.load_s, ttft_s=self._ttft, total_s=total, tokens_per_s=rate
            ),
            logprobs=self._tokens or None,
            tool_calls=[
                ToolCall(id=c[0] or f"call_{i}", name=c[1], arguments=c[2])
                for i, c in sorted(self._calls.items())
            ],
        )


def run_stream(
    backend: str,
    request: RunRequest,
    cancel: CancelToken,
    prepare: Callable[[], tuple[SentRequest, Plan]],
    exchange: Callable[[Plan, RunRecorder], Generator[StreamEvent, None, FinishReason]],
) -> Iterator[StreamEvent]:
    """The skeleton of every remote backend's ``stream``: prepare what to send (a failure there
    ends the run before anything is sent), announce it, run the exchange, and end with exactly
    one terminal event. ``exchange`` yields deltas and usage and returns the finish reason."""
    try:
        sent, plan = prepare()
    except KnownError as err:
        yield RunRecorder(unsent(request, backend=backend)).failed(err)
        return
    yield Started(request=sent)
    recorder = RunRecorder(sent)
    try:
        if cancel.cancelled:
            raise RunCancelled
        finish = yield from exchange(plan, recorder)
    except RunCancelled:
        yield recorder.cancelled()
        return
    except KnownError as err:
        # A failure after a cancel is the cancel's effect (a shut socket, a stream cut short).
        yield recorder.cancelled() if cancel.cancelled else recorder.failed(err)
        return
    yield recorder.finished(finish)


def answered_apart(
    sent: SentRequest,
    read: Callable[[RunRecorder], Generator[StreamEvent, None, FinishReason]],
) -> RunResult:
    """A whole answer that arrived apart from a live run (a line of a provider's batch
    results) as that run's result: ``read`` is the backend's own reader of a non-streamed
    answer, fed to a recorder; an unreadable answer is a failed result. It has no timings: it
    was not timed here."""
    recorder = RunRecorder(sent)
    events = read(recorder)
    try:
        while True:
            next(events)
    except StopIteration as done:
        result = recorder.finished(done.value).result
    except KnownError as err:
        result = recorder.failed(err).result
    return result.model_copy(update={"timings": Timings()})


class PlannedBackend(Backend, Generic[Plan]):
    """A remote backend whose ``stream`` is :func:`run_stream` over its own two steps."""

    def stream(self, request: RunRequest, cancel: CancelToken) -> Iterator[StreamEvent]:
        def exchange(
            plan: Plan, recorder: RunRecorder
        ) -> Generator[StreamEvent, None, FinishReason]:
            return self._exchange(plan, recorder, cancel)

        return run_stream(self.id, request, cancel, lambda: self._prepare(request), exchange)

    @abstractmethod
    def _prepare(self, request: RunRequest) -> tuple[SentRequest, Plan]:
        """What will be sent (recorded with the result) and what the exchange needs to send it;
        a :class:`KnownError` here fails the run before anything is sent."""

    @abstractmethod
    def _exchange(
        self, plan: Plan, recorder: RunRecorder, cancel: CancelToken
    ) -> Generator[StreamEvent, None, FinishReason]:
        """Send the plan; yield deltas and usage through ``recorder``; return the finish reason."""
