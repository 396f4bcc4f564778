"""The one contract every model backend implements.

A backend is a synchronous generator: ``stream(request, cancel)`` yields ``TextDelta``,
``ReasoningDelta``, ``TokenLogprobs``, ``ToolCallDelta`` and ``UsageUpdate`` events and ends with
exactly one terminal event (``Finished``, ``Failed`` or ``Cancelled``). Workers run it off the
GUI thread; there is no parallel async hierarchy.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from typing import ClassVar, Literal, NamedTuple

from pydantic import BaseModel, ConfigDict, Field

from workbench.core.logprobs import TokenLogprob
from workbench.core.models import RunRequest, RunResult, SentRequest, Timings, Usage
from workbench.core.params import Capabilities


class CancelToken:
    """Set from any thread; backends check it between chunks and close their stream at once."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self._lock = threading.Lock()
        self._callbacks: list[Callable[[], None]] = []
        #: True once cancelled. A plain attribute, not a property over the event: streams read
        #: it once per chunk, and two calls per read were a measurable share of a fast stream.
        self.cancelled = False

    def cancel(self) -> None:
        with self._lock:
            self.cancelled = True  # before the event, so a woken ``wait`` sees it
            self._event.set()
            callbacks, self._callbacks = self._callbacks, []
        for callback in callbacks:
            callback()

    def on_cancel(self, callback: Callable[[], None]) -> Callable[[], None]:
        """Call ``callback`` (from the cancelling thread) when cancelled, at once if already so.

        Lets a backend interrupt a blocking read instead of noticing only at the next chunk.
        Returns a function that unregisters it.
        """
        with self._lock:
            if not self._event.is_set():
                self._callbacks.append(callback)
                return lambda: self._forget(callback)
        callback()
        return lambda: None

    def _forget(self, callback: Callable[[], None]) -> None:
        with self._lock:
            if callback in self._callbacks:
                self._callbacks.remove(callback)

    def wait(self, seconds: float) -> bool:
        """Sleep up to ``seconds``; True as soon as cancelled (for backoff waits)."""
        return self._event.wait(seconds)


