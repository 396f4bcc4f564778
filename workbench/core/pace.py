"""How long a run will take: per backend, its calls, the requests it has in flight at once and
its measured seconds per call, as a pre-run estimate shows them (``Estimate.pace``).

The backends' lanes run side by side, so the whole run takes as long as its slowest lane.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class BackendPace:
    """One backend's share of a run. ``latency_s`` is the measured mean seconds per call over
    its models (weighted by their calls), None when a model of it never ran here."""

    backend: str
    calls: int
    concurrency: int
    how: str  # how the concurrency is chosen: "set", "adaptive up to 64 (…)"…
    latency_s: float | None

    @property
    def wall_s(self) -> float | None:
        if self.latency_s is None:
            return None
        return self.latency_s * self.calls / max(1, min(self.concurrency, self.calls))

    def to_dict(self) -> dict[str, Any]:
        return {
            "backend": self.backend,
            "calls": self.calls,
            "concurrency": self.concurrency,
            "concurrency_policy": self.how,
            "latency_s": self.latency_s,
            "wall_s": self.wall_s,
        }


def wall_time(paces: Sequence[BackendPace]) -> float | None:
    """The run's estimated wall time (its slowest lane), None when any lane's is unknown."""
    walls = [p.wall_s for p in paces]
    if not walls or any(w is None for w in walls):
        return None
    return max(w for w in walls if w is not None)


def format_wall(seconds: float) -> str:
    """"0.8 s", "42 s", "17 min", "2 h 05 min": an estimate's precision, not a stopwatch's."""
    if seconds < 10:
        return f"{seconds:.1f} s"
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    hours, minutes = divmod(round(seconds / 60), 60)
    return f"{hours} h {minutes:02d} min"


def pace_lines(paces: Sequence[BackendPace]) -> list[str]:
    """``concurrency:`` and ``wall time:`` lines of an estimate (none for an empty run)."""
    if not paces:
        return []
    out = [f"concurrency:    {p.backend}: {p.concurrency} at once ({p.how})" for p in paces]
    unknown = [p.backend for p in paces if p.latency_s is None]
    measured = ", ".join(
        f"{p.backend} {p.latency_s:.2f} s per call" for p in paces if p.latency_s is not None
    )
    total = wall_time(paces)
    if total is not None:
        out.append(f"wall time:      ≈ {format_wall(total)} (measured: {measured})")
    elif measured:
        out.append(
            f"wall time:      unknown for {', '.join(unknown)} (never run here); "
            f"measured: {measured}"
        )
    else:
        out.append("wall time:      unknown (no call of these models measured here yet)")
    return out
