"""An evaluation's cost on top of pure generation, and its peak memory.

1,000 rows × 2 variants × 5 assertions (contains, icontains-any, regex, no-pii, and a similarity
metric to the expected answer: edit-similarity, or ROUGE-L in a second set) against
a fast local OpenAI-compatible server (a separate process on 127.0.0.1 that streams a short
answer derived from the question, and exits by itself after a bounded number of requests or a
minute without one). Pure generation is the same 2,000 calls through the same ``Runner`` (limited,
priced, committed to the store) from the same number of threads, without evaluating anything;
the evaluation adds rendering per cell, the assertions on each output as it completes, the
outcomes written to the store and the scorecard. The order rotates each round so drift hits every
kind; the overhead is reported from the best rounds, the medians, and the median of each round's
own ratio (the machine is shared and noisy).

Targets: evaluation time on top of generation ≤ 10 %; peak memory < 500 MB (the process's
maximum resident set, and tracemalloc's peak during a separate traced evaluation).

Run: ``python bench/run.py eval`` (or this file directly).
"""

from __future__ import annotations

import gc
import json
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import tracemalloc
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from _support import read_request

ROWS = 1_000
CONCURRENCY = 8
ROUNDS = 5  # rounds of (generation, each evaluation), the order rotating
#: The fifth assertion: a cheap similarity metric, then ROUGE-L (rouge-score with stemming).
METRICS = ("edit-similarity", "rouge-l")
MAX_REQUESTS = 40_000  # the server stops after this many, or after IDLE_S without a request
IDLE_S = 60.0


def _answer(question: str) -> list[str]:
    """A short answer in a few chunks; every seventh row leaks an email (a no-pii failure)."""
    n = int("".join(c for c in question if c.isdigit()) or 0)
    words = [f"The answer to {question} is {n * 7}.", " It is", " a fine", " number."]
    if n % 7 == 0:
        words.append(" Mail me at someone@example.com.")
    return words


def _sse(question: str) -> bytes:
    parts = []
    for text in _answer(question):
        chunk = {
            "id": "chatcmpl-bench",
            "object": "chat.completion.chunk",
            "model": "bench",
            "choices": [{"index": 0, "delta": {"content": text}, "finish_reason": None}],
        }
        parts.append(f"data: {json.dumps(chunk)}\n\n".encode())
    end = {
        "id": "chatcmpl-bench",
        "object": "chat.completion.chunk",
        "model": "bench",
        "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 20, "completion_tokens": 12, "total_tokens": 32},
    }
    parts += [f"data: {json.dumps(end)}\n\n".encode(), b"data: [DONE]\n\n"]
    return b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in parts) + b"0\r\n\r\n"


def serve(port_file: str) -> None:
    """The fake server: a thread per connection, keep-alive, stops by itself."""
    head = (
        b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
        b"Transfer-Encoding: chunked\r\nConnection: keep-alive\r\n\r\n"
    )
    models = json.dumps({"object": "list", "data": [{"id": "bench", "object": "model"}]}).encode()
    served = [0]
    last = [time.monotonic()]
    lock = threading.Lock()

    def handle(conn: socket.socket) -> None:
        buffer = b""
        with conn:
            while True:
                request = read_request(conn, buffer)
                if request is None:
                    return
                header, body, buffer = request
                with lock:
                    served[0] += 1
                    last[0] = time.monotonic()
                if header.startswith(b"GET"):
                    conn.sendall(
                        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                        b"Content-Length: %d\r\n\r\n%s" % (len(models), models)
                    )
                    continue
                messages = json.loads(body)["messages"]
                conn.sendall(head + _sse(messages[-1]["content"]))

    with socket.create_server(("127.0.0.1", 0)) as server:
        server.settimeout(1.0)
        Path(port_file).write_text(str(server.getsockname()[1]))
        while served[0] < MAX_REQUESTS and time.monotonic() - last[0] < IDLE_S:
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            threading.Thread(target=handle, args=(conn,), daemon=True).start()


def _line(name: str, timed: list[tuple[float, float]]) -> str:
    walls = ", ".join(f"{w:.2f}" for w, _ in timed)
    cpus = ", ".join(f"{c:.2f}" for _, c in timed)
    return f"{name}: wall {walls} s; process CPU {cpus} s"


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _start_server(folder: Path) -> tuple[subprocess.Popen[bytes], int]:
    port_file = folder / "port"
    proc = subprocess.Popen([sys.executable, __file__, "--serve", str(port_file)])
    deadline = time.monotonic() + 30
    while not port_file.exists() or not port_file.read_text():
        if time.monotonic() > deadline or proc.poll() is not None:
            proc.kill()
            raise RuntimeError("the fake server did not start")
        time.sleep(0.01)
    return proc, int(port_file.read_text())


def _spec(metric: str):  # type: ignore[no-untyped-def]
    from workbench.core.experiments import AssertionSpec, ExperimentSpec, TestCase, Variant
    from workbench.core.models import Message, Params, PromptTemplate

    def template(name: str, text: str) -> PromptTemplate:
        return PromptTemplate(name=name, messages=[Message(role="user", content=text)])

    return ExperimentSpec(
        name="bench",
        variants=[
            Variant(
                label=label,
                template=template(label, "question {{ n }}"),
                backend="fake",
                params=Params(max_tokens=32, temperature=0.0),
            )
            for label in ("a", "b")
        ],
        tests=[
            TestCase(
                vars={"n": str(i)},
                expected=f"The answer to question {i} is {i * 7}.",
                assertions=[AssertionSpec(type="contains", value=str(i * 7))],
            )
            for i in range(ROWS)
        ],
        default_assertions=[
            AssertionSpec(type="icontains-any", value=["answer", "number"]),
            AssertionSpec(type="regex", value=r"is \d+\."),
            AssertionSpec(type="no-pii"),
            AssertionSpec(type=metric, threshold=0.3),
        ],
    )


