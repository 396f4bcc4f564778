"""A 1,000-call sweep against a local OpenAI-compatible server with a fixed 50 ms latency, at
concurrency 16: wall time against the ideal (calls × latency / concurrency = 3.125 s).

The server is a separate process (an asyncio loop, so 16 waiting requests cost nothing and it
does not share our GIL) that answers ``/v1/chat/completions``, streaming or not, exactly 50 ms
after reading each request, and stops by itself after its request budget or a minute idle. The
sweep goes through the real stack: ``GridRunner`` -> ``Runner`` (limiter, pricing) -> the
``openai_compat`` backend (httpx, SSE) -> a ``StoreWriter`` committing every run to a SQLite file.
Target: ratio <= 1.15. For scale: promptfoo made 78–107 requests/s in the same set-up. Each mode
also runs a bare httpx client from 16 threads against the same server: the floor this machine
allows, so the report separates the workbench's own cost from the box's.

Run: ``python bench/run.py sweep`` (or this file directly).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CALLS = 1000
CONCURRENCY = 16
LATENCY_S = 0.050
WARMUP = 100  # calls before the measured sweep (one variable set of the grid)
IDLE_STOP_S = 60.0


# --- the server (child process) ------------------------------------------------------------------


def _sse(event: dict[str, object]) -> bytes:
    data = b"data: " + json.dumps(event).encode() + b"\n\n"
    return b"%x\r\n%s\r\n" % (len(data), data)


def _chunk(delta: dict[str, str], finish: str | None = None) -> dict[str, object]:
    return {
        "id": "chatcmpl-bench",
        "object": "chat.completion.chunk",
        "created": 1700000000,
        "model": "bench-model",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }


USAGE = {"prompt_tokens": 20, "completion_tokens": 3, "total_tokens": 23}
STREAM_BODY = (
    _sse(_chunk({"role": "assistant", "content": ""}))
    + _sse(_chunk({"content": "Lima"}))
    + _sse(_chunk({"content": " is"}))
    + _sse(_chunk({"content": " the capital."}, "stop"))
    + _sse({**_chunk({}), "choices": [], "usage": USAGE})
    + b"e\r\ndata: [DONE]\n\n\r\n0\r\n\r\n"
)
STREAM_HEAD = (
    b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
    b"Transfer-Encoding: chunked\r\nConnection: keep-alive\r\n\r\n"
)
PLAIN_BODY = json.dumps(
    {
        "id": "chatcmpl-bench",
        "object": "chat.completion",
        "created": 1700000000,
        "model": "bench-model",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "Lima is the capital."},
                "finish_reason": "stop",
            }
        ],
        "usage": USAGE,
    }
).encode()
PLAIN = (
    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: keep-alive\r\n"
    b"Content-Length: %d\r\n\r\n%s" % (len(PLAIN_BODY), PLAIN_BODY)
)
NOT_FOUND = b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: keep-alive\r\n\r\n"


async def _serve(limit: int, latency: float) -> None:
    served = 0
    done = asyncio.Event()
    last = time.monotonic()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal served, last
        try:
            while not done.is_set():
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                length = 0
                for line in lines[1:]:
                    name, _, value = line.partition(":")
                    if name.strip().lower() == "content-length":
                        length = int(value)
                body = await reader.readexactly(length) if length else b""
                await asyncio.sleep(latency)  # the model "thinks" for exactly this long
                if " /v1/chat/completions " not in lines[0]:
                    writer.write(NOT_FOUND)
                else:
                    writer.write(
                        STREAM_HEAD + STREAM_BODY if json.loads(body).get("stream") else PLAIN
                    )
                await writer.drain()
                served += 1
                last = time.monotonic()
                if served >= limit:
                    done.set()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            pass  # the client left, or the server is stopping
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0, backlog=256)
    print(server.sockets[0].getsockname()[1], flush=True)
    async with server:
        while not done.is_set() and time.monotonic() - last < IDLE_STOP_S:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(done.wait(), timeout=1.0)


def serve(limit: int, latency: float) -> None:
    """Answer ``limit`` requests (then stop), or stop after a minute without one."""
    asyncio.run(_serve(limit, latency))


# --- the sweep (this process) ---------------------------------------------------------------------


def _experiment(calls: int, name: str) -> object:
    from workbench.core.experiments import TestCase, Variant
    from workbench.core.grid import SweepSpec
    from workbench.core.models import Message, Params, PromptTemplate

    template = PromptTemplate(
        name="capital",
        messages=[
            Message(role="system", content="Answer with the city only."),
            Message(role="user", content="What is the capital of {{ country }}? (case {{ n }})"),
        ],
    )
    temperatures = [round(0.1 * i, 1) for i in range(10)]
    sets = calls // (len(temperatures) * 10)
    return SweepSpec(
        name=name,
        base=Variant(template=template, backend="fake", params=Params(max_tokens=16)),
        parameters={"temperature": temperatures, "top_p": [0.5 + 0.05 * i for i in range(10)]},
        variable_sets=[TestCase(vars={"country": "Peru", "n": str(i)}) for i in range(sets)],
    ).to_experiment()


def _sweep(port: int, folder: Path, streaming: bool) -> dict[str, float]:
    from workbench.backends.config import BackendConfig
    from workbench.core.grid import cell_count
    from workbench.services.grid_runner import GridRunner
    from workbench.services.group_commit import GroupCommitWriter
    from workbench.services.runner import Runner
    from workbench.storage.repositories import Store

    configs = {
        "fake": BackendConfig(
            name="fake",
            backend="openai_compat",
            options={
                "base_url": f"http://127.0.0.1:{port}/v1",
                "default_model": "bench-model",
                "concurrency": CONCURRENCY,
                "streaming": streaming,
                "max_retries": 0,
            },
        )
    }
    with Store.open(folder / f"sweep-{streaming}.db") as store, GroupCommitWriter(store) as writer:
        runner = Runner(writer=writer, configs=configs)
        grid = GridRunner(runner, store)
        # As `workbench compare` does before it starts a sweep (cli._common.freeze_heap), and the
        # app once its window is up: what is loaded now is out of the cyclic GC's generations.
        gc.freeze()
        warm = store.experiments.create(_experiment(WARMUP, "warm-up"))  # type: ignore[arg-type]
        grid.run(warm)  # connections, tokenizer, model table: not what we measure
        stored = store.experiments.create(_experiment(CALLS, "bench"))  # type: ignore[arg-type]
        assert cell_count(stored.spec) == CALLS
        t0 = time.perf_counter()
        est = grid.estimate(stored)
        t1, cpu = time.perf_counter(), time.process_time()
        report = grid.run(stored)
        t2, cpu = time.perf_counter(), time.process_time() - cpu
        runner.close()
        committed = len(store.runs.completed_cells(stored.id))
    if report.counts["ok"] != CALLS or committed != CALLS or est.calls != CALLS:
        raise RuntimeError(f"sweep incomplete: {report.counts}, {committed} committed")
    return {"wall": t2 - t1, "estimate": t1 - t0, "cpu": cpu}


def _bare(port: int, streaming: bool) -> dict[str, float]:
    """The floor on this machine: CALLS requests from CONCURRENCY threads with a bare httpx
    client (no limiter, no pricing, no store), so the report separates our cost from the box's."""
    import queue
    import threading

    import httpx

    body = {"model": "bench-model", "messages": [{"role": "user", "content": "hi"}]}
    url = f"http://127.0.0.1:{port}/v1/chat/completions"
    limits = httpx.Limits(max_connections=CONCURRENCY, max_keepalive_connections=CONCURRENCY)
    with httpx.Client(limits=limits) as client:

        def one() -> None:
            with client.stream("POST", url, json={**body, "stream": streaming}) as response:
                for _ in response.iter_lines():
                    pass

        def sweep(calls: int) -> None:
            todo: queue.SimpleQueue[int] = queue.SimpleQueue()
            for i in range(calls):
                todo.put(i)

            def worker() -> None:
                while True:
                    try:
                        todo.get_nowait()
                    except queue.Empty:
                        return
                    one()

            threads = [threading.Thread(target=worker) for _ in range(CONCURRENCY)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()

        sweep(WARMUP)
        t0, cpu = time.perf_counter(), time.process_time()
        sweep(CALLS)
        return {"wall": time.perf_counter() - t0, "cpu": time.process_time() - cpu}


def _serve_child() -> tuple[subprocess.Popen[str], int]:
    server = subprocess.Popen(
        [sys.executable, __file__, "serve", str(CALLS + WARMUP), str(LATENCY_S)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert server.stdout is not None
    return server, int(server.stdout.readline())


def main() -> None:
    ideal = CALLS * LATENCY_S / CONCURRENCY
    with tempfile.TemporaryDirectory() as tmp:
        for streaming in (True, False):
            mode = "streaming" if streaming else "non-streaming"
            for name in ("workbench sweep", "bare httpx"):
                server, port = _serve_child()
                try:
                    if name == "bare httpx":
                        figures = _bare(port, streaming)
                    else:
                        figures = _sweep(port, Path(tmp), streaming)
                finally:
                    server.wait(timeout=IDLE_STOP_S + 5)
                wall = figures["wall"]
                line = (
                    f"{mode:>13}, {name:<15}: {CALLS} calls, concurrency {CONCURRENCY},"
                    f" {LATENCY_S * 1000:.0f} ms each: wall {wall:.3f} s, ideal {ideal:.3f} s,"
                    f" ratio {wall / ideal:.3f} (target <= 1.15), {CALLS / wall:.0f} requests/s"
                    f" (ideal {CALLS / ideal:.0f}), client CPU {figures['cpu'] / CALLS * 1000:.2f}"
                    " ms/call"
                )
                if "estimate" in figures:
                    line += f"; pre-run estimate {figures['estimate']:.2f} s"
                print(line, flush=True)


if __name__ == "__main__":
    if len(sys.argv) >= 2 and sys.argv[1] == "serve":
        serve(int(sys.argv[2]), float(sys.argv[3]))
    else:
        main()
