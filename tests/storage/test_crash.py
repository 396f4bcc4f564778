"""kill -9 at random moments: nothing committed is lost and nothing is left corrupt.

A child process (``crash_child``) writes runs (directly and through the writer thread), saves
library versions (files up to ~200 KB) and imports batches, printing each after its commit. The
test reads a random number of those lines (seeded) and SIGKILLs the child, 24 times over the same
data folder. After every kill: SQLite's integrity check and the full-text index check pass,
every run and version the child reported is there, and every library file parses.
"""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from tests.conftest import REPO
from workbench.core.template_files import SUFFIX, loads
from workbench.storage.db import Database
from workbench.storage.files import is_temp_file
from workbench.storage.library import Library
from workbench.storage.library_records import content_hash

KILLS = 24

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs POSIX SIGKILL")


def _reap(child: subprocess.Popen[str]) -> None:
    """Kill ``child`` if a check failed before the test killed it, and close its pipes."""
    if child.poll() is None:
        child.kill()
        child.wait(timeout=30)
    if child.stdout:
        child.stdout.close()
    if child.stderr:
        child.stderr.close()


def _run_child_and_kill(home: Path, seed: int, lines_before_kill: int, delay_s: float) -> list[str]:
    child = subprocess.Popen(
        [sys.executable, "-m", "tests.storage.crash_child", str(home), str(seed)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None
    try:
        first = child.stdout.readline()
        assert first == "ready\n", first + (child.stderr.read() if child.stderr else "")
        reported: list[str] = []
        while len(reported) < lines_before_kill:
            line = child.stdout.readline()
            assert line, "the child ended by itself: " + (
                child.stderr.read() if child.stderr else ""
            )
            reported.append(line.strip())
        # The random part of the moment: how far into its next write the child gets.
        threading.Event().wait(delay_s)
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=30)
        # Lines printed between our last read and the kill were committed too.
        reported += [line.strip() for line in child.stdout.read().splitlines() if line.strip()]
    finally:
        _reap(child)
    assert child.returncode == -signal.SIGKILL
    return reported


def _check(home: Path, runs: set[str], versions: dict[tuple[str, int], str]) -> None:
    path = home / "crash.db"
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        conn.execute("INSERT INTO runs_fts (runs_fts) VALUES ('integrity-check')")
        stored = {row[0] for row in conn.execute("SELECT id FROM runs")}
    finally:
        conn.close()
    assert runs <= stored, f"{len(runs - stored)} committed runs are missing"

    folder = home / "library"
    for file in folder.rglob(f"*{SUFFIX}"):
        if not is_temp_file(file):
            loads(file.read_text(encoding="utf-8"), str(file))  # whole, never half-written

    db = Database(path)
    try:
        library = Library(db, folder)
        report = library.rescan()
        assert report.problems == []
        for (key, number), digest in versions.items():
            assert library.version(key, number).content_hash == digest
        # After the rescan, history and files agree again.
        for entry in library.entries():
            text = library.path_for(entry.key).read_text(encoding="utf-8")
            assert content_hash(text) == library.version(entry.key).content_hash
        assert not [p for p in folder.rglob("*") if is_temp_file(p)]
    finally:
        db.close()


def test_kill_9_loses_no_committed_run_and_corrupts_nothing(tmp_path: Path) -> None:
    rng = random.Random(20240917)
    home = tmp_path / "crash-home"
    home.mkdir()
    runs: set[str] = set()
    versions: dict[tuple[str, int], str] = {}
    for seed in range(KILLS):
        for line in _run_child_and_kill(home, seed, rng.randint(1, 25), rng.uniform(0.0, 0.05)):
            kind, *rest = line.split()
            if kind == "run":
                runs.add(rest[0])
            else:
                assert kind == "version", line
                versions[(rest[0], int(rest[1]))] = rest[2]
        _check(home, runs, versions)
    assert len(runs) >= KILLS and len(versions) >= KILLS


@pytest.mark.parametrize("what", ["save", "import"])
def test_kill_between_rename_and_commit_loses_nothing(tmp_path: Path, what: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "tests.storage.crash_child", str(tmp_path), "0", what],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == -signal.SIGKILL, done.stderr
    assert done.stdout == "committed\n"
    db = Database(tmp_path / "crash.db")
    try:
        library = Library(db, tmp_path / "library")
        assert [e.key for e in library.entries()] == ["window/kept"]  # the DB never saw the rest
        report = library.rescan()
        if what == "save":
            assert report.changed == ["window/kept"]
            assert library.load("window/kept").description == "saved, never committed"
            assert [v.origin for v in library.versions("window/kept")] == ["save", "disk"]
        else:
            # Two of three files were in place when the import died: both are kept, none is torn.
            assert report.added == ["window/first", "window/second"]
            assert not library.path_for("window/third").exists()
        assert report.problems == []
    finally:
        db.close()


# --- kill -9 in the middle of an import or a save, then the next start ------------------------


def _app_child(home: Path, mode: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.storage.crash_child", "app", mode],
        cwd=REPO,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "WORKBENCH_HOME": str(home)},
    )