def _generate(store, runner, spec) -> float:  # type: ignore[no-untyped-def]
    """Pure generation: the evaluation's calls through the same runner, nothing evaluated."""
    from workbench.services.runner import build_request
    from workbench.storage.repositories import RunRef

    # Timed from storing the experiment, as the evaluation's time includes storing its own.
    started = time.perf_counter()
    stored = store.experiments.create(spec)
    cells = [(v, t) for t in range(len(spec.tests)) for v in range(len(spec.variants))]

    def one(cell: tuple[int, int]) -> None:
        v, t = cell
        variant, test = spec.variants[v], spec.tests[t]
        request = build_request(
            variant.template,
            test.vars,
            backend=variant.backend,
            params=variant.template.parameters.merged(variant.params),
        )
        ref = RunRef(stored.id, stored.variant_ids[v], stored.test_ids[t], 0, variables=test.vars)
        outcome = runner.execute(request, ref=ref)
        if outcome.result.finish_reason != "stop":
            raise RuntimeError(f"generation failed: {outcome.result.error}")

    with ThreadPoolExecutor(CONCURRENCY) as pool:
        list(pool.map(one, cells))
    return time.perf_counter() - started


def _evaluate(store, runner, spec):  # type: ignore[no-untyped-def]
    from workbench.services.evaluation import Evaluation

    started = time.perf_counter()
    evaluation = Evaluation.create(store, spec, runner, workers=CONCURRENCY)
    card = evaluation.run()
    elapsed = time.perf_counter() - started
    if len(card.cells) != ROWS * len(spec.variants):
        raise RuntimeError("the evaluation did not finish every cell")
    return elapsed, card


def main() -> None:
    from workbench.backends.config import BackendConfig
    from workbench.services.group_commit import GroupCommitWriter
    from workbench.services.runner import Runner
    from workbench.storage.repositories import Store

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        server, port = _start_server(folder)
        try:
            configs = {
                "fake": BackendConfig(
                    name="fake",
                    backend="openai_compat",
                    options={
                        "base_url": f"http://127.0.0.1:{port}/v1",
                        "default_model": "bench",
                        "concurrency": CONCURRENCY,
                        "api_key_env": "WORKBENCH_BENCH_NO_KEY",
                        "api_key_name": "workbench-bench-no-key",
                    },
                )
            }
            specs = {metric: _spec(metric) for metric in METRICS}
            spec = specs[METRICS[0]]
            runs: dict[str, list[tuple[float, float]]] = {name: [] for name in ("gen", *METRICS)}
            # The writer and the frozen heap are those of the app and of `workbench eval`.
            with Store.open(folder / "bench.db") as store, GroupCommitWriter(store) as writer:
                runner = Runner(writer=writer, configs=configs)
                gc.freeze()
                try:
                    _generate(store, runner, spec.model_copy(update={"tests": spec.tests[:50]}))
                    names = list(runs)
                    for round_ in range(ROUNDS):  # rotate the order so drift hits every kind
                        for name in names[round_ % len(names) :] + names[: round_ % len(names)]:
                            cpu = _cpu()
                            if name == "gen":
                                elapsed = _generate(store, runner, spec)
                            else:
                                elapsed, card = _evaluate(store, runner, specs[name])
                            runs[name].append((elapsed, _cpu() - cpu))
                    tracemalloc.start()
                    _evaluate(store, runner, specs[METRICS[-1]])
                    traced_peak = tracemalloc.get_traced_memory()[1]
                    tracemalloc.stop()
                finally:
                    runner.close()
        finally:
            server.terminate()
            server.wait(10)
    cells = ROWS * len(spec.variants)
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    overall = card.variants[0].overall.cases
    print(f"cells: {cells:,} ({ROWS:,} rows x {len(spec.variants)} variants), 5 assertions each")
    generation = runs.pop("gen")
    gen_cpu = statistics.median(c for _, c in generation)
    print(_line("pure generation", generation))
    for metric, timed in runs.items():
        print(_line(f"evaluation, 5th = {metric}", timed))
        for what, pick in (("best", min), ("median", statistics.median)):
            gen = pick(w for w, _ in generation)
            ev = pick(w for w, _ in timed)
            print(
                f"  overhead ({what}): {(ev / gen - 1) * 100:+.1f} % wall"
                f" ({gen:.2f} s -> {ev:.2f} s, {cells / ev:,.0f} cells/s; target <= 10 %)"
            )
        # Each round's evaluation against the same round's generation, seconds apart: the box
        # is shared, and a slow spell that spans a round moves both (a median over rounds can
        # pair one kind's slow rounds with the other's fast ones).
        paired = statistics.median(e / g for (e, _), (g, _) in zip(timed, generation, strict=True))
        print(f"  overhead (median of per-round ratios): {(paired - 1) * 100:+.1f} % wall")
        ev_cpu = statistics.median(c for _, c in timed)
        print(f"  CPU on top (median): {(ev_cpu / gen_cpu - 1) * 100:+.1f} %")
    child_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"peak RSS:         {rss_mb:.0f} MB  (target < 500 MB)")
    print(f"peak RSS, fake server: {child_mb:.0f} MB (a child process)")
    print(f"tracemalloc peak: {traced_peak / 2**20:.1f} MB during one traced evaluation")
    print(
        f"variant a: {overall.passed} passed, {overall.failed} failed, {overall.errors} errors "
        f"(every 7th row leaks an email: no-pii fails)"
    )


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--serve":
        serve(sys.argv[2])
    else:
        main()
