"""Waiting on a condition in tests that run no Qt event loop (threads, subprocesses, servers):
pytest-qt's ``qtbot.waitUntil`` needs Qt; this needs nothing and fails with a message at the
deadline instead of hanging."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

TIMEOUT = 10.0


def wait_until(predicate: Callable[[], bool], timeout: float = TIMEOUT) -> None:
    cond = threading.Condition()
    deadline = time.monotonic() + timeout
    with cond:
        while not predicate():
            remaining = deadline - time.monotonic()
            assert remaining > 0, "condition not reached in time"
            cond.wait(min(remaining, 0.01))
