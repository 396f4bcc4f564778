"""Experiment locks across real processes: the holder is named, a second holder in the same
process is refused too, and a holder killed with SIGKILL leaves no stale lock behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from tests.conftest import REPO
from workbench.storage.locks import FileLock

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs POSIX SIGKILL")

HOLDER = textwrap.dedent(
    """\
    import sys
    from pathlib import Path
    from workbench.storage.locks import FileLock

    lock = FileLock(Path(sys.argv[1]))
    assert lock.try_acquire() is None
    print("held", flush=True)
    sys.stdin.read()  # hold it until told (or killed)
    lock.release()
    """
)


def _holder(path: Path) -> subprocess.Popen[str]:
    child = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(path)],
        cwd=REPO,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None and child.stdout.readline() == "held\n"
    return child


def test_another_process_is_refused_with_its_pid_and_the_lock_is_freed_on_release(
    tmp_path: Path,
) -> None:
    path = tmp_path / "locks" / "experiment-x.lock"
    child = _holder(path)
    try:
        holder = FileLock(path).try_acquire()
        assert holder is not None and holder.pid == child.pid and holder.since
        assert holder.describe().startswith(f"process {child.pid} since ")
        assert child.stdin is not None
        child.stdin.close()  # release
        assert child.wait(30) == 0
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(30)
    assert not path.exists()  # removed by its holder
    mine = FileLock(path)
    assert mine.try_acquire() is None and mine.held
    mine.release()


def test_a_killed_holder_leaves_no_stale_lock(tmp_path: Path) -> None:
    path = tmp_path / "experiment-y.lock"
    child = _holder(path)
    os.kill(child.pid, signal.SIGKILL)
    child.wait(30)
    assert path.exists()  # its note is still there, but the lock died with the process
    mine = FileLock(path)
    assert mine.try_acquire() is None
    mine.release()


def test_two_holders_in_one_process_exclude_each_other_and_a_waiter_gets_it_next(
    tmp_path: Path,
) -> None:
    path = tmp_path / "experiment-z.lock"
    first, second = FileLock(path), FileLock(path)
    assert first.try_acquire() is None
    held = second.try_acquire()
    assert held is not None and held.pid == os.getpid()
    released = threading.Timer(0.3, first.release)
    released.start()
    assert second.acquire(wait=threading.Event().wait) is None  # waits until released
    released.join()
    assert second.held and not first.held
    given_up = FileLock(path).acquire(wait=lambda _s: True)  # a cancelled wait gives up
    assert given_up is not None
    second.release()
