"""The template-injection and resource-exhaustion corpus (issue 15's guard): every payload, as a
template body and as a variable value, renders or fails with a one-line TemplateError, within a
time and a memory budget, without printing Python internals.

Each case runs in a child process (tests/core/render_corpus.py) under an address-space limit; its
time is measured around the render and its memory as the child's peak RSS, reset before each
case. The budgets here are generous so that a noisy machine never fails them; bench/bench_render.py
reports the strict figures (target: 2 s and 256 MB each).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.core.render_corpus import EXHAUSTION, INTERNALS, Measure, cases, measure

SECONDS = 10.0
PEAK_MB = 512.0

_INTERNALS = re.compile(
    r"<class '|<built-in|<function |<module |object at 0x|<bound method|<method |"
    r"<TemplateReference|<Context |<jinja2\.|<Namespace|<Macro|<LoopContext|<generator|"
    r"iterator object|root:x:0:0|uid=\d"
)


def _problems(results: list[Measure]) -> list[str]:
    found = []
    for m in results:
        leaked = [x for x in _INTERNALS.findall(m.output + m.message) if x not in m.body + m.value]
        if m.outcome not in ("ok", "refused"):
            found.append(f"{m.outcome}: {m.message}")
        elif m.seconds > SECONDS:
            found.append(f"took {m.seconds:.1f} s")
        elif m.peak_mb > PEAK_MB:
            found.append(f"peaked at {m.peak_mb:.0f} MB")
        elif leaked:
            found.append(f"printed {leaked}")
        elif "\n" in m.message:
            found.append("a multi-line error")
        elif m.value and m.outcome == "ok" and m.output != f"<{m.value}>"[:2000]:
            found.append("the value did not come out verbatim")
        else:
            continue
        found[-1] += f" <- body {m.body[:120]!r} value {m.value[:80]!r}"
    return found


def test_exhaustion_and_internals_payloads_stay_within_budget() -> None:
    results = list(measure(cases(None), timeout=SECONDS * 3))
    assert len(results) == 2 * (len(EXHAUSTION) + len(INTERNALS))
    assert _problems(results) == []
    as_bodies = results[: len(results) // 2]
    refused = [m for m in as_bodies if m.outcome == "refused"]
    assert len(refused) >= len(EXHAUSTION) + len(INTERNALS) - 12  # a few render harmlessly


def test_ssti_corpus_stays_within_budget(fixtures_dir: Path) -> None:
    pairs = [pair for pair in cases(fixtures_dir) if pair[0] not in EXHAUSTION + INTERNALS]
    pairs = [p for p in pairs if p[1] not in EXHAUSTION + INTERNALS]
    assert len(pairs) > 400
    assert _problems(list(measure(pairs, timeout=SECONDS * 3))) == []


def test_the_harness_reports_a_hang_and_goes_on(monkeypatch: pytest.MonkeyPatch) -> None:
    """A child that does not answer in time is reported as a hang, and the cases after it still
    run (the child is given a render budget far above the timeout, so the render cannot stop)."""
    monkeypatch.setenv("RENDER_CORPUS_BUDGET", "60")
    results = list(measure([("{{ 1 }}", ""), (EXHAUSTION[0], ""), ("{{ 2 }}", "")], timeout=3))
    assert [m.outcome for m in results] == ["ok", "hang", "ok"]
    assert [m.output for m in results] == ["1", "", "2"]
