"""Small servers on 127.0.0.1 that speak local model servers' own documented endpoints, at the
root of their port as the real ones do (discovery probes fixed paths):

- :class:`OllamaServer`: Ollama's API (docs/api.md of ollama/ollama): ``GET /api/version``,
  ``GET /api/tags``, ``POST /api/show`` (``capabilities``, ``model_info`` with
  ``<arch>.context_length``, ``template``) and ``POST /api/chat`` streaming NDJSON, one JSON
  object a line, the last with ``done: true``, ``done_reason`` and the durations in ns.
- LM Studio's REST API v0 (lmstudio.ai/docs/developer/rest/endpoints): ``GET /api/v0/models``
  with ``type``, ``state``, ``max_context_length``, ``capabilities``; plus ``/v1/models``.
- Servers that are not model servers: a catch-all answering 200 on every path.

``POST /api/generate`` streams ``response`` pieces the same way. Ollama's chat scenarios are
picked by model name: ``tiny:latest`` answers, ``broken:latest``
sends an ``{"error": ...}`` line mid-stream, ``slow:latest`` streams a word every 0.2 s.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

WORDS = ["The", " quick", " brown", " fox", " jumps", " over", " the", " lazy", " dog", "."]

Route = Callable[["_Handler", Any], None]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server
    raw: bytes

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        self.raw = raw  # what a route that takes no JSON (a file upload) reads
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        owner = self.server.owner
        with owner.lock:
            owner.requests.append((self.command, self.path, body))
        route = owner.routes.get((self.command, self.path)) or owner.routes.get(("*", "*"))
        if route is None:
            self.send_json(404, {"error": f"no route {self.command} {self.path}"})
            return
        try:
            route(self, body)
        except OSError:
            self.close_connection = True

    do_GET = do_POST = do_PUT = _handle

    def send_json(self, status: int, data: Any) -> None:
        self.send_body(status, json.dumps(data).encode(), "application/json")

    def send_body(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        self.wfile.flush()

    def start_chunks(self, content_type: str) -> None:
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self.wfile.flush()

    def chunk(self, data: bytes) -> None:
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def end_chunks(self) -> None:
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    owner: LocalServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # clients going away mid-answer is the point of the cancel tests


class _Server6(_Server):
    address_family = socket.AF_INET6


class LocalServer:
    """A threaded HTTP server on 127.0.0.1 (or ``::1``) on a free port, with a route table."""

    def __init__(self, routes: dict[tuple[str, str], Route], host: str = "127.0.0.1") -> None:
        self.routes = routes
        self.requests: list[tuple[str, str, Any]] = []
        self.lock = threading.Lock()
        #: Faults for the next creates (batch servers): see :meth:`answers_create`.
        self.create_faults: list[str] = []
        self._held: tuple[threading.Event, threading.Event] | None = None
        self.stopping = threading.Event()
        self._server = (_Server6 if ":" in host else _Server)((host, 0), _Handler)
        self._server.owner = self
        self.port: int = self._server.server_address[1]
        self.url = f"http://[{host}]:{self.port}" if ":" in host else f"http://{host}:{self.port}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), daemon=True
        )
        self._thread.start()

    def bodies(self, path: str) -> list[Any]:
        with self.lock:
            return [body for _, p, body in self.requests if p == path]

    def hold_next_create(self) -> tuple[threading.Event, threading.Event]:
        """Hold the next create (batch servers) as it arrives, before the server carries it
        out: returns (arrived, release); the test waits on ``arrived``, does what must happen
        while that create is in flight, then sets ``release``. Later creates are not held."""
        held = threading.Event(), threading.Event()
        with self.lock:
            self._held = held
        return held

    def create_arrives(self) -> None:
        """Called by a batch server as a create arrives: see :meth:`hold_next_create`."""
        with self.lock:
            held, self._held = self._held, None
        if held is not None:
            arrived, release = held
            arrived.set()
            if not release.wait(timeout=30):
                raise AssertionError("a held create was never released")

    def answers_create(self, h: _Handler) -> bool:
        """Whether a create the server just carried out is answered: the next fault queued in
        ``create_faults`` fails it as a proxy or the network may once the server made it
        ("502": a gateway's error page; "drop": the connection closed unanswered)."""
        with self.lock:
            fault = self.create_faults.pop(0) if self.create_faults else None
        if fault == "502":
            h.send_body(502, b"<html><body><h1>502 Bad Gateway</h1></body></html>", "text/html")
        elif fault == "drop":
            h.close_connection = True
        elif fault is not None:
            raise AssertionError(f"unknown create fault {fault!r}")
        return fault is None

    def close(self) -> None:
        self.stopping.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)

    def __enter__(self) -> LocalServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# --- Ollama ---------------------------------------------------------------------------------

