"""Atomic writes of user files.

A file is written to a temporary file in the same folder, flushed and fsynced, renamed over the
target (atomic on POSIX and Windows), and the folder is fsynced so the rename itself survives a
power cut. A reader or a crash therefore sees either the old file or the new one, never half of
either. Leftover temporaries from a crash carry a recognisable name so scans skip them, and the
writer's pid and host, so ``clean_temp_files`` removes those of dead writers only, never one that
another process (or thread) is still writing or about to rename.

``prepare`` splits a write in two (write the temporary, later rename it) so several files can be
staged first and put in place only once all of them were written: the library's imports use that,
and stage with ``sync=False`` then make the whole batch durable at once with ``sync_staged`` (one
``syncfs`` per filesystem on Linux instead of one fsync per file: 1,528 fsyncs took 7–10 s).
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import hashlib
import os
import re
import secrets
import socket
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from workbench.core.errors import KnownError

TEMP_PREFIX = ".wb-tmp-"
#: A temporary of another computer (a shared folder) or of a pid that looks alive is still
#: removed once this old: no write takes a day, and pids are reused.
STALE_AFTER_S = 24 * 3600
#: A temporary without a writer in its name (written before names carried one).
UNTAGGED_STALE_AFTER_S = 3600
_HOST = hashlib.sha256(socket.gethostname().encode()).hexdigest()[:8]
_OWNER = re.compile(r"\.([0-9a-f]{8})-(\d+)\.[^.]*$")


class FileWriteError(KnownError):
    """A user file could not be written (disk full, permissions, read-only folder)."""


def is_temp_file(path: Path) -> bool:
    return path.name.startswith(TEMP_PREFIX)


def fsync_dir(folder: Path) -> None:
    """Make renames and deletions inside ``folder`` durable."""
    if os.name == "nt":  # folders cannot be opened for fsync on Windows; renames are durable there
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _describe(err: OSError) -> str:
    return err.strerror or str(err)


class PreparedWrite:
    """A fully written, fsynced temporary beside ``path``, waiting to be renamed over it."""

    def __init__(self, path: Path, temp: Path, *, synced: bool) -> None:
        self.path = path
        self.temp = temp
        self.synced = synced
        self.done = False

    def commit(self, *, sync_folder: bool = True) -> None:
        """Rename the temporary over the target and make the rename durable (``sync_folder``
        False: the caller fsyncs the folder once after renaming many files into it)."""
        if not self.synced:  # a rename of data not yet on disk could survive a crash without it
            raise RuntimeError(f"{self.temp} is renamed before its data was synced")
        try:
            os.replace(self.temp, self.path)
            self.done = True
            if sync_folder:
                fsync_dir(self.path.parent)
        except OSError as err:
            raise FileWriteError(f"cannot write {self.path}: {_describe(err)}") from None

    def discard(self) -> None:
        """Remove the temporary (after a failure elsewhere); a committed write is left alone."""
        if not self.done:
            with contextlib.suppress(OSError):
                self.temp.unlink()


def prepare(path: Path, data: bytes, *, sync: bool = True) -> PreparedWrite:
    """Write ``data`` to a temporary beside ``path`` and fsync it; ``commit()`` puts it in place.

    ``sync=False`` leaves the fsync to a later ``sync_staged`` over a whole batch."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, temp, old_mode = _create_temp(path)
    except OSError as err:
        raise FileWriteError(f"cannot write {path}: {_describe(err)}") from None
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            if sync:
                os.fsync(handle.fileno())
        if old_mode is not None:
            os.chmod(temp, old_mode)
    except OSError as err:
        with contextlib.suppress(OSError):
            temp.unlink()
        raise FileWriteError(f"cannot write {path}: {_describe(err)}") from None
    except BaseException:
        with contextlib.suppress(OSError):
            temp.unlink()
        raise
    return PreparedWrite(path, temp, synced=sync)


_TEMP_FLAGS = (
    os.O_WRONLY
    | os.O_CREAT
    | os.O_EXCL
    | getattr(os, "O_BINARY", 0)
    | getattr(os, "O_NOINHERIT", 0)
    | getattr(os, "O_CLOEXEC", 0)
)


