"""Waiting for worker threads in a command's main thread, where Ctrl+C lands.

``Thread.join`` is not safe there: a KeyboardInterrupt raised inside it can mark a thread that is
still running as ended (CPython 3.11, bpo-45274), and the caller then closes the store under the
thread's last commit, losing the cancelled run. Workers set an Event when they end instead, and
the main thread waits on those.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable


def wait_all(ended: Iterable[threading.Event]) -> None:
    """Wait until every event is set; a Ctrl+C propagates (the workers go on)."""
    for event in ended:
        event.wait()


def wait_all_through_interrupts(ended: Iterable[threading.Event]) -> None:
    """Wait until every event is set, whatever more Ctrl+C arrive (after a cancel, so the runs
    in flight end soon and are saved)."""
    for event in ended:
        while True:
            try:
                event.wait()
                break
            except KeyboardInterrupt:
                continue
