"""A local server speaking Anthropic's Message Batches endpoints and their state machine
(docs.anthropic.com/en/api/creating-message-batches and the pages beside it), built on
:class:`LocalServer`.

Batches stay ``in_progress`` until the test moves them: :meth:`AnthropicBatchServer.settle`
decides requests (``succeeded`` answers with an echo of the last user message), :meth:`end`
ends the batch (what is left expires, or is canceled when a cancel was asked). A cancel turns
the batch ``canceling``. Results are served only once the batch has ended, as JSONL. A live
``POST /v1/messages`` answers whole (JSON, not a stream) with the same echo.
``GET /v1/messages/batches`` lists them newest first (``limit``, ``after_id``; ``has_more``,
``first_id``, ``last_id``). ``create_faults`` fail creates after the batch was made
(``LocalServer.answers_create``); ``rate_limited`` refuses that many creates with a 429 first;
``hold_next_create`` holds a create in flight while the test races something against it.
"""

from __future__ import annotations

import itertools
import json
import re
import threading
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.backends.local_servers import LocalServer, _Handler

KEY = "sk-ant-batch-test-0123456789"
_BATCH = re.compile(r"^/v1/messages/batches/(msgbatch_\w+)(/cancel|/results)?$")


class AnthropicBatchServer(LocalServer):
    def __init__(self) -> None:
        super().__init__({("*", "*"): self._route})
        self.batches: dict[str, dict[str, Any]] = {}
        self.headers_seen: list[dict[str, str]] = []
        self.rate_limited = 0
        self._ids = itertools.count(1)
        self._state = threading.Lock()

    # --- what the test does -------------------------------------------------------------

    def created(self) -> list[dict[str, Any]]:
        """The bodies of every batch creation, in order."""
        return self.bodies("/v1/messages/batches")

    def settle(self, batch_id: str, outcomes: dict[str, str]) -> None:
        """Decide requests: custom_id -> succeeded | errored (the rest keep processing)."""
        with self._state:
            batch = self.batches[batch_id]
            for custom_id, kind in outcomes.items():
                assert batch["outcomes"][custom_id] == "processing", custom_id
                batch["outcomes"][custom_id] = kind

    def end(self, batch_id: str) -> None:
        """End the batch: requests still processing are canceled (after a cancel) or expired."""
        with self._state:
            batch = self.batches[batch_id]
            left = "canceled" if batch["status"] == "canceling" else "expired"
            for custom_id, kind in batch["outcomes"].items():
                if kind == "processing":
                    batch["outcomes"][custom_id] = left
            batch["status"] = "ended"

    # --- the API ------------------------------------------------------------------------

    def _route(self, h: _Handler, body: Any) -> None:
        self.headers_seen.append(dict(h.headers.items()))
        if h.headers.get("x-api-key") != KEY:
            h.send_json(401, {"type": "error", "error": {
                "type": "authentication_error", "message": "invalid x-api-key"}})
            return
        if h.command == "POST" and h.path == "/v1/messages/batches":
            self._create(h, body)
            return
        url = urlsplit(h.path)
        if h.command == "GET" and url.path == "/v1/messages/batches":
            self._list(h, parse_qs(url.query))
            return
        if h.command == "POST" and h.path == "/v1/messages":  # a live call (a failed cell re-run)
            h.send_json(200, _result("succeeded", body)["message"])
            return
        match = _BATCH.match(h.path)
        with self._state:
            batch = self.batches.get(match.group(1)) if match else None
        if match is None or batch is None:
            h.send_json(404, {"type": "error", "error": {
                "type": "not_found_error", "message": f"no {h.path}"}})
            return
        action = match.group(2)
        if action == "/cancel" and h.command == "POST":
            with self._state:
                if batch["status"] == "in_progress":
                    batch["status"] = "canceling"
                    batch["cancel_initiated_at"] = "2026-12-07T08:00:00Z"
            h.send_json(200, self._batch(batch))
        elif action == "/results" and h.command == "GET":
            self._results(h, batch)
        elif action is None and h.command == "GET":
            h.send_json(200, self._batch(batch))
        else:
            h.send_json(405, {"type": "error", "error": {
                "type": "invalid_request_error", "message": "method not allowed"}})

    def _create(self, h: _Handler, body: Any) -> None:
        self.create_arrives()
        requests = body["requests"]
        ids = [r["custom_id"] for r in requests]
        if len(set(ids)) != len(ids) or not all(re.fullmatch(r"[\w-]{1,64}", i) for i in ids):
            h.send_json(400, {"type": "error", "error": {
                "type": "invalid_request_error", "message": "custom_id must be unique"}})
            return
        with self._state:
            if self.rate_limited:
                self.rate_limited -= 1
                h.send_json(429, {"type": "error", "error": {
                    "type": "rate_limit_error", "message": "Number of requests has exceeded "
                    "your rate limit"}})
                return
            batch_id = f"msgbatch_{next(self._ids):04d}"
            self.batches[batch_id] = {
                "id": batch_id,
                "status": "in_progress",
                "params": {r["custom_id"]: r["params"] for r in requests},
                "outcomes": dict.fromkeys(ids, "processing"),
                "created_at": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
            }
            view = self._batch(self.batches[batch_id])
        if self.answers_create(h):
            h.send_json(200, view)

    def _list(self, h: _Handler, query: dict[str, list[str]]) -> None:
        """List Message Batches: newest first, ``limit`` (1-1000, 20 by default) a page,
        the page after ``after_id``."""
        limit = int(query.get("limit", ["20"])[0])
        if not 1 <= limit <= 1000:
            h.send_json(400, {"type": "error", "error": {
                "type": "invalid_request_error", "message": "limit: out of range"}})
            return
        with self._state:
            ids = list(reversed(self.batches))
            after = query.get("after_id", [""])[0]
            start = ids.index(after) + 1 if after in ids else 0
            page = [self._batch(self.batches[i]) for i in ids[start:start + limit]]
            more = start + limit < len(ids)
        h.send_json(200, {"data": page, "has_more": more,
                          "first_id": page[0]["id"] if page else None,
                          "last_id": page[-1]["id"] if page else None})

    def _batch(self, batch: dict[str, Any]) -> dict[str, Any]:
        counts = dict.fromkeys(("processing", "succeeded", "errored", "canceled", "expired"), 0)
        for kind in batch["outcomes"].values():
            counts[kind] += 1
        ended = batch["status"] == "ended"
        return {
            "id": batch["id"],
            "type": "message_batch",
            "processing_status": batch["status"],
            "request_counts": counts,
            "ended_at": "2026-12-08T07:00:00Z" if ended else None,
            "created_at": batch["created_at"],
            "expires_at": "2026-12-08T07:00:00Z",
            "cancel_initiated_at": batch.get("cancel_initiated_at"),
            "results_url": f"{self.url}/v1/messages/batches/{batch['id']}/results"
            if ended else None,
        }

    def _results(self, h: _Handler, batch: dict[str, Any]) -> None:
        if batch["status"] != "ended":
            h.send_json(400, {"type": "error", "error": {
                "type": "invalid_request_error", "message": "batch has not ended"}})
            return
        lines = [
            json.dumps({"custom_id": cid, "result": _result(kind, batch["params"][cid])})
            for cid, kind in batch["outcomes"].items()
        ]
        h.send_body(200, ("\n".join(lines) + "\n").encode(), "application/binary")


def echo(params: dict[str, Any]) -> str:
    """What a succeeded request answers: the last user message, echoed."""
    content = params["messages"][-1]["content"]
    text = content if isinstance(content, str) else content[0]["text"]
    return f"echo: {text}"


def _result(kind: str, params: dict[str, Any]) -> dict[str, Any]:
    if kind == "succeeded":
        return {"type": "succeeded", "message": {
            "id": "msg_b", "type": "message", "role": "assistant", "model": params["model"],
            "content": [{"type": "text", "text": echo(params)}],
            "stop_reason": "end_turn", "stop_sequence": None,
            "usage": {"input_tokens": 10, "output_tokens": 4},
        }}
    if kind == "errored":
        return {"type": "errored", "error": {"type": "error", "error": {
            "type": "invalid_request_error", "message": "max_tokens: too large"}}}
    return {"type": kind}
