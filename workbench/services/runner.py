"""Running prompts: render, choose parameters, stream through a backend under its limits, price
the result and persist it.

The GUI workers, the CLI and the grid runner all go through ``Runner.execute`` so every run is
limited, priced and saved the same way. Events reach the caller through a callback on the thread
that runs the request (a worker thread in the GUI); nothing here knows about Qt.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence

from workbench.backends.base import (
    TERMINAL,
    Backend,
    Cancelled,
    CancelToken,
    Failed,
    Finished,
    ReasoningDelta,
    Started,
    StreamEvent,
    TextDelta,
)
from workbench.backends.config import BackendConfig, open_backend
from workbench.backends.limits import LimitCancelled, Limits, RequestLimiter
from workbench.backends.registry import Registry
from workbench.core import paths
from workbench.core.conversation import Turn, is_rendered_chat, render_messages, uses_conversation
from workbench.core.errors import ParameterError
from workbench.core.model_table import NO_CHARGE, ModelTable, Price, cost_of, load_model_table
from workbench.core.models import Params, PromptTemplate, RunRequest, RunResult, SentRequest
from workbench.core.outcome import RunOutcome, Transcript, unsent
from workbench.core.params import Preset, load_presets
from workbench.core.templates import render, render_completion
from workbench.services.pace import PaceBook
from workbench.storage.repositories import RunRef
from workbench.storage.writer import StoreWriter

EventSink = Callable[[StreamEvent], None]

log = logging.getLogger(__name__)


def presets() -> dict[str, Preset]:
    """Built-in presets, then the user's."""
    return load_presets(paths.resources_dir() / "presets.yaml", paths.config_dir() / "presets")


def choose_params(template: PromptTemplate, preset: str | None, overrides: Params) -> Params:
    """The template's parameters, then the preset's, then explicit values, later winning."""
    params = template.parameters
    if preset:
        known = presets()
        match = known.get(preset) or next(
            (p for name, p in known.items() if name.lower() == preset.lower()), None
        )
        if match is None:
            raise ParameterError(f"no preset named '{preset}'", hint=f"one of {', '.join(known)}")
        params = params.merged(match.params)
    return params.merged(overrides)


def build_request(
    template: PromptTemplate,
    values: Mapping[str, str],
    *,
    backend: str,
    model: str = "",
    params: Params | None = None,
    history: Sequence[Turn] = (),
) -> RunRequest:
    """Render ``template`` into the request a backend will run (``history``: the earlier turns
    of its ``_conversation`` thread)."""
    params = params if params is not None else template.parameters
    fmt = template.response_format_request()
    if template.mode == "chat" and (is_rendered_chat(template) or uses_conversation(template)):
        messages = render_messages(template, values, history)
    elif template.mode == "completion":
        return RunRequest(backend=backend, model=model, prompt=render_completion(template, values),
                          params=params, response_format=fmt)
    else:
        messages = render(template, values)
    return RunRequest(backend=backend, model=model, messages=messages, params=params,
                      response_format=fmt, tools=template.tools, tool_choice=template.tool_choice)


