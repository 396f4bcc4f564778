"""Server pools: 600-call sweeps against local servers that each run 4 requests at once (50 ms
each, 429 + ``Retry-After: 1`` beyond), through one server or a pool of three, with no
concurrency set (each server of a pool has its own adaptive limit, from 4).

- one server vs a pool of three: throughput (requests/s) and the ratio (ideal: 3x);
- a pool of three with one server killed (SIGKILL) a third of the way in: every cell ends once
  (ok or failed mid-answer, never answered twice), and the throughput of the two left.

Servers are separate processes (``bench_concurrency.serve``); the sweep goes through the real
stack (``GridRunner`` -> ``Runner`` -> limiter -> ``openai_compat`` with ``base_urls``).
Run: ``python bench/run.py pool`` (or this file directly).
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from bench_concurrency import LATENCY_S
from bench_sweep import _experiment

CALLS = 600
CAPACITY = 4
HERE = Path(__file__).resolve().parent


def _start() -> tuple[subprocess.Popen[str], str]:
    server = subprocess.Popen(
        [sys.executable, str(HERE / "bench_concurrency.py"), "serve", str(CAPACITY),
         str(LATENCY_S)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert server.stdout is not None
    return server, f"http://127.0.0.1:{int(server.stdout.readline())}/v1"


def _sweep(urls: list[str], folder: Path, tag: str,
           kill: subprocess.Popen[str] | None = None) -> dict[str, Any]:
    from workbench.backends.config import BackendConfig
    from workbench.services.grid_runner import GridRunner
    from workbench.services.group_commit import GroupCommitWriter
    from workbench.services.pace import PaceBook
    from workbench.services.runner import Runner
    from workbench.storage.repositories import Store

    options = {"base_urls": urls, "default_model": "bench-model", "pool_cooldown": 600}
    configs = {"fake": BackendConfig(name="fake", backend="openai_compat", options=options)}
    with Store.open(folder / f"{tag}.db") as store, GroupCommitWriter(store) as writer:
        runner = Runner(writer=writer, configs=configs, pace=PaceBook(folder / f"{tag}.json"))
        grid = GridRunner(runner, store)
        stored = store.experiments.create(_experiment(CALLS, tag))  # type: ignore[arg-type]
        done = threading.Event()

        def killer() -> None:
            while not done.is_set():
                if store.runs.count() >= CALLS // 3 and kill is not None:
                    kill.kill()
                    return
                time.sleep(0.01)

        watcher = threading.Thread(target=killer)
        watcher.start()
        t0 = time.perf_counter()
        report = grid.run(stored)
        wall = time.perf_counter() - t0
        done.set()
        watcher.join()
        pool = getattr(runner.backend("fake"), "pool", None)
        figures = pool.figures() if pool is not None else []
        runner.close()
    keys = [o.key for o in report.outcomes]
    return {"wall": wall, "counts": report.counts, "cells": len(keys),
            "once": len(set(keys)) == len(keys) == CALLS, "servers": figures}


def _line(name: str, f: dict[str, Any]) -> str:
    return (f"{name:<28}: {CALLS / f['wall']:6.1f} requests/s, wall {f['wall']:.2f} s, "
            f"{f['counts']['ok']} ok / {f['counts']['error']} failed, "
            f"every cell once: {f['once']}")


def main() -> None:
    servers = [_start() for _ in range(4)]
    try:
        urls = [url for _, url in servers]
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            one = _sweep(urls[:1], folder, "one")
            three = _sweep(urls[1:], folder, "three")
            killed = _sweep(urls[:3], folder, "killed", kill=servers[1][0])
        print(f"servers run {CAPACITY} at once, {LATENCY_S * 1000:.0f} ms each, 429 beyond; "
              f"{CALLS} calls, no concurrency set", flush=True)
        print("  " + _line("one server", one), flush=True)
        print("  " + _line("pool of three", three), flush=True)
        print(f"  pool of three / one server: {one['wall'] / three['wall']:.2f}x (ideal 3x)",
              flush=True)
        print("  " + _line("pool, one killed at 1/3", killed), flush=True)
        for f in killed["servers"]:
            mean = "-" if f.mean_latency_s is None else f"{f.mean_latency_s * 1000:.0f} ms"
            print(f"    {f.url}: {f.requests} requests, {f.failures} failed, mean {mean}, "
                  f"{'up' if f.healthy else 'drained'}", flush=True)
    finally:
        for server, _ in servers:
            server.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                server.wait(timeout=10)


if __name__ == "__main__":
    main()