def _create_temp(path: Path) -> tuple[int, Path, int | None]:
    """A new, empty, writer-tagged temporary beside ``path``: ``(fd, temp, old file's mode)``.

    A new file is created with an ordinary new file's mode (0o666 less the umask) directly, so
    a batch of 1,528 does not pay a chmod each; a replacement gets the old file's mode after
    it was written (None here: nothing to change)."""
    try:
        old_mode: int | None = path.stat().st_mode & 0o7777
    except (FileNotFoundError, NotADirectoryError):
        old_mode = None
    prefix = f"{TEMP_PREFIX}{path.name}.{_HOST}-{os.getpid()}."
    for _ in range(100):
        temp = path.parent / f"{prefix}{secrets.token_hex(4)}"
        try:
            fd = os.open(temp, _TEMP_FLAGS, 0o666 if old_mode is None else 0o600)
        except FileExistsError:
            continue
        return fd, temp, old_mode
    raise FileExistsError(errno.EEXIST, "no free temporary name", str(path.parent))


def sync_staged(writes: Sequence[PreparedWrite]) -> None:
    """Put the data of every staged temporary on disk, so that renaming them is safe.

    On Linux one ``syncfs`` per filesystem the temporaries are on flushes them all (and waits);
    elsewhere, or if that fails, each temporary is fsynced."""
    pending = [write for write in writes if not write.synced]
    if not pending:
        return
    folders = {write.temp.parent for write in pending}
    try:
        synced = all(_syncfs(folder) for folder in _one_per_device(folders))
        if not synced:
            for write in pending:
                _fsync_path(write.temp)
    except OSError as err:
        raise FileWriteError(f"cannot write {pending[0].path.parent}: {_describe(err)}") from None
    for write in pending:
        write.synced = True


def _one_per_device(folders: set[Path]) -> list[Path]:
    by_device: dict[int, Path] = {}
    for folder in sorted(folders):
        by_device.setdefault(folder.stat().st_dev, folder)
    return list(by_device.values())


def _syncfs(folder: Path) -> bool:
    """``syncfs(2)`` on the filesystem holding ``folder``; False where there is none."""
    syncfs = _libc_syncfs()
    if syncfs is None:
        return False
    fd = os.open(folder, os.O_RDONLY)
    try:
        if syncfs(fd) != 0:
            code = ctypes.get_errno()
            raise OSError(code, os.strerror(code))
    finally:
        os.close(fd)
    return True


def _libc_syncfs() -> Any:
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(None, use_errno=True).syncfs
    except (OSError, AttributeError):
        return None


def _fsync_path(path: Path) -> None:
    fd = os.open(path, os.O_RDWR)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_bytes(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` atomically and durably."""
    staged = prepare(path, data)
    try:
        staged.commit()
    finally:
        staged.discard()


def write_text(path: Path, text: str) -> None:
    """Replace ``path`` with UTF-8 ``text`` atomically; newlines are written exactly as given."""
    write_bytes(path, text.encode("utf-8"))


def remove(path: Path) -> None:
    """Delete ``path`` durably (a missing file, or a missing folder, is fine)."""
    if not path.parent.is_dir():
        return
    try:
        path.unlink(missing_ok=True)
        fsync_dir(path.parent)
    except OSError as err:
        raise FileWriteError(f"cannot delete {path}: {_describe(err)}") from None


def clean_temp_files(folder: Path) -> list[Path]:
    """Remove the temporaries under ``folder`` that a crashed or killed writer left; returns
    what was removed. A temporary whose writer is alive (another process's import in flight, or
    a thread of this one) is left alone."""
    removed = []
    if folder.is_dir():
        now = time.time()
        for temp in folder.rglob(f"{TEMP_PREFIX}*"):
            with contextlib.suppress(OSError):
                if _stale(temp, now):
                    temp.unlink()
                    removed.append(temp)
    return removed


def _stale(temp: Path, now: float) -> bool:
    age = now - temp.stat().st_mtime
    owner = _OWNER.search(temp.name)
    if owner is None:
        return age > UNTAGGED_STALE_AFTER_S
    host, pid = owner.group(1), int(owner.group(2))
    if host != _HOST or pid == os.getpid():
        return age > STALE_AFTER_S
    return age > STALE_AFTER_S or not _alive(pid)


def _alive(pid: int) -> bool:
    if sys.platform == "win32":  # os.kill(pid, 0) would terminate the process there
        import ctypes

        kernel32 = ctypes.windll.kernel32
        handle = kernel32.OpenProcess(0x1000, False, pid)  # PROCESS_QUERY_LIMITED_INFORMATION
        if not handle:
            return False
        code = ctypes.c_ulong()
        try:
            kernel32.GetExitCodeProcess(handle, ctypes.byref(code))
        finally:
            kernel32.CloseHandle(handle)
        return code.value == 259  # STILL_ACTIVE
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # alive, another user's
    return True
