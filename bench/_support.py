"""Pieces the benchmarks share: reading requests in the tiny local servers, and measuring how
late the Qt event loop runs (imported by benchmarks as ``_support``; bench/ is on sys.path when
they run through bench/run.py or as scripts)."""

from __future__ import annotations

import socket
import time
from typing import Any


def read_request(conn: socket.socket, buffer: bytes) -> tuple[bytes, bytes, bytes] | None:
    """One HTTP/1.1 request from ``conn``: ``(header, body, rest of the buffer)``, or None when
    the client closed the connection."""
    while b"\r\n\r\n" not in buffer:
        data = conn.recv(65536)
        if not data:
            return None
        buffer += data
    header, _, buffer = buffer.partition(b"\r\n\r\n")
    length = 0
    for line in header.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    while len(buffer) < length:
        buffer += conn.recv(65536)
    return header, buffer[:length], buffer[length:]


class LagProbe:
    """A precise timer firing every ``interval_ms``; ``gaps`` holds how late each firing was
    (ms), i.e. how long the GUI thread could not serve its event loop, and ``busy`` the CPU
    time the GUI thread spent between two firings (ms): the work behind a stall, which does
    not depend on how busy the other processes on the machine keep its cores."""

    def __init__(self, interval_ms: int) -> None:
        from PySide6.QtCore import Qt, QTimer

        self.interval_ms = interval_ms
        self.gaps: list[float] = []
        self.busy: list[float] = []
        self._last = time.perf_counter()
        self._last_cpu = time.thread_time()
        self.timer: Any = QTimer()
        self.timer.setTimerType(Qt.TimerType.PreciseTimer)
        self.timer.setInterval(interval_ms)
        self.timer.timeout.connect(self._fired)

    def _fired(self) -> None:
        now, cpu = time.perf_counter(), time.thread_time()
        self.gaps.append((now - self._last) * 1000 - self.interval_ms)
        self.busy.append((cpu - self._last_cpu) * 1000)
        self._last, self._last_cpu = now, cpu

    def start(self) -> None:
        self._last, self._last_cpu = time.perf_counter(), time.thread_time()
        self.timer.start()

    def stop(self) -> None:
        self.timer.stop()

    @property
    def stalls(self) -> list[float]:
        return [max(0.0, g) for g in self.gaps]
