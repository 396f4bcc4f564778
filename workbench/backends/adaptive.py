"""Adaptive concurrency: how many requests a backend has in flight when the user set no number.

A backend's ``concurrency`` option, when set, is a fixed number. Unset, the limit starts at a
default for the kind of backend (an in-process model: one, fixed; a server on this machine: a
few; a cloud API: several) and follows the server: additive increase while requests succeed
with the limit in use, multiplicative decrease when the server pushes back (429, 503, a
timeout). Before the first push-back the limit grows by one per success (doubling per round,
like TCP's slow start); after it, by one per round. The level the server refused is probed
again only after a run of successes just below it, twice as long after each refusal, so a
server with a hard cap of K requests is not pushed past K every few calls.

One push-back decreases once: requests sent before the decrease that are refused too belong to
the same overshoot. A throttled request waits out its ``Retry-After`` (``backends.http``) while
keeping its slot, so nothing new starts until the in-flight count is under the lowered limit;
a refusal of a request sent *after* a decrease, within its cooldown, means the decrease was
not enough (a rate limit, not a concurrency limit): then no request starts until that
``Retry-After`` passed.

The HTTP layer reports push-backs through :func:`report_status` and :func:`report_failure`,
which find the request's slot (a :class:`Lease`) on the calling thread: backends stream on
the thread that holds the slot.
"""

from __future__ import annotations

import ipaddress
import math
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Literal, Protocol, TypeVar
from urllib.parse import urlsplit

from workbench.backends.base import BackendOptions
from workbench.backends.http_errors import retry_after_seconds
from workbench.core.errors import BackendTimeoutError, RateLimitError

Kind = Literal["set", "in_process", "local_server", "cloud"]
#: Where the limit starts, by kind of backend.
START: dict[Kind, int] = {"in_process": 1, "local_server": 4, "cloud": 8}
#: The most requests an adaptive limit lets in flight (the option's own maximum).
CEILING = 64
#: Successes just below a refused level before it is tried again (doubles per refusal).
PROBE_AFTER = 64
PROBE_AFTER_MAX = 4096
#: The limit's share kept on a push-back.
DECREASE = 0.75
#: Statuses that say "too much at once": rate limited, overloaded.
THROTTLE_STATUSES = frozenset({429, 503})


@dataclass(frozen=True)
class Policy:
    """How a backend's limit is chosen: fixed (``adaptive`` False) or adaptive from ``start``."""

    kind: Kind
    start: int
    ceiling: int
    #: What the server said of itself when asked (``backends.capacity``), "" when not asked.
    reason: str = ""

    @property
    def adaptive(self) -> bool:
        return self.kind in ("local_server", "cloud")

    def describe(self) -> str:
        """How the number is chosen, for estimates: "set", "adaptive up to 64 (…)"."""
        if self.kind == "set":
            return "set"
        if self.kind == "in_process":
            return "the model runs in this process"
        if self.reason and self.ceiling == self.start:
            return self.reason
        where = "a server on this computer" if self.kind == "local_server" else "a cloud API"
        return f"adaptive up to {self.ceiling}, {self.reason or where}"


def is_loopback(base_url: str) -> bool:
    """True for a URL on this machine (localhost, 127.0.0.0/8, ::1)."""
    host = (urlsplit(base_url).hostname or "").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def server_urls(options: BackendOptions) -> list[str]:
    """The servers a backend's requests go to: its pool (``base_urls``), else its base URL."""
    urls = getattr(options, "base_urls", None) or [getattr(options, "base_url", None)]
    return [url for url in urls if isinstance(url, str) and url]


def policy_for(options: BackendOptions, runs_locally: bool | None = None) -> Policy:
    """The limit policy of a backend with ``options``. ``runs_locally`` is the backend class's
    flag: a backend without a base URL that runs locally is an in-process model; one that does
    not (Bedrock) is a cloud API. Unknown (None) without a base URL: in-process, one at a time."""
    if options.concurrency is not None:
        return Policy("set", options.concurrency, options.concurrency)
    # A server pool (base_urls) starts at the kind's level per server: local if all are.
    urls = server_urls(options)
    if urls:
        kind: Kind = "local_server" if all(map(is_loopback, urls)) else "cloud"
    elif runs_locally is False:
        kind = "cloud"
    else:
        return Policy("in_process", 1, 1)
    return Policy(kind, min(START[kind] * max(len(urls), 1), CEILING), CEILING)


