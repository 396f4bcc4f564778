"""A server pool: one backend over several base URLs that serve the same model.

Dispatch: each request goes to the healthy server with the fewest requests in flight (ties
taken in turn). A connection failure, a 5xx or a timeout before the answer started drains that
server (no new requests) and the request moves at once to another one; a 429 moves it without
draining. Each server has its own adaptive limit (the AIMD controller of ``adaptive``, from 4
at once on this computer, 8 elsewhere; a server on this computer that says what it is when asked
is held to what it takes, ``capacity.capacity_of``: llama-cpp-python's server one at a time,
since a second request cuts the running answer short): a 429 lowers that server's limit, not
the whole pool's,
and a request waits for a server with room rather than overshooting one. Only a pool that
refused a request everywhere pushes back on the backend's own limit.
When every server was tried, a retry round follows the backend's retry policy
(``max_retries``, exponential backoff with jitter, the total deadline). Once a server answered
with a 2xx (the headers of its answer arrived), the request is never sent again: a failure from
then on fails that run with the partial text kept (as with one server) and drains the server.

A drained server comes back after ``pool_cooldown`` seconds when a health check (a ``GET`` of
the backend's model list, e.g. ``{base}/models``; any answer below 500 counts: a key is not
needed to see a server is up) run in the background passes; when the whole pool is drained, the
next request itself is the probe.
"""

from __future__ import annotations

import contextlib
import dataclasses
import random
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import httpx
from pydantic import Field, field_validator

from workbench.backends.adaptive import (
    START,
    AimdController,
    current_lease,
    hold,
    is_loopback,
    rejoin,
)
from workbench.backends.base import CancelToken
from workbench.backends.http import HttpClient, HttpOptions, StreamResponse, http_base_url
from workbench.backends.http_errors import ErrorContext
from workbench.backends.recording import RunCancelled
from workbench.core.errors import (
    BackendError,
    BackendTimeoutError,
    ConnectError,
    ProtocolError,
    RateLimitError,
    ServerError,
)

#: Failures that say the server itself is in trouble: drained, and the request sent elsewhere.
_DRAINS = (ConnectError, ServerError, BackendTimeoutError)


class PoolOptions(HttpOptions):
    """The HTTP settings plus a server pool (for backends whose servers can be pooled)."""

    base_urls: list[str] = Field(
        default_factory=list,
        description="A pool: several addresses serving the same models (separated with ; or "
        "commas); each request goes to the least-loaded healthy one and a failing one is "
        "drained and retried elsewhere. Set, it replaces base_url",
    )
    pool_cooldown: float = Field(
        default=15.0,
        gt=0,
        le=3600,
        description="Seconds a failed server of the pool rests before a health check may bring "
        "it back",
    )

    @field_validator("base_urls", mode="before")
    @classmethod
    def _pool_urls(cls, value: Any) -> list[str]:
        return pool_urls(value)


@dataclass(frozen=True)
class ServerFigures:
    """One server's figures since the pool was opened."""

    url: str
    healthy: bool
    in_flight: int
    requests: int
    failures: int
    mean_latency_s: float | None  # over the requests it answered (whole answer read)
    limit: int  # requests it may have in flight: its adaptive limit now


class _Server:
    __slots__ = ("answered", "control", "down_until", "failures", "healthy", "in_flight",
                 "latency", "probing", "requests", "sized", "url")

    def __init__(self, url: str, clock: Callable[[], float]) -> None:
        self.url = url
        start = START["local_server" if is_loopback(url) else "cloud"]
        self.control = AimdController(start, clock=clock)
        self.sized = not is_loopback(url)  # a server here is asked what it takes (``size``)
        self.healthy = True
        self.down_until = 0.0
        self.probing = False
        self.in_flight = 0
        self.requests = 0
        self.failures = 0
        self.answered = 0
        self.latency = 0.0


