"""The experiment store with 100,000 runs: insert throughput, bytes per run, history and search.

Runs are realistic: chat requests with a system prompt and a user message, answers of 50–400
words, usage, timings, the raw prompt, about 3% failures and a fifth of the runs inside
experiments. Their text is real English (Python's help topics), cut into windows, so the
full-text index sees a natural word distribution.

Reported: insert throughput in batches of 1,000 runs per transaction and with one transaction per
run (what the runner does: a run is committed when it finishes), also through the writer thread;
bytes per run (database file after a checkpoint / runs); the median time to open history (the
first page of 100 most recent runs with their summary columns, on an open connection and from
opening the database) and of full-text queries of different selectivity. Target for history and
search: at most 100 ms median.
"""

from __future__ import annotations

import functools
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from workbench.core.experiments import ExperimentSpec, TestCase, Variant
from workbench.core.models import (
    Message,
    PromptTemplate,
    RenderedMessage,
    RunResult,
    SentRequest,
    Timings,
    Usage,
)
from workbench.storage.repositories import RunRef, Store
from workbench.storage.repositories.experiments import Kind
from workbench.storage.repositories.runs import RunFilter
from workbench.storage.writer import StoreWriter

RUNS = 100_000
BATCH = 1_000
SINGLE = 2_000
REPEATS = 51
PAGE = 100
TARGET_MS = 100.0
HISTORY_TARGET_MS = 50.0
SYSTEM_PROMPTS = (
    "You are a helpful assistant. Answer concisely.",
    "You are a careful technical writer. Explain step by step.",
    "You summarise documentation for busy engineers.",
    "Answer as a patient teacher would, with one example.",
    "You are a terse expert. No preamble.",
)
MODELS = (
    ("llamacpp", "SmolLM2-135M-Instruct"),
    ("openai_compat", "gpt-4o-mini"),
    ("anthropic", "claude-3-5-haiku"),
    ("openai_compat", "llama-3.1-8b-instruct"),
)


def corpus() -> list[str]:
    from pydoc_data.topics import topics

    return " ".join(topics[name] for name in sorted(topics)).split()


def make_runs(
    words: list[str], count: int, rng: random.Random, refs: list[RunRef]
) -> list[tuple[RunResult, RunRef]]:
    def window(low: int, high: int) -> str:
        size = rng.randint(low, high)
        start = rng.randrange(len(words) - size)
        return " ".join(words[start : start + size])

    runs = []
    for _ in range(count):
        backend, model = rng.choice(MODELS)
        system = rng.choice(SYSTEM_PROMPTS)
        question = window(30, 300)
        failed = rng.random() < 0.03
        answer = "" if failed else window(50, 400)
        request = SentRequest(
            backend=backend,
            backend_version="1.0",
            model=model,
            messages=[
                RenderedMessage(role="system", content=system),
                RenderedMessage(role="user", content=question),
            ],
            sent_params={"temperature": rng.choice([0.0, 0.2, 0.7, 1.0]), "max_tokens": 512},
            seed=rng.randrange(1 << 31),
            raw_prompt=(
                f"<|im_start|>system\n{system}<|im_end|>\n<|im_start|>user\n{question}"
                "<|im_end|>\n<|im_start|>assistant\n"
            )
            if backend == "llamacpp"
            else None,
        )
        output_tokens = len(answer.split()) * 4 // 3
        result = RunResult(
            request=request,
            text=answer,
            finish_reason="error" if failed else rng.choice(["stop", "stop", "stop", "length"]),
            usage=Usage(
                input_tokens=len(question.split()) * 4 // 3 + 20,
                output_tokens=None if failed else output_tokens,
            ),
            timings=Timings(
                ttft_s=round(rng.uniform(0.05, 0.9), 4),
                total_s=round(rng.uniform(0.3, 12.0), 4),
                tokens_per_s=round(rng.uniform(15, 140), 2),
            ),
            error="HTTP 429: rate limited" if failed else None,
            error_kind="RateLimitError" if failed else None,
            cost=round(rng.uniform(0, 0.002), 6) if backend != "llamacpp" else None,
        )
        ref = (
            rng.choice(refs)
            if refs and rng.random() < 0.2
            else RunRef(template_key=f"lib/template-{rng.randrange(40)}", template_version=1)
            if rng.random() < 0.5
            else RunRef()
        )
        runs.append((result, ref))
    return runs


def experiments(store: Store, rng: random.Random) -> list[RunRef]:
    refs = []
    kinds: tuple[Kind, ...] = ("compare", "sweep", "eval")
    for n in range(50):
        template = PromptTemplate(
            name=f"variant {n}", messages=[Message(role="user", content="{{ q }}")]
        )
        spec = ExperimentSpec(
            name=f"experiment {n}",
            variants=[Variant(label=f"v{i}", template=template) for i in range(3)],
            tests=[TestCase(vars={"q": f"question {i}"}) for i in range(10)],
            repeats=3,
        )
        stored = store.experiments.create(spec, kinds[n % 3])
        refs += [
            RunRef(stored.id, v, t, rng.randrange(3))
            for v in stored.variant_ids
            for t in stored.test_ids
        ]
    return refs


def median_ms(action: Callable[[], object], repeats: int = REPEATS) -> float:
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        action()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples) * 1000


