"""OpenAI's Batch API: chat completions sent as one uploaded JSONL file, answered within 24 h at
half the price.

A batch is a file uploaded to ``POST /files`` (``purpose=batch``), one
``{custom_id, method: POST, url: /v1/chat/completions, body}`` a line, where each ``body`` is
what a live run sends (built by :class:`OpenAICompatBackend`, never copied here), unstreamed;
then ``POST /batches`` with that file, the endpoint and ``completion_window: 24h``.
``GET /batches/{id}`` reports ``status`` (validating → in_progress → finalizing → completed;
failed, expired, cancelling → cancelled) and ``request_counts``; once ended, the
``output_file_id`` (answers) and ``error_file_id`` (failed lines, and those a cancel or the end
of the window left undone: ``batch_cancelled``, ``batch_expired``) serve JSONL from
``GET /files/{id}/content``, one ``{custom_id, response: {status_code, body}, error}`` a line.
An expired or cancelled batch still delivers what was done. One batch holds one model and one
endpoint; OpenAI takes at most 50,000 lines (and 200 MB) in one file. A batch carries the
SHA-256 of its lines in its metadata, so lines sent again after a process ended between creating
the batch and recording its id find that batch instead of being paid for twice.

``POST /batches`` is sent ``once`` (``backends.http``): a 5xx, a timeout or a dropped connection
after it was sent is an ``UnconfirmedError``, never a retry, and :meth:`OpenAIBatches.find`
looks the batch up by that digest. The upload before it keeps the usual retries: a second copy
of a file costs nothing and runs nothing.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any

from workbench.backends.base import Backend, CancelToken
from workbench.backends.batch import (
    BATCH_STATES,
    CANCELLED_KIND,
    EXPIRED_KIND,
    BatchItem,
    BatchLine,
    BatchPoll,
    BatchUnsupported,
    RemoteBatch,
)
from workbench.backends.credentials import redact
from workbench.backends.http import Form, unconfirmed
from workbench.backends.openai_compat import OpenAICompatBackend
from workbench.core.errors import BackendError, KnownError, ProtocolError
from workbench.core.models import RunRequest, RunResult, SentRequest

#: Metadata key of a batch's input digest (SHA-256 of its JSONL), to find it again.
_DIGEST = "workbench_input_sha256"
#: How many of the newest batches are searched for one sent before a restart (OpenAI's most).
_RECENT = 100
#: States of a batch that may still answer.
_RUNNING = ("validating", "in_progress", "finalizing")
#: What an undone line's error code means for its run (re-running it live may well succeed).
_UNDONE = {"batch_expired": EXPIRED_KIND, "batch_cancelled": CANCELLED_KIND}


class OpenAIBatches:
    """The Batch API of the server ``backend`` is configured for (its base URL, key and HTTP
    policy)."""

    name = "openai"
    completion_window = "24h"
    discount = 0.5
    max_lines = 50_000
    min_lines = 1

    def __init__(self, backend: OpenAICompatBackend) -> None:
        self.backend = backend

    def line_for(self, custom_id: str, request: RunRequest) -> BatchLine:
        sent, url, body = self.backend.batch_request(request)
        line = {"custom_id": custom_id, "method": "POST", "url": url, "body": body}
        return BatchLine(custom_id, line, sent)

    def submit(self, lines: Sequence[BatchLine], cancel: CancelToken) -> RemoteBatch:
        endpoints = {line.line["url"] for line in lines}
        if len(endpoints) != 1:
            raise KnownError(
                f"one batch goes to one endpoint, not {', '.join(sorted(endpoints))}",
                hint="send chat and completion templates as separate batches",
            )
        content = _content(lines)
        digest = hashlib.sha256(content.encode()).hexdigest()
        running = next(self._matching(digest, None, cancel), None)
        if running is not None:
            return running
        form = Form({"purpose": "batch"},
                    {"file": ("batch.jsonl", content.encode(), "application/jsonl")})
        uploaded = self._json("POST", "/files", form=form, cancel=cancel)
        file_id = _text(uploaded, "id", "/files")
        body = {
            "input_file_id": file_id,
            "endpoint": endpoints.pop(),
            "completion_window": self.completion_window,
            "metadata": {"source": "prompt-workbench", _DIGEST: digest},
        }
        try:
            created = self._json("POST", "/batches", json_body=body, cancel=cancel, once=True)
            batch_id = _text(created, "id", "/batches")
        except ProtocolError as err:  # a yes whose batch id cannot be read
            raise unconfirmed(err, self.backend.options.base_url + "/batches") from None
        return RemoteBatch(batch_id, file_id)

    @property
    def console(self) -> str:
        base = self.backend.options.base_url
        if "//api.openai.com" in base:
            return "https://platform.openai.com/batches"
        return f"the server's batch list ({base}/batches)"

    def find(self, lines: Sequence[BatchLine], since: datetime) -> list[RemoteBatch]:
        """The batches of exactly these lines (their digest) created since ``since``."""
        digest = hashlib.sha256(_content(lines).encode()).hexdigest()
        return list(self._matching(digest, since.timestamp(), CancelToken()))

    def _matching(
        self, digest: str, since: float | None, cancel: CancelToken
    ) -> Iterator[RemoteBatch]:
        """Batches of the lines of ``digest`` among the newest: those still running (one
        created just before the process ended, before its id was recorded: sending the lines
        again would pay for them twice), or with ``since`` those created since then."""
        listed = self._json("GET", f"/batches?limit={_RECENT}", cancel=cancel).get("data")
        for batch in listed if isinstance(listed, list) else ():
            metadata = batch.get("metadata") if isinstance(batch, dict) else None
            created = batch.get("created_at") if isinstance(batch, dict) else None
            recent = since is not None and isinstance(created, int | float) and created >= since
            if (
                isinstance(metadata, dict)
                and metadata.get(_DIGEST) == digest
                and (recent or batch.get("status") in _RUNNING)
                and isinstance(batch.get("id"), str)
            ):
                yield RemoteBatch(batch["id"], str(batch.get("input_file_id") or ""))

    def poll(self, batch: RemoteBatch) -> BatchPoll:
        return _poll(self._batch(batch.batch_id))

    def cancel(self, batch: RemoteBatch) -> BatchPoll:
        return _poll(self._json("POST", f"/batches/{batch.batch_id}/cancel"))

    def results(
        self, batch: RemoteBatch, sent: Mapping[str, SentRequest]
    ) -> Iterator[BatchItem]:
        data = self._batch(batch.batch_id)
        for key in ("output_file_id", "error_file_id"):
            file_id = data.get(key)
            if not isinstance(file_id, str) or not file_id:
                continue
            path = f"/files/{file_id}/content"
            with self.backend.api("GET", path) as response:
                for text in response.lines():
                    item = self._item(text, sent, response.url)
                    if item is not None:
                        yield item

    # --- reading -----------------------------------------------------------------------------

    def _batch(self, batch_id: str) -> dict[str, Any]:
        return self._json("GET", f"/batches/{batch_id}")

    def _json(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        with self.backend.api(method, path, **kwargs) as response:
            data = response.json()
        if not isinstance(data, dict):
            raise ProtocolError(f"{response.url} answered {redact(str(data))[:120]!r}")
        return data

    def _item(self, text: str, sent: Mapping[str, SentRequest], url: str) -> BatchItem | None:
        """One line of an output or error file as its cell's result; None for a line of a
        request this job did not send."""
        try:
            data = json.loads(text)
            custom_id = data["custom_id"]
        except (ValueError, KeyError, TypeError):
            raise ProtocolError(f"{url} holds an unreadable line: {redact(text[:120])!r}") from None
        request = sent.get(custom_id) if isinstance(custom_id, str) else None
        if request is None:
            return None
        response, error = data.get("response"), data.get("error")
        if isinstance(response, dict):
            status, body = response.get("status_code"), response.get("body")
            if isinstance(status, int) and status < 300:
                return BatchItem(custom_id, self.backend.answer_result(request, body, url))
            failure = self.backend.api_error(status if isinstance(status, int) else 500, body, url)
            return BatchItem(custom_id, _failed(request, failure))
        error = error if isinstance(error, dict) else {}
        code = str(error.get("code") or "")
        message = str(error.get("message") or "the batch gave no answer for this request")
        failure = BackendError(f"OpenAI batch: {message}" + (f" ({code})" if code else ""),
                               hint="re-run the failed cells live")
        return BatchItem(custom_id, _failed(request, failure, _UNDONE.get(code)))


def _content(lines: Sequence[BatchLine]) -> str:
    """The JSONL file of ``lines``, as uploaded (its SHA-256 names the batch)."""
    return "".join(json.dumps(line.line, ensure_ascii=False) + "\n" for line in lines)


def _poll(data: dict[str, Any]) -> BatchPoll:
    state = data.get("status")
    if state not in BATCH_STATES:
        raise ProtocolError(f"a batch in an unknown state: {redact(str(state))[:60]!r}")
    counts = data.get("request_counts")
    counts = counts if isinstance(counts, dict) else {}
    errors = data.get("errors")
    found = errors.get("data") if isinstance(errors, dict) else None
    message = "; ".join(
        f"line {e.get('line')}: {e.get('message')}" if e.get("line") else str(e.get("message"))
        for e in found or ()
        if isinstance(e, dict)
    )
    return BatchPoll(
        state,
        total=_count(counts, "total"),
        succeeded=_count(counts, "completed"),
        failed=_count(counts, "failed"),
        message=redact(message),
    )


def _count(counts: dict[str, Any], key: str) -> int:
    value = counts.get(key)
    return value if isinstance(value, int) else 0


def _text(data: dict[str, Any], key: str, path: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value:
        raise ProtocolError(f"{path} answered without an {key}: {redact(str(data))[:120]!r}")
    return value


def _failed(sent: SentRequest, error: KnownError, kind: str | None = None) -> RunResult:
    """A line's failure as its run's (``kind``: a code of its own, else the error's)."""
    return RunResult(
        request=sent, finish_reason="error", error=redact(str(error)), error_kind=kind or error.code
    )


def provider_for(backend: Backend) -> OpenAIBatches:
    """The Batch API of an OpenAI-compatible backend of one server (a pool has none)."""
    if not isinstance(backend, OpenAICompatBackend):
        raise BatchUnsupported(f"{backend.display_name} is not an OpenAI-compatible server")
    if backend.pool is not None:
        raise BatchUnsupported(
            "a server pool has no batch API", hint="run it live, or send the batch to one server"
        )
    return OpenAIBatches(backend)