class ServerPool:
    """Least-loaded dispatch with failover over ``urls``; thread-safe (one per backend)."""

    def __init__(
        self,
        urls: list[str],
        options: HttpOptions,
        http: HttpClient,
        *,
        cooldown: float,
        probe_path: str = "/models",
        probe: Callable[[str], bool] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not urls:
            raise ValueError("a pool needs at least one base URL")
        self._servers = [_Server(url, clock) for url in urls]
        self._options = options
        self._http = http  # built with max_retries=0: the pool decides where a retry goes
        self._cooldown = cooldown
        self._probe_path = probe_path
        self._probe = probe or self._probe_models
        self._clock = clock
        self._lock = threading.Lock()
        self._room = threading.Condition(self._lock)  # a request ended: a server may have room
        self._turn = 0
        self._closed = False

    @property
    def urls(self) -> list[str]:
        return [s.url for s in self._servers]

    def close(self) -> None:
        self._closed = True

    def figures(self) -> list[ServerFigures]:
        with self._lock:
            return [
                ServerFigures(
                    s.url,
                    s.healthy,
                    s.in_flight,
                    s.requests,
                    s.failures,
                    s.latency / s.answered if s.answered else None,
                    s.control.current,
                )
                for s in self._servers
            ]

    def check(self) -> list[ServerFigures]:
        """Health-check every server now (at once, in threads) and return the figures: what
        ``workbench backends`` shows of a pool."""
        results: dict[str, bool] = {}

        def probe(url: str) -> None:
            results[url] = self._probe(url)

        threads = [threading.Thread(target=probe, args=(s.url,)) for s in self._servers]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        with self._lock:
            for server in self._servers:
                server.healthy = results.get(server.url, False)
                if not server.healthy:
                    server.down_until = self._clock() + self._cooldown
        return self.figures()

    def size(self) -> None:
        """Ask each server on this computer not asked yet what it is (once; one that did not
        answer is asked at the next request) and hold an identified one to what it takes: the
        pool's total limit already says so, but least-loaded dispatch could still put two
        requests on a server that cuts the first answer short when a second arrives."""
        from workbench.backends.capacity import capacity_of
        from workbench.backends.discovery import identify

        for server in self._servers:
            if server.sized:
                continue
            try:
                found = identify(server.url)
            except OSError:
                continue
            with self._lock:
                server.sized = True
                if found is not None and found.kind != "openai":
                    taken = capacity_of(found)
                    server.control = AimdController(taken.start, taken.ceiling, clock=self._clock)

    # --- dispatch ------------------------------------------------------------------------

    def _pick(self, tried: set[str], cancel: CancelToken, deadline: float) -> _Server | None:
        """The healthy untried server with room under its limit and the fewest requests in
        flight (ties in turn), waiting while every such server is full; when the whole pool is
        drained, the untried one whose cool-down ends first (the request is its probe). None:
        every candidate was tried this round."""
        self.size()
        with self._lock:
            while True:
                self._start_checks()
                count = len(self._servers)
                order = [self._servers[(self._turn + i) % count] for i in range(count)]
                fresh = [s for s in order if s.url not in tried]
                healthy = [s for s in fresh if s.healthy]
                room = [s for s in healthy if s.in_flight < s.control.current]
                if room:
                    chosen = min(room, key=lambda s: s.in_flight)  # first of the least loaded
                    break
                if not healthy:
                    if not fresh or any(s.healthy for s in self._servers):
                        return None
                    chosen = min(fresh, key=lambda s: s.down_until)
                    break
                if cancel.cancelled:
                    raise RunCancelled
                if self._clock() >= deadline:
                    raise BackendTimeoutError(
                        f"no server of the pool had room within {self._options.total_timeout:g} "
                        "s (total timeout)",
                        hint="the servers are busy; raise total_timeout or add servers",
                    )
                self._room.wait(0.05)
            self._turn = (self._servers.index(chosen) + 1) % count
            chosen.in_flight += 1
            chosen.requests += 1
            return chosen

    def _start_checks(self) -> None:
        """Start a background health check of each drained server whose cool-down is over
        (the lock is held)."""
        now = self._clock()
        for server in self._servers:
            if not server.healthy and not server.probing and server.down_until <= now:
                server.probing = True
                threading.Thread(
                    target=self._check, args=(server,), name="pool-health", daemon=True
                ).start()

    def _done(self, server: _Server, started: float, error: BaseException | None) -> None:
        with self._lock:
            saturated = server.in_flight >= server.control.current
            server.in_flight -= 1
            self._room.notify_all()
            if error is None:
                server.answered += 1
                server.latency += self._clock() - started
                server.healthy = True
                server.control.succeeded(started, saturated)
                return
            if isinstance(error, RunCancelled | GeneratorExit):  # cancelled, or not read on
                return
            server.failures += 1
            if isinstance(error, RateLimitError):
                server.control.throttled(started, None)
            if isinstance(error, _DRAINS) or _broke_off(error):
                server.healthy = False
                server.down_until = self._clock() + self._cooldown

    def _check(self, server: _Server) -> None:
        """Background health check of a drained server whose cool-down is over."""
        alive = False if self._closed else self._probe(server.url)
        with self._lock:
            server.probing = False
            if alive:
                server.healthy = True
            else:
                server.down_until = self._clock() + self._cooldown

    def _probe_models(self, url: str) -> bool:
        timeout = min(self._options.connect_timeout, 5.0)
        try:
            with httpx.Client(timeout=timeout, verify=self._options.verify_tls) as client:
                return client.get(url + self._probe_path).status_code < 500
        except httpx.HTTPError:
            return False

    # --- one request -----------------------------------------------------------------------

    @contextlib.contextmanager
    def stream(
        self,
        method: str,
        path: str,
        *,
        headers: Mapping[str, str] | None = None,
        json_body: Any = None,
        cancel: CancelToken,
        model: str = "",
    ) -> Iterator[tuple[StreamResponse, str]]:
        """Send ``path`` to a server of the pool; yield the streaming response and the base URL
        of the server answering it."""
        options = self._options
        deadline = self._clock() + options.total_timeout
        tried: set[str] = set()
        rounds = 0
        last: BackendError | None = None
        lease = current_lease()  # the backend's limit: told only when the whole pool refused
        while True:
            if cancel.cancelled:
                raise RunCancelled
            server = self._pick(tried, cancel, deadline)
            if server is None:
                assert last is not None  # a round ends only after a failure
                if lease is not None and isinstance(last, RateLimitError):
                    lease.throttled(refused=True)
                rounds += 1
                delay = min(options.retry_backoff * 2 ** (rounds - 1), 30.0)
                delay = delay / 2 + random.uniform(0, delay / 2)
                if rounds > options.max_retries or self._clock() + delay >= deadline:
                    last.message += f" (every server of the pool tried, {rounds - 1} retries)"
                    raise last
                if cancel.wait(delay):
                    raise RunCancelled
                rejoin(cancel)  # refused by all, it gave its place in the backend's limit up
                tried.clear()
                continue
            tried.add(server.url)
            started = self._clock()
            opened = self._http.stream(
                method,
                server.url + path,
                headers=headers,
                json_body=json_body,
                cancel=cancel,
                model=model,
            )
            hold(None)  # a server's push-back is its own limit's (see _done)
            try:
                response = opened.__enter__()
            except BaseException as exc:
                hold(lease)
                self._done(server, started, exc)
                if not isinstance(exc, (*_DRAINS, RateLimitError)) or self._clock() >= deadline:
                    raise
                last = exc
                continue
            hold(lease)
            try:
                yield response, server.url
            except BaseException as exc:
                self._done(server, started, exc)
                if not opened.__exit__(type(exc), exc, exc.__traceback__):
                    raise
            else:
                self._done(server, started, None)
                opened.__exit__(None, None, None)
            return


class Servers:
    """Where a backend's requests go: its one ``base_url``, or the pool of ``base_urls``.

    ``retries=False`` makes the one server fail at once (interactive model lists); a pool's
    client never retries itself anyway: the pool decides where a retry goes.
    """

    def __init__(
        self,
        options: PoolOptions,
        base_url: str,
        ctx: ErrorContext,
        *,
        probe_path: str,
        retries: bool = True,
    ) -> None:
        self.base_url = base_url
        self.pool: ServerPool | None = None
        single = options.model_copy(update={"max_retries": 0})
        if options.base_urls:
            ctx = dataclasses.replace(ctx, base_url=options.base_urls[0])
            self.http = HttpClient(single, ctx)
            self.pool = ServerPool(
                options.base_urls,
                options,
                self.http,
                cooldown=options.pool_cooldown,
                probe_path=probe_path,
            )
        else:
            self.http = HttpClient(options if retries else single, ctx)

    @property
    def urls(self) -> list[str]:
        return self.pool.urls if self.pool is not None else [self.base_url]

    def close(self) -> None:
        if self.pool is not None:
            self.pool.close()
        self.http.close()

    @contextlib.contextmanager
    def stream(
        self, method: str, path: str, *, cancel: CancelToken | None = None, **kwargs: Any
    ) -> Iterator[tuple[StreamResponse, str]]:
        """``path`` sent to the one server or to the pool; yields the response and the base
        URL of the server answering (keyword arguments as :meth:`HttpClient.stream`)."""
        cancel = cancel or CancelToken()
        if self.pool is not None:
            with self.pool.stream(method, path, cancel=cancel, **kwargs) as opened:
                yield opened
            return
        with self.http.stream(method, self.base_url + path, cancel=cancel, **kwargs) as response:
            yield response, self.base_url

    def request_json(self, method: str, path: str, **kwargs: Any) -> tuple[Any, str]:
        """A whole JSON exchange: the parsed body and the base URL of the server answering."""
        with self.stream(method, path, **kwargs) as (response, base_url):
            return response.json(), base_url


def figures_line(
    url: str, requests: int, failures: int, mean_s: float | None, state: str = ""
) -> str:
    """One server's figures as the CLI prints them (``state``: up, drained…)."""
    mean = "" if mean_s is None else f", mean {mean_s:.2f} s"
    state = f"{state}; " if state else ""
    return f"{url}: {state}{requests} requests, {failures} failed{mean}"


def _broke_off(error: BaseException) -> bool:
    """A stream cut mid-answer (the server died while writing)."""
    return isinstance(error, ProtocolError) and "broke off" in error.message


def pool_urls(value: Any) -> list[str]:
    """The ``base_urls`` setting as stored: text separated with commas, semicolons, spaces or
    lines (or a list of such texts), each a checked base URL, duplicates dropped in order."""
    items = [value] if isinstance(value, str) else list(value or [])
    urls: list[str] = []
    for item in items:
        for part in str(item).replace(",", " ").replace(";", " ").split():
            url = http_base_url(part)
            if url not in urls:
                urls.append(url)
    return urls