def _temps(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if is_temp_file(p)] if folder.exists() else []


def _committed(lines: list[str]) -> dict[tuple[str, int], str]:
    return {
        (key, int(number)): digest
        for kind, key, number, digest in (line.split() for line in lines if line.strip())
        if kind == "version"
    }


def _check_next_start(home: Path, committed: dict[tuple[str, int], str]) -> None:
    """The checks after a restart: whole files only, every committed version, no temporary."""
    from workbench.services.workspace import Workspace

    folder = home / "data" / "library"
    conn = sqlite3.connect(home / "data" / "workbench.db")
    try:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    finally:
        conn.close()
    workspace = Workspace()  # the app's start (WORKBENCH_HOME is this test's home)
    try:
        assert _temps(folder) == []
        for file in folder.rglob(f"*{SUFFIX}"):
            loads(file.read_text(encoding="utf-8"), str(file))  # whole, never half-written
        report = workspace.library.rescan()
        assert report.problems == []
        for (key, number), digest in committed.items():
            assert workspace.library.version(key, number).content_hash == digest
        for entry in workspace.library.entries():  # history and files agree
            text = workspace.library.path_for(entry.key).read_text(encoding="utf-8")
            assert content_hash(text) == workspace.library.version(entry.key).content_hash
    finally:
        workspace.close()


def test_kill_9_mid_import_leaves_no_temp_files_after_the_next_start(
    workbench_home: Path,
) -> None:
    folder = workbench_home / "data" / "library"
    child = _app_child(workbench_home, "import-many")
    assert child.stdout is not None
    lines: list[str] = []
    try:
        while (line := child.stdout.readline()) != "importing\n":
            assert line, child.stderr.read() if child.stderr else ""
            lines.append(line)
        while len(_temps(folder)) < 200:  # the import is staging its 740 files
            assert child.poll() is None, "the import ended before it could be killed"
            threading.Event().wait(0.005)
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=30)
    finally:
        _reap(child)
    left = len(_temps(folder))
    assert child.returncode == -signal.SIGKILL and left >= 200, left
    _check_next_start(workbench_home, _committed(lines))


def test_kill_9_mid_save_then_a_command_that_opens_the_library_cleans_up(
    workbench_home: Path,
) -> None:
    folder = workbench_home / "data" / "library"
    done = _app_child(workbench_home, "save-unrenamed")
    out, err = done.communicate(timeout=120)
    assert done.returncode == -signal.SIGKILL, err
    assert len(_temps(folder)) == 1  # the save's temporary, never renamed
    listed = subprocess.run(
        [sys.executable, "-m", "workbench", "library", "list"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "WORKBENCH_HOME": str(workbench_home)},
    )
    assert listed.returncode == 0, listed.stderr
    assert _temps(folder) == []
    _check_next_start(workbench_home, _committed(out.splitlines()))
    with Database() as db:  # the killed save never replaced the committed file
        assert Library(db).load("kept/t0").description != "never in place"


def test_the_next_start_keeps_a_live_writers_temp_file(workbench_home: Path) -> None:
    from workbench.services.workspace import Workspace

    child = _app_child(workbench_home, "hold")
    assert child.stdout is not None and child.stdin is not None
    try:
        staged = Path(child.stdout.readline().split(" ", 1)[1].strip())
        workspace = Workspace()  # another process starts while the write is in flight
        workspace.close()
        assert staged.exists()
        child.stdin.write("go\n")
        child.stdin.flush()
        assert child.stdout.readline() == "committed\n"
    finally:
        child.stdin.close()
        child.wait(timeout=30)
        child.stdout.close()
        if child.stderr:
            child.stderr.close()
    held = workbench_home / "data" / "library" / "live" / f"held{SUFFIX}"
    assert held.read_bytes() == b"staged by a live process"


def test_the_app_start_cleans_dead_writers_temp_files_in_drafts_and_settings(
    workbench_home: Path,
) -> None:
    from workbench.services.workspace import Workspace
    from workbench.storage import files

    ended = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    left = []
    for folder in (workbench_home / "data" / "autosave", workbench_home / "config" / "presets"):
        staged = files.prepare(folder / "draft.json", b"{}")  # a write killed before its rename
        dead_name = staged.temp.name.replace(f"-{os.getpid()}.", f"-{ended.stdout.strip()}.")
        dead = staged.temp.with_name(dead_name)
        staged.temp.rename(dead)
        left.append(dead)
    Workspace().close()
    assert [p for p in left if p.exists()] == []
