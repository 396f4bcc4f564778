"""Re-counting a ~100,000-token document after a one-character edit, for every shape of text.

Incremental (``IncrementalCounter.update``) side by side with a full re-count by raw tiktoken
(``len(encoding.encode_ordinary(text))``), for both bundled OpenAI encodings, on documents of
each shape the editor meets:

* prose: Python's own help topics (prose with indented examples);
* code: standard-library source code;
* minified JSON: records about standard-library names, no spaces or line breaks at all;
* CJK: the prose, word for word in CJK ideographs with fullwidth punctuation (no spaces);
* one huge line: prose and code with every line break turned into a space;
* base64 line: one data URI of bytes (letters, digits, ``+`` and ``/`` only).

Edits are single characters inserted (then removed again, a deletion) at positions spread over
the whole document; typing is a sentence typed into the middle, one key per update. Targets, for
every shape: a median of at most 5 ms per one-character edit, and never slower than a full count
(the p95 of edits below the median of full counts). Every document is the same on every machine
with the same Python.

Last, the worst case: a 100,000-character word (the prose's letters alone), one pre-tokenizer
piece that any count must re-encode whole after any edit. Its only target: an edit costs no
more than a full count (median within 10 %, the noise of this box).
"""

from __future__ import annotations

import base64
import inspect
import json
import re
import statistics
import time
import zlib
from collections.abc import Callable, Iterator
from importlib import import_module

from workbench.core.incremental import IncrementalCounter
from workbench.core.tokens import TiktokenTokenizer, get_encoding

TARGET_TOKENS = 100_000
TARGET_MEDIAN_MS = 5.0
FULL_REPEATS = 21
EDIT_POSITIONS = 25
EDIT_REPEATS = 400
WORST_CHARS = 100_000
WORST_REPEATS = 50
WORST_RATIO = 1.1
TYPED = "incremental counting, one key at a time. "
CODE_MODULES = (
    "argparse",
    "difflib",
    "textwrap",
    "json.decoder",
    "string",
    "fractions",
    "shlex",
    "inspect",
    "typing",
    "dataclasses",
    "collections",
)
JSON_MODULES = ("builtins", "os", "string", "re", "json", "inspect", "typing", "collections")

Count = Callable[[str], int]


def _until(parts: Iterator[str], count: Count) -> str:
    """Parts joined until ``count`` says they hold ``TARGET_TOKENS`` tokens."""
    taken: list[str] = []
    tokens = 0
    for part in parts:
        taken.append(part)
        tokens += count(part)
        if tokens >= TARGET_TOKENS:
            return "".join(taken)
    raise RuntimeError(f"the sources hold only {tokens:,} tokens")


def _topics() -> Iterator[str]:
    from pydoc_data.topics import topics

    for topic in sorted(topics):
        yield f"## {topic}\n\n{topics[topic].strip()}\n\n"


def _source_lines() -> list[str]:
    return [
        line
        for name in CODE_MODULES
        for line in inspect.getsource(import_module(name)).splitlines(keepends=True)
    ]


def prose(count: Count) -> str:
    return _until(_topics(), count)


def code(count: Count) -> str:
    lines = _source_lines()
    return _until((lines[i] for i in range(len(lines))), count)


def minified_json(count: Count) -> str:
    def records() -> Iterator[str]:
        number = 0
        while True:  # the same records again, renumbered, until the document is big enough
            for module_name in JSON_MODULES:
                module = import_module(module_name)
                for name in sorted(dir(module)):
                    value = getattr(module, name)
                    number += 1
                    record = {
                        "id": number,
                        "module": module_name,
                        "name": name,
                        "kind": type(value).__name__,
                        "public": not name.startswith("_"),
                        "callable": callable(value),
                        "length": len(name),
                        "checksum": zlib.crc32(name.encode()),
                        "tags": sorted({module_name.split(".")[0], type(value).__name__}),
                    }
                    yield json.dumps(record, separators=(",", ":")) + ","

    return "[" + _until(records(), count).rstrip(",") + "]"


_PUNCTUATION = {
    ".": "。",
    ",": "，",
    ":": "：",
    ";": "；",
    "?": "？",
    "!": "！",
    "(": "（",
    ")": "）",
}
_WORD_OR_MARK = re.compile(r"\w+|[.,:;?!()]|\n")


def cjk(count: Count) -> str:
    """Each English word becomes one to three common ideographs chosen by its checksum."""

    def paragraphs() -> Iterator[str]:
        for topic in _topics():
            out = []
            for token in _WORD_OR_MARK.findall(topic):
                if token == "\n" or token in _PUNCTUATION:
                    out.append(_PUNCTUATION.get(token, token))
                else:
                    crc = zlib.crc32(token.encode())
                    out.extend(
                        chr(0x4E00 + (crc >> shift) % 3000) for shift in (0, 8, 16)[: 1 + crc % 3]
                    )
            yield "".join(out)

    return _until(paragraphs(), count)


