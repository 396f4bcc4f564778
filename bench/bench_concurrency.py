"""Adaptive concurrency: 1,000-call sweeps with no concurrency set against local servers that
run K requests at once (50 ms each) and answer 429 with ``Retry-After: 1`` beyond that (they
answer vLLM's ``/version``: identified as a server that batches, not one to run one at a time).

- K = 16: throughput with no flag (the limit adapts from a local server's 4) against
  ``--concurrency 16`` (target >= 0.9; two sweeps of each, alternately, best against best, and
  round by round) and against promptfoo's default, a fixed 4 requests at once (its documented
  ``maxConcurrency`` default; target >= 2x), measured in the same run; the pre-run estimate
  (its concurrency and wall time lines) printed before the first no-flag sweep;
- K = 4: the share of calls retried (429s the server sent) after the first 50 calls
  (target <= 2 %).

Each sweep goes through the real stack (``GridRunner`` -> ``Runner`` -> limiter -> the
``openai_compat`` backend, default retry settings -> a ``GroupCommitWriter``), against a fresh
server process (asyncio: waiting requests cost it nothing, and it does not share our GIL).
A warm-up sweep on another backend name (so its limiter is not the one measured) loads what
is loaded once. Run: ``python bench/run.py concurrency`` (or this file directly).
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
from typing import Any

from bench_sweep import STREAM_BODY, STREAM_HEAD, _experiment

CALLS = 1000
WARMUP = 100
LATENCY_S = 0.050
IDLE_STOP_S = 120.0
#: promptfoo's evaluateOptions.maxConcurrency: "Defaults to 4" (its configuration reference).
PROMPTFOO_DEFAULT = 4
#: Sweeps of each of no flag and ``--concurrency 16``.
ROUNDS = 2

REFUSED_BODY = b'{"error": {"message": "too many requests at once", "type": "rate_limit"}}'
REFUSED = (
    b"HTTP/1.1 429 Too Many Requests\r\nContent-Type: application/json\r\nRetry-After: 1\r\n"
    b"Connection: keep-alive\r\nContent-Length: %d\r\n\r\n%s" % (len(REFUSED_BODY), REFUSED_BODY)
)


# --- the server (child process) ------------------------------------------------------------------


async def _serve(capacity: int, latency: float) -> None:
    """Run ``capacity`` requests at once; refuse more with 429. ``GET /stats`` answers what the
    measured backend (paths without ``/warm``) saw: ``served`` and, per answer in order,
    whether it was refused."""
    in_flight = 0
    answers: list[bool] = []  # measured requests in the order answered: True = refused
    last = time.monotonic()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal in_flight, last
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                request_line = head.split(b"\r\n", 1)[0].decode("latin-1")
                length = 0
                for line in head.decode("latin-1").split("\r\n")[1:]:
                    name, _, value = line.partition(":")
                    if name.strip().lower() == "content-length":
                        length = int(value)
                if length:
                    await reader.readexactly(length)
                last = time.monotonic()
                measured = "/warm/" not in request_line
                if request_line.startswith("GET "):
                    # /version and the model list (owned by vllm) are vLLM's: the app asks
                    # them, identifies a server that batches and adapts from the local start
                    path = request_line.split(" ")[1]
                    answer = {"/stats": {"answers": answers}, "/version": {"version": "0.8.4"},
                              "/v1/models": {"data": [{"id": "m", "owned_by": "vllm"}]}}
                    body = json.dumps(answer.get(path, {})).encode()
                    status = b"200 OK" if path in answer else b"404 Not Found"
                    writer.write(b"HTTP/1.1 %s\r\nContent-Length: %d\r\n\r\n%s"
                                 % (status, len(body), body))
                elif in_flight >= capacity:
                    if measured:
                        answers.append(True)
                    writer.write(REFUSED)
                else:
                    in_flight += 1
                    try:
                        await asyncio.sleep(latency)
                    finally:
                        in_flight -= 1
                    if measured:
                        answers.append(False)
                    writer.write(STREAM_HEAD + STREAM_BODY)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0, backlog=256)
    print(server.sockets[0].getsockname()[1], flush=True)
    async with server:
        while time.monotonic() - last < IDLE_STOP_S:
            await asyncio.sleep(1.0)


def serve(capacity: int, latency: float) -> None:
    asyncio.run(_serve(capacity, latency))


# --- the sweeps (this process) ------------------------------------------------------------------


def _stats(port: int) -> list[bool]:
    import httpx

    return list(httpx.get(f"http://127.0.0.1:{port}/stats", timeout=10).json()["answers"])


def _sweep(port: int, folder: Path, concurrency: int | None, tag: str) -> dict[str, Any]:
    from workbench.backends.config import BackendConfig
    from workbench.services.grid_runner import GridRunner
    from workbench.services.group_commit import GroupCommitWriter
    from workbench.services.pace import PaceBook
    from workbench.services.runner import Runner
    from workbench.storage.repositories import Store

    def config(name: str, path: str, concurrency: int | None) -> BackendConfig:
        options: dict[str, Any] = {"base_url": f"http://127.0.0.1:{port}{path}",
                                   "default_model": "bench-model"}
        if concurrency is not None:
            options["concurrency"] = concurrency
        return BackendConfig(name=name, backend="openai_compat", options=options)

    configs = {"warm": config("warm", "/warm/v1", 4), "fake": config("fake", "/v1", concurrency)}
    with Store.open(folder / f"{tag}.db") as store, GroupCommitWriter(store) as writer:
        runner = Runner(writer=writer, configs=configs, pace=PaceBook(folder / f"{tag}.json"))
        grid = GridRunner(runner, store)
        gc.freeze()  # as `workbench compare` does before a sweep
        warm: Any = _experiment(WARMUP, "warm-up")
        warm = warm.model_copy(
            update={"variants": [v.model_copy(update={"backend": "warm"}) for v in warm.variants]}
        )
        grid.run(store.experiments.create(warm))
        stored = store.experiments.create(_experiment(CALLS, "bench"))  # type: ignore[arg-type]
        # The pre-run estimate, as `workbench compare` and the app print it before a sweep
        # (a server on this machine is asked what it is then, not during the sweep).
        estimate = _pace_lines(grid.estimate(stored))
        t0 = time.perf_counter()
        report = grid.run(stored)
        wall = time.perf_counter() - t0
        again = _pace_lines(grid.estimate(_experiment(CALLS, "again")))  # what it learned
        limiter = runner.limits.peek("fake")
        reached = limiter.limit if limiter is not None else None
        runner.close()
    return {"wall": wall, "counts": report.counts, "reached": reached, "estimate": estimate,
            "again": again}


def _pace_lines(estimate: Any) -> str:
    return "; ".join(" ".join(line.split()) for line in estimate.lines()
                     if line.startswith(("concurrency:", "wall time:")))


def _run(capacity: int, concurrency: int | None, folder: Path, tag: str) -> dict[str, Any]:
    server = subprocess.Popen(
        [sys.executable, __file__, "serve", str(capacity), str(LATENCY_S)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        port = int(server.stdout.readline())
        figures = _sweep(port, folder, concurrency, tag)
        figures["answers"] = _stats(port)
    finally:
        server.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            server.wait(timeout=10)
    return figures


def _line(name: str, f: dict[str, Any]) -> str:
    refused = sum(f["answers"])
    return (f"{name:<34}: {CALLS / f['wall']:6.1f} requests/s, wall {f['wall']:.2f} s, "
            f"{f['counts']['ok']} ok / {f['counts']['error']} failed, {refused} refused (429)"
            + (f", limit at the end {f['reached']}" if f["reached"] is not None else ""))


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        # No flag and --concurrency 16 twice each, alternately: the box is shared, and its load
        # drifts over a minute; each one's best is compared.
        rounds = [(name, _run(16, concurrency, folder, f"{tag}{n}"))
                  for n in range(ROUNDS)
                  for name, concurrency, tag in (("no flag", None, "adaptive16-"),
                                                 ("--concurrency 16", 16, "fixed16-"))]
        promptfoo = _run(16, PROMPTFOO_DEFAULT, folder, "fixed4")
        rounds.append(("promptfoo default (fixed 4)", promptfoo))
        print(f"server runs 16 at once, {LATENCY_S * 1000:.0f} ms each, 429 + Retry-After: 1 "
              f"beyond; {CALLS} calls", flush=True)
        first = rounds[0][1]
        print(f"  estimate before the first no-flag sweep: {first['estimate']}", flush=True)
        print(f"  estimate of the same sweep after it ({first['wall']:.2f} s): {first['again']}",
              flush=True)
        rate: dict[str, float] = {}
        for name, figures in rounds:
            print("  " + _line(name, figures), flush=True)
            rate[name] = max(rate.get(name, 0.0), CALLS / figures["wall"])
        pairs = [CALLS / a["wall"] / (CALLS / b["wall"])
                 for (_, a), (_, b) in zip(rounds[0:-1:2], rounds[1:-1:2], strict=True)]
        print(f"  no flag / --concurrency 16: {rate['no flag'] / rate['--concurrency 16']:.2f} "
              f"best against best (target >= 0.9); round by round "
              f"{', '.join(f'{r:.2f}' for r in pairs)}", flush=True)
        print(f"  no flag / promptfoo default: "
              f"{rate['no flag'] / rate['promptfoo default (fixed 4)']:.2f}x (target >= 2x)",
              flush=True)
        four = _run(4, None, folder, "adaptive4")
        answers = four["answers"]
        ok_seen, late = 0, 0
        for refused in answers:
            if refused and ok_seen >= 50:
                late += 1
            ok_seen += not refused
        print(f"server runs 4 at once, 429 + Retry-After: 1 beyond; {CALLS} calls, no flag",
              flush=True)
        print("  " + _line("no flag", four), flush=True)
        print(f"  calls retried after the first 50: {late} of {CALLS - 50} = "
              f"{late / (CALLS - 50):.1%} (target <= 2%); {sum(answers) - late} in the first 50",
              flush=True)


if __name__ == "__main__":
    if len(sys.argv) >= 2 and sys.argv[1] == "serve":
        serve(int(sys.argv[2]), float(sys.argv[3]))
    else:
        main()
