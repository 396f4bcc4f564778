"""The OpenAI-compatible client's streaming throughput vs a bare httpx SSE read.

A fast local server (a separate process, so it does not share our GIL) answers every request with
the same pre-built stream of CHUNKS small chat-completion chunks, one HTTP chunk per SSE event as
real servers flush them. Both clients read the same stream over a kept-alive connection; runs are
interleaved (ABC, then CBA) so drift hits all. The box is shared and noisy (a round can take twice
its best), so one slow round must not decide: each overhead is reported three ways, the median of
the per-round ratios (each client against the bare read of the same round, seconds apart), the
ratio of medians, and the ratio of the best rounds (noise only ever adds time). Target: overhead
<= 5 %.

Run: ``python bench/run.py http`` (or this file directly).
"""

from __future__ import annotations

import json
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from _support import read_request

CHUNKS = 20_000
REPEATS = 15
TOKEN = " tok"


def _stream_body(chunks: int) -> bytes:
    """The HTTP/1.1 chunked body: one SSE event per HTTP chunk, then [DONE]."""
    parts = []
    for i in range(chunks):
        event = {
            "id": "chatcmpl-bench",
            "object": "chat.completion.chunk",
            "created": 1700000000,
            "model": "bench",
            "choices": [{"index": 0, "delta": {"content": TOKEN}, "finish_reason": None}],
        }
        if i == chunks - 1:
            event["choices"][0]["finish_reason"] = "length"  # type: ignore[index]
        parts.append(f"data: {json.dumps(event)}\n\n".encode())
    parts.append(b"data: [DONE]\n\n")
    return b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in parts) + b"0\r\n\r\n"


def serve(port_file: str, chunks: int) -> None:
    """The fast SSE server: one thread per connection, keep-alive, the same answer each time."""
    import threading

    body = _stream_body(chunks)
    head = (
        b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
        b"Transfer-Encoding: chunked\r\nConnection: keep-alive\r\n\r\n"
    )

    def handle(conn: socket.socket) -> None:
        buffer = b""
        with conn:
            while True:
                request = read_request(conn, buffer)
                if request is None:
                    return
                _, _, buffer = request
                conn.sendall(head + body)

    with socket.create_server(("127.0.0.1", 0)) as server:
        Path(port_file).write_text(str(server.getsockname()[1]))
        while True:
            conn, _ = server.accept()
            threading.Thread(target=handle, args=(conn,), daemon=True).start()


def _bare(client: object, url: str, body: dict[str, object]) -> int:
    """What a minimal hand-written client does: lines, 'data: ', json, the delta's content."""
    import httpx

    assert isinstance(client, httpx.Client)
    count = 0
    with client.stream("POST", url, json=body) as response:
        for line in response.iter_lines():
            if not line.startswith("data: "):
                continue
            data = line[6:]
            if data == "[DONE]":
                break
            text = json.loads(data)["choices"][0]["delta"].get("content")
            if text:
                count += 1
    return count


def _count_text(events: Iterable[Any]) -> int:
    """The backend's text events, counted in a plain loop like the bare read's."""
    count = 0
    for event in events:
        if event.kind == "text":
            count += 1
    return count


def main() -> None:
    import tempfile

    import httpx

    from workbench.backends.base import CancelToken
    from workbench.backends.http import HttpClient, HttpOptions
    from workbench.backends.http_errors import ErrorContext
    from workbench.backends.openai_compat import OpenAICompatBackend, OpenAICompatOptions
    from workbench.core.models import Params, RenderedMessage, RunRequest

    with tempfile.TemporaryDirectory() as tmp:
        port_file = Path(tmp) / "port"
        server = subprocess.Popen(
            [sys.executable, __file__, "--serve", str(port_file), str(CHUNKS)]
        )
        try:
            deadline = time.monotonic() + 30
            while not port_file.exists() or not port_file.read_text():
                if time.monotonic() > deadline or server.poll() is not None:
                    raise RuntimeError("the benchmark server did not start")
                time.sleep(0.01)
            base = f"http://127.0.0.1:{port_file.read_text()}/v1"
            url = f"{base}/chat/completions"
            body = {
                "model": "bench",
                "messages": [{"role": "user", "content": "go"}],
                "max_tokens": CHUNKS,
                "stream": True,
            }
            bare_client = httpx.Client(timeout=60)
            policy = HttpClient(HttpOptions(), ErrorContext("bench", base))
            backend = OpenAICompatBackend(OpenAICompatOptions(base_url=base, api_key_env=""))
            request = RunRequest(
                backend="openai_compat",
                model="bench",
                messages=[RenderedMessage(role="user", content="go")],
                params=Params(max_tokens=CHUNKS),
            )

            def layers() -> int:
                """Our HTTP policy and SSE decoder, then the same json work as the bare read."""
                count = 0
                with policy.stream("POST", url, json_body=body, cancel=CancelToken()) as response:
                    for event in response.events():
                        if event.data == "[DONE]":
                            break
                        if json.loads(event.data)["choices"][0]["delta"].get("content"):
                            count += 1
                return count

            clients = {
                "bare httpx": lambda: _bare(bare_client, url, body),
                "policy+SSE": layers,
                "backend": lambda: _count_text(backend.stream(request, CancelToken())),
            }
            wall: dict[str, list[float]] = {name: [] for name in clients}
            cpu: dict[str, list[float]] = {name: [] for name in clients}
            for name, fn in clients.items():  # warm-up: connections, imports, caches
                assert fn() == CHUNKS, name
            for rep in range(REPEATS):
                order = list(clients) if rep % 2 == 0 else list(reversed(clients))
                for name in order:
                    start, start_cpu = time.perf_counter(), time.process_time()
                    count = clients[name]()
                    wall[name].append(time.perf_counter() - start)
                    cpu[name].append(time.process_time() - start_cpu)
                    assert count == CHUNKS, (name, count)
            bare_client.close()
            policy.close()
            backend.close()
        finally:
            server.terminate()
            server.wait(timeout=10)

    print(f"{CHUNKS} chunks per stream, {REPEATS} interleaved repetitions:")
    print("  bare httpx: iter_lines + json; policy+SSE: our HTTP policy and SSE decoder + the")
    print("  same json; backend: OpenAICompatBackend.stream (events, timings, text kept)")
    print("  overhead vs bare: median of per-round ratios / ratio of medians / ratio of bests")
    for label, runs in (("wall", wall), ("client CPU", cpu)):
        bare = runs["bare httpx"]
        for name, times in runs.items():
            median = statistics.median(times)
            paired = statistics.median(t / b for t, b in zip(times, bare, strict=True))
            of_medians = median / statistics.median(bare)
            of_bests = min(times) / min(bare)
            print(
                f"  {label:10} {name:10} median {median * 1000:7.1f} ms, best "
                f"{min(times) * 1000:7.1f} ms {CHUNKS / median:9,.0f} chunks/s  "
                f"{(paired - 1) * 100:+5.1f} / {(of_medians - 1) * 100:+5.1f} / "
                f"{(of_bests - 1) * 100:+5.1f} %"
            )
    print("  target: overhead <= 5 %; client CPU excludes the server and waits for a busy CPU")


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--serve":
        serve(sys.argv[2], int(sys.argv[3]))
    else:
        main()
