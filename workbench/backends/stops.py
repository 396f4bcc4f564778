"""Stop sequences over a stream of text pieces.

Text that might be the start of a stop sequence is held back until it is known not to be, so a
stop string never reaches the user even when it arrives split across tokens.
"""

from __future__ import annotations

from collections.abc import Iterable


class StopScanner:
    """Feed text pieces; get back what is safe to show and whether a stop sequence was hit."""

    def __init__(self, stops: Iterable[str]) -> None:
        self.stops = tuple(s for s in stops if s)
        self._pending = ""
        self.stopped = False

    def feed(self, piece: str) -> str:
        """The text that can be shown now. After a stop sequence, everything is dropped."""
        if self.stopped:
            return ""
        if not self.stops:
            return piece
        pending = self._pending + piece
        hits = [i for s in self.stops if (i := pending.find(s)) >= 0]
        if hits:
            self.stopped = True
            self._pending = ""
            return pending[: min(hits)]
        held = max(
            (
                k
                for s in self.stops
                for k in range(min(len(s) - 1, len(pending)), 0, -1)
                if pending.endswith(s[:k])
            ),
            default=0,
        )
        self._pending = pending[len(pending) - held :]
        return pending[: len(pending) - held]

    def flush(self) -> str:
        """At the end of the stream: text held back that turned out not to be a stop."""
        rest, self._pending = self._pending, ""
        return "" if self.stopped else rest