class AimdController:
    """The adaptive limit (see the module docstring). Not thread-safe: its limiter's lock
    guards it. Times are ``clock`` readings; a request's ``sent_at`` is when its (latest)
    attempt was sent."""

    def __init__(
        self,
        start: int,
        ceiling: int = CEILING,
        *,
        floor: int = 1,
        decrease: float = DECREASE,
        probe_after: int = PROBE_AFTER,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not 1 <= floor <= start <= ceiling:
            raise ValueError("need 1 <= floor <= start <= ceiling")
        self.limit = float(start)
        self.ceiling = ceiling
        self.floor = floor
        self.decrease = decrease
        self.probe_after = probe_after
        self.clock = clock
        self.slow_start = True
        self.refused: int | None = None  # the level the server last pushed back at
        self.probe_wait = probe_after
        self.plateau = 0  # successes just below ``refused`` since the last change
        self.decreased_at = -math.inf
        self.cooldown_until = -math.inf
        self.pause_until = -math.inf
        self.latency: float | None = None  # moving average of successful requests' seconds
        self.throttles = 0  # push-backs reported, counted or not

    @property
    def current(self) -> int:
        return max(self.floor, min(self.ceiling, int(self.limit)))

    def succeeded(self, sent_at: float, saturated: bool) -> None:
        """A request sent at ``sent_at`` ended well; ``saturated``: the limit was in use (no
        increase for a limit nobody needs)."""
        now = self.clock()
        took = max(0.0, now - sent_at)
        self.latency = took if self.latency is None else 0.8 * self.latency + 0.2 * took
        if not saturated or sent_at < self.decreased_at or now < self.cooldown_until:
            return
        level = self.current
        if self.refused is not None and level >= self.refused:
            self.plateau += 1
            if level == self.refused and self.plateau < level:
                return
            # a round at the probed level passed: the server takes more now
            self.refused, self.probe_wait, self.plateau = None, self.probe_after, 0
        step = 1.0 if self.slow_start else 1.0 / max(1.0, self.limit)
        grown = min(float(self.ceiling), self.limit + step)
        if self.refused is not None and int(grown) >= self.refused:
            self.plateau += 1
            if self.plateau < self.probe_wait:
                self.limit = max(self.limit, self.refused - 1.0)
                return
            self.plateau = 0  # probe: the next round runs at the refused level
            grown = float(self.refused)
        self.limit = grown

    def throttled(self, sent_at: float, retry_after: float | None) -> None:
        """The server pushed back on a request sent at ``sent_at``."""
        now = self.clock()
        self.throttles += 1
        if sent_at < self.decreased_at:
            return  # the same overshoot as the last decrease
        level = self.current
        if retry_after is not None and now < self.cooldown_until:
            self.pause_until = max(self.pause_until, now + retry_after)
        if self.refused is not None and level >= self.refused:
            self.probe_wait = min(self.probe_wait * 2, PROBE_AFTER_MAX)
        else:
            self.probe_wait = self.probe_after
        self.refused = max(level, self.floor + 1)
        self.plateau = 0
        self.slow_start = False
        self.limit = max(float(self.floor), level * self.decrease)
        self.decreased_at = now
        self.cooldown_until = now + max(retry_after or 0.0, self.latency or 0.0)


class _Limiter(Protocol):
    def throttled(self, lease: Lease, retry_after: float | None) -> None: ...


class Lease:
    """One request's slot: when its attempt was sent and how it ended, for the controller."""

    __slots__ = ("limiter", "ok", "pushed_back", "sent_at")

    def __init__(self, limiter: _Limiter, sent_at: float) -> None:
        self.limiter = limiter
        self.sent_at = sent_at
        self.ok = False
        self.pushed_back = False

    def succeeded(self) -> None:
        self.ok = True

    def throttled(self, retry_after: float | None = None) -> None:
        self.pushed_back = True
        self.limiter.throttled(self, retry_after)

    def failed(self, error_kind: str | None) -> None:
        """A run ended failed: a rate limit or timeout nobody reported yet pushes back."""
        if not self.pushed_back and error_kind in (RateLimitError.code, BackendTimeoutError.code):
            self.throttled()


_local = threading.local()
_E = TypeVar("_E", bound=BaseException)


def current_lease() -> Lease | None:
    return getattr(_local, "lease", None)


def hold(lease: Lease | None) -> Lease | None:
    """Make ``lease`` the calling thread's; returns the one it replaces."""
    previous = current_lease()
    _local.lease = lease
    return previous


def report_status(status: int, headers: Mapping[str, str]) -> float | None:
    """An HTTP error status about to be retried: 429 and 503 push back. Returns the wait the
    server asks for (``Retry-After``), if any."""
    retry_after = retry_after_seconds(headers)
    lease = current_lease()
    if lease is not None and status in THROTTLE_STATUSES:
        lease.throttled(retry_after)
    return retry_after


def report_failure(error: _E) -> _E:
    """A transport failure about to be retried: a timeout pushes back. Returns ``error``."""
    lease = current_lease()
    if lease is not None and isinstance(error, BackendTimeoutError):
        lease.throttled()
    return error
