"""Re-counting a ~100,000-token document after a one-character edit in the middle.

Incremental (``IncrementalCounter.update``) against a full re-count with raw tiktoken
(``len(encoding.encode_ordinary(text))``), for both bundled OpenAI encodings. Targets: a median
of at most 5 ms, and at least 10 times faster than the full re-count.

The document is real text, the same on every machine with the same Python: Python's own help
topics (prose with indented code examples) interleaved with fenced slices of standard-library
source code, until it holds 100,000 tokens.
"""

from __future__ import annotations

import inspect
import statistics
import time
from collections.abc import Callable
from importlib import import_module

from workbench.core.incremental import IncrementalCounter
from workbench.core.tokens import TiktokenTokenizer, get_encoding

TARGET_TOKENS = 100_000
TARGET_MEDIAN_MS = 5.0
TARGET_SPEEDUP = 10.0
FULL_REPEATS = 41
EDIT_REPEATS = 801
TYPED = "incremental counting, one key at a time. "
CODE_MODULES = ("argparse", "difflib", "textwrap", "json.decoder", "string", "fractions", "shlex")
CODE_LINES = 40


def build_document(count: Callable[[str], int]) -> str:
    """Prose and code, alternating, until ``count`` says it holds ``TARGET_TOKENS`` tokens."""
    from pydoc_data.topics import topics

    code_lines = [
        line
        for name in CODE_MODULES
        for line in inspect.getsource(import_module(name)).splitlines(keepends=True)
    ]
    parts: list[str] = []
    tokens = 0
    for i, topic in enumerate(sorted(topics)):
        code = "".join(code_lines[i * CODE_LINES : (i + 1) * CODE_LINES])
        section = f"## {topic}\n\n{topics[topic].strip()}\n\n```python\n{code}```\n\n"
        parts.append(section)
        tokens += count(section)
        if tokens >= TARGET_TOKENS:
            break
    return "".join(parts)


def median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


def p95_ms(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=20)[-1] * 1000


def measure(encoding_name: str) -> None:
    encoding = get_encoding(encoding_name)
    document = build_document(lambda text: len(encoding.encode_ordinary(text)))
    middle = len(document) // 2
    edited = document[:middle] + "x" + document[middle:]
    texts = (edited, document)

    full: list[float] = []
    for i in range(FULL_REPEATS):
        text = texts[i % 2]
        started = time.perf_counter()
        len(encoding.encode_ordinary(text))
        full.append(time.perf_counter() - started)

    started = time.perf_counter()
    counter = IncrementalCounter(TiktokenTokenizer(encoding_name), document)
    first_ms = (time.perf_counter() - started) * 1000
    edits: list[float] = []
    recounted: list[int] = []
    for i in range(EDIT_REPEATS):
        text = texts[i % 2]
        started = time.perf_counter()
        counter.update(text)
        edits.append(time.perf_counter() - started)
        recounted.append(counter.recounted_chars)
    assert counter.total == len(encoding.encode_ordinary(texts[(EDIT_REPEATS - 1) % 2]))

    # A person typing a sentence into the middle, one character per update.
    typing: list[float] = []
    text = document
    for char in TYPED * 5:
        middle += 1
        text = text[: middle - 1] + char + text[middle - 1 :]
        started = time.perf_counter()
        counter.update(text)
        typing.append(time.perf_counter() - started)
    assert counter.total == len(encoding.encode_ordinary(text))

    full_ms, edit_ms, type_ms = median_ms(full), median_ms(edits), median_ms(typing)
    speedup = full_ms / edit_ms
    print(f"{encoding_name}:")
    print(
        f"  document                 {len(document):,} characters, "
        f"{len(encoding.encode_ordinary(document)):,} tokens, {counter.chunk_count} chunks"
    )
    print(f"  first count (chunking)   {first_ms:8.2f} ms")
    print(
        f"  full re-count (tiktoken) {full_ms:8.2f} ms median, {p95_ms(full):.2f} ms p95 "
        f"({FULL_REPEATS} runs)"
    )
    print(
        f"  incremental, 1-char edit {edit_ms:8.3f} ms median, {p95_ms(edits):.3f} ms p95 "
        f"({EDIT_REPEATS} runs, {statistics.median(recounted):,.0f} characters re-encoded)"
    )
    print(f"  incremental, typing      {type_ms:8.3f} ms median ({len(typing)} keystrokes)")
    print(f"  speed-up                 {speedup:8.1f}x")
    verdict = "met" if edit_ms <= TARGET_MEDIAN_MS and speedup >= TARGET_SPEEDUP else "NOT met"
    print(
        f"  targets (<= {TARGET_MEDIAN_MS:g} ms median, >= {TARGET_SPEEDUP:g}x): {verdict}",
        flush=True,
    )


def main() -> None:
    for name in ("cl100k_base", "o200k_base"):
        measure(name)


if __name__ == "__main__":
    main()
