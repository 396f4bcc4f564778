"""``scripted``: replays a script of text chunks, delays, errors and hangs.

For tests and demos of everything around a backend (runner, GUI workers, cancellation, error
display) without a model. It is registered like any backend but ``user_visible`` is False, so it is
never offered as a model in the product.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from workbench.backends.base import (
    Backend,
    BackendOptions,
    Cancelled,
    CancelToken,
    Failed,
    Finished,
    ModelInfo,
    ReasoningDelta,
    Started,
    StreamEvent,
    TextDelta,
    TokenLogprobs,
    ToolCallDelta,
    UsageUpdate,
)
from workbench.backends.think import ThinkSplitter
from workbench.core import errors
from workbench.core.logprobs import Alternative, TokenLogprob
from workbench.core.models import FinishReason, RunRequest, RunResult, SentRequest, Timings, Usage
from workbench.core.params import PARAM_NAMES, Capabilities
from workbench.core.tools import ToolCall

#: Error kinds a script may raise, by code: the BackendError family of core.errors.
ERROR_KINDS: dict[str, type[errors.BackendError]] = {
    cls.code: cls
    for cls in (
        errors.BackendError,
        errors.AuthError,
        errors.NotFoundError,
        errors.RateLimitError,
        errors.ServerError,
        errors.ConnectError,
        errors.BackendTimeoutError,
        errors.ProtocolError,
        errors.BadRequestError,
    )
}


class ScriptedCall(BaseModel):
    """A tool call a script makes; its arguments stream in ``pieces`` (default: one)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    arguments: str = "{}"
    id: str = ""  # default: call_<position>
    pieces: int = Field(default=1, ge=1, le=64)


class Step(BaseModel):
    """One step of a script: exactly one of text, delay_s, error, hang, or tool_call."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    text: str | None = None
    delay_s: float | None = Field(default=None, ge=0, le=3600)
    error: str | None = None
    error_kind: str = "BackendError"
    hang: bool = False  # wait until cancelled (then end Cancelled)
    tool_call: ScriptedCall | None = None  # a call of a tool (the run ends "tool_calls")
    #: With text: the text is one token the model was this sure of (its log-probability),
    #: streamed with these alternatives ((token, logprob) pairs), as with ``top_logprobs``.
    logprob: float | None = Field(default=None, le=0)
    top: tuple[tuple[str, float], ...] = ()

    def token(self) -> TokenLogprob:
        """The step's text as a scored token."""
        assert self.text is not None and self.logprob is not None
        top = tuple(Alternative(token, logprob) for token, logprob in self.top)
        return TokenLogprob(self.text, self.logprob, self.text.encode(), top)

    @model_validator(mode="after")
    def _one_action(self) -> Step:
        actions = [
            self.text is not None,
            self.delay_s is not None,
            self.error is not None,
            self.hang,
            self.tool_call is not None,
        ]
        if sum(actions) != 1:
            raise ValueError("a step has exactly one of text, delay_s, error, hang, tool_call")
        if self.error_kind not in ERROR_KINDS:
            raise ValueError(f"error_kind must be one of {', '.join(ERROR_KINDS)}")
        if (self.logprob is not None or self.top) and self.text is None:
            raise ValueError("only a text step has a logprob and alternatives")
        return self


class ScriptedOptions(BackendOptions):
    concurrency: int | None = Field(
        default=1,
        ge=1,
        le=64,
        description="Requests in flight at once (one by default: a script replays like a model "
        "running in this process)",
    )
    script: list[Step] = Field(
        default_factory=lambda: [Step(text="Hello from the scripted backend.")],
        description="Steps replayed for every run",
    )
    alternate: list[list[Step]] = Field(
        default_factory=list,
        description="When set, the n-th request with the same prompt replays alternate[n % len] "
        "instead of script: a model whose answer to one question changes between calls",
    )
    by_tool_results: list[list[Step]] = Field(
        default_factory=list,
        description="When set, a request carrying k tool results replays by_tool_results[k] "
        "(the last one beyond): a model that calls tools, reads their results and answers",
    )
    finish_reason: Literal["stop", "length"] = "stop"
    think_tags: bool = Field(
        default=False,
        description="Split a <think>…</think> block at the start of the text into reasoning, "
        "as the backends of local reasoning models do",
    )
    models: list[str] = Field(
        default_factory=lambda: ["scripted"], description="Model ids it reports"
    )


