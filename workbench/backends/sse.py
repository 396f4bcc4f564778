"""Incremental decoder for Server-Sent Events (``text/event-stream``, WHATWG HTML §9.2).

Bytes go in as they arrive from the socket, complete events come out. Lines are split on bytes so a
multi-byte UTF-8 character cut between two network reads is never decoded in halves.
"""

from __future__ import annotations

from dataclasses import dataclass

from workbench.core.errors import ProtocolError


@dataclass(slots=True, frozen=True)
class SSEEvent:
    """One dispatched event: ``event`` is "message" unless the server named it."""

    event: str
    data: str
    id: str | None = None


class SSEDecoder:
    """Feed bytes with :meth:`feed`; call :meth:`close` at end of stream for a trailing event."""

    __slots__ = ("_buffer", "_data", "_event", "_id", "source")

    def __init__(self, source: str = "the server") -> None:
        self.source = source
        self._buffer = b""
        self._event = ""
        self._data: list[str] = []
        self._id: str | None = None

    def feed(self, chunk: bytes) -> list[SSEEvent]:
        buffer = self._buffer + chunk if self._buffer else chunk
        # A trailing CR may be the first half of CRLF: keep it until the next chunk decides.
        end = max(buffer.rfind(b"\n"), buffer.rfind(b"\r", 0, len(buffer) - 1))
        if end < 0:
            self._buffer = buffer
            return []
        self._buffer = buffer[end + 1 :]
        events: list[SSEEvent] = []
        for line in buffer[: end + 1].splitlines():
            self._line(line, events)
        return events

    def close(self) -> list[SSEEvent]:
        """End of stream. A last event without its blank line is still dispatched (lenient, as
        several servers omit it); a truncated JSON payload then fails where it is parsed."""
        events: list[SSEEvent] = []
        if self._buffer:
            self._line(self._buffer.rstrip(b"\r"), events)
            self._buffer = b""
        self._dispatch(events)
        return events

    def _line(self, line: bytes, events: list[SSEEvent]) -> None:
        if not line:
            self._dispatch(events)
            return
        if line[0] == 0x3A:  # ":" starts a comment (keep-alive pings)
            return
        field, _, raw = line.partition(b":")
        if raw[:1] == b" ":
            raw = raw[1:]
        try:
            value = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise ProtocolError(f"the event stream from {self.source} is not valid UTF-8") from None
        if field == b"data":
            self._data.append(value)
        elif field == b"event":
            self._event = value
        elif field == b"id":
            self._id = value
        # "retry" and unknown fields are ignored, as the specification says.

    def _dispatch(self, events: list[SSEEvent]) -> None:
        if self._data:
            data = self._data[0] if len(self._data) == 1 else "\n".join(self._data)
            events.append(SSEEvent(self._event or "message", data, self._id))
        self._data = []
        self._event = ""
