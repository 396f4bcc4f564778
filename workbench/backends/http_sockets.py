"""Reads a cancel or the run's deadline can interrupt at once: every socket of an ``HttpClient``
goes through streams that consult the request's :class:`Exchange` around each blocking read, so
a cancel from another thread shuts the socket being read down (even while waiting for response
headers), and a read never outlives the run's total deadline. Split from ``backends.http``."""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpcore
import httpx

from workbench.backends.base import CancelToken
from workbench.backends.recording import RunCancelled


class DeadlineExceeded(Exception):
    """Raised inside the transport when the run's total deadline passes during a read."""


class Exchange:
    """One logical request and all its attempts: deadline, cancel, and the socket being read.

    The transport's streams consult the exchange that is active on the calling thread around
    each blocking read, so a cancel from another thread can shut that socket down.
    """

    _local = threading.local()

    def __init__(self, cancel: CancelToken, total_timeout: float) -> None:
        self.cancel = cancel
        self.deadline = time.monotonic() + total_timeout
        self._lock = threading.Lock()
        self._sock: socket.socket | None = None
        self._forget = cancel.on_cancel(self._abort)

    def close(self) -> None:
        self._forget()

    def remaining(self) -> float:
        return self.deadline - time.monotonic()

    @contextlib.contextmanager
    def active(self) -> Iterator[None]:
        previous = getattr(self._local, "exchange", None)
        self._local.exchange = self
        try:
            yield
        finally:
            self._local.exchange = previous

    @classmethod
    def current(cls) -> Exchange | None:
        return getattr(cls._local, "exchange", None)

    def _abort(self) -> None:
        with self._lock:
            sock = self._sock
        if sock is not None:
            with contextlib.suppress(OSError):
                # The base-class call: SSLSocket.shutdown would also drop its SSL object under
                # the reading thread. Shutdown (not close) wakes a recv() blocked on this fd.
                socket.socket.shutdown(sock, socket.SHUT_RDWR)

    def read(self, stream: httpcore.NetworkStream, max_bytes: int, timeout: float | None) -> bytes:
        remaining = self.remaining()
        if remaining <= 0:
            raise DeadlineExceeded
        clamped = timeout is None or remaining < timeout
        with self._lock:
            if self.cancel.cancelled:
                raise RunCancelled
            self._sock = stream.get_extra_info("socket")
        try:
            return stream.read(max_bytes, remaining if clamped else timeout)
        except httpcore.ReadTimeout:
            if clamped:
                raise DeadlineExceeded from None
            raise
        finally:
            with self._lock:
                self._sock = None


class WatchedStream(httpcore.NetworkStream):
    """A connection's stream. While a response body is read it is bound to its exchange;
    before that (sending, waiting for headers) the exchange active on the thread applies."""

    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner
        self.exchange: Exchange | None = None

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        exchange = self.exchange or Exchange.current()
        if exchange is None:
            return self._inner.read(max_bytes, timeout)
        return exchange.read(self._inner, max_bytes, timeout)

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, timeout)

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        return WatchedStream(self._inner.start_tls(ssl_context, server_hostname, timeout))

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _WatchedBackend(httpcore.NetworkBackend):
    def __init__(self, inner: httpcore.NetworkBackend) -> None:
        self._inner = inner

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Any = None,
    ) -> httpcore.NetworkStream:
        return WatchedStream(
            self._inner.connect_tcp(host, port, timeout, local_address, socket_options)
        )

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Any = None
    ) -> httpcore.NetworkStream:
        return WatchedStream(self._inner.connect_unix_socket(path, timeout, socket_options))

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


def watch_transports(client: httpx.Client) -> None:
    """Route every socket of ``client`` through the interruptible streams.

    httpx exposes no network-backend option, so this sets the connection pool's backend (the
    one private hook used here); it fails loudly if httpx changes shape.
    """
    transports = [client._transport, *(t for t in client._mounts.values() if t is not None)]
    for transport in transports:
        pool = getattr(transport, "_pool", None)
        if pool is None or not hasattr(pool, "_network_backend"):
            raise RuntimeError(
                f"httpx {httpx.__version__}: cannot find the connection pool of "
                f"{type(transport).__name__}; cancelling would not be immediate"
            )
        pool._network_backend = _WatchedBackend(pool._network_backend)