def one_line(count: Count) -> str:
    lines = _source_lines()

    def parts() -> Iterator[str]:
        for i, topic in enumerate(_topics()):
            yield topic.replace("\n", " ")
            yield "".join(lines[i * 40 : (i + 1) * 40]).replace("\n", " ")

    return _until(parts(), count)


def base64_line(count: Count) -> str:
    def parts() -> Iterator[str]:
        yield "data:application/octet-stream;base64,"
        for name in CODE_MODULES:  # compressed source: bytes that look random
            yield base64.b64encode(
                zlib.compress(inspect.getsource(import_module(name)).encode())
            ).decode()

    return _until(parts(), count)


SHAPES: dict[str, Callable[[Count], str]] = {
    "prose": prose,
    "code": code,
    "minified JSON": minified_json,
    "CJK": cjk,
    "one huge line": one_line,
    "base64 line": base64_line,
}


def median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


def p95_ms(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=20)[-1] * 1000


def measure(encoding_name: str, shape: str, document: str, *, worst: bool = False) -> bool:
    """Print one shape's figures; True when its targets are met."""
    encoding = get_encoding(encoding_name)

    def full_count(text: str) -> int:
        return len(encoding.encode_ordinary(text))

    positions = [len(document) * k // (EDIT_POSITIONS - 1) for k in range(EDIT_POSITIONS)]
    edited = [document[:pos] + "x" + document[pos:] for pos in positions]

    full: list[float] = []
    for i in range(FULL_REPEATS):
        text = edited[i % EDIT_POSITIONS] if i % 2 else document
        started = time.perf_counter()
        full_count(text)
        full.append(time.perf_counter() - started)

    started = time.perf_counter()
    counter = IncrementalCounter(TiktokenTokenizer(encoding_name), document)
    first_ms = (time.perf_counter() - started) * 1000
    edits: list[float] = []
    recounted: list[int] = []
    for i in range(WORST_REPEATS if worst else EDIT_REPEATS):
        # Insert at one position, delete it again, next position.
        text = edited[(i // 2) % EDIT_POSITIONS] if i % 2 == 0 else document
        started = time.perf_counter()
        counter.update(text)
        edits.append(time.perf_counter() - started)
        recounted.append(counter.recounted_chars)
        if i % 50 == 0:
            assert counter.total == full_count(text), (shape, i)

    typing: list[float] = []
    middle = len(document) // 2
    text = document
    for char in TYPED if worst else TYPED * 5:
        middle += 1
        text = text[: middle - 1] + char + text[middle - 1 :]
        started = time.perf_counter()
        counter.update(text)
        typing.append(time.perf_counter() - started)
    assert counter.total == full_count(text), shape

    full_ms, edit_ms, edit_p95 = median_ms(full), median_ms(edits), p95_ms(edits)
    if worst:
        met = edit_ms <= WORST_RATIO * full_ms
    else:
        met = edit_ms <= TARGET_MEDIAN_MS and edit_p95 < full_ms
    print(
        f"  {shape:14} {len(document):>9,} chars {full_count(document):>8,} tokens "
        f"{counter.chunk_count:>5} chunks | full {full_ms:7.2f} / {p95_ms(full):7.2f} | "
        f"edit {edit_ms:6.3f} / {edit_p95:6.3f} ({statistics.median(recounted):>6,.0f} chars) | "
        f"typing {median_ms(typing):6.3f} | first {first_ms:7.1f} | "
        f"{full_ms / edit_ms:6.1f}x {'met' if met else 'NOT met'}",
        flush=True,
    )
    return met


def main() -> None:
    print(
        f"ms, median / p95: full = tiktoken re-count ({FULL_REPEATS} runs); edit = incremental "
        f"after a one-character insert or delete ({EDIT_REPEATS} runs at {EDIT_POSITIONS} "
        f"positions; median characters re-encoded); typing = {len(TYPED) * 5} keystrokes into "
        "the middle; first = the first count (chunking)"
    )
    print(
        f"targets, every shape: edit median <= {TARGET_MEDIAN_MS:g} ms and edit p95 < full median"
    )
    documents = {
        shape: build(lambda t: len(get_encoding("cl100k_base").encode_ordinary(t)))
        for shape, build in SHAPES.items()
    }
    word = "".join(filter(str.isalpha, prose(lambda t: len(t) // 4)))[:WORST_CHARS]
    verdicts = []
    for name in ("cl100k_base", "o200k_base"):
        print(f"{name}:")
        verdicts += [measure(name, shape, document) for shape, document in documents.items()]
        verdicts.append(measure(name, "no boundary", word, worst=True))
    print(f"  (no boundary: target edit median <= {WORST_RATIO:g} x full median, no 5 ms target)")
    print(f"targets: met on {sum(verdicts)} of {len(verdicts)} shapes"
          + ("" if all(verdicts) else f", NOT met on {len(verdicts) - sum(verdicts)}"))


if __name__ == "__main__":
    main()
