"""How many requests a backend may have in flight, and how many it may start per minute.

One ``RequestLimiter`` per configured backend, shared by every thread that runs requests on it
(the grid runner, the GUI workers). A backend takes ``Options.concurrency`` requests at once
when that is set; unset, an in-process model runs one at a time and a server's limit adapts
(``backends.adaptive``: each slot is a ``Lease`` its request reports success or push-back
through; what an adaptive limit counts is requests at the server: one the server refused gives
its place up while it waits out the ``Retry-After``, and takes one again to be sent anew).
``Options.requests_per_minute`` optionally spaces out request starts over a sliding window.
Waiting is cancellable.

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

from workbench.backends.adaptive import AimdController, Lease, Policy, hold
from workbench.backends.base import BackendOptions, CancelToken
from workbench.backends.capacity import Capacities


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
        controller: AimdController | None = None,
    ) -> None:
        """``controller``: the limit adapts from its ``current`` (``concurrency`` unused)."""
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
        self._away = 0
        self._starts: deque[float] = deque()
        self.controller = controller

    @property
    def limit(self) -> int:
        """Requests allowed in flight now."""
        return self.controller.current if self.controller is not None else self.concurrency

    @property
    def in_flight(self) -> int:
        with self._cond:
            return self._in_flight

    @property
    def waiting(self) -> int:
        with self._cond:
            return self._waiting

    def _rate_wait(self, now: float) -> float:
        """Seconds until the rate limit (or a server's Retry-After) lets one more request start
        (0 when it does now)."""
        if self.controller is not None and self.controller.pause_until > now:
            return self.controller.pause_until - now
        if self.requests_per_minute is None:
            return 0.0
        while self._starts and now - self._starts[0] >= self.period_s:
            self._starts.popleft()
        if len(self._starts) < self.requests_per_minute:
            return 0.0
        return self._starts[0] + self.period_s - now

    def acquire(self, cancel: CancelToken | None = None, timeout: float | None = None) -> bool:
        """Wait for a slot. False on timeout; ``LimitCancelled`` if cancelled while waiting."""
        return self._take(cancel, timeout) > 0

    def _take(self, cancel: CancelToken | None, timeout: float | None) -> int:
        """``acquire``, returning the requests in flight with this one (0 on timeout)."""
        deadline = None if timeout is None else self._clock() + timeout
        forget: Callable[[], None] | None = None
        with self._cond:
            self._waiting += 1
            try:
                while True:
                    if cancel is not None and cancel.cancelled:
                        raise LimitCancelled()
                    now = self._clock()
                    if self._in_flight < self.limit:
                        rate_wait = self._rate_wait(now)
                        if rate_wait <= 0:
                            self._in_flight += 1
                            if self.requests_per_minute is not None:
                                self._starts.append(now)
                            return self._in_flight
                        wait: float | None = rate_wait
                    else:
                        wait = None
                    if deadline is not None:
                        if now >= deadline:
                            return 0
                        wait = deadline - now if wait is None else min(wait, deadline - now)
                    if cancel is not None and forget is None:
                        # Wakes us when cancelled; then look again, as it may be set already.
                        forget = cancel.on_cancel(self._wake_all)
                        continue
                    self._cond.wait(wait)
            finally:
                self._waiting -= 1
                if self._waiting and self._in_flight < self.limit:
                    self._cond.notify()  # a slot is still free: never keep a wake-up to oneself
                if forget is not None:
                    forget()

    def release(self, lease: Lease | None = None) -> None:
        """Free a slot (none for a ``lease`` away from the server); a ``lease`` that succeeded
        may raise an adaptive limit."""
        with self._cond:
            if lease is not None and lease.away:
                self._away -= 1  # it ended while refused (retries spent, cancelled)
                return
            if self._in_flight == 0:
                raise RuntimeError("release() without acquire()")
            if self.controller is not None and lease is not None and lease.ok:
                saturated = self._waiting > 0 or self._in_flight >= self.limit
                self.controller.succeeded(lease.sent_at, saturated)
            self._free()

    def _free(self) -> None:
        self._in_flight -= 1
        if self._waiting:
            self._cond.notify(max(1, self.limit - self._in_flight))

    def throttled(self, lease: Lease, retry_after: float | None, refused: bool = False) -> None:
        """The server pushed back on ``lease``'s request: the controller lowers the limit. A
        ``refused`` request, no longer at the server, gives its place up until it is sent again
        (:meth:`rejoin`); a timed-out one keeps it, its next attempt counting as sent now. A
        set concurrency stays as set: the request keeps its slot."""
        with self._cond:
            if self.controller is None:
                return
            self.controller.throttled(lease.sent_at, retry_after, lease.level if refused else None)
            if not refused:
                lease.sent_at = self._clock()
            elif not lease.away:
                lease.away = True
                lease.away_since = self._clock()
                self._away += 1
                self._free()

    def sending(self, lease: Lease) -> None:
        """``lease``'s request is being sent: its level is the requests in flight now (one that
        took its slot after it may have been sent before it: counted at its slot, its level
        said one fewer than the server had, and a refusal then put the limit under the cap)."""
        with self._cond:
            lease.level = self._in_flight

    def rejoin(self, lease: Lease, cancel: CancelToken) -> None:
        """``lease``'s request, refused, is sent again: wait for a place at the server (the
        request's next attempt counts as sent then, at the level it finds). Cancelled while
        waiting: returns with the lease still away."""
        try:
            level = self._take(cancel, None)
        except LimitCancelled:
            return
        with self._cond:
            now = self._clock()
            lease.away_s += now - lease.away_since
            lease.away, lease.level, lease.sent_at = False, level, now
            self._away -= 1

    @property
    def away(self) -> int:
        """Requests refused and waiting to be sent again (they hold no place)."""
        with self._cond:
            return self._away

    def _wake_all(self) -> None:
        """A waiter's cancel token was set (from any thread): wake the waiters so it can leave."""
        with self._cond:
            self._cond.notify_all()

    @contextmanager
    def slot(self, cancel: CancelToken | None = None) -> Iterator[Lease]:
        """``with limiter.slot(cancel) as lease: run the request`` (raises ``LimitCancelled``);
        the lease is the thread's while inside, for the HTTP layer's push-back reports."""
        level = self._take(cancel, None)
        lease = Lease(self, self._clock(), level)
        previous = hold(lease)
        try:
            yield lease
        finally:
            hold(previous)
            self.release(lease)


