"""How HTTP failures become errors a user can fix: each names the URL, the limit that was hit or
where the refused key came from, and says what to do. No httpx exception leaves ``backends/``."""

from __future__ import annotations

import contextlib
import email.utils
import json
import socket
import ssl
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx

from workbench.backends.credentials import REDACTED, credential_header, redact
from workbench.core.errors import (
    AuthError,
    BackendError,
    BackendTimeoutError,
    BadRequestError,
    ConnectError,
    NotFoundError,
    ProtocolError,
    RateLimitError,
    ServerError,
)

SECRET_HEADERS = frozenset({"authorization", "proxy-authorization", "x-api-key", "api-key"})


@dataclass(frozen=True)
class ErrorContext:
    """What an error message needs to be fixable: who we talked to and where the key came from."""

    service: str
    base_url: str
    model: str = ""
    #: Called only when a key is refused: says where the key came from and how to replace it.
    auth_hint: Callable[[], str] = lambda: ""


def retry_after_seconds(headers: Mapping[str, str], now: datetime | None = None) -> float | None:
    """The server's requested wait: ``retry-after-ms``, or ``Retry-After`` in seconds or as an
    HTTP date. None when absent or unreadable."""
    value = headers.get("retry-after-ms")
    if value:
        with contextlib.suppress(ValueError):
            return max(0.0, float(value) / 1000)
    value = headers.get("retry-after")
    if not value:
        return None
    with contextlib.suppress(ValueError):
        return max(0.0, float(value))
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def error_detail(body: bytes) -> str:
    """The human part of an error body (OpenAI, Anthropic, FastAPI, Bedrock shapes), redacted."""
    text = body.decode("utf-8", errors="replace").strip()
    try:
        data = json.loads(text)
    except ValueError:
        data = None
    message: Any = None
    if isinstance(data, dict):
        inner = data.get("error")
        if isinstance(inner, dict):
            message = inner.get("message") or inner.get("type")
        elif isinstance(inner, str):
            message = inner
        message = message or data.get("message") or data.get("detail")
    if message is None:
        message = text
    if not isinstance(message, str):
        message = json.dumps(message, ensure_ascii=False)
    message = " ".join(message.split())
    if len(message) > 300:
        message = message[:300] + "…"
    return redact(message) or "(no details)"


def status_error(status: int, body: bytes, url: str, ctx: ErrorContext) -> BackendError:
    """A fixable error for an HTTP error status."""
    detail = error_detail(body)
    where = f"HTTP {status} from {url}"
    if status in (401, 403):
        what = "refused the API key" if status == 401 else "denied access"
        return AuthError(f"{ctx.service} {what} ({where}): {detail}", hint=ctx.auth_hint())
    if status == 404:
        model = f"the model name '{ctx.model}' and " if ctx.model else ""
        return NotFoundError(f"{where}: {detail}", hint=f"check {model}the base URL {ctx.base_url}")
    if status == 429:
        return RateLimitError(
            f"{ctx.service} is rate limiting requests ({where}): {detail}",
            hint="lower the concurrency or requests per minute",
        )
    if status == 408:
        return BackendTimeoutError(f"{where}: the server timed out the request: {detail}")
    if status in (400, 413, 422):
        return BadRequestError(
            f"{ctx.service} rejected the request ({where}): {detail}",
            hint="a parameter or message this server does not accept; see "
            "the parameters sent with this run",
        )
    if status >= 500 or status == 409:
        return ServerError(
            f"{ctx.service} failed ({where}): {detail}",
            hint="a problem on the server; it may pass, or see the server's log",
        )
    return BackendError(f"{where}: {detail}")


