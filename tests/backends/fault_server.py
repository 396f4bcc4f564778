"""A scripted HTTP server on 127.0.0.1 for fault injection (and the wire formats no local server
speaks: Anthropic's Messages API, Bedrock's event stream).

Each URL starts with a scenario key, ``/<scenario>~<n>/...``: :meth:`ScriptedServer.url` hands out a
fresh ``n`` per call so stateful scenarios ("500 once, then succeed") never see another test's
requests. Pacing waits on the server's stop event, so closing the server ends every scenario.
"""

from __future__ import annotations

import itertools
import json
import socket
import ssl
import struct
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Seen:
    """One request as the server received it."""

    method: str
    path: str
    headers: dict[str, str]
    body: Any
    at: float = field(default_factory=time.monotonic)
    #: Set when the client went away in the middle of the answer.
    disconnected: threading.Event = field(default_factory=threading.Event)


class Exchange:
    """What a scenario uses to answer one request."""

    def __init__(
        self, handler: _Handler, server: ScriptedServer, key: str, rest: str, seen: Seen, count: int
    ) -> None:
        self._handler = handler
        self.server = server
        self.key = key
        self.rest = rest  # the path after the scenario key, e.g. /v1/chat/completions
        self.request = seen
        self.count = count  # 1 for the first request with this key
        self._chunked = False

    @property
    def body(self) -> Any:
        return self.request.body

    def send(
        self,
        status: int,
        body: bytes,
        content_type: str = "application/json",
        headers: dict[str, str] | None = None,
    ) -> None:
        h = self._handler
        h.send_response(status)
        h.send_header("Content-Type", content_type)
        h.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            h.send_header(name, value)
        h.end_headers()
        h.wfile.write(body)
        h.wfile.flush()

    def send_json(self, status: int, data: Any, headers: dict[str, str] | None = None) -> None:
        self.send(status, json.dumps(data).encode(), headers=headers)

    def start_stream(
        self,
        content_type: str = "text/event-stream",
        headers: dict[str, str] | None = None,
        *,
        chunked: bool = True,
    ) -> None:
        """Start a streamed body: chunked, or (``chunked=False``) ended by closing the
        connection, as HTTP/1.0 servers and many proxies stream."""
        h = self._handler
        h.send_response(200)
        h.send_header("Content-Type", content_type)
        if chunked:
            h.send_header("Transfer-Encoding", "chunked")
        else:
            h.send_header("Connection", "close")
            h.close_connection = True
        for name, value in (headers or {}).items():
            h.send_header(name, value)
        h.end_headers()
        h.wfile.flush()
        self._chunked = chunked

    def chunk(self, data: bytes) -> None:
        if self._chunked:
            data = b"%x\r\n%s\r\n" % (len(data), data)
        self._handler.wfile.write(data)
        self._handler.wfile.flush()

    def sse(self, data: Any, event: str | None = None) -> None:
        text = data if isinstance(data, str) else json.dumps(data)
        prefix = f"event: {event}\n" if event else ""
        self.chunk(f"{prefix}data: {text}\n\n".encode())

    def end_stream(self) -> None:
        self._handler.wfile.write(b"0\r\n\r\n")
        self._handler.wfile.flush()

    def reset(self) -> None:
        """Abort the connection with a TCP RST (as a crashed server or a proxy does)."""
        sock = self._handler.connection
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.close()
        self._handler.close_connection = True

    def pause(self, seconds: float) -> bool:
        """Wait; True when the server is stopping (the scenario should end)."""
        return self.server.stopping.wait(seconds)


Scenario = Callable[[Exchange], None]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # quiet test output
        pass

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body: Any = json.loads(raw) if raw else None
        except ValueError:
            body = raw
        owner = self.server.owner
        _, key, rest = [*self.path.split("/", 2), "", ""][:3]
        name = key.split("~")[0]
        seen = Seen(self.command, self.path, dict(self.headers.items()), body)
        with owner.arrived:
            owner.seen[key].append(seen)
            count = len(owner.seen[key])
            owner.arrived.notify_all()
        scenario = owner.scenarios.get(name)
        exchange = Exchange(self, owner, key, "/" + rest, seen, count)
        if scenario is None:
            exchange.send_json(404, {"error": {"message": f"no scenario {name!r}"}})
            return
        try:
            scenario(exchange)
        except OSError:  # the client went away: the point of many tests
            seen.disconnected.set()
            self.close_connection = True

    do_GET = do_POST = _handle


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    owner: ScriptedServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], OSError):  # clients resetting is the point
            super().handle_error(request, client_address)


