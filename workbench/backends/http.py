"""The one HTTP policy every remote backend uses (httpx, synchronous).

- connect / read timeouts plus a deadline for the whole run (retries and slow trickles included);
- retries with exponential backoff and jitter on 408, 409, 429, 5xx and connection failures, only
  before any byte of an answer was streamed; ``Retry-After`` (seconds or HTTP date) honoured and
  capped; every wait is cut short by the run's CancelToken;
- a request sent ``once`` (one that creates something paid for: a provider batch) is retried
  only when nothing can have taken effect: the connection never opened, or a 429 (refused, rate
  limited). Any other failure (a 5xx or 408/409 — a proxy's 502 may come after the server
  created it —, a timeout, a connection dropped after sending, an answer that cannot be read)
  raises ``UnconfirmedError``, for the caller to look for what it may have created;
- a cancel shuts the socket being read down at once, even while waiting for response headers
  (``backends.http_sockets``);
- failures become :mod:`workbench.core.errors` BackendErrors that name the URL, the timeout, the
  key's source — never the key; httpx exception types never leave ``backends/``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import random
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import urlsplit

import httpx
from pydantic import Field, field_validator

from workbench.backends.adaptive import rejoin, report_failure, report_send, report_status
from workbench.backends.base import BackendOptions, CancelToken
from workbench.backends.credentials import KeyHolder, credential_header, redact
from workbench.backends.http_errors import (
    ErrorContext,
    retryable_status,
    retryable_transport,
    safe_headers,
    status_error,
    transport_error,
)
from workbench.backends.http_sockets import (
    DeadlineExceeded,
    Exchange,
    WatchedStream,
    watch_transports,
)
from workbench.backends.recording import RunCancelled
from workbench.backends.sse import SSEDecoder, SSEEvent
from workbench.core.errors import (
    BackendError,
    BackendTimeoutError,
    ConnectError,
    KnownError,
    ProtocolError,
    UnconfirmedError,
)

log = logging.getLogger(__name__)

_ERROR_BODY_LIMIT = 64 * 1024
#: Transport failures before the request left: retrying them cannot create anything twice.
_UNSENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


class HttpOptions(BackendOptions):
    """Connection settings shared by the HTTP backends."""

    extra_headers: dict[str, str] = Field(
        default_factory=dict,
        description="Sent with every request (organisation, project, beta flags). Keys belong in "
        "the keyring or an environment variable, not here.",
    )
    connect_timeout: float = Field(
        default=10.0, gt=0, le=300, description="Seconds to open a connection"
    )
    read_timeout: float = Field(
        default=120.0,
        gt=0,
        le=3600,
        description="Longest silence (seconds) before giving up on a server; a large model on a "
        "slow machine may need more before its first token",
    )
    total_timeout: float = Field(
        default=900.0,
        gt=0,
        le=86400,
        description="Longest a whole run may take in seconds, retries and backoff included",
    )
    max_retries: int = Field(
        default=2,
        ge=0,
        le=10,
        description="Retries on 408/409/429/5xx and connection failures before anything streamed",
    )
    retry_backoff: float = Field(
        default=0.5,
        ge=0,
        le=60,
        description="First backoff in seconds; doubles per retry, with jitter",
    )
    retry_after_cap: float = Field(
        default=60.0,
        ge=0,
        le=3600,
        description="Longest Retry-After (seconds) we wait for; a longer one fails the run at once",
    )
    verify_tls: bool = Field(
        default=True,
        description="Check the server's TLS certificate (turn off only for a trusted "
        "self-signed local server)",
    )

    @field_validator("extra_headers")
    @classmethod
    def _no_keys_in_headers(cls, value: dict[str, str]) -> dict[str, str]:
        """Settings are saved in plain text: a header that looks like a credential (by its
        name, X-Goog-Api-Key, or its value, 'Bearer …', 'sk-…') is refused, never stored."""
        for name, header_value in value.items():
            reason = credential_header(name, str(header_value))
            if reason is not None:
                raise ValueError(
                    f"{reason}; extra headers are saved in plain text, so keys are refused "
                    "there: store the key in the keyring (`workbench key set NAME`) or an "
                    "environment variable and name it with api_key_name / api_key_env"
                )
        return value


def http_base_url(value: str) -> str:
    """A base URL setting as stored: trimmed, no trailing slash; anything but http(s) is refused
    (a ``ValueError``, which pydantic reports against the field)."""
    value = value.strip().rstrip("/")
    if urlsplit(value).scheme not in ("http", "https"):
        raise ValueError("the base URL must start with http:// or https://")
    return value


# --- the client -------------------------------------------------------------------------------


class StreamResponse:
    """A successful response being streamed; iterate :meth:`events` or read :meth:`json`."""

    def __init__(
        self, client: HttpClient, response: httpx.Response, exchange: Exchange, once: bool = False
    ) -> None:
        self._client = client
        self._once = once
        self._response = response
        self._exchange = exchange
        self.url = str(response.request.url)
        self.headers = response.headers
        self.content_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
        self.received = 0
        stream = response.extensions.get("network_stream")
        if not isinstance(stream, WatchedStream):
            raise RuntimeError(
                f"httpx {httpx.__version__} read {self.url} through an unwatched "
                "stream: cancelling would not be immediate"
            )
        stream.exchange = exchange
        self._stream = stream

    def release(self) -> None:
        """Unbind the connection (it may go back to the pool) and close the response."""
        self._stream.exchange = None
        self._response.close()

    def events(self) -> Iterator[SSEEvent]:
        """Server-sent events as they arrive."""
        if self.content_type not in ("text/event-stream", ""):
            raise ProtocolError(
                f"{self.url} answered with {self.content_type} instead of an event stream",
                hint="check the base URL points at the API",
            )
        decoder = SSEDecoder(self.url)
        one, feed, cancel = decoder.one, decoder.feed, self._exchange.cancel
        received = self.received  # counted in a local: this loop runs once per token
        try:
            try:
                for chunk in self._raw():  # once per HTTP chunk: often once per token
                    received += len(chunk)
                    if cancel.cancelled:
                        raise RunCancelled
                    event = one(chunk)
                    if event is None:
                        yield from feed(chunk)
                    else:
                        yield event
            finally:
                self.received = received
        except (RunCancelled, DeadlineExceeded, httpx.TransportError, httpx.DecodingError) as exc:
            raise self._failure(exc) from None
        if cancel.cancelled:  # a socket shut by the cancel reads as a clean end of the body
            raise RunCancelled
        yield from decoder.close()

    def lines(self) -> Iterator[str]:
        """Newline-delimited JSON (Ollama's streams), one line at a time as it arrives; blank
        lines are skipped. A line is whole before it is decoded, so UTF-8 is never split."""
        cancel = self._exchange.cancel
        pending = b""
        received = self.received
        try:
            try:
                for chunk in self._raw():
                    received += len(chunk)
                    if cancel.cancelled:
                        raise RunCancelled
                    *complete, pending = (pending + chunk).split(b"\n")
                    for line in complete:
                        if line.strip():
                            yield line.decode("utf-8", errors="replace")
            finally:
                self.received = received
        except (RunCancelled, DeadlineExceeded, httpx.TransportError, httpx.DecodingError) as exc:
            raise self._failure(exc) from None
        if cancel.cancelled:
            raise RunCancelled
        if pending.strip():
            yield pending.decode("utf-8", errors="replace")

    def json(self) -> Any:
        """The whole body parsed as JSON (of a request sent ``once``: a body that cannot be
        read is an ``UnconfirmedError``, the server having said yes)."""
        try:
            return self._json()
        except (KnownError, RunCancelled) as err:
            if not self._once:
                raise
            raise unconfirmed(err, self.url) from None

    def _json(self) -> Any:
        try:
            body = b"".join(self._raw())
        except (RunCancelled, DeadlineExceeded, httpx.TransportError, httpx.DecodingError) as exc:
            raise self._failure(exc) from None
        if self._exchange.cancel.cancelled:
            raise RunCancelled
        self.received = len(body)
        return parse_json(body, self.url)

    def _raw(self) -> Iterator[bytes]:
        response = self._response
        # iter_raw skips httpx's decoder and re-chunker when the body is not compressed.
        encoded = response.headers.get("content-encoding", "identity") != "identity"
        return response.iter_bytes() if encoded else response.iter_raw()

    def _failure(self, exc: Exception) -> BaseException:
        if isinstance(exc, httpx.DecodingError):
            return ProtocolError(f"the response from {self.url} could not be read: {exc}")
        return self._client._failure(exc, self._exchange, self.url, self.received)


def unconfirmed(failure: BaseException, url: str) -> UnconfirmedError:
    """The failure of a request sent ``once`` that may have taken effect at ``url``."""
    what = str(failure) if isinstance(failure, KnownError) else "cancelled while it was sent"
    return UnconfirmedError(
        f"{url} may have taken the request before it failed: {what}",
        hint="it was not sent again, as a second one would be paid for too",
    )


def parse_json(body: bytes, url: str) -> Any:
    try:
        return json.loads(body)
    except ValueError:
        start = redact(body[:120].decode("utf-8", errors="replace"))
        raise ProtocolError(
            f"{url} did not answer with JSON: {start!r}",
            hint="check the base URL points at the API",
        ) from None


@dataclasses.dataclass(frozen=True)
class Form:
    """A multipart form (a file upload): text ``fields`` and ``files`` as name -> (file name,
    content, content type)."""

    fields: Mapping[str, str]
    files: Mapping[str, tuple[str, bytes, str]]


class HttpClient:
    """A connection pool plus the retry / timeout / cancel policy. One per backend instance."""

    def __init__(self, options: HttpOptions, ctx: ErrorContext) -> None:
        self.options = options
        self.ctx = ctx
        limits = httpx.Limits(max_connections=None, max_keepalive_connections=options.concurrency)
        timeout = httpx.Timeout(
            connect=options.connect_timeout,
            read=options.read_timeout,
            write=options.read_timeout,
            pool=options.total_timeout,
        )
        self._client = httpx.Client(
            timeout=timeout,
            limits=limits,
            verify=options.verify_tls,
            headers=options.extra_headers,
            follow_redirects=False,
        )
        watch_transports(self._client)

    @classmethod
    def keyed(cls, options: HttpOptions, service: str, base_url: str, key: KeyHolder) -> HttpClient:
        """The client of a backend that sends ``key``: a refused key is reported with where it
        came from and how to replace it."""
        return cls(options, ErrorContext(service=service, base_url=base_url, auth_hint=key.hint))

    def close(self) -> None:
        self._client.close()

    @contextlib.contextmanager
    def stream(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        json_body: Any = None,
        form: Form | None = None,
        cancel: CancelToken,
        model: str = "",
        once: bool = False,
    ) -> Iterator[StreamResponse]:
        """Send with retries; yield the successful response for streaming; always close it.

        ``model`` names the model in a 404's hint; ``form`` sends a multipart form instead of
        JSON (a file upload); ``once``: a request that creates something paid for, retried only
        when nothing can have taken effect (see the module's docstring). Raises BackendError
        subclasses or RunCancelled.
        """
        exchange = Exchange(cancel, self.options.total_timeout)
        ctx = dataclasses.replace(self.ctx, model=model) if model else self.ctx
        try:
            response = self._send(method, url, headers, json_body, form, exchange, ctx, once)
            try:
                streamed = StreamResponse(self, response, exchange, once)
            except BaseException:
                response.close()
                raise
            try:
                yield streamed
            finally:
                streamed.release()
        finally:
            exchange.close()

    def request_json(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        json_body: Any = None,
        form: Form | None = None,
        cancel: CancelToken | None = None,
        model: str = "",
        once: bool = False,
    ) -> Any:
        """A whole JSON exchange with the same policy (model lists, non-streaming runs)."""
        with self.stream(
            method,
            url,
            headers=headers,
            json_body=json_body,
            form=form,
            cancel=cancel or CancelToken(),
            model=model,
            once=once,
        ) as response:
            return response.json()

    def _send(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str] | None,
        json_body: Any,
        form: Form | None,
        exchange: Exchange,
        ctx: ErrorContext,
        once: bool,
    ) -> httpx.Response:
        attempt = 0
        while True:
            if exchange.cancel.cancelled:
                raise RunCancelled
            try:
                if form is None:
                    request = self._client.build_request(
                        method, url, headers=headers, json=json_body
                    )
                else:
                    request = self._client.build_request(
                        method, url, headers=headers, data=dict(form.fields), files=form.files
                    )
            except httpx.InvalidURL as err:
                raise ConnectError(
                    f"'{url}' is not a valid URL: {err}", hint="check the base URL"
                ) from None
            if log.isEnabledFor(logging.DEBUG):  # the redacted copy costs ~10 us per request
                log.debug(
                    "%s %s (attempt %d) headers %s",
                    method,
                    url,
                    attempt + 1,
                    safe_headers(request.headers),
                )
            report_send()  # how many are at the server with it, for a refusal's level
            try:
                with exchange.active():
                    response = self._client.send(request, stream=True)
            except (RunCancelled, DeadlineExceeded, httpx.TransportError) as exc:
                failure = self._failure(exc, exchange, url, 0)
                if once and not isinstance(exc, _UNSENT):
                    raise unconfirmed(failure, url) from None
                if not (
                    isinstance(failure, BackendError)
                    and isinstance(exc, httpx.TransportError)
                    and retryable_transport(exc)
                ):
                    raise failure from None
                error = report_failure(failure)
                delay, retry_after = self._backoff(attempt), None
            else:
                if response.status_code < 300:
                    return response
                if response.status_code < 400:
                    response.close()
                    target = response.headers.get("location", "another address")
                    raise BackendError(
                        f"{url} redirects (HTTP {response.status_code}) to {target}",
                        hint="use the new address as the base URL",
                    )
                body = self._error_body(response, exchange)
                error = status_error(response.status_code, body, url, ctx)
                if not retryable_status(response.status_code):
                    raise error
                if once and response.status_code != 429:
                    raise unconfirmed(error, url)
                retry_after = report_status(response.status_code, response.headers)
                delay = retry_after if retry_after is not None else self._backoff(attempt)
            attempt += 1
            self._wait_before_retry(error, attempt, delay, retry_after, exchange)

    def _wait_before_retry(
        self,
        error: BackendError,
        attempt: int,
        delay: float,
        retry_after: float | None,
        exchange: Exchange,
    ) -> None:
        options = self.options
        if attempt > options.max_retries:
            if options.max_retries:
                error.message += f" (after {options.max_retries} retries)"
            raise error
        if retry_after is not None and retry_after > options.retry_after_cap:
            error.message += (
                f" (the server asks to retry after {retry_after:g} s, longer "
                f"than the {options.retry_after_cap:g} s cap)"
            )
            raise error
        if delay >= exchange.remaining():
            error.message += f" (no time left to retry within {options.total_timeout:g} s)"
            raise error
        log.info("retrying %s in %.2f s (attempt %d of %d): %s", self.ctx.service, delay,
                 attempt, options.max_retries, redact(error.message))
        if exchange.cancel.wait(delay):
            raise RunCancelled
        rejoin(exchange.cancel)  # a refused request takes a place at the server again

    def _backoff(self, attempt: int) -> float:
        """Exponential backoff with "equal jitter": between half and all of base * 2^attempt."""
        ceiling = min(self.options.retry_backoff * 2**attempt, 30.0)
        return ceiling / 2 + random.uniform(0, ceiling / 2)

    def _error_body(self, response: httpx.Response, exchange: Exchange) -> bytes:
        body = b""
        try:
            with exchange.active():
                for chunk in response.iter_bytes():
                    body += chunk
                    if len(body) > _ERROR_BODY_LIMIT:
                        break
        except (httpx.TransportError, httpx.StreamError, DeadlineExceeded):
            pass  # the status alone still says what went wrong
        finally:
            response.close()
        if exchange.cancel.cancelled:
            raise RunCancelled
        return body

    def _failure(
        self, exc: BaseException, exchange: Exchange, url: str, streamed: int
    ) -> BaseException:
        """The exception to raise for a transport-level failure (cancel wins over all)."""
        if exchange.cancel.cancelled or isinstance(exc, RunCancelled):
            return RunCancelled()
        if isinstance(exc, DeadlineExceeded):
            return BackendTimeoutError(
                f"{url} did not finish within {self.options.total_timeout:g} s (total timeout)",
                hint="the answer is arriving too slowly; raise total_timeout or lower max_tokens",
            )
        assert isinstance(exc, httpx.TransportError)
        return transport_error(
            exc,
            url,
            connect_timeout=self.options.connect_timeout,
            read_timeout=self.options.read_timeout,
            streamed_bytes=streamed,
        )
