"""Anthropic's Message Batches API as a :class:`~workbench.backends.batch.BatchProvider`.

A batch is ``POST /v1/messages/batches`` with ``requests: [{custom_id, params}]``, where each
``params`` is the body a live run sends (built by :class:`AnthropicBackend`, never copied here),
unstreamed. ``GET /v1/messages/batches/{id}`` reports ``processing_status`` (in_progress →
canceling → ended) and ``request_counts``; once ended, ``results_url`` serves JSONL, one
``{custom_id, result: {type: succeeded|errored|canceled|expired, message|error}}`` a line, read
and handed on line by line. ``POST …/cancel`` asks the batch to stop; what already finished is
still in the results. Batched calls cost half the list price and end within 24 hours.

The create is sent ``once`` (``backends.http``): a 5xx, a timeout or a dropped connection after
it was sent is an ``UnconfirmedError``, never a retry (a proxy's 502 may come after Anthropic
created the batch; a retry would create and bill a second one). A batch carries nothing of ours
to find it by, so :meth:`AnthropicBatches.find` lists the workspace's batches
(``GET /v1/messages/batches``, newest first, ``created_at`` and ``request_counts``) for those
created since the create was sent with as many requests as it had.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from workbench.backends.anthropic import AnthropicBackend, error_class
from workbench.backends.base import Backend, CancelToken
from workbench.backends.batch import (
    CANCELLED_KIND,
    EXPIRED_KIND,
    BatchItem,
    BatchLine,
    BatchPoll,
    BatchState,
    RemoteBatch,
)
from workbench.backends.credentials import redact
from workbench.backends.http import unconfirmed
from workbench.core.errors import ProtocolError
from workbench.core.models import RunRequest, RunResult, SentRequest

#: Anthropic's own limit on the requests of one batch (and 256 MB, which this many short
#: prompts stay under; a job with more is split into several batches).
MAX_REQUESTS = 100_000
_STATES = ("in_progress", "canceling", "ended")
#: Batches listed a page, and the most pages read looking for one (newest first).
_PAGE = 100
_PAGES = 10


class AnthropicBatches:
    """The Message Batches endpoints of the API ``backend`` is configured for (its base URL,
    key, ``anthropic-version`` and HTTP policy)."""

    name = "anthropic"
    completion_window = "24h"
    discount = 0.5
    max_lines = MAX_REQUESTS
    min_lines = 1

    def __init__(self, backend: AnthropicBackend) -> None:
        self.backend = backend
        self._root = f"{backend.options.base_url}/v1/messages/batches"

    def line_for(self, custom_id: str, request: RunRequest) -> BatchLine:
        sent, params = self.backend.batch_params(request)
        return BatchLine(custom_id, {"custom_id": custom_id, "params": params}, sent)

    def submit(self, lines: Sequence[BatchLine], cancel: CancelToken) -> RemoteBatch:
        body = {"requests": [line.line for line in lines]}
        data = self._json("POST", self._root, body, cancel, once=True)
        try:
            return RemoteBatch(self._read(data, self._root)[0])
        except ProtocolError as err:  # a yes whose batch id cannot be read
            raise unconfirmed(err, self._root) from None

    @property
    def console(self) -> str:
        if "//api.anthropic.com" in self._root:
            return f"the Anthropic Console (https://console.anthropic.com, Batches) or {self._root}"
        return f"the server's batch list ({self._root})"

    def find(self, lines: Sequence[BatchLine], since: datetime) -> list[RemoteBatch]:
        """Batches created since ``since`` with as many requests as ``lines`` (any state):
        all a message batch tells of what it holds before it ends."""
        found: list[RemoteBatch] = []
        after = ""
        for _ in range(_PAGES):
            url = f"{self._root}?limit={_PAGE}" + (f"&after_id={after}" if after else "")
            data = self._json("GET", url)
            listed = data.get("data") if isinstance(data, dict) else None
            if not isinstance(listed, list):
                raise ProtocolError(f"{url} did not answer with a list of message batches")
            older = False
            for batch in listed:
                created = _time(batch.get("created_at") if isinstance(batch, dict) else None)
                if created is None or created < since:
                    older = True  # newest first: the rest are older still
                    break
                batch_id, _, counts = self._read(batch, url)
                if sum(counts.values()) == len(lines):
                    found.append(RemoteBatch(batch_id))
            after = str(data.get("last_id") or "")
            if older or not data.get("has_more") or not after:
                break
        return found

    def poll(self, batch: RemoteBatch) -> BatchPoll:
        url = f"{self._root}/{batch.batch_id}"
        return self._poll(self._json("GET", url), url)

    def cancel(self, batch: RemoteBatch) -> BatchPoll:
        url = f"{self._root}/{batch.batch_id}/cancel"
        return self._poll(self._json("POST", url), url)

    def results(
        self, batch: RemoteBatch, sent: Mapping[str, SentRequest]
    ) -> Iterator[BatchItem]:
        """The ended batch's results as they are read; lines for ids not in ``sent`` are
        skipped (not ours to place)."""
        url = f"{self._root}/{batch.batch_id}"
        data = self._json("GET", url)
        _, state, _ = self._read(data, url)
        results_url = data.get("results_url")
        if state != "ended" or not isinstance(results_url, str) or not results_url:
            raise ProtocolError(f"batch {batch.batch_id} has no results yet ({state})")
        with self.backend._http.stream(
            "GET", results_url, headers=self.backend._headers(), cancel=CancelToken()
        ) as response:
            for line in response.lines():
                item = self._item(line, results_url, sent)
                if item is not None:
                    yield item

    def _item(self, line: str, url: str, sent: Mapping[str, SentRequest]) -> BatchItem | None:
        try:
            data = json.loads(line)
            custom_id = data["custom_id"]
            result = data["result"]
            kind = result["type"]
        except (ValueError, KeyError, TypeError):
            raise ProtocolError(
                f"unreadable results line from {url}: {redact(line[:120])!r}"
            ) from None
        request = sent.get(custom_id)
        if request is None:
            return None
        if kind == "succeeded":
            message = result.get("message")
            return BatchItem(custom_id, self.backend.message_result(request, message, url))
        if kind == "canceled":
            why = "the batch was cancelled before this request ran"
            return BatchItem(custom_id, _failed(request, why, CANCELLED_KIND))
        if kind == "expired":
            why = "the batch's 24 h window ended before this request ran"
            return BatchItem(custom_id, _failed(request, why, EXPIRED_KIND))
        if kind == "errored":
            error = result.get("error") or {}
            inner = error["error"] if isinstance(error.get("error"), dict) else error
            what = str(inner.get("type") or "error")
            message = f"Anthropic reported {what}: {redact(str(inner.get('message') or ''))}"
            return BatchItem(custom_id, _failed(request, message, error_class(what).code))
        raise ProtocolError(f"unknown result type {kind!r} in {url}")

    def _json(
        self,
        method: str,
        url: str,
        body: Any = None,
        cancel: CancelToken | None = None,
        *,
        once: bool = False,
    ) -> Any:
        return self.backend._http.request_json(
            method, url, headers=self.backend._headers(), json_body=body, cancel=cancel, once=once
        )

    @classmethod
    def _poll(cls, data: Any, url: str) -> BatchPoll:
        _, status, counts = cls._read(data, url)
        failed = counts["errored"] + counts["canceled"] + counts["expired"]
        state: BatchState = "completed"
        if status == "in_progress":
            state = "in_progress"
        elif status == "canceling":
            state = "cancelling"
        elif data.get("cancel_initiated_at"):
            state = "cancelled"
        elif counts["expired"]:
            state = "expired"  # the 24 h window closed on requests still waiting
        return BatchPoll(
            state=state,
            total=sum(counts.values()),
            succeeded=counts["succeeded"],
            failed=failed,
        )

    @staticmethod
    def _read(data: Any, url: str) -> tuple[str, str, dict[str, int]]:
        """A message batch's id, ``processing_status`` and ``request_counts``."""
        try:
            status = data["processing_status"]
            if status not in _STATES:
                raise ValueError(status)
            counts = data["request_counts"]
            names = ("processing", "succeeded", "errored", "canceled", "expired")
            return str(data["id"]), status, {n: int(counts.get(n) or 0) for n in names}
        except (KeyError, TypeError, ValueError, AttributeError):
            raise ProtocolError(f"{url} did not answer with a message batch") from None


def provider_for(backend: Backend) -> AnthropicBatches:
    """The Message Batches API of an Anthropic backend (``batch._PROVIDERS``)."""
    assert isinstance(backend, AnthropicBackend), backend
    return AnthropicBatches(backend)


def _time(value: Any) -> datetime | None:
    """An RFC 3339 time as the API writes it (``2024-08-20T18:37:24.100435Z``)."""
    try:
        when = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None
    return when.replace(tzinfo=UTC) if when is not None and when.tzinfo is None else when


def _failed(request: SentRequest, message: str, kind: str) -> RunResult:
    return RunResult(request=request, finish_reason="error", error=message, error_kind=kind)