class ScriptedServer:
    """Start with a table of scenarios; ``url(name)`` gives a fresh base URL for one of them."""

    def __init__(self, scenarios: dict[str, Scenario], tls: ssl.SSLContext | None = None) -> None:
        self.scenarios = scenarios
        self.scheme = "https" if tls else "http"
        self.arrived = threading.Condition()
        self.seen: dict[str, list[Seen]] = defaultdict(list)
        self.stopping = threading.Event()
        self._counter = itertools.count(1)
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.owner = self
        if tls is not None:
            self._server.socket = tls.wrap_socket(self._server.socket, server_side=True)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), daemon=True
        )
        self._thread.start()

    def url(self, scenario: str, suffix: str = "/v1") -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}/{scenario}~{next(self._counter)}{suffix}"

    def requests(self, url: str) -> list[Seen]:
        with self.arrived:
            return list(self.seen[_key(url)])

    def wait_for_request(self, url: str, count: int = 1, timeout: float = 10.0) -> Seen:
        """Block until the ``count``-th request for ``url`` arrived; return it."""
        key = _key(url)
        with self.arrived:
            if not self.arrived.wait_for(lambda: len(self.seen[key]) >= count, timeout):
                raise AssertionError(f"no request {count} for {url} within {timeout:g} s")
            return self.seen[key][count - 1]

    def close(self) -> None:
        self.stopping.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)


def _key(url: str) -> str:
    return url.split("/")[3]


# --- OpenAI-compatible scenarios ---------------------------------------------------------------

WORDS = ["The", " quick", " brown", " fox", " jumps", " over", " the", " lazy", " dog", "."]


def chat_chunk(text: str | None = None, finish: str | None = None, **extra: Any) -> dict[str, Any]:
    delta = {"content": text} if text is not None else {}
    return {
        "id": "c1",
        "object": "chat.completion.chunk",
        "model": "fault-model",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        **extra,
    }


def _stream_words(ex: Exchange, words: list[str], *, interval: float = 0.0) -> bool:
    """Stream ``words``; False when the server is stopping."""
    for word in words:
        ex.sse(chat_chunk(word))
        if interval and ex.pause(interval):
            return False
    return True


def _models(ex: Exchange) -> bool:
    if ex.rest.endswith("/models"):
        ex.send_json(200, {"object": "list", "data": [{"id": "fault-model", "owned_by": "tests"}]})
        return True
    return False


def ok(ex: Exchange) -> None:
    """A well-behaved server: streams the words, a finish reason, usage, [DONE]."""
    if _models(ex):
        return
    if not (ex.body or {}).get("stream"):
        ex.send_json(
            200,
            {
                "id": "c1",
                "object": "chat.completion",
                "model": "fault-model",
                "system_fingerprint": "fp_fault_1",
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": "".join(WORDS)},
                        "finish_reason": "stop",
                    }
                ],
                "usage": {"prompt_tokens": 7, "completion_tokens": len(WORDS), "total_tokens": 17},
            },
        )
        return
    ex.start_stream()
    _stream_words(ex, WORDS)
    ex.sse(chat_chunk(finish="stop", system_fingerprint="fp_fault_1"))
    ex.sse(
        {"id": "c1", "choices": [], "usage": {"prompt_tokens": 7, "completion_tokens": len(WORDS)}}
    )
    ex.sse("[DONE]")
    ex.end_stream()


def _then_ok(status: int, headers: Callable[[], dict[str, str]] | None = None) -> Scenario:
    def scenario(ex: Exchange) -> None:
        if ex.count == 1:
            ex.send_json(
                status,
                {"error": {"message": f"scripted {status}", "type": "server"}},
                headers=headers() if headers else None,
            )
        else:
            ok(ex)

    return scenario


def _always(status: int, message: str, headers: dict[str, str] | None = None) -> Scenario:
    def scenario(ex: Exchange) -> None:
        ex.send_json(status, {"error": {"message": message}}, headers=headers)

    return scenario


def echo_key_401(ex: Exchange) -> None:
    """Like servers that quote the rejected key back in the error (the client must redact)."""
    auth = ex.request.headers.get("Authorization", "")
    ex.send_json(
        401,
        {
            "error": {
                "message": f"Incorrect API key provided: {auth}",
                "type": "invalid_request_error",
            }
        },
    )


def reset_mid_stream(ex: Exchange) -> None:
    ex.start_stream()
    _stream_words(ex, WORDS[:3])
    ex.reset()


def reset_before_answer(ex: Exchange) -> None:
    if ex.count == 1:
        ex.reset()
    else:
        ok(ex)


def malformed(ex: Exchange) -> None:
    ex.start_stream()
    _stream_words(ex, WORDS[:2])
    ex.chunk(b'data: {"choices": [{"index": 0, "delta": {"content": "x"\n\n')
    ex.sse("[DONE]")
    ex.end_stream()


def truncated(ex: Exchange) -> None:
    """Ends the body cleanly, but before any finish reason or [DONE]."""
    ex.start_stream()
    _stream_words(ex, WORDS[:4])
    ex.end_stream()


def dropped(ex: Exchange) -> None:
    """Ends the stream properly, with no answer and no finish reason: what llama.cpp's server
    sends a request that another request interrupted."""
    ex.start_stream()
    ex.sse("[DONE]")
    ex.end_stream()