def mark(ms: float, target: float = TARGET_MS) -> str:
    return f"{ms:8.2f} ms  ({'within' if ms <= target else 'OVER'} the {target:.0f} ms target)"


def history_filters(store: Store, rng: random.Random) -> None:
    """The history panel's first page (200 rows, and the templates and backends its filters
    offer) under each filter, with 2% of the runs rated. Target: 50 ms."""
    from workbench.ui.widgets.history_panel import HistoryQuery, repository_source

    ids = store.runs.ids()
    with store.db.transaction() as conn:
        conn.executemany(
            "INSERT INTO ratings (run_id, thumbs, stars, updated_at) VALUES (?, ?, ?, 'now')",
            [(i, rng.choice([1, -1]), rng.randint(1, 5)) for i in rng.sample(ids, len(ids) // 50)],
        )
    conn = store.db.connection()
    conn.execute("ANALYZE")
    source = repository_source(store.runs)
    cases: list[tuple[str, RunFilter, str]] = [
        ("no filter", RunFilter(), ""),
        ("source: hand", RunFilter(source="hand"), ""),
        ("source: sweep", RunFilter(source="sweep"), ""),
        ("source: eval", RunFilter(source="eval"), ""),
        ("template", RunFilter(template_key="lib/template-7"), ""),
        ("backend", RunFilter(backend="anthropic"), ""),
        ("rated", RunFilter(rating="rated"), ""),
        ("thumbs down", RunFilter(rating="down"), ""),
        ("unrated", RunFilter(rating="unrated"), ""),
        ("hand + template + rated", RunFilter("hand", "lib/template-7", None, "rated"), ""),
        ("compare + backend + up", RunFilter("compare", None, "openai_compat", "up"), ""),
        ("search + source: hand", RunFilter(source="hand"), "descriptor"),
        ("search + rated", RunFilter(rating="rated"), "generator expression"),
    ]
    for name, where, text in cases:
        query = HistoryQuery(text, where)
        rows = len(source(query).rows)
        print(
            f"history page, {name:<24} ({rows:>3} rows) "
            + mark(median_ms(functools.partial(source, query), 21), HISTORY_TARGET_MS)
        )


def main() -> None:
    rng = random.Random(4)
    words = corpus()
    with tempfile.TemporaryDirectory(prefix="bench-storage-") as folder:
        path = Path(folder) / "workbench.db"
        store = Store.open(path)
        refs = experiments(store, rng)
        runs = make_runs(words, RUNS, rng, refs)

        started = time.perf_counter()
        for start in range(0, RUNS, BATCH):
            store.runs.add_many(runs[start : start + BATCH])
        batched = time.perf_counter() - started
        print(
            f"insert, {BATCH:,} runs per transaction:  {RUNS / batched:10,.0f} runs/s "
            f"({RUNS:,} runs in {batched:.1f} s)"
        )

        extra = make_runs(words, SINGLE * 2, rng, refs)
        started = time.perf_counter()
        for result, ref in extra[:SINGLE]:
            store.runs.add(result, ref)
        single = time.perf_counter() - started
        print(
            f"insert, one run per transaction:       {SINGLE / single:10,.0f} runs/s "
            f"(fsync per commit, synchronous=FULL)"
        )
        with StoreWriter(store) as writer:
            started = time.perf_counter()
            futures = [writer.add_run(result, ref) for result, ref in extra[SINGLE:]]
            for future in futures:
                future.result()
            threaded = time.perf_counter() - started
        print(f"insert through the writer thread:      {SINGLE / threaded:10,.0f} runs/s")

        total = store.runs.count()
        conn = store.db.connection()
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        size = path.stat().st_size
        text_bytes = conn.execute(
            "SELECT sum(length(CAST(request_json AS BLOB)) + length(CAST(prompt_text AS BLOB))"
            " + length(CAST(response AS BLOB)) + coalesce(length(CAST(raw_prompt AS BLOB)), 0))"
            " FROM runs"
        ).fetchone()[0]
        print(
            f"bytes per run:                         {size / total:10,.0f} "
            f"({size / 2**20:.0f} MiB for {total:,} runs; their text alone is "
            f"{text_bytes / total:,.0f} bytes per run)"
        )

        print(
            f"open history, first {PAGE} rows:          "
            + mark(median_ms(lambda: store.runs.recent(PAGE)))
        )

        def cold_history() -> None:
            with Store.open(path) as fresh:
                fresh.runs.recent(PAGE)

        print(f"open database + first {PAGE} rows:        " + mark(median_ms(cold_history)))
        older = store.runs.recent(PAGE, before=store.runs.recent(1)[0].id)[-1].id
        print(
            "next page (keyset):                    "
            + mark(median_ms(lambda: store.runs.recent(PAGE, before=older)))
        )
        history_filters(store, rng)
        for query in (
            "descriptor",
            "the",
            "generator expression",
            "metaclass conflict",
            "zzzznotaword",
        ):
            hits = len(store.runs.search(query, 50))
            timed = median_ms(functools.partial(store.runs.search, query, 50))
            print(f"search {query!r:<24} ({hits:>2} hits)   " + mark(timed))
        store.close()


if __name__ == "__main__":
    main()
