"""Atomic writes: the old or the new file, never a mix; failures leave no debris."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from workbench.storage import files


def test_write_creates_folders_and_exact_bytes(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b" / "x.prompt.yaml"
    files.write_text(target, "line one\r\nline two — ünïcode\n")
    assert target.read_bytes() == "line one\r\nline two — ünïcode\n".encode()
    assert [p.name for p in target.parent.iterdir()] == ["x.prompt.yaml"]


def test_replace_keeps_the_users_permissions(tmp_path: Path) -> None:
    target = tmp_path / "x.txt"
    target.write_text("old", encoding="utf-8")
    target.chmod(0o640)
    files.write_text(target, "new")
    assert target.read_text(encoding="utf-8") == "new"
    assert stat.S_IMODE(target.stat().st_mode) == 0o640


def test_new_file_gets_ordinary_permissions_not_private_temp_ones(tmp_path: Path) -> None:
    target = tmp_path / "fresh.txt"
    files.write_text(target, "x")
    umask = os.umask(0o022)
    os.umask(umask)
    assert stat.S_IMODE(target.stat().st_mode) == 0o666 & ~umask


def test_failed_rename_keeps_old_file_and_removes_temp(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "keep.txt"
    target.write_text("precious", encoding="utf-8")

    def no_space(src: object, dst: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(files.os, "replace", no_space)
    with pytest.raises(files.FileWriteError, match="No space left"):
        files.write_text(target, "replacement")
    assert target.read_text(encoding="utf-8") == "precious"
    assert [p.name for p in tmp_path.iterdir()] == ["keep.txt"]


def test_unwritable_folder_is_a_known_error(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("", encoding="utf-8")
    with pytest.raises(files.FileWriteError, match="cannot write"):
        files.write_text(blocker / "x.txt", "x")


def test_prepared_write_is_invisible_until_committed(tmp_path: Path) -> None:
    target = tmp_path / "staged.txt"
    target.write_text("before", encoding="utf-8")
    staged = files.prepare(target, b"after")
    assert target.read_text(encoding="utf-8") == "before"
    assert files.is_temp_file(staged.temp) and staged.temp.read_bytes() == b"after"
    staged.commit()
    assert target.read_text(encoding="utf-8") == "after"
    assert not staged.temp.exists()
    discarded = files.prepare(target, b"never")
    discarded.discard()
    assert target.read_text(encoding="utf-8") == "after"
    assert [p.name for p in tmp_path.iterdir()] == ["staged.txt"]


def test_remove_and_clean_temp_files(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    leftover = tmp_path / "sub" / f"{files.TEMP_PREFIX}x.prompt.yaml.abc"  # an untagged one
    leftover.write_text("half", encoding="utf-8")
    hour_ago = time.time() - files.UNTAGGED_STALE_AFTER_S - 60
    os.utime(leftover, (hour_ago, hour_ago))
    keep = tmp_path / "sub" / "x.prompt.yaml"
    keep.write_text("whole", encoding="utf-8")
    assert files.clean_temp_files(tmp_path) == [leftover]
    assert keep.exists()
    files.remove(keep)
    files.remove(keep)  # already gone: fine
    assert not keep.exists()


def test_only_temp_files_of_dead_writers_are_cleaned(tmp_path: Path) -> None:
    ended = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    dead_pid = int(ended.stdout)
    mine = files.prepare(tmp_path / "mine.prompt.yaml", b"in flight in this process")
    dead = mine.temp.with_name(mine.temp.name.replace(f"-{os.getpid()}.", f"-{dead_pid}."))
    dead.write_bytes(b"left by a killed import")
    fresh_untagged = tmp_path / f"{files.TEMP_PREFIX}old-version.prompt.yaml.xyz"
    fresh_untagged.write_bytes(b"maybe still being written by an older version")
    assert files.clean_temp_files(tmp_path) == [dead]
    assert mine.temp.exists() and fresh_untagged.exists()
    mine.commit()
    assert (tmp_path / "mine.prompt.yaml").read_bytes() == b"in flight in this process"


def test_an_unsynced_staged_write_cannot_be_renamed(tmp_path: Path) -> None:
    staged = files.prepare(tmp_path / "a.txt", b"data", sync=False)
    with pytest.raises(RuntimeError, match="before its data was synced"):
        staged.commit()
    assert not (tmp_path / "a.txt").exists()
    files.sync_staged([staged])
    staged.commit()
    assert (tmp_path / "a.txt").read_bytes() == b"data"


@pytest.mark.parametrize("syncfs", [True, False])
def test_a_batch_is_synced_once_per_filesystem_or_else_file_by_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, syncfs: bool
) -> None:
    batch = [files.prepare(tmp_path / f"d{n % 2}" / f"{n}.txt", b"x", sync=False) for n in range(6)]
    synced_fs: list[int] = []
    fsynced: list[int] = []
    real_fsync = os.fsync

    def fake_syncfs(fd: int) -> int:
        synced_fs.append(fd)
        return 0

    def spy_fsync(fd: int) -> None:
        fsynced.append(fd)
        real_fsync(fd)

    monkeypatch.setattr(files, "_libc_syncfs", lambda: fake_syncfs if syncfs else None)
    monkeypatch.setattr(files.os, "fsync", spy_fsync)
    files.sync_staged(batch)
    assert all(write.synced for write in batch)
    # Both folders are on one filesystem: one syncfs; without it one fsync per temporary.
    assert (len(synced_fs), len(fsynced)) == ((1, 0) if syncfs else (0, 6))
    files.sync_staged(batch)  # nothing left to sync
    assert (len(synced_fs), len(fsynced)) == ((1, 0) if syncfs else (0, 6))


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="syncfs(2) is Linux's")
def test_syncfs_is_found_and_a_failure_is_a_known_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert files._libc_syncfs() is not None
    batch = [files.prepare(tmp_path / "a.txt", b"x", sync=False)]

    def failing(fd: int) -> int:
        return -1

    monkeypatch.setattr(files, "_libc_syncfs", lambda: failing)
    with pytest.raises(files.FileWriteError):
        files.sync_staged(batch)
    assert not batch[0].synced
