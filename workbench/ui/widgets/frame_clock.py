"""When streaming output views repaint: one clock for all of them, so their refreshes (and the
window repaint each one causes) are spread over a frame instead of landing together.

Each view is refreshed at most every ``FLUSH_MS`` (about 33 Hz). With one timer per view, eight
compare columns that started together fired together: eight text insertions and then one window
repaint of all eight columns (text and scroll bars, ~1.5 ms each here) in a single event-loop
turn, 17–30 ms. The clock ticks every ``TICK_MS`` and refreshes only its share of the views due
per tick, so each turn inserts and repaints one or two columns.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

from PySide6.QtCore import QObject, Qt, QTimer
from shiboken6 import Shiboken

#: Refresh period of one view while text streams in (ms): ~33 Hz, inside the 30–60 Hz budget.
FLUSH_MS = 30
#: The clock's period (ms); a frame is ``FLUSH_MS // TICK_MS`` ticks.
TICK_MS = 5
#: Painting time all output views together may spend per frame (s); text beyond it waits for
#: the next frame, so eight columns catching up never freeze the window.
PAINT_BUDGET_S = 0.005


class FrameBudget:
    """The painting time left in the current frame, shared by every output view."""

    frame_start = 0.0
    spent = 0.0

    @classmethod
    def available(cls) -> float:
        now = time.perf_counter()
        if now - cls.frame_start >= FLUSH_MS / 1000:
            cls.frame_start, cls.spent = now, 0.0
        return PAINT_BUDGET_S - cls.spent

    @classmethod
    def charge(cls, seconds: float) -> None:
        cls.spent += seconds


#: A view's refresh: returns False once it has nothing left to paint.
Flush = Callable[[], bool]


class FrameClock(QObject):
    """Calls each subscribed view's refresh at most every ``FLUSH_MS``, at most
    ``ceil(views / ticks per frame)`` of them per tick, the longest-waiting first."""

    def __init__(self) -> None:
        super().__init__()
        self._due: dict[QObject, tuple[float, Flush]] = {}  # view -> (last refresh, refresh)
        self._timer = QTimer(self)
        self._timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._timer.setInterval(TICK_MS)
        self._timer.timeout.connect(self._tick)

    def want(self, view: QObject, flush: Flush) -> None:
        """Refresh ``view`` on the coming ticks until ``flush`` returns False."""
        if view not in self._due:
            self._due[view] = (0.0, flush)  # never refreshed: first in line
        if not self._timer.isActive():
            self._timer.start()

    def drop(self, view: QObject) -> None:
        self._due.pop(view, None)

    def wanted(self, view: QObject) -> bool:
        return view in self._due

    def _tick(self) -> None:
        now = time.perf_counter()
        ready = now - (FLUSH_MS - TICK_MS / 2) / 1000
        quota = math.ceil(len(self._due) / (FLUSH_MS // TICK_MS))
        due = sorted((last, id(view), view) for view, (last, _f) in self._due.items()
                     if last <= ready)
        for _last, _id, view in due[:quota]:
            flush = self._due[view][1]
            if not Shiboken.isValid(view) or not flush():  # deleted, or caught up
                self._due.pop(view, None)
            elif view in self._due:
                self._due[view] = (now, flush)
        if not self._due:
            self._timer.stop()


_clock: FrameClock | None = None


def frame_clock() -> FrameClock:
    """The application's one clock (created with the first streaming view)."""
    global _clock
    if _clock is None:
        _clock = FrameClock()
    return _clock
