"""Measured pace per backend and model, kept between runs for the wall time of pre-run estimates.

Per backend and model: a moving average of the seconds a successful call took (its slot held,
retries included: what a sweep waits for). Per backend: the limit an adaptive concurrency had
reached when its last run ended, so the next estimate (in a new process: the CLI) says what to
expect rather than the cold start. Kept in ``cache_dir()/pace.json``: regenerable, and a
broken file is simply started afresh.
"""

from __future__ import annotations

import json
import logging
import threading
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.backends.limits import Limits
from workbench.core import paths
from workbench.core.errors import KnownError
from workbench.core.grid import CellEstimate
from workbench.core.pace import BackendPace
from workbench.storage.files import prepare

if TYPE_CHECKING:
    from workbench.services.runner import Runner

log = logging.getLogger(__name__)

FILE = "pace.json"
#: Weight of the newest call in the moving average.
ALPHA = 0.1


class PaceBook:
    """Seconds per call by backend and model, and adaptive limits reached; thread-safe."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._latency: dict[str, dict[str, list[float]]] | None = None  # backend->model->[s, n]
        self._reached: dict[str, int] = {}
        self._dirty = False

    def _file(self) -> Path:
        return self.path if self.path is not None else paths.cache_dir() / FILE

    def _loaded(self) -> dict[str, dict[str, list[float]]]:
        if self._latency is None:
            self._latency = {}
            try:
                data = json.loads(self._file().read_text(encoding="utf-8"))
                for backend, entry in data.get("backends", {}).items():
                    models = entry.get("models", {})
                    self._latency[backend] = {
                        m: [float(v["latency_s"]), float(v["calls"])] for m, v in models.items()
                    }
                    if isinstance(entry.get("concurrency"), int):
                        self._reached[backend] = entry["concurrency"]
            except FileNotFoundError:
                pass
            except (OSError, ValueError, TypeError, KeyError, AttributeError) as err:
                log.info("starting %s afresh: %s", self._file(), err)
        return self._latency

    def record(self, backend: str, model: str, seconds: float) -> None:
        """One successful call of ``model`` on ``backend`` took ``seconds``."""
        with self._lock:
            entry = self._loaded().setdefault(backend, {}).setdefault(model, [seconds, 0.0])
            weight = max(ALPHA, 1.0 / (entry[1] + 1))  # a plain mean for the first calls
            entry[0] += weight * (seconds - entry[0])
            entry[1] += 1
            self._dirty = True

    def reached(self, backend: str, concurrency: int) -> None:
        with self._lock:
            self._loaded()
            if self._reached.get(backend) != concurrency:
                self._reached[backend] = concurrency
                self._dirty = True

    def latency(self, backend: str, model: str) -> float | None:
        with self._lock:
            entry = self._loaded().get(backend, {}).get(model)
            return entry[0] if entry is not None else None

    def last_reached(self, backend: str) -> int | None:
        with self._lock:
            self._loaded()
            return self._reached.get(backend)

    def save(self) -> None:
        """Write the file if anything changed (a failure to write only costs the estimate)."""
        with self._lock:
            if not self._dirty or self._latency is None:
                return
            backends: dict[str, Any] = {}
            for backend, models in self._latency.items():
                backends[backend] = {
                    "models": {m: {"latency_s": s, "calls": int(n)} for m, (s, n) in models.items()}
                }
            for backend, level in self._reached.items():
                backends.setdefault(backend, {"models": {}})["concurrency"] = level
            data = json.dumps({"version": 1, "backends": backends}, indent=1).encode()
            self._dirty = False
        try:
            self._file().parent.mkdir(parents=True, exist_ok=True)
            prepare(self._file(), data).commit()
        except (OSError, KnownError) as err:
            log.warning("could not save %s: %s", self._file(), err)

    def note_limits(self, limits: Limits, backends: Iterable[str]) -> None:
        """Remember the level each adaptive limiter of ``backends`` has reached."""
        for name in backends:
            limiter = limits.peek(name)
            if limiter is not None and limiter.controller is not None:
                self.reached(name, limiter.limit)


def pace_of(runner: Runner, cells: Iterable[CellEstimate]) -> list[BackendPace]:
    """Each backend's calls, concurrency (the live limiter's, else the level its last run
    reached, else its policy's start) and measured seconds per call."""
    calls: dict[str, Counter[str]] = {}
    for cell in cells:
        if cell.error is None:
            calls.setdefault(cell.backend, Counter())[cell.model] += 1
    out = []
    book = runner.pace
    for backend_name, models in calls.items():
        try:
            backend = runner.backend(backend_name)
        except KnownError:
            continue  # its cells say why it cannot run
        policy = runner.limits.policy(backend.options, backend.runs_locally)
        concurrency = policy.start
        if policy.adaptive:
            limiter = runner.limits.peek(backend_name)
            live = limiter.limit if limiter is not None and limiter.controller else None
            learned = min(book.last_reached(backend_name) or policy.start, policy.ceiling)
            concurrency = live or learned
        latencies = [(book.latency(backend_name, m), n) for m, n in models.items()]
        latency = None
        if all(s is not None for s, _ in latencies):
            total = sum(models.values())
            latency = sum((s or 0.0) * n for s, n in latencies) / total
        out.append(
            BackendPace(backend_name, sum(models.values()), concurrency, policy.describe(), latency)
        )
    return out
