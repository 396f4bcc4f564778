"""A local server speaking OpenAI's Files and Batch endpoints and the batch state machine
(platform.openai.com/docs/api-reference/batch and /files), built on :class:`LocalServer`.

``POST /v1/files`` takes a multipart upload (``purpose=batch``); ``POST /v1/batches`` checks the
input file's lines (JSON, unique custom_id, POST to the batch's endpoint) and starts
``validating`` (a file with a bad line makes the batch ``failed`` with ``errors``). The first
poll moves it to ``in_progress``; the test moves it on from there: :meth:`settle` decides lines
(``ok`` answers with an echo of the last user message, ``error`` with an HTTP 400),
:meth:`complete` finalizes it, :meth:`expire` ends its window. A cancel makes it
``cancelling``; :meth:`cancelled` ends it. Output and error files are written when the batch
ends: answers in the output file, failed lines and those left undone (``batch_expired``,
``batch_cancelled``) in the error file. ``GET /v1/batches`` lists them, newest first.
``POST /v1/chat/completions`` answers live calls (unstreamed), as a failed cell re-run live.
``create_faults`` fail creates after the batch was made (``LocalServer.answers_create``).
"""

from __future__ import annotations

import email.parser
import email.policy
import itertools
import json
import re
import threading
import time
from typing import Any

from tests.backends.local_servers import LocalServer, _Handler

KEY = "sk-batch-test-0123456789abcdef"
_BATCH = re.compile(r"^/v1/batches/(batch_\w+)(/cancel)?$")
_CONTENT = re.compile(r"^/v1/files/(file-\w+)/content$")
ENDPOINTS = ("/v1/chat/completions", "/v1/completions")


