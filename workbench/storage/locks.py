"""Cross-process locks on files, so that one experiment never runs in two places at once.

Why an operating-system file lock (``flock`` on POSIX, ``msvcrt.locking`` on Windows) and not a
lock row in SQLite holding a pid: the system drops a file lock the moment the process holding it
ends, however it ends (kill -9, a crash, a power cut), so a lock is never stale and nothing has
to guess whether a recorded pid is still the process that wrote it (pids are reused) or even
runs on this computer. The pid, host and start time written into the file only serve to name
the holder to a process that is refused. A lock is also exclusive between two holders in one
process (each opens the file anew), so the app cannot start the same sweep twice either.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

#: Where a Windows lock sits: one byte far past any holder text, so that text stays readable.
_WINDOWS_LOCK_OFFSET = 1 << 20


@dataclass(frozen=True)
class Holder:
    """Who holds a lock, as it wrote itself into the lock file (empty if it had not yet)."""

    pid: int | None = None
    host: str = ""
    since: str = ""  # ISO 8601, UTC

    def describe(self) -> str:
        if self.pid is None:
            return "another process"
        if self.pid == os.getpid() and self.host == socket.gethostname():
            return "another window of this app"
        where = "" if self.host == socket.gethostname() else f" on {self.host}"
        when = ""
        if self.since:
            when = f" since {self.since[:19].replace('T', ' ')} UTC"
        return f"process {self.pid}{where}{when}"


class FileLock:
    """An exclusive lock on ``path`` (created as needed, removed on release on POSIX)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def try_acquire(self) -> Holder | None:
        """Take the lock if it is free: None when taken, else who holds it."""
        assert self._fd is None, "already held"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                if not _lock(fd):
                    holder = _read_holder(fd)
                    os.close(fd)
                    return holder
                if not _still_at(fd, self.path):
                    # The previous holder removed the file between our open and our lock.
                    _unlock(fd)
                    os.close(fd)
                    continue
                _write_holder(fd)
            except BaseException:
                os.close(fd)
                raise
            self._fd = fd
            return None

    def acquire(self, wait: Callable[[float], bool] | None = None) -> Holder | None:
        """Take the lock; with ``wait`` (called with a pause in seconds, True to give up: a
        cancel token's ``wait``) keep trying until it is free. Returns None when taken, else the
        holder that kept it (no ``wait``, or given up)."""
        while True:
            holder = self.try_acquire()
            if holder is None or wait is None or wait(0.25):
                return holder

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is None:
            return
        try:
            if os.name != "nt":  # removed while still locked, so no one locks a stale file
                with contextlib.suppress(OSError):
                    os.unlink(self.path)
            _unlock(fd)
        finally:
            os.close(fd)


def _lock(fd: int) -> bool:
    if sys.platform == "win32":
        import msvcrt

        os.lseek(fd, _WINDOWS_LOCK_OFFSET, os.SEEK_SET)
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True
    import fcntl

    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _unlock(fd: int) -> None:
    if sys.platform == "win32":
        import msvcrt

        os.lseek(fd, _WINDOWS_LOCK_OFFSET, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)
        return
    import fcntl

    fcntl.flock(fd, fcntl.LOCK_UN)


def _still_at(fd: int, path: Path) -> bool:
    if os.name == "nt":
        return True  # never removed there
    try:
        on_disk = os.stat(path)
    except FileNotFoundError:
        return False
    mine = os.fstat(fd)
    return (mine.st_dev, mine.st_ino) == (on_disk.st_dev, on_disk.st_ino)


def _write_holder(fd: int) -> None:
    text = json.dumps(
        {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "since": datetime.now(UTC).isoformat(timespec="seconds"),
        }
    ).encode()
    os.ftruncate(fd, 0)
    os.lseek(fd, 0, os.SEEK_SET)
    os.write(fd, text)


def _read_holder(fd: int) -> Holder:
    """The holder's note; a holder that has not written it yet is "another process"."""
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        data = json.loads(os.read(fd, 4096) or b"{}")
        pid = data.get("pid")
        return Holder(
            pid if isinstance(pid, int) else None,
            str(data.get("host", "")),
            str(data.get("since", "")),
        )
    except (OSError, ValueError, AttributeError):
        return Holder()
