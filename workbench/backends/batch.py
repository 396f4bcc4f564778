"""Provider batch APIs: many requests sent as one job, answered within a window, at a discount.

A sweep or evaluation too large to wait for can go through a provider's batch API instead of
live calls (OpenAI's Batch API, Anthropic's Message Batches, Bedrock batch inference): about
half the price, answers within the provider's completion window (24 h). ``services.batch``
drives a job (plans the cells, submits, polls, lands each answer as an ordinary run of its cell,
re-runs failed cells live); the job itself lives in the experiment's database
(``storage.repositories.batch_jobs``), so it survives restarts. This module is the contract
between that service and one provider.

How a provider plugs in:

1. Write a class satisfying :class:`BatchProvider` in ``backends/batch_<provider>.py``, built
   over an open backend of the kind it serves (its options, keyring credentials, ``HttpClient``
   and redaction: never a second copy of the request building; ``line_for`` asks the live
   backend for the body it would send, so a batch line and a live call are the same request).
2. Give the module a ``provider_for(backend) -> BatchProvider`` function and name it in
   ``_PROVIDERS`` below under the backend's ``id``; :func:`batch_provider` imports it lazily.
3. Map the provider's states onto :data:`BatchState` (the names are OpenAI's, the richest set):
   ``poll`` may be called at any interval, any number of times, also after the batch ended.
4. ``results`` is called once a poll says the batch ended (any of :data:`ENDED`; an expired or
   cancelled batch still delivers what was done), may be called again after a restart, and
   yields one :class:`BatchItem` per line the provider reports: answered lines as finished
   ``RunResult``s, failed, expired or cancelled lines as failed ones (``error``, ``error_kind``),
   built with the ``SentRequest`` recorded for the line. Lines the provider says nothing about
   are the service's business (listed as missing, re-runnable live).
5. ``submit`` creates a paid batch, so its create call is never retried on a failure after the
   request may have reached the provider (a 5xx — a proxy's 502 may come after the batch was
   created —, a timeout, a connection dropped after sending, an answer without the batch's
   id): it raises ``UnconfirmedError`` instead (``HttpClient``'s ``once``). What cannot have
   created anything (no connection, a 4xx refusal, a 429) is retried or reported as any call.
   ``find`` then looks for the batch these lines may have become, from the provider's list;
   ``services.batch`` adopts a single match and otherwise records the part as unknown, for the
   person to check ``console`` before anything is sent again.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal, Protocol

from workbench.backends.base import Backend, CancelToken
from workbench.core.errors import KnownError
from workbench.core.models import RunRequest, RunResult, SentRequest

#: Where a remote batch is (OpenAI's names; other providers map theirs onto these).
BatchState = Literal[
    "validating",
    "in_progress",
    "finalizing",
    "completed",
    "failed",
    "expired",
    "cancelling",
    "cancelled",
]
BATCH_STATES: tuple[BatchState, ...] = (
    "validating",
    "in_progress",
    "finalizing",
    "completed",
    "failed",
    "expired",
    "cancelling",
    "cancelled",
)
#: States after which nothing more will be answered (results can be fetched).
ENDED: frozenset[BatchState] = frozenset({"completed", "failed", "expired", "cancelled"})
#: ``RunResult.error_kind`` of a line the provider did not answer before the window closed, or
#: because the batch was cancelled (a failure that re-running live may well fix).
EXPIRED_KIND = "batch_expired"
CANCELLED_KIND = "batch_cancelled"
#: How far the provider's clock may be behind ours when ``find`` compares creation times.
CLOCK_MARGIN = timedelta(minutes=5)


class BatchUnsupported(KnownError):
    """The backend's provider has no batch API here."""


class BatchUnconfirmed(KnownError):
    """A job has a batch whose create could not be confirmed (``job_ids``): it may be at the
    provider, so it is sent again only once the person checked. ``hint`` says how in a
    terminal; the app points to its Batch jobs window instead (``ui.batch_rows``)."""

    def __init__(self, message: str, job_ids: Sequence[str]) -> None:
        self.job_ids = tuple(job_ids)
        one = self.job_ids[0][:8] if len(self.job_ids) == 1 else "JOB"
        super().__init__(message, hint=resend_hint(one))


def resend_hint(job: str) -> str:
    """What a terminal does about a batch of unknown outcome of ``job``."""
    return (f"once checked, 'workbench batch resend {job}' sends it again; "
            f"'workbench batch cancel {job}' gives it up")