OLLAMA_MODELS: dict[str, dict[str, Any]] = {
    "tiny:latest": {
        "family": "llama",
        "parameter_size": "135M",
        "quantization_level": "Q8_0",
        "capabilities": ["completion", "tools"],
        "context_length": 8192,
    },
    "seeing:latest": {
        "family": "gemma3",
        "parameter_size": "4.3B",
        "quantization_level": "Q4_K_M",
        "capabilities": ["completion", "vision", "thinking"],
        "context_length": 131072,
    },
    "broken:latest": {"capabilities": ["completion"], "context_length": 2048},
    "slow:latest": {"capabilities": ["completion"], "context_length": 2048},
}
OLLAMA_VERSION = "0.6.2"


def _tag(name: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": name,
        "model": name,
        "modified_at": "2026-01-01T00:00:00Z",
        "size": 1000,
        "digest": "0" * 64,
        "details": {
            "format": "gguf",
            "family": spec.get("family", "llama"),
            "families": [spec.get("family", "llama")],
            "parameter_size": spec.get("parameter_size", "1B"),
            "quantization_level": spec.get("quantization_level", "Q4_0"),
        },
    }


def _ollama_show(h: _Handler, body: Any) -> None:
    name = (body or {}).get("model", "")
    spec = OLLAMA_MODELS.get(name)
    if spec is None:
        h.send_json(404, {"error": f"model '{name}' not found"})
        return
    arch = spec.get("family", "llama")
    h.send_json(
        200,
        {
            "license": "MIT",
            "modelfile": f"FROM {name}",
            "parameters": "temperature 0.7",
            "template": "{{ .System }}{{ .Prompt }}",
            "details": _tag(name, spec)["details"],
            "model_info": {
                "general.architecture": arch,
                f"{arch}.context_length": spec["context_length"],
            },
            "capabilities": spec["capabilities"],
        },
    )


def _ollama_line(h: _Handler, data: dict[str, Any]) -> None:
    h.chunk((json.dumps(data) + "\n").encode())


def _ollama_chat(h: _Handler, body: Any) -> None:
    body = body or {}
    model = body.get("model", "")
    if model not in OLLAMA_MODELS:
        h.send_json(404, {"error": f'model "{model}" not found, try pulling it first'})
        return
    owner = h.server.owner
    words = WORDS
    limit = (body.get("options") or {}).get("num_predict")
    if isinstance(limit, int) and limit >= 0:
        words = words[:limit]
    base = {"model": model, "created_at": "2026-01-01T00:00:00Z"}
    thinking = ["Let", " me", " think"] if body.get("think") else []
    if body.get("tools") and body["messages"][-1]["role"] != "tool":
        _ollama_tool_call(h, body, base)
        return
    if not body.get("stream", True):
        message = {"role": "assistant", "content": "".join(words)}
        if thinking:
            message["thinking"] = "".join(thinking)
        h.send_json(200, {**base, "message": message, **_done(words, limit)})
        return
    h.start_chunks("application/x-ndjson")
    for piece in thinking:
        thought = {"role": "assistant", "content": "", "thinking": piece}
        _ollama_line(h, {**base, "message": thought, "done": False})
    for index, word in enumerate(words):
        if model == "broken:latest" and index == 3:
            _ollama_line(h, {"error": "an error was encountered while running the model"})
            h.end_chunks()
            return
        _ollama_line(h, {**base, "message": {"role": "assistant", "content": word}, "done": False})
        if model == "slow:latest" and owner.stopping.wait(0.2):
            return
    last = {"role": "assistant", "content": ""}
    _ollama_line(h, {**base, "message": last, **_done(words, limit)})
    h.end_chunks()


def _ollama_tool_call(h: _Handler, body: Any, base: dict[str, Any]) -> None:
    """Ollama's tool call: whole in one line (arguments an object), done_reason still "stop"."""
    name = body["tools"][0]["function"]["name"]
    call = {"function": {"name": name, "arguments": {"city": "Paris"}}}
    message = {"role": "assistant", "content": "", "tool_calls": [call]}
    if not body.get("stream", True):
        h.send_json(200, {**base, "message": message, **_done([], None)})
        return
    h.start_chunks("application/x-ndjson")
    _ollama_line(h, {**base, "message": message, "done": False})
    _ollama_line(h, {**base, "message": {"role": "assistant", "content": ""}, **_done([], None)})
    h.end_chunks()


def _ollama_generate(h: _Handler, body: Any) -> None:
    """``/api/generate`` streaming: each line's text is in ``response``."""
    body = body or {}
    base = {"model": body.get("model", ""), "created_at": "2026-01-01T00:00:00Z"}
    h.start_chunks("application/x-ndjson")
    for word in WORDS:
        _ollama_line(h, {**base, "response": word, "done": False})
    _ollama_line(h, {**base, "response": "", **_done(WORDS, None)})
    h.end_chunks()


