"""Rendering untrusted templates: every payload of the injection and exhaustion corpus.

The corpus is tests/core/render_corpus.py: the PayloadsAllTheThings SSTI lists of the shared
fixtures (``$WORKBENCH_FIXTURES`` or ../shared/fixtures) plus the workbench's own exhaustion and
internals payloads, each rendered as a template body and as a variable value. Each case runs in
a child process under an address-space limit; its time is measured around the render, its
memory as the child's peak RSS (reset before each case; it includes the ~35 MB of the
interpreter and the workbench). Target (issue 15): every case returns or fails within 2 s and
256 MB.
"""

from __future__ import annotations

import collections
import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
TARGET_SECONDS = 2.0
TARGET_MB = 256.0
SHOWN = 8


def _fixtures() -> Path | None:
    path = Path(os.environ.get("WORKBENCH_FIXTURES") or REPO.parent / "shared" / "fixtures")
    return path if (path / "ssti").is_dir() else None


def main() -> None:
    sys.path.insert(0, str(REPO))
    from tests.core.render_corpus import cases, measure

    fixtures = _fixtures()
    if fixtures is None:
        print("the shared fixtures are absent: the SSTI lists are left out")
    pairs = cases(fixtures)
    results = list(measure(pairs, timeout=30.0))
    outcomes = collections.Counter(m.outcome for m in results)
    print(f"cases: {len(results)} ({len(pairs) // 2} payloads, as body and as value)")
    print("outcomes: " + ", ".join(f"{k} {v}" for k, v in sorted(outcomes.items())))
    slowest = sorted(results, key=lambda m: m.seconds, reverse=True)
    largest = sorted(results, key=lambda m: m.peak_mb, reverse=True)
    worst_s, worst_mb = slowest[0].seconds, largest[0].peak_mb
    print(f"worst time: {worst_s:.3f} s (target {TARGET_SECONDS:g} s)")
    print(f"worst peak memory: {worst_mb:.0f} MB (target {TARGET_MB:g} MB)")
    print(f"slowest {SHOWN}:")
    for m in slowest[:SHOWN]:
        print(f"  {m.seconds:6.3f} s {m.peak_mb:5.0f} MB {m.outcome:8} {m.body[:70]!r}")
    print(f"largest {SHOWN}:")
    for m in largest[:SHOWN]:
        print(f"  {m.peak_mb:5.0f} MB {m.seconds:6.3f} s {m.outcome:8} {m.body[:70]!r}")
    bad = [m for m in results if m.outcome not in ("ok", "refused")]
    for m in bad:
        print(f"  {m.outcome}: {m.message[:120]} <- {m.body[:70]!r} {m.value[:40]!r}")
    within = not bad and worst_s <= TARGET_SECONDS and worst_mb <= TARGET_MB
    print(
        f"every case within {TARGET_SECONDS:g} s and {TARGET_MB:g} MB: {'yes' if within else 'NO'}"
    )
