"""Atomic writes of user files.

A file is written to a temporary file in the same folder, flushed and fsynced, renamed over the
target (atomic on POSIX and Windows), and the folder is fsynced so the rename itself survives a
power cut. A reader or a crash therefore sees either the old file or the new one, never half of
either. Leftover temporaries from a crash carry a recognisable name so scans skip them and
``clean_temp_files`` can remove them.

``prepare`` splits a write in two (write the temporary, later rename it) so several files can be
staged first and put in place only once all of them were written: the library's imports use that.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

from workbench.core.errors import KnownError

TEMP_PREFIX = ".wb-tmp-"


def _read_umask() -> int:
    # The only way to read the umask is to set it; done once, at import, before any thread writes.
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


_UMASK = _read_umask()


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

    def __init__(self, path: Path, temp: Path) -> None:
        self.path = path
        self.temp = temp
        self.done = False

    def commit(self) -> None:
        """Rename the temporary over the target and make the rename durable."""
        try:
            os.replace(self.temp, self.path)
            self.done = True
            fsync_dir(self.path.parent)
        except OSError as err:
            raise FileWriteError(f"cannot write {self.path}: {_describe(err)}") from None

    def discard(self) -> None:
        """Remove the temporary (after a failure elsewhere); a committed write is left alone."""
        if not self.done:
            with contextlib.suppress(OSError):
                self.temp.unlink()


def prepare(path: Path, data: bytes) -> PreparedWrite:
    """Write ``data`` to a temporary beside ``path`` and fsync it; ``commit()`` puts it in place."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=f"{TEMP_PREFIX}{path.name}.", dir=path.parent)
    except OSError as err:
        raise FileWriteError(f"cannot write {path}: {_describe(err)}") from None
    temp = Path(name)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        # mkstemp makes the file private; give it the old file's mode, or an ordinary new file's.
        mode = path.stat().st_mode & 0o7777 if path.exists() else 0o666 & ~_UMASK
        os.chmod(temp, mode)
    except OSError as err:
        with contextlib.suppress(OSError):
            temp.unlink()
        raise FileWriteError(f"cannot write {path}: {_describe(err)}") from None
    except BaseException:
        with contextlib.suppress(OSError):
            temp.unlink()
        raise
    return PreparedWrite(path, temp)


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
    """Remove temporaries left by a crash under ``folder``; returns what was removed."""
    removed = []
    if folder.is_dir():
        for temp in folder.rglob(f"{TEMP_PREFIX}*"):
            with contextlib.suppress(OSError):
                temp.unlink()
                removed.append(temp)
    return removed