def _done(words: list[str], limit: Any) -> dict[str, Any]:
    return {
        "done": True,
        "done_reason": "length" if isinstance(limit, int) and limit < len(WORDS) else "stop",
        "total_duration": 900_000_000,
        "load_duration": 600_000_000,
        "prompt_eval_count": 12,
        "prompt_eval_duration": 100_000_000,
        "eval_count": len(words),
        "eval_duration": 200_000_000,
    }


def ollama_routes() -> dict[tuple[str, str], Route]:
    return {
        ("GET", "/"): lambda h, _: h.send_body(200, b"Ollama is running", "text/plain"),
        ("GET", "/api/version"): lambda h, _: h.send_json(200, {"version": OLLAMA_VERSION}),
        ("GET", "/api/tags"): lambda h, _: h.send_json(
            200, {"models": [_tag(n, s) for n, s in OLLAMA_MODELS.items()]}
        ),
        ("POST", "/api/show"): _ollama_show,
        ("POST", "/api/chat"): _ollama_chat,
        ("POST", "/api/generate"): _ollama_generate,
    }


class OllamaServer(LocalServer):
    def __init__(self, host: str = "127.0.0.1") -> None:
        super().__init__(ollama_routes(), host)


# --- LM Studio ------------------------------------------------------------------------------

LMSTUDIO_MODELS = [
    {
        "id": "qwen2-vl-7b-instruct",
        "object": "model",
        "type": "vlm",
        "publisher": "mlx-community",
        "arch": "qwen2_vl",
        "compatibility_type": "mlx",
        "quantization": "4bit",
        "state": "not-loaded",
        "max_context_length": 32768,
    },
    {
        "id": "meta-llama-3.1-8b-instruct",
        "object": "model",
        "type": "llm",
        "publisher": "lmstudio-community",
        "arch": "llama",
        "compatibility_type": "gguf",
        "quantization": "Q4_K_M",
        "state": "loaded",
        "max_context_length": 131072,
        "capabilities": ["tool_use"],
    },
    {
        "id": "text-embedding-nomic-embed-text-v1.5",
        "object": "model",
        "type": "embeddings",
        "publisher": "nomic-ai",
        "arch": "nomic-bert",
        "compatibility_type": "gguf",
        "quantization": "Q4_0",
        "state": "not-loaded",
        "max_context_length": 2048,
    },
]


def lmstudio_routes() -> dict[tuple[str, str], Route]:
    openai_list = [
        {"id": m["id"], "object": "model", "owned_by": m["publisher"]} for m in LMSTUDIO_MODELS
    ]
    return {
        ("GET", "/api/v0/models"): lambda h, _: h.send_json(
            200, {"object": "list", "data": LMSTUDIO_MODELS}
        ),
        ("GET", "/v1/models"): lambda h, _: h.send_json(
            200, {"object": "list", "data": openai_list}
        ),
    }


# --- other servers: fixed JSON answers in their documented shapes -------------------------------


def json_routes(answers: dict[str, Any]) -> dict[tuple[str, str], Route]:
    """``GET path`` answers 200 with that JSON; every other path 404, as the real servers do."""

    def answer(data: Any) -> Route:
        return lambda h, _: h.send_json(200, data)

    return {("GET", path): answer(data) for path, data in answers.items()}


# --- not model servers ------------------------------------------------------------------------


def catch_all_routes(body: bytes, content_type: str) -> dict[tuple[str, str], Route]:
    """200 with the same body on every path and method (a web app, a dev server)."""
    return {("*", "*"): lambda h, _: h.send_body(200, body, content_type)}


# --- servers that say how many requests they run at once --------------------------------------


def vllm_routes(model: str = "fault-model") -> dict[tuple[str, str], Route]:
    """vLLM's ``/version`` and its model list (``owned_by: vllm``): a server that batches."""
    models = {"object": "list", "data": [{"id": model, "object": "model", "owned_by": "vllm"}]}
    return json_routes({"/version": {"version": "0.8.4"}, "/v1/models": models})


def llama_server_routes(total_slots: int) -> dict[tuple[str, str], Route]:
    """llama.cpp's llama-server ``/props`` (its ``total_slots``: ``-np``) and model list."""
    props = {
        "default_generation_settings": {"n_ctx": 4096},
        "total_slots": total_slots,
        "model_path": "/models/qwen2.5-0.5b-instruct-q4_k_m.gguf",
        "build_info": "b5123-1a2b3c4",
    }
    models = {"object": "list", "data": [{"id": "qwen2.5-0.5b", "object": "model"}]}
    return json_routes({"/props": props, "/v1/models": models})
