"""Error types.

Two kinds of failure exist: a ``KnownError`` is something the user can fix (a bad key, a template
syntax error, a server that is down) and is shown inline with its fix; anything else is a bug.
"""

from __future__ import annotations


class KnownError(Exception):
    """A failure the user can fix. ``hint`` says how."""

    def __init__(self, message: str, *, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message


class TemplateError(KnownError):
    """A template that cannot be parsed or rendered; carries the position when known."""

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

    def __init__(self, name: str, *, source: str = "", line: int | None = None) -> None:
        self.name = name
        super().__init__(
            f"variable '{name}' has no value",
            source=source,
            line=line,
            hint=f"give '{name}' a value or declare a default",
        )


class TemplateFileError(KnownError):
    """A template file that cannot be read: names the file, the line and the reason."""

    def __init__(self, path: str, reason: str, *, line: int | None = None) -> None:
        self.path = path
        self.line = line
        self.reason = reason
        where = f"{path}:{line}" if line is not None else path
        super().__init__(f"{where}: {reason}")


class ParameterError(KnownError):
    """An inference parameter outside its valid range."""


class BackendError(KnownError):
    """A model call failed for a reason the user can act on."""

    retryable = False


class AuthError(BackendError):
    """The server refused the credentials (401/403)."""


class NotFoundError(BackendError):
    """Wrong model name or URL (404)."""


class RateLimitError(BackendError):
    """The server asked us to slow down (429)."""

    retryable = True


class ServerError(BackendError):
    """The server failed (5xx)."""

    retryable = True


class ConnectError(BackendError):
    """Nothing answers at the URL, or TLS failed."""


class BackendTimeoutError(BackendError):
    """The server did not answer in time."""

    retryable = True


class ProtocolError(BackendError):
    """A malformed or truncated response or stream."""


class BadRequestError(BackendError):
    """The server rejected the request as invalid (400/422)."""