class Limits:
    """The process's limiters, one per backend name, created from that backend's options."""

    def __init__(self) -> None:
        self._limiters: dict[str, RequestLimiter] = {}
        self._policies: dict[str, Policy] = {}
        self._lock = threading.Lock()
        self.capacities = Capacities()  # what each local server said it takes, asked once

    def policy(self, options: BackendOptions, runs_locally: bool | None = None) -> Policy:
        """How a backend's limit is chosen (``adaptive.policy_for``; a server on this machine
        is asked what it takes the first time: call it off the GUI thread)."""
        return self.capacities.policy(options, runs_locally)

    def for_backend(
        self,
        name: str,
        options: BackendOptions,
        runs_locally: bool | None = None,
        learned: int | None = None,
    ) -> RequestLimiter:
        """The shared limiter of backend ``name`` (``runs_locally``: its class's flag, see
        :meth:`policy`); a new one when its settings changed (requests already holding a slot
        finish on the old one). A new adaptive one starts at ``learned`` when given (the level
        its last run reached), not at its kind's default."""
        policy = self.policy(options, runs_locally)
        with self._lock:
            limiter = self._limiters.get(name)
            if (
                limiter is None
                or self._policies.get(name) != policy
                or limiter.requests_per_minute != options.requests_per_minute
            ):
                controller = None
                if policy.adaptive:
                    start = min(policy.ceiling, max(1, learned or policy.start))
                    controller = AimdController(start, policy.ceiling)
                limiter = RequestLimiter(
                    policy.start, options.requests_per_minute, controller=controller
                )
                self._limiters[name] = limiter
                self._policies[name] = policy
            return limiter

    def peek(self, name: str) -> RequestLimiter | None:
        """Backend ``name``'s limiter if one was made (for estimates: what it learned)."""
        with self._lock:
            return self._limiters.get(name)
