"""latency, cost and finish-reason read the run's result."""

from __future__ import annotations

from tests.core.assertions.support import check
from workbench.core.models import FinishReason, RunResult, SentRequest, Timings


def result(total_s: float | None = 1.2, cost: float | None = 0.002,
           finish: FinishReason = "stop") -> RunResult:
    return RunResult(request=SentRequest(backend="scripted", model="m"), text="out",
                     finish_reason=finish, timings=Timings(total_s=total_s), cost=cost)


def test_latency() -> None:
    passed = check("latency", "out", threshold=1500, result=result())
    assert passed.status == "pass" and passed.value == 1200
    assert check("latency", "out", threshold=1000, result=result()).status == "fail"
    assert check("not-latency", "out", threshold=1000, result=result()).status == "pass"
    recorded = check("latency", "out", result=result())  # no threshold: just the figure
    assert recorded.status == "pass" and recorded.value == 1200
    assert check("latency", "out", threshold=10, result=result(total_s=None)).status == "error"
    assert check("latency", "out", threshold=10).status == "error"  # no result at all


def test_cost() -> None:
    assert check("cost", "out", threshold=0.01, result=result()).status == "pass"
    failed = check("cost", "out", threshold=0.001, result=result())
    assert failed.status == "fail" and failed.value == 0.002
    unknown = check("cost", "out", threshold=0.01, result=result(cost=None))
    assert unknown.status == "error" and "unknown" in unknown.reason


def test_finish_reason() -> None:
    assert check("finish-reason", "out", "stop", result=result()).status == "pass"
    assert check("finish-reason", "out", "stop", result=result(finish="length")).status == "fail"