class OpenAIBatchServer(LocalServer):
    def __init__(self) -> None:
        super().__init__({("*", "*"): self._route})
        self.files: dict[str, dict[str, Any]] = {}
        self.batches: dict[str, dict[str, Any]] = {}
        self.live: list[dict[str, Any]] = []  # bodies of live (non-batch) chat calls
        self._ids = itertools.count(1)
        self._state = threading.Lock()

    @property
    def base_url(self) -> str:
        return f"{self.url}/v1"

    # --- what the test does -------------------------------------------------------------

    def lines(self, batch_id: str) -> list[dict[str, Any]]:
        """The input lines of a batch as uploaded."""
        return list(self.batches[batch_id]["lines"].values())

    def settle(self, batch_id: str, outcomes: dict[str, str]) -> None:
        """Decide lines: custom_id -> ok | error (the rest stay pending)."""
        with self._state:
            batch = self.batches[batch_id]
            assert batch["status"] in ("in_progress", "cancelling"), batch["status"]
            for custom_id, kind in outcomes.items():
                assert batch["outcomes"][custom_id] == "pending", custom_id
                batch["outcomes"][custom_id] = kind

    def complete(self, batch_id: str) -> None:
        """Finish the batch: every line must be decided."""
        with self._state:
            batch = self.batches[batch_id]
            assert "pending" not in batch["outcomes"].values()
            self._end(batch, "completed", "")

    def expire(self, batch_id: str) -> None:
        """The completion window ends: lines still pending are not done."""
        with self._state:
            self._end(self.batches[batch_id], "expired", "batch_expired")

    def cancelled(self, batch_id: str) -> None:
        """A cancelling batch stops: lines still pending are not done."""
        with self._state:
            batch = self.batches[batch_id]
            assert batch["status"] == "cancelling"
            self._end(batch, "cancelled", "batch_cancelled")

    # --- the API ------------------------------------------------------------------------

    def _route(self, h: _Handler, body: Any) -> None:
        if h.headers.get("Authorization") != f"Bearer {KEY}":
            _error(h, 401, "Incorrect API key provided", "invalid_api_key")
            return
        if h.command == "POST" and h.path == "/v1/chat/completions":  # a live call
            self.live.append(body)
            h.send_json(200, _completion(body))
        elif h.command == "POST" and h.path == "/v1/files":
            self._upload(h)
        elif h.command == "POST" and h.path == "/v1/batches":
            self._create(h, body)
        elif h.command == "GET" and h.path.startswith("/v1/batches?"):  # newest first
            with self._state:
                views = [self._view(b) for b in reversed(self.batches.values())]
            h.send_json(200, {"object": "list", "data": views[:100], "has_more": False})
        elif (match := _BATCH.match(h.path)) is not None:
            with self._state:
                batch = self.batches.get(match.group(1))
                if batch is None:
                    _error(h, 404, f"No batch found with id '{match.group(1)}'.")
                elif match.group(2) and h.command == "POST":
                    if batch["status"] in ("validating", "in_progress", "finalizing"):
                        batch["status"] = "cancelling"
                    h.send_json(200, self._view(batch))
                elif h.command == "GET":
                    if batch["status"] == "validating":
                        batch["status"] = "in_progress"
                    h.send_json(200, self._view(batch))
                else:
                    _error(h, 405, "method not allowed")
        elif (match := _CONTENT.match(h.path)) is not None and h.command == "GET":
            stored = self.files.get(match.group(1))
            if stored is None:
                _error(h, 404, f"No such File object: {match.group(1)}")
            else:
                h.send_body(200, stored["content"], "application/octet-stream")
        else:
            _error(h, 404, f"Invalid URL ({h.command} {h.path})")

    def _upload(self, h: _Handler) -> None:
        head = f"Content-Type: {h.headers.get('Content-Type')}\r\n\r\n".encode()
        form = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + h.raw)
        fields: dict[str, bytes] = {}
        for part in form.iter_parts():
            name = part.get_param("name", header="content-disposition")
            fields[str(name)] = part.get_payload(decode=True) or b""
        if fields.get("purpose") != b"batch" or "file" not in fields:
            _error(h, 400, "purpose must be 'batch' and a file is required")
            return
        with self._state:
            file_id = f"file-{next(self._ids):04d}"
            self.files[file_id] = {"content": fields["file"], "purpose": "batch"}
        h.send_json(200, {"id": file_id, "object": "file", "bytes": len(fields["file"]),
                          "created_at": 1765090000, "filename": "batch.jsonl",
                          "purpose": "batch"})

    def _create(self, h: _Handler, body: Any) -> None:
        stored = self.files.get(body.get("input_file_id", ""))
        if stored is None:
            _error(h, 400, "input_file_id does not exist")
            return
        if body.get("endpoint") not in ENDPOINTS or body.get("completion_window") != "24h":
            _error(h, 400, "endpoint and completion_window '24h' are required")
            return
        lines: dict[str, dict[str, Any]] = {}
        errors = []
        for number, text in enumerate(stored["content"].decode().splitlines(), start=1):
            line = json.loads(text)
            if line.get("custom_id") in lines:
                errors.append({"code": "duplicate_custom_id", "line": number,
                               "message": "The custom_id for this request is a duplicate."})
            elif line.get("method") != "POST" or line.get("url") != body["endpoint"]:
                errors.append({"code": "invalid_url", "line": number,
                               "message": "The URL provided for this request does not match "
                               "the batch endpoint."})
            lines[line["custom_id"]] = line
        with self._state:
            batch_id = f"batch_{next(self._ids):04d}"
            self.batches[batch_id] = {
                "id": batch_id,
                "metadata": body.get("metadata") or {},
                "endpoint": body["endpoint"],
                "input_file_id": body["input_file_id"],
                "status": "failed" if errors else "validating",
                "errors": errors,
                "lines": lines,
                "outcomes": dict.fromkeys(lines, "pending"),
                "output_file_id": None,
                "error_file_id": None,
                "created_at": int(time.time()),
            }
            view = self._view(self.batches[batch_id])
        if self.answers_create(h):
            h.send_json(200, view)

    def _view(self, batch: dict[str, Any]) -> dict[str, Any]:
        outcomes = list(batch["outcomes"].values())
        failed = outcomes.count("error") + (
            outcomes.count("pending") if batch["status"] in ("expired", "cancelled") else 0
        )
        return {
            "id": batch["id"],
            "object": "batch",
            "endpoint": batch["endpoint"],
            "errors": {"object": "list", "data": batch["errors"]} if batch["errors"] else None,
            "input_file_id": batch["input_file_id"],
            "completion_window": "24h",
            "status": batch["status"],
            "output_file_id": batch["output_file_id"],
            "error_file_id": batch["error_file_id"],
            "created_at": batch["created_at"],
            "expires_at": batch["created_at"] + 86400,
            "request_counts": {
                "total": len(outcomes),
                "completed": outcomes.count("ok"),
                "failed": failed,
            },
            "metadata": batch["metadata"],
        }

    def _end(self, batch: dict[str, Any], status: str, undone: str) -> None:
        """Write the output and error files and end the batch (the state lock held)."""
        answers, errors = [], []
        for custom_id, kind in batch["outcomes"].items():
            line = batch["lines"][custom_id]
            request_id = f"batch_req_{custom_id}"
            if kind == "ok":
                answers.append({"id": request_id, "custom_id": custom_id, "error": None,
                                "response": {"status_code": 200, "request_id": "req_1",
                                             "body": _completion(line["body"])}})
            elif kind == "error":
                errors.append({"id": request_id, "custom_id": custom_id, "error": None,
                               "response": {"status_code": 400, "request_id": "req_2", "body": {
                                   "error": {"message": "max_tokens is too large",
                                             "type": "invalid_request_error"}}}})
            else:
                message = ("This request could not be executed before the completion window "
                           "expired." if undone == "batch_expired"
                           else "This request was cancelled before it was executed.")
                errors.append({"id": request_id, "custom_id": custom_id, "response": None,
                               "error": {"code": undone, "message": message}})
        for key, found in (("output_file_id", answers), ("error_file_id", errors)):
            if found:
                file_id = f"file-{next(self._ids):04d}"
                content = "".join(json.dumps(line) + "\n" for line in found).encode()
                self.files[file_id] = {"content": content, "purpose": "batch_output"}
                batch[key] = file_id
        batch["status"] = status


def echo(body: dict[str, Any]) -> str:
    """What an ``ok`` line answers: the last user message, echoed."""
    return f"echo: {body['messages'][-1]['content']}"


def _completion(body: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": "chatcmpl-b", "object": "chat.completion", "created": 1765090000,
        "model": body["model"], "system_fingerprint": "fp_batch",
        "choices": [{"index": 0, "finish_reason": "stop",
                     "message": {"role": "assistant", "content": echo(body)}}],
        "usage": {"prompt_tokens": 12, "completion_tokens": 5, "total_tokens": 17},
    }


def _error(h: _Handler, status: int, message: str, code: str | None = None) -> None:
    h.send_json(status, {"error": {"message": message, "type": "invalid_request_error",
                                   "param": None, "code": code}})