class PriceTable:
    """The model table runs are priced with, checked for edits at most every ``recheck_s``.

    ``load_model_table`` re-reads the YAML only when a file changed, but finding out costs three
    ``stat`` calls, and in a sweep each one hands the GIL to another thread and waits to get it
    back (3,000 per 1,000-call sweep). The lock also makes the first runs of a sweep, which
    finish together, read the YAML once instead of once each."""

    def __init__(self, recheck_s: float = 1.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.recheck_s = recheck_s
        self._clock = clock
        self._lock = threading.Lock()
        self._table: ModelTable | None = None
        self._checked = 0.0

    def get(self) -> ModelTable:
        with self._lock:
            now = self._clock()
            if self._table is None or now - self._checked >= self.recheck_s:
                self._table = load_model_table()
                self._checked = now
            return self._table


def _with_cost(
    result: RunResult,
    prices: PriceTable | None = None,
    *,
    local: bool = False,
    factor: float = 1.0,
) -> RunResult:
    """The result priced at list price (times ``factor``: a provider batch's discount) when
    the model and both token counts are known (at nothing when the model ran on this
    computer)."""
    usage = result.usage
    if result.cost is not None or usage.input_tokens is None or usage.output_tokens is None:
        return result
    if local:
        price: Price | None = NO_CHARGE
    else:
        info = (prices.get() if prices is not None else load_model_table()).lookup(
            result.request.model
        )
        price = info.price if info else None
    cost = cost_of(
        price, usage.input_tokens, usage.output_tokens, reasoning_tokens=usage.reasoning_tokens or 0
    )
    return result.model_copy(update={"cost": cost.total * factor}) if cost else result


class Runner:
    """Opens backends once and runs requests on them, each under its backend's limiter."""

    def __init__(
        self,
        *,
        writer: StoreWriter | None = None,
        registry: Registry | None = None,
        configs: dict[str, BackendConfig] | None = None,
        limits: Limits | None = None,
        pace: PaceBook | None = None,
    ) -> None:
        self.writer = writer
        self.limits = limits if limits is not None else Limits()
        self.pace = pace if pace is not None else PaceBook()
        self._registry = registry
        self._configs = configs
        self._backends: dict[str, Backend] = {}
        self._lock = threading.Lock()
        self.prices = PriceTable()

    @property
    def configs(self) -> dict[str, BackendConfig] | None:
        """The backend settings this runner was given (None: the saved ones)."""
        return self._configs

    def backend(self, name: str) -> Backend:
        """The open backend ``name`` (a configured name or a backend id), opened on first use and
        kept, so a local model is loaded once."""
        with self._lock:
            backend = self._backends.get(name)
            if backend is None:
                backend = open_backend(name, registry=self._registry, configs=self._configs)
                self._backends[name] = backend
            return backend

    def limiter(self, name: str) -> RequestLimiter:
        """Backend ``name``'s shared limiter, starting where its last run left it (opens the
        backend; a server on this machine is asked what it takes: not on the GUI thread)."""
        backend = self.backend(name)
        return self.limits.for_backend(
            name, backend.options, backend.runs_locally, self.pace.last_reached(name)
        )

    def forget(self, name: str) -> None:
        """Close backend ``name`` so its next use reopens it with fresh settings."""
        with self._lock:
            backend = self._backends.pop(name, None)
        if backend is not None:
            backend.close()

    def execute(
        self,
        request: RunRequest,
        cancel: CancelToken | None = None,
        *,
        ref: RunRef | None = None,
        on_event: EventSink | None = None,
        transcript: Transcript | None = None,
        keep: bool = True,
    ) -> RunOutcome:
        """Run ``request`` to its end: every event goes to ``on_event``; the terminal result is
        priced and committed to the store before it is delivered. ``transcript`` (the caller's,
        to keep what arrived if this raises) is filled as the stream goes. Without ``keep`` the
        run is not stored (one call of a conversation, which stores the whole of it once)."""
        cancel = cancel or CancelToken()
        backend = self.backend(request.backend)
        limiter = self.limiter(request.backend)
        sent = _unsent(request, backend)  # until the backend says what it sent
        transcript = transcript or Transcript(sent)
        transcript.sent = sent
        try:
            with limiter.slot(cancel) as lease:
                began = time.perf_counter()
                terminal = drive(backend, request, cancel, on_event, transcript)
                if isinstance(terminal, Finished):
                    lease.succeeded()
                    # the seconds it held a place: away, refused, it held none (nor will the
                    # estimate's wall time count it: calls x seconds / concurrency)
                    took = time.perf_counter() - began - lease.away_s
                    self.pace.record(request.backend, request.model, took)
                elif isinstance(terminal, Failed):
                    lease.failed(terminal.result.error_kind)
        except LimitCancelled:
            terminal = Cancelled(result=transcript.ended("cancelled"))
        result = _with_cost(terminal.result, self.prices, local=backend.runs_locally)
        result.request = result.request.model_copy(
            update={"requested_params": request.params, "backend_name": request.backend}
        )
        ref = ref or RunRef()
        writer = self.writer if keep else None
        run_id = writer.add_run(result, ref).result() if writer is not None else None
        if on_event is not None:
            on_event(type(terminal)(result=result))
        return RunOutcome(result, run_id)

    def priced(self, result: RunResult, backend: str, *, factor: float = 1.0) -> RunResult:
        """A result that did not come through ``execute`` (a provider batch's answer, at
        ``factor`` of the list price) priced as ``execute`` prices one of ``backend``."""
        return _with_cost(
            result, self.prices, local=self.backend(backend).runs_locally, factor=factor
        )

    def close(self) -> None:
        """Close the backends; keep what was measured of their pace for the next estimate."""
        with self._lock:
            opened, self._backends = self._backends, {}
        self.pace.note_limits(self.limits, opened)
        self.pace.save()
        for backend in opened.values():
            backend.close()


def drive(
    backend: Backend,
    request: RunRequest,
    cancel: CancelToken,
    on_event: EventSink | None = None,
    transcript: Transcript | None = None,
) -> Finished | Failed | Cancelled:
    """Run ``backend``'s stream to its terminal event, forwarding every other event.

    The runner, not the backend, decides how a run ends: once a cancel was requested, any failure
    reported or raised after it ends the run ``cancelled`` with the text received so far. Stopping
    a stream is what makes it fail (a socket shut under a read, a server that ends its stream
    early on the same Ctrl+C), so those failures are the cancel's effect, not the server's fault.
    A ``Finished`` still wins: its answer arrived whole. A backend that keeps streaming after a
    cancel is stopped here too: its stream is closed. What was sent and received so far is
    kept in ``transcript`` (the caller's, when it wants it after a raise).
    """
    sent = _unsent(request, backend)
    transcript = transcript or Transcript(sent)
    transcript.sent = sent
    events = backend.stream(request, cancel)
    try:
        for event in events:
            if isinstance(event, TERMINAL):
                if cancel.cancelled and not isinstance(event, Finished):
                    return _as_cancelled(transcript, event.result)
                return event
            if isinstance(event, Started):
                transcript.sent = event.request
            elif isinstance(event, TextDelta):
                if cancel.cancelled:
                    return _as_cancelled(transcript)
                transcript.add(event.text)
            elif isinstance(event, ReasoningDelta):
                if cancel.cancelled:
                    return _as_cancelled(transcript)
                transcript.add_reasoning(event.text)
            if on_event is not None:
                on_event(event)
    except Exception:
        if not cancel.cancelled:
            raise
        log.warning("backend %s raised after a cancel", backend.id, exc_info=True)
        return _as_cancelled(transcript)
    finally:
        close = getattr(events, "close", None)
        if close is not None:
            close()
    if cancel.cancelled:
        return _as_cancelled(transcript)
    raise RuntimeError(f"backend {backend.id} ended its stream without a terminal event")


def _as_cancelled(transcript: Transcript, result: RunResult | None = None) -> Cancelled:
    """A cancelled run (``result`` made one when the backend reported it): no error, and the
    text the runner forwarded, which is what the person saw (a backend's own copy can lag a
    delta behind it); the backend's text only when nothing was forwarded."""
    result = result or transcript.ended("cancelled")
    return Cancelled(
        result=result.model_copy(
            update={
                "finish_reason": "cancelled",
                "error": None,
                "error_kind": None,
                "text": transcript.text or result.text,
                "reasoning": transcript.reasoning or result.reasoning,
            }
        )
    )


def _unsent(request: RunRequest, backend: Backend) -> SentRequest:
    """What ``backend`` would have been sent (see ``core.outcome.unsent``)."""
    return unsent(request, backend=backend.id, version=backend.version())


__all__ = ["RunOutcome", "Runner", "Transcript", "build_request", "choose_params", "drive"]