def html(ex: Exchange) -> None:
    ex.send(200, b"<html><body>Welcome to nginx!</body></html>", content_type="text/html")


def silent(ex: Exchange) -> None:
    """Reads the request and never answers."""
    ex.pause(3600)


def trickle(ex: Exchange) -> None:
    """A word every 0.2 s, forever: only a total deadline stops it."""
    ex.start_stream()
    while _stream_words(ex, WORDS, interval=0.2):
        pass


def slow(ex: Exchange) -> None:
    """A long, steady answer (cancel tests): 400 words, 20 ms apart."""
    ex.start_stream()
    if _stream_words(ex, WORDS * 40, interval=0.02):
        ex.sse(chat_chunk(finish="length"))
        ex.sse("[DONE]")
        ex.end_stream()


def slow_unframed(ex: Exchange) -> None:
    """Three words, a pause of 30 s, the rest, in a body that ends when the connection closes
    (no Content-Length, not chunked): a cancel lands while the client waits in a read."""
    ex.start_stream(chunked=False)
    if _stream_words(ex, WORDS[:3]) and not ex.pause(30) and _stream_words(ex, WORDS[3:]):
        ex.sse(chat_chunk(finish="stop"))
        ex.sse("[DONE]")


def mid_stream_error(ex: Exchange) -> None:
    ex.start_stream()
    _stream_words(ex, WORDS[:2])
    ex.sse({"error": {"message": "model crashed: out of memory", "type": "server_error"}})
    ex.end_stream()


def no_stream(ex: Exchange) -> None:
    """Ignores "stream": true and answers with one JSON body (some servers do)."""
    ex.body["stream"] = False
    ok(ex)


def completions(ex: Exchange) -> None:
    ex.start_stream()
    for word in WORDS[:3]:
        ex.sse(
            {
                "id": "t1",
                "object": "text_completion",
                "choices": [{"index": 0, "text": word, "finish_reason": None}],
            }
        )
    ex.sse({"id": "t1", "choices": [{"index": 0, "text": "", "finish_reason": "length"}]})
    ex.sse("[DONE]")
    ex.end_stream()


class Capped:
    """A server that runs ``limit`` requests at once (each takes ``latency`` seconds) and answers
    429 with ``Retry-After`` beyond that, as a rate-limited API or a proxy in front of a server
    with ``limit`` slots does. Records, per request in arrival order, whether it was refused."""

    def __init__(self, limit: int, latency: float, retry_after: str = "1") -> None:
        self.limit = limit
        self.latency = latency
        self.retry_after = retry_after
        self.lock = threading.Lock()
        self.in_flight = 0
        self.peak = 0
        self.refused: list[bool] = []

    def __call__(self, ex: Exchange) -> None:
        if _models(ex):
            return
        with self.lock:
            refuse = self.in_flight >= self.limit
            self.refused.append(refuse)
            if not refuse:
                self.in_flight += 1
                self.peak = max(self.peak, self.in_flight)
        if refuse:
            ex.send_json(
                429,
                {"error": {"message": "too many requests at once", "type": "rate_limit"}},
                headers={"Retry-After": self.retry_after},
            )
            return
        try:
            ex.pause(self.latency)
            ex.start_stream()
            _stream_words(ex, WORDS[:3])
            ex.sse(chat_chunk(finish="stop"))
        finally:
            with self.lock:  # before the last bytes: the client may start its next at once
                self.in_flight -= 1
        ex.sse("[DONE]")
        ex.end_stream()


def _http_date(seconds_from_now: float) -> str:
    from email.utils import formatdate

    return formatdate(time.time() + seconds_from_now, usegmt=True)


OPENAI_SCENARIOS: dict[str, Scenario] = {
    "ok": ok,
    "redirect": lambda ex: ex.send(301, b"", headers={"Location": "https://example.test/v1"}),
    "429-then-ok": _then_ok(429, lambda: {"Retry-After": "1"}),
    "429-date-then-ok": _then_ok(429, lambda: {"Retry-After": _http_date(2)}),
    "429-long": _always(429, "slow down", {"Retry-After": "3600"}),
    "500-then-ok": _then_ok(500),
    "408-then-ok": _then_ok(408),
    "409-then-ok": _then_ok(409),
    "502-then-ok": _then_ok(502),
    "403": _always(403, "Project does not have access to model"),
    "503-always": _always(503, "overloaded"),
    "401": echo_key_401,
    "404": _always(404, "The model 'nope' does not exist"),
    "400": _always(400, "Unrecognized request argument supplied: top_k"),
    "reset-mid-stream": reset_mid_stream,
    "reset-then-ok": reset_before_answer,
    "malformed": malformed,
    "truncated": truncated,
    "dropped": dropped,
    "html": html,
    "silent": silent,
    "trickle": trickle,
    "slow": slow,
    "slow-unframed": slow_unframed,
    "mid-stream-error": mid_stream_error,
    "no-stream": no_stream,
    "completions": completions,
}
