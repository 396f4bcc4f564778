"""Small local servers for the pool tests: each speaks OpenAI's streamed chat completions (SSE
chunks with a finish reason, usage and ``[DONE]``) and ``GET /v1/models``, at a chosen pace.
They do not pretend to be a model: the answer names the server and echoes the prompt, so a test
can tell which server answered which cell.

``kill()`` is what a killed process does: new connections are refused, a request arriving on a
kept-alive connection is dropped unanswered and answers being streamed are cut off; ``failing``
answers 500; ``break_after`` cuts the stream after that many pieces; ``capacity`` requests at
once are answered, more get 429.
"""

from __future__ import annotations

import json
import threading
import time
from typing import Any

from tests.backends.local_servers import LocalServer, _Handler


class ChatServer:
    def __init__(self, name: str, delay: float = 0.01, capacity: int | None = None) -> None:
        self.name = name
        self.delay = delay
        self.dead = False
        self.failing = False
        self.break_after: int | None = None
        self.capacity = capacity
        self.gate: threading.Barrier | None = None  # answers wait until all parties are in
        self.refused = 0
        self.lock = threading.Lock()
        self.answered: list[str] = []  # the prompt of each answer written to the end
        self.received = 0
        self.in_flight = 0
        self.peak = 0
        self._server = LocalServer(
            {("POST", "/v1/chat/completions"): self._chat, ("GET", "/v1/models"): self._models}
        )
        self.url = self._server.url + "/v1"

    def kill(self) -> None:
        self.dead = True
        self._server.close()

    def close(self) -> None:
        if not self.dead:
            self._server.close()

    def _models(self, h: _Handler, body: Any) -> None:
        if self.dead or self.failing:
            h.send_json(503, {"error": {"message": "down"}})
            return
        h.send_json(200, {"object": "list", "data": [{"id": "pool-model", "object": "model"}]})

    def _chat(self, h: _Handler, body: Any) -> None:
        if self.dead:
            h.close_connection = True  # the connection ends without an answer
            return
        with self.lock:
            self.received += 1
        if self.failing:
            h.send_json(500, {"error": {"message": f"{self.name} is failing"}})
            return
        prompt = body["messages"][-1]["content"]
        with self.lock:
            full = self.capacity is not None and self.in_flight >= self.capacity
            self.refused += full
        if full:
            h.send_json(429, {"error": {"message": f"{self.name} is full"}})
            return
        with self.lock:
            self.in_flight += 1
            self.peak = max(self.peak, self.in_flight)
        try:
            if self.gate is not None:
                self.gate.wait(timeout=30)
            h.start_chunks("text/event-stream")
            for i, piece in enumerate([f"{self.name}", " says", f" {prompt}"]):
                if self.dead or (self.break_after is not None and i == self.break_after):
                    h.close_connection = True
                    return
                self._event(h, {"choices": [{"index": 0, "delta": {"content": piece}}]})
                time.sleep(self.delay)
            self._event(h, {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
            self._event(h, {"choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": 3}})
            h.chunk(b"data: [DONE]\n\n")
            h.end_chunks()
            with self.lock:
                self.answered.append(prompt)
        finally:
            with self.lock:
                self.in_flight -= 1

    @staticmethod
    def _event(h: _Handler, data: dict[str, Any]) -> None:
        h.chunk(b"data: " + json.dumps({"object": "chat.completion.chunk", **data}).encode()
                + b"\n\n")
