"""Request limits, exercised by real threads (waits on conditions, never sleeps)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest

from workbench.backends.base import BackendOptions, CancelToken
from workbench.backends.limits import LimitCancelled, Limits, RequestLimiter

TIMEOUT = 10.0


def wait_until(predicate: Callable[[], bool], timeout: float = TIMEOUT) -> None:
    cond = threading.Condition()
    deadline = time.monotonic() + timeout
    with cond:
        while not predicate():
            remaining = deadline - time.monotonic()
            assert remaining > 0, "condition not reached in time"
            cond.wait(min(remaining, 0.01))


class Workers:
    """Threads that each take a slot, record how many are inside, and leave when released."""

    def __init__(self, limiter: RequestLimiter, count: int) -> None:
        self.limiter = limiter
        self.inside = 0
        self.max_inside = 0
        self.done = 0
        self.lock = threading.Lock()
        self.gate = threading.Event()
        self.threads = [threading.Thread(target=self._work) for _ in range(count)]

    def _work(self) -> None:
        with self.limiter.slot():
            with self.lock:
                self.inside += 1
                self.max_inside = max(self.max_inside, self.inside)
            self.gate.wait(TIMEOUT)
            with self.lock:
                self.inside -= 1
                self.done += 1

    def start(self) -> None:
        for t in self.threads:
            t.start()

    def join(self) -> None:
        for t in self.threads:
            t.join(TIMEOUT)
            assert not t.is_alive()


def test_at_most_concurrency_requests_in_flight() -> None:
    limiter = RequestLimiter(concurrency=2)
    workers = Workers(limiter, 6)
    workers.start()
    wait_until(lambda: limiter.in_flight == 2 and limiter.waiting == 4)
    assert workers.inside <= 2
    workers.gate.set()
    workers.join()
    assert workers.done == 6
    assert workers.max_inside == 2
    assert limiter.in_flight == 0


def test_local_default_is_one_at_a_time() -> None:
    limiter = Limits().for_backend("llamacpp", BackendOptions())
    workers = Workers(limiter, 3)
    workers.start()
    wait_until(lambda: limiter.in_flight == 1 and limiter.waiting == 2)
    workers.gate.set()
    workers.join()
    assert workers.max_inside == 1


def test_cancel_while_waiting_raises_and_frees_nothing() -> None:
    limiter = RequestLimiter(concurrency=1)
    assert limiter.acquire()
    cancel = CancelToken()
    outcome: list[str] = []

    def waiter() -> None:
        try:
            limiter.acquire(cancel)
            outcome.append("acquired")
        except LimitCancelled:
            outcome.append("cancelled")

    thread = threading.Thread(target=waiter)
    thread.start()
    wait_until(lambda: limiter.waiting == 1)
    cancel.cancel()
    thread.join(TIMEOUT)
    assert outcome == ["cancelled"]
    assert limiter.in_flight == 1 and limiter.waiting == 0
    limiter.release()


def test_acquire_times_out() -> None:
    limiter = RequestLimiter(concurrency=1)
    assert limiter.acquire()
    assert limiter.acquire(timeout=0.05) is False
    limiter.release()
    assert limiter.acquire(timeout=0.05) is True


def test_rate_limit_spaces_request_starts() -> None:
    period = 0.3
    limiter = RequestLimiter(concurrency=5, requests_per_minute=2, period_s=period)
    starts: list[float] = []
    lock = threading.Lock()

    def work() -> None:
        with limiter.slot(), lock:
            starts.append(time.monotonic())

    threads = [threading.Thread(target=work) for _ in range(3)]
    began = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join(TIMEOUT)
    assert len(starts) == 3
    starts.sort()
    # Two start at once; the third waits until the first start leaves the window.
    assert starts[2] - began >= period


def test_release_without_acquire_is_a_bug() -> None:
    with pytest.raises(RuntimeError):
        RequestLimiter().release()


def test_limits_share_one_limiter_per_backend_and_follow_settings() -> None:
    limits = Limits()
    first = limits.for_backend("remote", BackendOptions(concurrency=4))
    assert limits.for_backend("remote", BackendOptions(concurrency=4)) is first
    assert first.concurrency == 4
    changed = limits.for_backend("remote", BackendOptions(concurrency=2, requests_per_minute=30))
    assert changed is not first
    assert (changed.concurrency, changed.requests_per_minute) == (2, 30)
    assert limits.for_backend("other", BackendOptions()) is not changed
