"""Incremental decoder for Server-Sent Events (``text/event-stream``, WHATWG HTML §9.2).

Bytes go in as they arrive from the socket, complete events come out. Lines are split on bytes so a
multi-byte UTF-8 character cut between two network reads is never decoded in halves.
"""

from __future__ import annotations

from typing import NamedTuple

from workbench.core.errors import ProtocolError


class SSEEvent(NamedTuple):
    """One dispatched event: ``event`` is "message" unless the server named it. (A tuple: one
    is made per token of a streamed answer, and tuples are the cheapest to make.)"""

    event: str
    data: str
    id: str | None = None


class SSEDecoder:
    """Feed bytes with :meth:`feed`; call :meth:`close` at end of stream for a trailing event."""

    __slots__ = ("_buffer", "_data", "_event", "_id", "source")

    def __init__(self, source: str = "the server") -> None:
        self.source = source
        self._buffer: list[bytes] = []
        self._event = ""
        self._data: list[str] = []
        self._id: str | None = None

    def one(self, chunk: bytes) -> SSEEvent | None:
        """The event in ``chunk`` when it is exactly one whole one-line ``data:`` event and
        nothing is pending: the shape of nearly every chunk of a streamed answer, decoded
        without a list or a line split. None otherwise: then :meth:`feed` the chunk."""
        if (
            self._buffer
            or self._data
            or not chunk.startswith(b"data: ")
            # The first LF is the one before last and the last byte is LF: exactly one line.
            or chunk.find(b"\n") != len(chunk) - 2
            or chunk[-1] != 0x0A
            or b"\r" in chunk
        ):
            return None
        try:
            text = chunk[6:-2].decode("utf-8")
        except UnicodeDecodeError:
            raise self._not_utf8() from None
        name = self._event
        if name:
            self._event = ""
            return SSEEvent(name, text, self._id)
        return SSEEvent("message", text, self._id)

    def feed(self, chunk: bytes) -> list[SSEEvent]:
        event = self.one(chunk)
        if event is not None:
            return [event]
        # A line can span many chunks (a 50 MB event): they are kept in a list and joined once
        # when the line ends, never re-copied per chunk (that was quadratic: 18.5 s for 50 MB).
        pending = self._buffer
        if pending and pending[-1][-1:] == b"\r":
            # A trailing CR may be the first half of CRLF: this chunk decides.
            chunk = b"".join(pending) + chunk
            pending.clear()
        end = max(chunk.rfind(b"\n"), chunk.rfind(b"\r", 0, len(chunk) - 1))
        if end < 0:
            if chunk:
                pending.append(chunk)
            return []
        buffer = b"".join([*pending, chunk]) if pending else chunk
        end += len(buffer) - len(chunk)
        pending.clear()
        if end + 1 < len(buffer):
            pending.append(buffer[end + 1 :])
        events: list[SSEEvent] = []
        data = self._data
        for line in buffer[: end + 1].splitlines():
            # The common lines first, inline: this runs once per token of a streamed answer.
            if line[:5] == b"data:":
                raw = line[6:] if line[5:6] == b" " else line[5:]
                try:
                    data.append(raw.decode("utf-8"))
                except UnicodeDecodeError:
                    raise self._not_utf8() from None
            elif not line:
                if data:
                    self._dispatch(events)
                    data = self._data
            else:
                self._line(line, events)
        return events

    def close(self) -> list[SSEEvent]:
        """End of stream. A last event without its blank line is still dispatched (lenient, as
        several servers omit it); a truncated JSON payload then fails where it is parsed."""
        events: list[SSEEvent] = []
        if self._buffer:
            self._line(b"".join(self._buffer).rstrip(b"\r"), events)
            self._buffer.clear()
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
            raise self._not_utf8() from None
        if field == b"data":
            self._data.append(value)
        elif field == b"event":
            self._event = value
        elif field == b"id":
            self._id = value
        # "retry" and unknown fields are ignored, as the specification says.

    def _not_utf8(self) -> ProtocolError:
        return ProtocolError(f"the event stream from {self.source} is not valid UTF-8")

    def _dispatch(self, events: list[SSEEvent]) -> None:
        if self._data:
            data = self._data[0] if len(self._data) == 1 else "\n".join(self._data)
            events.append(SSEEvent(self._event or "message", data, self._id))
        self._data = []
        self._event = ""