@dataclass(frozen=True)
class BatchLine:
    """One request of a batch: its id (unique in the job), the provider's line as JSON, and the
    ``SentRequest`` a live call of the same request records (kept for the result)."""

    custom_id: str
    line: dict[str, Any]
    sent: SentRequest


@dataclass(frozen=True)
class RemoteBatch:
    """A submitted batch as the provider knows it: its id, the uploaded input's id (if the
    provider takes a file), and anything else it needs later (``extra``, saved as JSON)."""

    batch_id: str
    input_file_id: str = ""
    extra: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class BatchPoll:
    """A batch's state and the provider's counts of its lines (``message``: why it failed)."""

    state: BatchState
    total: int = 0
    succeeded: int = 0
    failed: int = 0
    message: str = ""

    @property
    def ended(self) -> bool:
        return self.state in ENDED


@dataclass(frozen=True)
class BatchItem:
    """One line's outcome: a finished run, or a failed one (``result.error`` says why)."""

    custom_id: str
    result: RunResult


class BatchProvider(Protocol):
    """One provider's batch API over one configured backend."""

    #: Short name stored with a job ("openai", "anthropic", "bedrock").
    name: str
    #: How long the provider may take, as it says it ("24h").
    completion_window: str
    #: Batch price as a fraction of the list price (0.5: half); see ``core.model_table``.
    discount: float
    #: The most lines one remote batch takes; larger jobs are split into several batches.
    max_lines: int
    #: The fewest lines one remote batch takes (Bedrock: 100); a smaller part is refused.
    min_lines: int

    def line_for(self, custom_id: str, request: RunRequest) -> BatchLine:
        """The batch line of ``request``, built by the live backend's own request code; a
        ``KnownError`` if it cannot be sent (missing key, unsupported setting)."""
        ...

    def submit(self, lines: Sequence[BatchLine], cancel: CancelToken) -> RemoteBatch:
        """Upload ``lines`` and create one batch of them; ``UnconfirmedError`` when the
        create failed after it may have reached the provider (never retried)."""
        ...

    def find(self, lines: Sequence[BatchLine], since: datetime) -> list[RemoteBatch]:
        """Batches at the provider that ``lines`` may have become, created at or after
        ``since`` (or still running): what an unconfirmed create or a process that ended before
        recording the batch left."""
        ...

    #: Where a person sees the provider's batches (a console page, the API's list), named
    #: when a create's outcome is unknown.
    @property
    def console(self) -> str: ...

    def poll(self, batch: RemoteBatch) -> BatchPoll:
        """The batch's current state and counts."""
        ...

    def results(
        self, batch: RemoteBatch, sent: Mapping[str, SentRequest]
    ) -> Iterator[BatchItem]:
        """Every line the provider reports for an ended batch, as it is read (``sent``: the
        recorded ``SentRequest`` per custom_id)."""
        ...

    def cancel(self, batch: RemoteBatch) -> BatchPoll:
        """Ask the provider to stop the batch; lines done so far are still delivered."""
        ...


#: Backend id -> module with ``provider_for(backend)``; imported on first use.
_PROVIDERS: dict[str, str] = {
    "anthropic": "workbench.backends.batch_anthropic",
    "bedrock": "workbench.backends.batch_bedrock",
    "openai_compat": "workbench.backends.batch_openai",
}


def batch_provider(backend: Backend) -> BatchProvider:
    """The batch API of ``backend``'s provider; ``BatchUnsupported`` if it has none."""
    module = _PROVIDERS.get(backend.id)
    if module is None:
        raise BatchUnsupported(
            f"{backend.display_name} has no batch API here",
            hint="batch jobs go through OpenAI's API (an openai_compat backend), Anthropic's "
            "(an anthropic backend) or Bedrock batch inference (a bedrock backend); run it "
            "live instead",
        )
    provider: BatchProvider = importlib.import_module(module).provider_for(backend)
    return provider


def supports_batch(backend: Backend) -> bool:
    """Whether :func:`batch_provider` has a provider for ``backend``'s kind."""
    return backend.id in _PROVIDERS


__all__ = [
    "BATCH_STATES",
    "CANCELLED_KIND",
    "CLOCK_MARGIN",
    "ENDED",
    "EXPIRED_KIND",
    "BatchItem",
    "BatchLine",
    "BatchPoll",
    "BatchProvider",
    "BatchState",
    "BatchUnconfirmed",
    "BatchUnsupported",
    "RemoteBatch",
    "batch_provider",
    "resend_hint",
    "supports_batch",
]