class ScriptedBackend(Backend):
    id = "scripted"
    display_name = "Scripted (tests and demos)"
    Options = ScriptedOptions
    options: ScriptedOptions
    user_visible = False

    def __init__(self, options: BackendOptions | None = None) -> None:
        super().__init__(options)
        self._lock = threading.Lock()
        self.requests: list[RunRequest] = []  # every request received, for assertions
        self._asked: dict[str, int] = {}  # prompt -> times asked (for ``alternate``)

    def capabilities(self) -> Capabilities:
        return Capabilities.supporting(*PARAM_NAMES).with_tools("scripted tool calls").with_vision(
            "images recorded with the request, not looked at"
        )

    def list_models(self) -> list[ModelInfo]:
        return [ModelInfo(id=m, description="scripted replies") for m in self.options.models]

    def version(self) -> str:
        return "scripted 1"

    def _script(self, request: RunRequest) -> list[Step]:
        """The steps for this request: by its tool results, ``alternate`` in turn per distinct
        prompt, else ``script`` (called under the lock)."""
        if self.options.by_tool_results:
            results = sum(m.role == "tool" for m in request.messages)
            turns = self.options.by_tool_results
            return turns[min(results, len(turns) - 1)]
        if not self.options.alternate:
            return self.options.script
        key = request.prompt or "\n".join(m.model_dump_json() for m in request.messages)
        asked = self._asked.get(key, 0)
        self._asked[key] = asked + 1
        return self.options.alternate[asked % len(self.options.alternate)]

    def stream(self, request: RunRequest, cancel: CancelToken) -> Iterator[StreamEvent]:
        with self._lock:
            self.requests.append(request)
            script = self._script(request)
        sent_params, ignored = self.capabilities().split(request.params)
        sent = SentRequest(
            backend=self.id,
            backend_version=self.version(),
            model=request.model or self.options.models[0],
            messages=request.messages,
            prompt=request.prompt,
            sent_params=sent_params,
            ignored_params=ignored,
            seed=request.params.seed,
            tools=[t.declaration() for t in request.tools],
            tool_choice=request.tool_choice,
        )
        yield Started(request=sent)
        start = time.perf_counter()
        first: float | None = None
        text: list[str] = []
        thought: list[str] = []
        calls: list[ToolCall] = []
        scored: list[TokenLogprob] = []
        splitter = ThinkSplitter() if self.options.think_tags else None

        def usage() -> Usage:
            # a step is a token; the reasoning ones are a part of the output, as providers count
            return Usage(output_tokens=len(text) + len(thought),
                         reasoning_tokens=len(thought) if splitter else None)

        def pieces(chunk: str) -> Iterator[StreamEvent]:
            for kind, piece in splitter.feed(chunk) if splitter else [("text", chunk)]:
                if kind == "reasoning":
                    thought.append(piece)
                    yield ReasoningDelta(piece)
                else:
                    text.append(piece)
                    yield TextDelta(piece)

        def result(finish: FinishReason, **extra: object) -> RunResult:
            now = time.perf_counter()
            return RunResult(
                request=sent,
                text="".join(text),
                reasoning="".join(thought),
                finish_reason=finish,
                usage=usage(),
                timings=Timings(
                    ttft_s=None if first is None else first - start, total_s=now - start
                ),
                tool_calls=list(calls),
                logprobs=list(scored) or None,
                **extra,
            )

        for step in script:
            if cancel.cancelled:
                yield Cancelled(result=result("cancelled"))
                return
            if step.text is not None:
                first = first if first is not None else time.perf_counter()
                yield from pieces(step.text)
                if step.logprob is not None:
                    scored.append(step.token())
                    yield TokenLogprobs((scored[-1],))
            elif step.tool_call is not None:
                first = first if first is not None else time.perf_counter()
                yield from _call(step.tool_call, calls)
            elif step.delay_s is not None:
                if cancel.wait(step.delay_s):
                    yield Cancelled(result=result("cancelled"))
                    return
            elif step.error is not None:
                err = ERROR_KINDS[step.error_kind](step.error)
                yield Failed(result=result("error", error=str(err), error_kind=err.code))
                return
            else:  # hang until cancelled
                while not cancel.wait(3600):
                    pass
                yield Cancelled(result=result("cancelled"))
                return
        if cancel.cancelled:
            yield Cancelled(result=result("cancelled"))
            return
        if splitter:
            for kind, piece in splitter.flush():
                (thought if kind == "reasoning" else text).append(piece)
                yield ReasoningDelta(piece) if kind == "reasoning" else TextDelta(piece)
        yield UsageUpdate(usage=usage())
        yield Finished(result=result("tool_calls" if calls else self.options.finish_reason))


def _call(step: ScriptedCall, calls: list[ToolCall]) -> Iterator[ToolCallDelta]:
    """A scripted call's deltas (its arguments cut into ``pieces``), added to ``calls``."""
    position = len(calls)
    call = ToolCall(id=step.id or f"call_{position}", name=step.name, arguments=step.arguments)
    size = -(-len(step.arguments) // step.pieces) or 1
    cuts = [step.arguments[i:i + size] for i in range(0, len(step.arguments), size)] or [""]
    for n, piece in enumerate(cuts):
        yield ToolCallDelta(position, call.id if n == 0 else "", call.name if n == 0 else "", piece)
    calls.append(call)
