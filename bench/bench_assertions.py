"""Cost of each assertion kind per evaluated output, and of the restricted Python evaluator.

An evaluation runs every assertion on every output, so per-output microseconds decide whether
assertions add noticeably to generation time (target for a whole evaluation: <= 10%). Outputs are
~600-character summaries against a reference of similar length.
"""

from __future__ import annotations

import time

from workbench.core.evaluation import AssertionContext, evaluate_one
from workbench.core.experiments import AssertionSpec, TestCase
from workbench.core.models import RunResult, SentRequest, Timings
from workbench.services.python_eval import PythonEvaluator

OUTPUT = ("On 3 March the city council voted 7 to 2 to extend the number 12 tram line by 4.5 km "
          "to the new hospital in Northfield. Construction starts in September and takes two "
          "years; the budget is 84 million euros. ") * 3
REFERENCE = ("The council approved, 7 votes to 2, a 4.5 km extension of tram line 12 to "
             "Northfield's new hospital, built from September over two years for 84 million "
             "euros. ") * 3
RESULT = RunResult(request=SentRequest(backend="bench", model="m"), text=OUTPUT,
                   finish_reason="stop", timings=Timings(total_s=0.8), cost=0.0004)

SPECS = [
    AssertionSpec(type="contains", value="tram"),
    AssertionSpec(type="icontains-all", value=["council", "hospital", "budget"]),
    AssertionSpec(type="regex", value=r"\d+ million"),
    AssertionSpec(type="word-count", value={"max": 200}),
    AssertionSpec(type="is-json"),
    AssertionSpec(type="latency", threshold=2000),
    AssertionSpec(type="no-pii"),
    AssertionSpec(type="blocked-words", value=["darn", "heck"]),
    AssertionSpec(type="prompt-injection"),
    AssertionSpec(type="bleu"),
    AssertionSpec(type="chrf"),
    AssertionSpec(type="rouge-l"),
    AssertionSpec(type="edit-similarity"),
]


def _per_call_us(spec: AssertionSpec, ctx: AssertionContext, n: int) -> float:
    evaluate_one(spec, ctx)  # warm (imports, caches)
    start = time.perf_counter()
    for _ in range(n):
        evaluate_one(spec, ctx)
    return (time.perf_counter() - start) / n * 1e6


def main() -> None:
    ctx = AssertionContext(output=OUTPUT, test=TestCase(vars={"text": "a review"},
                                                         expected=REFERENCE), result=RESULT)
    total = 0.0
    for spec in SPECS:
        n = 20 if spec.type == "edit-similarity" else 300
        us = _per_call_us(spec, ctx, n)
        total += us
        print(f"{spec.type:16s} {us:10.1f} us per output")
    print(f"{'all of the above':16s} {total:10.1f} us per output "
          f"({total / 1000 / 800 * 100:.2f}% of an 800 ms generation)")
    with PythonEvaluator() as evaluator:
        ctx = AssertionContext(output=OUTPUT, python=evaluator)
        spec = AssertionSpec(type="python", value="'tram' in output and len(output) < 2000")
        ms = _per_call_us(spec, ctx, 50) / 1000
    print(f"{'python':16s} {ms:10.1f} ms per output (a fresh forked, restricted child each)")
