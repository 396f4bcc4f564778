"""JavaScript assertions: overhead per row and peak memory over a 1,000-row suite.

Each of the 1,000 rows has two ``javascript`` assertions (an expression on the text, and a
function body that parses the JSON answer and returns a ``{pass, score, reason}``), each run in a
fresh QuickJS context in the sandboxed worker (``services.js_eval``).

- Overhead per row: ``evaluate`` on the row's two assertions, exactly as an evaluation runs it
  when a cell's output is complete (round trip to the worker included), timed row by row:
  median and p95; and the CPU time it took, this process's plus the worker's (on a shared,
  busy machine the CPU time is what an idle machine's wall time would be).
- Peak memory: the whole suite as an evaluation (1,000 cells from a scripted backend answering
  at once, the real store, the runner's threads), then the peak resident set of this process plus
  that of the JavaScript worker (each one's own high-water mark: their sum bounds the peak of the
  two together).

Targets: <= 5 ms per row median; peak memory < 500 MB.

Run: ``python bench/run.py js_assertions`` (or this file directly).
"""

from __future__ import annotations

import json
import os
import resource
import statistics
import tempfile
import time
from pathlib import Path

ROWS = 1_000
ANSWER = json.dumps({"city": "Paris", "confidence": 0.82, "reason": "It is the capital."})
ASSERTIONS = [
    {"type": "javascript", "value": "output.includes(context.vars.city) && output.length < 500"},
    {"type": "javascript", "value": (
        "const answer = JSON.parse(output);\n"
        "const ok = answer.city === context.vars.city;\n"
        "return {pass: ok, score: answer.confidence, reason: ok ? 'right city' : 'wrong city'};\n"
    )},
]


def _suite():  # type: ignore[no-untyped-def]
    from workbench.core.datasets import assertion_from_mapping
    from workbench.core.experiments import ExperimentSpec, TestCase, Variant
    from workbench.core.models import Message, PromptTemplate

    template = PromptTemplate(name="capital", messages=[
        Message(role="user", content="Capital of {{ country }}? Answer in JSON.")])
    return ExperimentSpec(
        name="bench-js",
        variants=[Variant(label="fixed", template=template, backend="fixed")],
        tests=[TestCase(vars={"country": f"France {i}", "city": "Paris"}) for i in range(ROWS)],
        default_assertions=[assertion_from_mapping(a) for a in ASSERTIONS],
    )


def _high_water_mb(pid: int) -> float:
    """A process's peak resident set (VmHWM), in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmHWM for process {pid}")


def _cpu_s(pid: int) -> float:
    """A process's user + system CPU seconds so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _per_row_ms(spec, evaluator) -> list[float]:  # type: ignore[no-untyped-def]
    from workbench.core.evaluation import AssertionContext, evaluate
    from workbench.core.models import RunResult, SentRequest, Timings

    result = RunResult(request=SentRequest(backend="fixed", model="m"), text=ANSWER,
                       finish_reason="stop", timings=Timings(total_s=0.5))
    times = []
    for test in spec.tests:
        ctx = AssertionContext(output=ANSWER, test=test, result=result,
                               prompt=f"Capital of {test.vars['country']}?",
                               javascript=evaluator)
        started = time.perf_counter()
        outcomes = evaluate(spec.default_assertions, ctx)
        times.append((time.perf_counter() - started) * 1000)
        if [o.status for o in outcomes] != ["pass", "pass"]:
            raise RuntimeError(f"unexpected outcomes: {outcomes}")
    return times


def main() -> None:
    from workbench.backends.config import BackendConfig
    from workbench.services.evaluation import Evaluation
    from workbench.services.group_commit import GroupCommitWriter
    from workbench.services.js_eval import JavaScriptEvaluator
    from workbench.services.runner import Runner
    from workbench.storage.repositories import Store

    spec = _suite()
    with JavaScriptEvaluator() as evaluator:
        _per_row_ms(spec.model_copy(update={"tests": spec.tests[:50]}), evaluator)  # warm
        worker = evaluator.worker_pid
        assert worker is not None
        cpu = _cpu_s(os.getpid()) + _cpu_s(worker)
        rows = _per_row_ms(spec, evaluator)
        cpu_ms = (_cpu_s(os.getpid()) + _cpu_s(worker) - cpu) / ROWS * 1000
        with tempfile.TemporaryDirectory() as tmp:
            configs = {"fixed": BackendConfig(name="fixed", backend="scripted",
                                              options={"script": [{"text": ANSWER}]})}
            with Store.open(Path(tmp) / "bench.db") as store, GroupCommitWriter(store) as writer:
                runner = Runner(writer=writer, configs=configs)
                try:
                    started = time.perf_counter()
                    evaluation = Evaluation.create(store, spec, runner, javascript=evaluator)
                    card = evaluation.run()
                    elapsed = time.perf_counter() - started
                finally:
                    runner.close()
        worker = evaluator.worker_pid
        if worker is None:
            raise RuntimeError("the JavaScript worker is not running")
        worker_mb = _high_water_mb(worker)
    own_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    cases = card.variants[0].overall.cases
    median, p95 = statistics.median(rows), statistics.quantiles(rows, n=20)[18]
    print(f"rows: {ROWS:,}, 2 javascript assertions each (fresh QuickJS context per check)")
    print(f"assertion overhead per row: median {median:.2f} ms, p95 {p95:.2f} ms, "
          f"max {max(rows):.2f} ms (target: median <= 5 ms)")
    print(f"CPU per row (this process + the worker): {cpu_ms:.2f} ms")
    print(f"whole suite as an evaluation: {elapsed:.2f} s for {len(card.cells):,} cells "
          f"({cases.passed} passed, {cases.failed} failed, {cases.errors} errors)")
    print(f"peak RSS: this process {own_mb:.0f} MB + JavaScript worker {worker_mb:.0f} MB = "
          f"{own_mb + worker_mb:.0f} MB (target < 500 MB)")


if __name__ == "__main__":
    main()
