"""How many requests a backend may have in flight, and how many it may start per minute.

One ``RequestLimiter`` per configured backend, shared by every thread that runs requests on it
(the grid runner, the GUI workers). A local model runs one request at a time by default; a remote
server takes ``Options.concurrency`` at once; ``Options.requests_per_minute`` optionally spaces
out request starts over a sliding window. Waiting is cancellable.

A freed slot wakes one waiter, not all of them (a sweep keeps spare threads waiting here, and
waking every one per finished request cost CPU that the requests in flight needed). So no
wake-up may be lost: a waiter that leaves while a slot is free, having given up (cancel,
timeout) or taken one of several, passes the wake-up on; a waiter told to wait for the rate
window sleeps with a timeout, so it comes back by itself. A cancel wakes the waiters at once
through the token's ``on_cancel`` (they used to poll it every 50 ms).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from workbench.backends.base import BackendOptions, CancelToken


class LimitCancelled(Exception):
    """The caller's cancel token was set while it waited for a slot."""


class RequestLimiter:
    """A bounded number of requests in flight plus an optional requests-per-period limit."""

    def __init__(
        self,
        concurrency: int = 1,
        requests_per_minute: int | None = None,
        *,
        period_s: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        if requests_per_minute is not None and requests_per_minute < 1:
            raise ValueError("requests_per_minute must be at least 1")
        self.concurrency = concurrency
        self.requests_per_minute = requests_per_minute
        self.period_s = period_s
        self._clock = clock
        self._cond = threading.Condition()
        self._in_flight = 0
        self._waiting = 0
        self._starts: deque[float] = deque()

    @property
    def in_flight(self) -> int:
        with self._cond:
            return self._in_flight

    @property
    def waiting(self) -> int:
        with self._cond:
            return self._waiting

    def _rate_wait(self, now: float) -> float:
        """Seconds until the rate limit lets one more request start (0 when it does now)."""
        if self.requests_per_minute is None:
            return 0.0
        while self._starts and now - self._starts[0] >= self.period_s:
            self._starts.popleft()
        if len(self._starts) < self.requests_per_minute:
            return 0.0
        return self._starts[0] + self.period_s - now

    def acquire(self, cancel: CancelToken | None = None, timeout: float | None = None) -> bool:
        """Wait for a slot. False on timeout; ``LimitCancelled`` if cancelled while waiting."""
        deadline = None if timeout is None else self._clock() + timeout
        forget: Callable[[], None] | None = None
        with self._cond:
            self._waiting += 1
            try:
                while True:
                    if cancel is not None and cancel.cancelled:
                        raise LimitCancelled()
                    now = self._clock()
                    if self._in_flight < self.concurrency:
                        rate_wait = self._rate_wait(now)
                        if rate_wait <= 0:
                            self._in_flight += 1
                            if self.requests_per_minute is not None:
                                self._starts.append(now)
                            return True
                        wait: float | None = rate_wait
                    else:
                        wait = None
                    if deadline is not None:
                        if now >= deadline:
                            return False
                        wait = deadline - now if wait is None else min(wait, deadline - now)
                    if cancel is not None and forget is None:
                        # Wakes us when cancelled; then look again, as it may be set already.
                        forget = cancel.on_cancel(self._wake_all)
                        continue
                    self._cond.wait(wait)
            finally:
                self._waiting -= 1
                if self._waiting and self._in_flight < self.concurrency:
                    self._cond.notify()  # a slot is still free: never keep a wake-up to oneself
                if forget is not None:
                    forget()

    def release(self) -> None:
        with self._cond:
            if self._in_flight == 0:
                raise RuntimeError("release() without acquire()")
            self._in_flight -= 1
            if self._waiting:
                self._cond.notify()

    def _wake_all(self) -> None:
        """A waiter's cancel token was set (from any thread): wake the waiters so it can leave."""
        with self._cond:
            self._cond.notify_all()

    @contextmanager
    def slot(self, cancel: CancelToken | None = None) -> Iterator[None]:
        """``with limiter.slot(cancel): run the request`` (raises ``LimitCancelled``)."""
        self.acquire(cancel)
        try:
            yield
        finally:
            self.release()


class Limits:
    """The process's limiters, one per backend name, created from that backend's options."""

    def __init__(self) -> None:
        self._limiters: dict[str, RequestLimiter] = {}
        self._lock = threading.Lock()

    def for_backend(self, name: str, options: BackendOptions) -> RequestLimiter:
        """The shared limiter of backend ``name``; a new one when its settings changed (requests
        already holding a slot finish on the old one)."""
        with self._lock:
            limiter = self._limiters.get(name)
            if (
                limiter is None
                or limiter.concurrency != options.concurrency
                or limiter.requests_per_minute != options.requests_per_minute
            ):
                limiter = RequestLimiter(options.concurrency, options.requests_per_minute)
                self._limiters[name] = limiter
            return limiter
