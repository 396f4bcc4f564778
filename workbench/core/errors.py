"""Error types.

Two kinds of failure exist: a ``KnownError`` is something the user can fix (a bad key, a template
syntax error, a server that is down) and is shown inline with its fix; anything else is a bug.
"""

from __future__ import annotations

from enum import StrEnum
from typing import ClassVar


class ErrorCode(StrEnum):
    """What kind of failure an error is, said explicitly on its class: the app's advice on where
    to fix it is looked up by code, and a failed run stores it as ``RunResult.error_kind``.

    Values keep the spelling runs were stored with before codes existed (class names then), so
    old history keeps its advice; a class may be renamed or share a name without changing them.
    """

    ERROR = "KnownError"
    TEMPLATE = "TemplateError"
    MISSING_VARIABLE = "MissingVariableError"
    TEMPLATE_FILE = "TemplateFileError"
    PARAMETER = "ParameterError"
    BACKEND = "BackendError"
    AUTH = "AuthError"
    MISSING_KEY = "MissingKeyError"  # no key set for a backend that needs one; nothing was sent
    MODEL_NOT_FOUND = "NotFoundError"  # a backend's 404: wrong model name or URL
    RATE_LIMIT = "RateLimitError"
    SERVER = "ServerError"
    CONNECT = "ConnectError"
    TIMEOUT = "BackendTimeoutError"
    PROTOCOL = "ProtocolError"
    BAD_REQUEST = "BadRequestError"
    BACKEND_UNAVAILABLE = "BackendUnavailableError"
    BACKEND_CONFIG = "BackendConfigError"
    STORAGE = "StorageError"
    RECORD_NOT_FOUND = "RecordNotFoundError"  # no such template, run or experiment stored
    INTERNAL = "InternalError"  # not an error class: a run that ended because of a bug


class KnownError(Exception):
    """A failure the user can fix. ``hint`` says how; ``code`` says what kind it is."""

    code: ClassVar[ErrorCode] = ErrorCode.ERROR

    def __init__(self, message: str, *, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message


class TemplateError(KnownError):
    """A template that cannot be parsed or rendered; carries the position when known."""

    code = ErrorCode.TEMPLATE

    def __init__(
        self,
        message: str,
        *,
        source: str = "",
        line: int | None = None,
        column: int | None = None,
        hint: str = "",
    ) -> None:
        self.source = source
        self.line = line
        self.column = column
        where = source
        if line is not None:
            where += f"{', ' if where else ''}line {line}"
            if column is not None:
                where += f", column {column}"
        super().__init__(f"{where}: {message}" if where else message, hint=hint)
        self.reason = message


class MissingVariableError(TemplateError):
    """A variable used by the template has no value."""

    code = ErrorCode.MISSING_VARIABLE

    def __init__(self, name: str, *, source: str = "", line: int | None = None) -> None:
        self.name = name
        super().__init__(
            f"variable '{name}' has no value",
            source=source,
            line=line,
            hint=f"give '{name}' a value or declare a default",
        )


class TemplateFileError(KnownError):
    """A template file that cannot be read: names the file, the line (and column, where known:
    ``file:line:col: reason``, as compilers write it) and the reason."""

    code = ErrorCode.TEMPLATE_FILE

    def __init__(
        self, path: str, reason: str, *, line: int | None = None, column: int | None = None
    ) -> None:
        self.path = path
        self.line = line
        self.column = column
        self.reason = reason
        where = path if line is None else f"{path}:{line}"
        where += f":{column}" if line is not None and column is not None else ""
        super().__init__(f"{where}: {reason}")


class ParameterError(KnownError):
    """An inference parameter outside its valid range."""

    code = ErrorCode.PARAMETER


class BackendError(KnownError):
    """A model call failed for a reason the user can act on."""

    code = ErrorCode.BACKEND
    retryable = False


class AuthError(BackendError):
    """The server refused the credentials (401/403)."""

    code = ErrorCode.AUTH


class MissingKeyError(AuthError):
    """No API key is set for a backend whose server needs one; found before any request."""

    code = ErrorCode.MISSING_KEY


class NotFoundError(BackendError):
    """Wrong model name or URL (404)."""

    code = ErrorCode.MODEL_NOT_FOUND


class RateLimitError(BackendError):
    """The server asked us to slow down (429)."""

    code = ErrorCode.RATE_LIMIT
    retryable = True


class ServerError(BackendError):
    """The server failed (5xx)."""

    code = ErrorCode.SERVER
    retryable = True


class ConnectError(BackendError):
    """Nothing answers at the URL, or TLS failed."""

    code = ErrorCode.CONNECT


class BackendTimeoutError(BackendError):
    """The server did not answer in time."""

    code = ErrorCode.TIMEOUT
    retryable = True


class ProtocolError(BackendError):
    """A malformed or truncated response or stream."""

    code = ErrorCode.PROTOCOL


class BadRequestError(BackendError):
    """The server rejected the request as invalid (400/422)."""

    code = ErrorCode.BAD_REQUEST


class UnconfirmedError(BackendError):
    """A request that creates something paid for (a provider batch) failed after it may have
    reached the server (a 5xx, a timeout, a connection dropped before the answer): whether it
    took effect is unknown. It is never sent again automatically, as a second one would be
    paid for too; the caller looks for what it may have created."""

    code = ErrorCode.BACKEND
