"""How a run ended, as one value that travels from the runner to every view.

The runner decides a run's end once; the GUI worker's signals, the compare columns, the output
view, the grid runner, evaluation and the CLI all receive a ``RunOutcome`` and read its
``status`` and ``run_id`` instead of re-deciding the state from ``finish_reason`` and ``error``
or fetching the stored id through a side channel.

``Transcript`` is the one place a run's streamed text is accumulated (in the thread that runs
it), and ``unsent`` the one builder of the request a run records when it ended before its
backend said what it sent.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from workbench.core.models import FinishReason, RunRequest, RunResult, SentRequest

RunStatus = Literal["ok", "error", "cancelled"]


def status_of(result: RunResult) -> RunStatus:
    """A result's end state: cancelled, failed (an error finish or an error message), or ok."""
    if result.finish_reason == "cancelled":
        return "cancelled"
    if result.finish_reason == "error" or result.error is not None:
        return "error"
    return "ok"


def unsent(
    request: RunRequest | None, *, backend: str, model: str = "", version: str = ""
) -> SentRequest:
    """What would have been sent: recorded by a run that ended before its backend reported the
    request it actually sent (cancelled while queued, a backend that could not be opened; with
    ``request`` None, a template that did not render, so only ``backend`` and ``model`` are
    known)."""
    if request is None:
        return SentRequest(backend=backend, backend_version=version, model=model)
    return SentRequest(
        backend=backend,
        backend_version=version,
        model=request.model,
        messages=request.messages,
        prompt=request.prompt,
        seed=request.params.seed,
    )


class Transcript:
    """What a run has sent and received so far. Filled by the runner as the stream goes, so a
    run that ends early (cancelled, failed, a bug) keeps its text without anyone else
    accumulating it again. Used by one thread at a time."""

    def __init__(self, sent: SentRequest) -> None:
        self.sent = sent
        self._parts: list[str] = []
        self._thought: list[str] = []

    def add(self, text: str) -> None:
        self._parts.append(text)

    def add_reasoning(self, text: str) -> None:
        self._thought.append(text)

    @property
    def text(self) -> str:
        return "".join(self._parts)

    @property
    def reasoning(self) -> str:
        return "".join(self._thought)

    def ended(self, finish_reason: FinishReason, **extra: Any) -> RunResult:
        """The run as it stands, ended with ``finish_reason`` (``extra``: error, timings…)."""
        return RunResult(request=self.sent, text=self.text, reasoning=self.reasoning,
                         finish_reason=finish_reason, **extra)


@dataclass(frozen=True)
class RunOutcome:
    """A run's end: its result (the stored request, text, usage, timings, error and its code)
    and the id it was saved under (None when nothing was saved)."""

    result: RunResult
    run_id: str | None = None

    @property
    def status(self) -> RunStatus:
        return status_of(self.result)

    @property
    def text(self) -> str:
        return self.result.text

    @property
    def request(self) -> SentRequest:
        return self.result.request

    @property
    def error_code(self) -> str | None:
        return self.result.error_kind
