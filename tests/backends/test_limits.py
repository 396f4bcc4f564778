"""Request limits, exercised by real threads (waits on conditions, never sleeps)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest

from tests.waiting import TIMEOUT, wait_until
from workbench.backends.base import BackendOptions, CancelToken
from workbench.backends.limits import LimitCancelled, Limits, RequestLimiter


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


def _thread(target: Callable[[], None]) -> threading.Thread:
    thread = threading.Thread(target=target, daemon=True)  # a lost wake-up must not hang pytest
    thread.start()
    return thread


def test_a_waiter_that_gives_up_passes_its_wake_up_on() -> None:
    """A release wakes one waiter. Here that one finds the slot free but the rate window still
    closed, and its own deadline passed: it gives up, and must wake the next waiter, which
    otherwise would sleep forever beside a free slot."""
    now = [0.0]
    limiter = RequestLimiter(
        concurrency=1, requests_per_minute=1, period_s=1200.05, clock=lambda: now[0]
    )
    assert limiter.acquire()  # the only start in the window, at 0
    gave_up: list[bool] = []
    patient_in = threading.Event()

    def quitter() -> None:  # its deadline is 1,000 s away on the limiter's clock
        gave_up.append(not limiter.acquire(timeout=1000.0))

    def patient() -> None:  # no timeout, no cancel: only a wake-up gets it a slot
        limiter.acquire()
        patient_in.set()

    quitting = _thread(quitter)
    wait_until(lambda: limiter.waiting == 1)  # it waits inside the limiter, first in line
    _thread(patient)
    wait_until(lambda: limiter.waiting == 2)
    now[0] = 1200.0  # past the quitter's deadline; the window opens 0.05 s later
    limiter.release()  # wakes the quitter (first in line), which gives up
    quitting.join(TIMEOUT)
    assert gave_up == [True]
    now[0] = 1300.0  # the window is open: the patient waiter, if awake, takes the slot
    assert patient_in.wait(TIMEOUT), "the patient waiter never heard the slot was free"
    assert limiter.in_flight == 1 and limiter.waiting == 0


def test_cancel_wakes_a_waiter_at_once_among_others() -> None:
    limiter = RequestLimiter(concurrency=1)
    assert limiter.acquire()
    tokens = [CancelToken() for _ in range(3)]
    outcomes: list[str] = []
    lock = threading.Lock()

    def waiter(token: CancelToken) -> None:
        try:
            limiter.acquire(token)
            result = "acquired"
        except LimitCancelled:
            result = "cancelled"
        with lock:
            outcomes.append(result)

    threads = [_thread(lambda t=t: waiter(t)) for t in tokens]  # type: ignore[misc]
    wait_until(lambda: limiter.waiting == 3)
    tokens[1].cancel()
    wait_until(lambda: outcomes == ["cancelled"])
    assert limiter.waiting == 2
    limiter.release()
    wait_until(lambda: outcomes.count("acquired") == 1)
    limiter.release()
    for thread in threads:
        thread.join(TIMEOUT)
    assert sorted(outcomes) == ["acquired", "acquired", "cancelled"]
    limiter.release()
    assert limiter.in_flight == 0 and limiter.waiting == 0


def test_no_wake_up_is_lost_among_many_threads_that_cancel_and_time_out() -> None:
    """Patient threads (no timeout, no cancel) only get a slot through wake-ups, while others
    around them give up by timeout or cancel, some of them just as a slot frees: every patient
    thread must finish, and the limit must hold throughout."""
    limiter = RequestLimiter(concurrency=3)
    rounds, patients = 200, 6
    inside = [0]
    most = [0]
    lock = threading.Lock()
    stop = threading.Event()
    finished = [threading.Event() for _ in range(patients)]
    tokens: list[CancelToken] = []

    def use_slot() -> None:
        with lock:
            inside[0] += 1
            most[0] = max(most[0], inside[0])
        with lock:
            inside[0] -= 1
        limiter.release()

    def patient(done: threading.Event) -> None:
        for _ in range(rounds):
            limiter.acquire()
            use_slot()
        done.set()

    def timing_out(n: int) -> None:
        while not stop.is_set():
            if limiter.acquire(timeout=0.0005 * (n % 4)):
                use_slot()

    def cancelled() -> None:
        while not stop.is_set():
            token = CancelToken()
            with lock:
                tokens.append(token)
            try:
                limiter.acquire(token)
            except LimitCancelled:
                continue
            use_slot()

    def canceller() -> None:
        while not stop.is_set():
            with lock:
                batch, tokens[:] = list(tokens), []
            for token in batch:
                token.cancel()
            stop.wait(0.0002)

    others = [_thread(lambda n=n: timing_out(n)) for n in range(4)]  # type: ignore[misc]
    others += [_thread(cancelled) for _ in range(4)] + [_thread(canceller)]
    for done in finished:
        _thread(lambda done=done: patient(done))  # type: ignore[misc]
    try:
        for done in finished:
            assert done.wait(30.0), "a patient waiter was never woken (a lost wake-up)"
    finally:
        stop.set()
        with lock:
            batch = list(tokens)
        for token in batch:
            token.cancel()
        for thread in others:
            thread.join(TIMEOUT)
    assert most[0] <= 3
    wait_until(lambda: limiter.in_flight == 0 and limiter.waiting == 0)
