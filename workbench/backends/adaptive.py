"""Adaptive concurrency: how many requests a backend has in flight when the user set no number.

A backend's ``concurrency`` option, when set, is a fixed number. Unset, the limit starts at a
default for the kind of backend (an in-process model: one, fixed; a server on this machine: a
few; a cloud API: several) and follows the server: additive increase while requests succeed
with the limit in use, multiplicative decrease when the server pushes back (429, 503, a
timeout). Before the first push-back the limit grows by one per success (doubling per round,
like TCP's slow start); after it, by one per round. The level the server refused is probed
again only after a run of successes just below it, four times as long after each refusal there
(each refused call waits out a whole ``Retry-After``), so a server with a hard cap of K requests
is not pushed past K every few calls.

The limit counts requests *at the server*: each send records how many were there with it
(its ``level``), so a refusal says where the server's cap is. A 429/503 lowers the limit to
just under the level it was sent at (a cap of K refuses the K+1-th: the limit becomes K, not
three quarters of whatever the limit had grown to), once per overshoot: requests sent before
the decrease, or at a level above the one it came down to, that are refused too only lower it
further if they were sent at a lower level.
A refused request is no longer at the server: it gives its place up while it waits out its
``Retry-After`` (``backends.http``) and takes one again before it is sent anew (:func:`rejoin`),
so waiting out a long ``Retry-After`` costs no throughput. Refusals that keep coming after a
decrease, within its cooldown (more than ``SLOP`` of them: our count of a request ends a
moment after the server's), are not a concurrency cap but a rate limit: the limit is cut to
three quarters (multiplicative decrease, as for timeouts, which say nothing of a level) and no
request starts until the ``Retry-After`` passed.

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

from workbench.backends.base import BackendOptions, CancelToken
from workbench.backends.http_errors import retry_after_seconds
from workbench.core.errors import BackendTimeoutError, RateLimitError

Kind = Literal["set", "in_process", "local_server", "cloud"]
#: Where the limit starts, by kind of backend.
START: dict[Kind, int] = {"in_process": 1, "local_server": 4, "cloud": 8}
#: The most requests an adaptive limit lets in flight (the option's own maximum).
CEILING = 64
#: Successes just below a refused level before it is tried again (times ``PROBE_GROWTH`` per
#: refusal of the same level): each refused probe costs a call a whole ``Retry-After`` (a second
#: or more: at the end of a sweep, its wall time), so a server with a hard cap refuses one call
#: in the first 200 after it was found, one in the next 800, and so on.
PROBE_AFTER = 200
PROBE_GROWTH = 4
PROBE_AFTER_MAX = 12800
#: The limit's share kept on a push-back.
DECREASE = 0.75
#: Statuses that say "too much at once": rate limited, overloaded.
THROTTLE_STATUSES = frozenset({429, 503})
#: Refusals after a decrease, within its cooldown, still taken for the cap being found (each
#: lowers the limit under its level) before they are taken for a rate limit.
SLOP = 1


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
        self.again = 0  # refusals in a row, each within the last decrease's cooldown

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

    def throttled(
        self, sent_at: float, retry_after: float | None, level: int | None = None
    ) -> None:
        """The server pushed back on a request sent at ``sent_at`` with ``level`` requests at
        the server, itself included (None: not known, as for a timeout)."""
        now = self.clock()
        self.throttles += 1
        under = None if level is None else max(self.floor, level - 1)
        if sent_at < self.decreased_at or (level is not None and level > self.current):
            # the same overshoot (sent before the decrease, or at a level above the limit it
            # has come down to since: slow start sends many before the first refusal is back):
            # only one sent with fewer at the server puts the cap lower
            if under is not None and under < self.limit:
                self.limit = float(under)
                self.refused = max(level or 0, self.floor + 1)
            return
        again = now < self.cooldown_until
        self.again = self.again + 1 if again else 0
        rate_limited = under is None or self.again > SLOP
        current = self.current
        if retry_after is not None and again and rate_limited:
            self.pause_until = max(self.pause_until, now + retry_after)
        refused = current if level is None else level
        if self.refused is not None and refused >= self.refused:
            self.probe_wait = min(self.probe_wait * PROBE_GROWTH, PROBE_AFTER_MAX)
        else:
            self.probe_wait = self.probe_after
        self.refused = max(refused, self.floor + 1)
        self.plateau = 0
        self.slow_start = False
        decreased = current * self.decrease if rate_limited or under is None else under
        self.limit = max(float(self.floor), min(float(current), decreased))
        self.decreased_at = now
        self.cooldown_until = now + max(retry_after or 0.0, self.latency or 0.0)


class _Limiter(Protocol):
    def throttled(self, lease: Lease, retry_after: float | None, refused: bool) -> None: ...

    def rejoin(self, lease: Lease, cancel: CancelToken) -> None: ...

    def sending(self, lease: Lease) -> None: ...


class Lease:
    """One request's slot: when its attempt was sent, with how many at the server (``level``,
    itself included), whether it is away from the server (refused, waiting to be sent again)
    and for how long in all, and how it ended, for the controller."""

    __slots__ = ("away", "away_s", "away_since", "level", "limiter", "ok", "pushed_back", "sent_at")

    def __init__(self, limiter: _Limiter, sent_at: float, level: int | None = None) -> None:
        self.limiter = limiter
        self.sent_at = sent_at
        self.level = level
        self.away = False
        self.away_since = 0.0
        self.away_s = 0.0  # seconds spent away (Retry-After, then waiting for a place)
        self.ok = False
        self.pushed_back = False

    def succeeded(self) -> None:
        self.ok = True

    def throttled(self, retry_after: float | None = None, *, refused: bool = False) -> None:
        """The server pushed back: ``refused`` the request (429, 503: it is no longer at the
        server, and its level says where the cap is), else it was too slow (a timeout)."""
        self.pushed_back = True
        self.limiter.throttled(self, retry_after, refused)

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
        lease.throttled(retry_after, refused=True)
    return retry_after


def report_send() -> None:
    """The calling thread's request is being sent (each attempt): its level is counted now."""
    lease = current_lease()
    if lease is not None:
        lease.limiter.sending(lease)


def rejoin(cancel: CancelToken) -> None:
    """A request refused earlier is about to be sent again: it takes a place at the server
    first (waits, cancellably, while the limit is in use; returns at once if cancelled)."""
    lease = current_lease()
    if lease is not None and lease.away:
        lease.limiter.rejoin(lease, cancel)


def report_failure(error: _E) -> _E:
    """A transport failure about to be retried: a timeout pushes back. Returns ``error``."""
    lease = current_lease()
    if lease is not None and isinstance(error, BackendTimeoutError):
        lease.throttled()
    return error