class _Event(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Started(_Event):
    """The request is about to be sent; carries exactly what is sent."""

    kind: Literal["started"] = "started"
    request: SentRequest


class TextDelta(NamedTuple):
    """A piece of the answer. A named tuple, not a pydantic model nor a frozen dataclass: one is
    made per token, and validating each cost 14–34 % of a fast local stream, a frozen dataclass's
    two ``object.__setattr__`` calls still ~2 % (bench/bench_http.py). Immutable all the same."""

    text: str
    kind: Literal["text"] = "text"


class ReasoningDelta(NamedTuple):
    """A piece of what a reasoning model thinks before it answers (OpenAI-compatible
    ``reasoning_content``, Anthropic's ``thinking_delta``, a local model's ``<think>`` block):
    kept apart from the answer, so assertions, judges and compare read only the answer."""

    text: str
    kind: Literal["reasoning"] = "reasoning"


class TokenLogprobs(NamedTuple):
    """Log-probabilities of the tokens just written (with ``top_logprobs`` set, on a backend
    whose capabilities support it), after or beside their ``TextDelta``. A named tuple for the
    same reason as ``TextDelta``: one comes per token."""

    tokens: tuple[TokenLogprob, ...]
    kind: Literal["logprobs"] = "logprobs"


class ToolCallDelta(NamedTuple):
    """A piece of a tool call the model is making: the first piece of call ``position`` (0 for
    a turn's first call) carries its ``id`` and ``name``, later ones only more of its JSON
    ``arguments`` text (providers stream arguments in fragments; joined per position they are
    the call's arguments)."""

    position: int
    id: str
    name: str
    arguments: str
    kind: Literal["tool_call"] = "tool_call"


class UsageUpdate(_Event):
    kind: Literal["usage"] = "usage"
    usage: Usage


class Finished(_Event):
    kind: Literal["finished"] = "finished"
    result: RunResult


class Failed(_Event):
    """The run failed; ``result.error`` says why and ``result.error_kind`` names the error class."""

    kind: Literal["failed"] = "failed"
    result: RunResult


class Cancelled(_Event):
    kind: Literal["cancelled"] = "cancelled"
    result: RunResult


StreamEvent = (
    Started
    | TextDelta
    | ReasoningDelta
    | TokenLogprobs
    | ToolCallDelta
    | UsageUpdate
    | Finished
    | Failed
    | Cancelled
)
TERMINAL = (Finished, Failed, Cancelled)


class BackendOptions(BaseModel):
    """Per-backend settings (base URL, model path, threads…); subclasses add fields with ranges
    and descriptions, from which the UI builds its forms. Never holds a secret in plain text."""

    model_config = ConfigDict(extra="forbid")

    concurrency: int | None = Field(
        default=None,
        ge=1,
        le=64,
        description="Requests in flight at once; unset: one for a model in this process, "
        "adaptive for a server (follows its 429/503 push-back, see backends.adaptive)",
    )
    requests_per_minute: int | None = Field(default=None, ge=1, description="Optional rate limit")


class ModelInfo(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    context_window: int | None = None
    description: str = ""


class Backend(ABC):
    """A configured model provider."""

    id: ClassVar[str]
    display_name: ClassVar[str]
    Options: ClassVar[type[BackendOptions]] = BackendOptions
    #: Listed to users as a model provider (the scripted test backend is not).
    user_visible: ClassVar[bool] = True
    #: The model runs on this computer, so its calls cost nothing (priced at ``NO_CHARGE``).
    runs_locally: ClassVar[bool] = False
    #: Takes ``RunRequest.continue_from``: continues an answer from a given beginning, token
    #: for token as if the model had written it (branching at a token needs this).
    continues_answers: ClassVar[bool] = False

    def __init__(self, options: BackendOptions | None = None) -> None:
        self.options = options if options is not None else self.Options()

    @abstractmethod
    def capabilities(self) -> Capabilities:
        """Which common parameters this backend honours, with their ranges."""

    def model_capabilities(self, model: str) -> Capabilities:
        """``capabilities()`` narrowed to ``model`` (empty: the backend's default), e.g. the
        reasoning settings only a reasoning model takes (``backends.reasoning``). May read the
        model's file or ask its server (cached): the GUI calls it off its thread."""
        del model  # most backends treat every model alike
        return self.capabilities()

    @abstractmethod
    def list_models(self) -> list[ModelInfo]:
        """Models this backend can run (may contact the server)."""

    @abstractmethod
    def stream(self, request: RunRequest, cancel: CancelToken) -> Iterator[StreamEvent]:
        """Run ``request``; yield deltas and exactly one terminal event. Never raises for a
        failure of the model call: that is a ``Failed`` event."""

    def version(self) -> str:
        """Version of the library or server behind this backend, recorded with each result."""
        return ""

    def default_max_tokens(self) -> int | None:
        """The answer length limit this backend sends for a run that sets no ``max_tokens``
        (None: it sends none, and the model's own limit is not known here). Estimates budget
        an unset limit with it."""
        return None

    def close(self) -> None:  # noqa: B027 - optional hook, most backends hold nothing
        """Release connections and loaded models."""


def run_to_result(
    backend: Backend, request: RunRequest, cancel: CancelToken | None = None
) -> RunResult:
    """Drain a stream and return its terminal result (for the CLI, services and tests)."""
    for event in backend.stream(request, cancel or CancelToken()):
        if isinstance(event, TERMINAL):
            return event.result
    raise RuntimeError(f"backend {backend.id} ended its stream without a terminal event")


__all__ = [
    "TERMINAL",
    "Backend",
    "BackendOptions",
    "CancelToken",
    "Cancelled",
    "Failed",
    "Finished",
    "ModelInfo",
    "ReasoningDelta",
    "Started",
    "StreamEvent",
    "TextDelta",
    "Timings",
    "TokenLogprobs",
    "ToolCallDelta",
    "UsageUpdate",
]
