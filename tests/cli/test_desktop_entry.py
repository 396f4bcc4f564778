"""``workbench --install-desktop-entry``: the real command writes a valid desktop entry, the icons
and the ``*.prompt.yaml`` MIME type into a temporary ``XDG_DATA_HOME``, and removes them again."""

from __future__ import annotations

import configparser
import os
import shutil
import struct
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tests.conftest import REPO
from workbench.cli import _is_file, build_parser, main
from workbench.services import desktop_entry

NAME = "prompt-workbench"


def _validator() -> str | None:
    """desktop-file-validate (Debian's desktop-file-utils, installed by .ci/run)."""
    found = shutil.which("desktop-file-validate")
    if found is None and os.environ.get("CI"):
        raise RuntimeError("CI must install desktop-file-utils (desktop-file-validate)")
    return found


def _validate(path: Path) -> None:
    validator = _validator()
    if validator is None:
        return
    result = subprocess.run([validator, str(path)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and result.stdout == "", result.stdout + result.stderr


def _png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def _workbench(*args: str, data_home: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "workbench", *args],
        cwd=REPO,
        env={**os.environ, "XDG_DATA_HOME": str(data_home)},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_install_writes_every_file_and_uninstall_removes_them(
    tmp_path: Path, workbench_home: Path
) -> None:
    data_home = tmp_path / "xdg data"  # a space, as in many real home folders
    result = _workbench("--install-desktop-entry", data_home=data_home)
    assert result.returncode == 0, result.stderr
    written = [Path(line.removeprefix("wrote ")) for line in result.stdout.splitlines()]
    assert written == desktop_entry.planned_files(data_home)
    assert len(written) == 3 + len(desktop_entry.PNG_SIZES)

    entry = data_home / "applications" / f"{NAME}.desktop"
    _validate(entry)
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # keys are case-sensitive
    parser.read(entry, encoding="utf-8")
    keys = parser["Desktop Entry"]
    assert keys["Type"] == "Application"
    assert keys["Name"] == "Prompt Workbench"
    assert keys["Icon"] == NAME
    assert keys["Categories"] == "Development;"
    assert keys["MimeType"] == "application/x-prompt-workbench+yaml;"
    script = Path(sys.executable).with_name("workbench")
    launcher = str(script) if script.is_file() else f"{sys.executable} -m workbench"
    # The menu entry opens the data this command was run with.
    assert keys["Exec"] == f"env WORKBENCH_HOME={workbench_home} {launcher} %f"

    icons = data_home / "icons" / "hicolor"
    svg = (REPO / "resources" / "icons" / "app" / f"{NAME}.svg").read_bytes()
    assert (icons / "scalable" / "apps" / f"{NAME}.svg").read_bytes() == svg
    for size in desktop_entry.PNG_SIZES:
        png = (icons / f"{size}x{size}" / "apps" / f"{NAME}.png").read_bytes()
        assert _png_size(png) == (size, size)

    package = ET.parse(data_home / "mime" / "packages" / f"{NAME}.xml").getroot()
    ns = {"m": "http://www.freedesktop.org/standards/shared-mime-info"}
    mime = package.find("m:mime-type", ns)
    assert mime is not None and mime.get("type") == "application/x-prompt-workbench+yaml"
    assert [g.get("pattern") for g in mime.findall("m:glob", ns)] == ["*.prompt.yaml"]
    if shutil.which("update-mime-database"):  # it accepted the package and indexed the glob
        globs = (data_home / "mime" / "globs2").read_text(encoding="utf-8")
        assert "application/x-prompt-workbench+yaml:*.prompt.yaml" in globs
    if shutil.which("update-desktop-database"):
        cache = (data_home / "applications" / "mimeinfo.cache").read_text(encoding="utf-8")
        assert f"application/x-prompt-workbench+yaml={NAME}.desktop;" in cache

    result = _workbench("--uninstall-desktop-entry", data_home=data_home)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [f"removed {path}" for path in written]
    assert not any(path.exists() for path in written)
    again = _workbench("--uninstall-desktop-entry", data_home=data_home)
    assert again.stdout == f"nothing to remove under {data_home}\n"


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        (["/usr/bin/workbench"], "/usr/bin/workbench %f"),
        (["/opt/my apps/python", "-m", "workbench"], '"/opt/my apps/python" -m workbench %f'),
        (["/home/a$b/100%/workbench"], '"/home/a\\\\$b/100%%/workbench" %f'),
    ],
)
def test_exec_quotes_what_the_spec_reserves(
    command: list[str], expected: str, tmp_path: Path
) -> None:
    assert desktop_entry.exec_line(command) == expected
    path = tmp_path / f"{NAME}.desktop"
    path.write_text(desktop_entry.desktop_entry(command), encoding="utf-8")
    _validate(path)


def test_other_systems_get_one_line_saying_what_to_do(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    build_parser()  # its modules imported first: pydantic's imports break on a fake platform
    monkeypatch.setattr(sys, "platform", "win32")
    assert main(["--install-desktop-entry"]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert len(lines) == 1 and "on Windows" in lines[0] and "Desktop integration" in lines[0]


def test_a_yaml_argument_is_a_file_to_open_never_a_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    parser = build_parser()
    monkeypatch.chdir(tmp_path)
    (tmp_path / "run").write_text("a file named like a command")
    (tmp_path / "notes.txt").write_text("")
    assert _is_file("my.prompt.yaml", parser)  # missing: the app says so, and starts
    assert _is_file("notes.txt", parser)
    assert not _is_file("run", parser)
    assert not _is_file("--version", parser)
    assert not _is_file("nonexistent", parser)
    with pytest.raises(SystemExit) as info:
        main(["my.prompt.yaml", "extra"])
    assert info.value.code == 2