#: What to do about an error a server reports in the middle of a stream, by error class.
STREAM_HINTS: dict[type[BackendError], str] = {
    ServerError: "the server failed mid-answer and the partial text is kept; it may pass on a "
    "retry, or see the server's log",
    RateLimitError: "lower the concurrency or requests per minute",
    BadRequestError: "a parameter or message this server does not accept; see the parameters "
    "sent with this run",
    AuthError: "check the API key and that it may use this model",
    NotFoundError: "check the model name and the base URL",
    BackendTimeoutError: "the model took too long; raise read_timeout for a slow model",
}
_STREAM_HINT = "the server ended the answer with an error and the partial text is kept; see "
_STREAM_HINT += "the server's log"


def mid_stream_error(cls: type[BackendError], message: str) -> BackendError:
    """An error event received mid-stream, with what to do about it."""
    return cls(message, hint=STREAM_HINTS.get(cls, _STREAM_HINT))


def _cause_chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def transport_error(
    exc: httpx.TransportError,
    url: str,
    *,
    connect_timeout: float,
    read_timeout: float,
    streamed_bytes: int = 0,
) -> BackendError:
    """A fixable error for a network failure, naming the URL and the limit that was hit."""
    reason = redact(str(exc)) or type(exc).__name__
    if isinstance(exc, httpx.ConnectTimeout):
        return BackendTimeoutError(
            f"could not connect to {url} within {connect_timeout:g} s",
            hint="check the base URL and that the server is reachable from this machine",
        )
    if isinstance(exc, httpx.ReadTimeout):
        return BackendTimeoutError(
            f"{url} sent nothing for {read_timeout:g} s (read timeout)",
            hint="the server may be stuck or overloaded; raise read_timeout for a slow model",
        )
    if isinstance(exc, httpx.TimeoutException):
        return BackendTimeoutError(f"{url} timed out ({type(exc).__name__})")
    if isinstance(exc, httpx.ConnectError):
        for cause in _cause_chain(exc):
            if isinstance(cause, ssl.SSLCertVerificationError):
                return ConnectError(
                    f"TLS failed with {url}: certificate verify failed ({cause.verify_message})",
                    hint="trust the server's certificate, or for a trusted local server with a "
                    "self-signed one turn verify_tls off",
                )
            if isinstance(cause, ssl.SSLError):
                return ConnectError(
                    f"TLS failed with {url}: {cause.reason or cause}",
                    hint="for a plain-HTTP server use http:// in the base URL",
                )
            if isinstance(cause, ConnectionRefusedError):
                return ConnectError(
                    f"nothing is answering at {url} (connection refused)",
                    hint="start the server, or correct the base URL and port",
                )
            if isinstance(cause, socket.gaierror):
                return ConnectError(
                    f"cannot resolve the host of {url}: {cause.strerror}",
                    hint="check the base URL's host name and your network",
                )
        return ConnectError(
            f"cannot connect to {url}: {reason}",
            hint="check the base URL and that the server is running",
        )
    if streamed_bytes:
        return ProtocolError(
            f"the stream from {url} broke off after {streamed_bytes} bytes: {reason}",
            hint="the connection was reset or closed mid-answer; the partial text is kept",
        )
    if isinstance(exc, httpx.RemoteProtocolError | httpx.ReadError):
        return ConnectError(
            f"{url} closed the connection without answering: {reason}",
            hint="the server may have crashed or restarted; see its log",
        )
    return ConnectError(f"request to {url} failed: {reason}")


def retryable_transport(exc: httpx.TransportError) -> bool:
    """Connection failures are safe to retry; a read timeout means the server has the request
    (retrying would pile up work and multiply the wait)."""
    if isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout):
        # A bad certificate or an unknown host name stays so: retrying only delays the error.
        return not any(isinstance(c, ssl.SSLError | socket.gaierror) for c in _cause_chain(exc))
    return isinstance(exc, httpx.RemoteProtocolError | httpx.ReadError | httpx.WriteError)


def retryable_status(status: int) -> bool:
    return status in (408, 409, 429) or status >= 500


def safe_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """Headers fit for a log line or a saved record: secret values replaced."""
    return {
        k: (REDACTED if k.lower() in SECRET_HEADERS or credential_header(k, v) else v)
        for k, v in headers.items()
    }
