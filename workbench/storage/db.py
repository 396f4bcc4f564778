"""The SQLite database: opening it safely, one connection per thread, transactions.

Opening checks the schema first through a read-only connection, so a database written by a newer
app is refused before anything (not even the journal mode) is written to it. Every connection runs
with foreign keys on, a busy timeout (the GUI, the CLI and a writer thread may share the file) and
``synchronous=FULL``: a committed run survives a crash of the process and a power cut. Connections
are never shared between threads: ``connection()`` gives each thread its own.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from workbench.core.errors import ErrorCode, KnownError
from workbench.core.paths import data_dir
from workbench.storage import migrations

DB_FILENAME = "workbench.db"
BUSY_TIMEOUT_S = 10.0


class StorageError(KnownError):
    """The database cannot be used (unreadable, not ours, locked, disk full)."""

    code = ErrorCode.STORAGE


class NotFoundError(StorageError):
    """A record asked for by id or name does not exist."""

    code = ErrorCode.RECORD_NOT_FOUND


def default_path() -> Path:
    return data_dir() / DB_FILENAME


def _configure(conn: sqlite3.Connection) -> sqlite3.Connection:
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute("PRAGMA synchronous = FULL")
    return conn


def _enable_wal(conn: sqlite3.Connection) -> None:
    """Switch a new file to WAL, retrying while another opener holds it.

    Changing the journal mode needs an exclusive lock, and when two connections both hold a
    shared lock SQLite answers "locked" at once instead of waiting (it would deadlock), so the
    busy timeout alone does not cover two processes creating the database together.
    """
    deadline = time.monotonic() + BUSY_TIMEOUT_S
    while conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
        try:
            conn.execute("PRAGMA journal_mode = WAL")
        except sqlite3.OperationalError as err:
            if "locked" not in str(err) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)


class Database:
    """One database file. Create it once per process and share the object, not connections."""

    def __init__(self, path: Path | None = None, *, upto: str | None = None) -> None:
        """Open (creating if needed) and migrate; ``upto`` stops at a migration (for tests)."""
        self.path = Path(path) if path is not None else default_path()
        self._local = threading.local()
        self._closed = False
        self._check_existing()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = self.connection()
            _enable_wal(conn)
            migrations.migrate(conn, upto=upto, where=str(self.path))
        except sqlite3.DatabaseError as err:
            self.close()
            raise self._error(err) from None
        except OSError as err:
            raise StorageError(f"cannot open {self.path}: {err.strerror or err}") from None
        except BaseException:
            self.close()
            raise

    def _error(self, err: sqlite3.DatabaseError) -> StorageError:
        text = str(err)
        if "not a database" in text or "malformed" in text:
            return StorageError(
                f"{self.path} is not a readable Prompt Workbench database ({text})",
                hint="move the file aside; a new database is created in its place",
            )
        if "locked" in text or "busy" in text:
            return StorageError(
                f"{self.path} is locked by another program ({text})",
                hint="close other Prompt Workbench windows and try again",
            )
        if "full" in text:
            return StorageError(
                f"cannot write {self.path}: the disk is full", hint="free some disk space"
            )
        return StorageError(f"{self.path}: {text}")

    def _check_existing(self) -> None:
        """Refuse a newer or foreign database without writing a byte to it."""
        if not self.path.exists():
            return
        uri = f"{self.path.resolve().as_uri()}?mode=ro"
        try:
            conn = sqlite3.connect(uri, uri=True, timeout=BUSY_TIMEOUT_S, isolation_level=None)
        except sqlite3.Error as err:
            raise StorageError(f"cannot open {self.path}: {err}") from None
        try:
            # One read transaction: another opener may commit the first migration between the
            # two queries, and tables without their migration record would look like a foreign
            # database.
            conn.execute("BEGIN")
            names = migrations.applied(conn)
            tables = conn.execute(
                "SELECT count(*) FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'"
            ).fetchone()[0]
            conn.execute("COMMIT")
        except sqlite3.DatabaseError as err:
            raise self._error(err) from None
        finally:
            conn.close()
        if not names and tables:
            raise StorageError(
                f"{self.path} is an SQLite database of another program; it was left untouched",
                hint="set WORKBENCH_HOME to use another data folder",
            )
        migrations.check_known(names, str(self.path))

    def connect(self) -> sqlite3.Connection:
        """A new connection in autocommit mode (``transaction()`` opens explicit transactions)."""
        if self._closed:
            raise StorageError(f"{self.path} is closed")
        conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
        return _configure(conn)

    def connection(self) -> sqlite3.Connection:
        """The calling thread's connection, opened on first use."""
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self.connect()
            self._local.conn = conn
        return conn

    def release(self) -> None:
        """Close the calling thread's connection (threads call this before they end)."""
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            self._local.conn = None
            conn.close()

    def close(self) -> None:
        """Close this thread's connection; later calls to ``connection()`` fail."""
        self.release()
        self._closed = True

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction on this thread's connection; nested uses become savepoints.

        ``BEGIN IMMEDIATE`` takes the write lock up front, so a transaction never fails half-way
        with "database is locked" after reading.
        """
        conn = self.connection()
        nested = conn.in_transaction
        try:
            conn.execute("SAVEPOINT nested" if nested else "BEGIN IMMEDIATE")
        except sqlite3.DatabaseError as err:
            raise self._error(err) from None
        try:
            yield conn
        except BaseException as err:
            if nested:
                conn.execute("ROLLBACK TO nested")
                conn.execute("RELEASE nested")
            elif conn.in_transaction:
                conn.execute("ROLLBACK")
            if isinstance(err, sqlite3.OperationalError):
                raise self._error(err) from None  # disk full, I/O error, locked
            raise
        try:
            conn.execute("RELEASE nested" if nested else "COMMIT")
        except sqlite3.DatabaseError as err:
            if not nested and conn.in_transaction:
                conn.execute("ROLLBACK")
            raise self._error(err) from None

    def __enter__(self) -> Database:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class ChangeProbe:
    """Says whether another connection (another process, or a writer thread of this one)
    committed to the database since the last look: lists of runs stay current when
    ``workbench compare`` or ``workbench eval`` writes while the app is open.

    ``PRAGMA data_version`` reads a counter from the shared WAL index, without touching a table,
    so polling it every second costs next to nothing. Use it from one thread."""

    def __init__(self, db: Database) -> None:
        self._conn = db.connect()
        self._version = self._read()

    def _read(self) -> int:
        return int(self._conn.execute("PRAGMA data_version").fetchone()[0])

    def changed(self) -> bool:
        try:
            version = self._read()
        except sqlite3.DatabaseError:  # busy or gone for a moment: look again next time
            return False
        changed, self._version = version != self._version, version
        return changed

    def close(self) -> None:
        self._conn.close()
