"""Test set-up shared by every test.

Qt runs offscreen; each test gets its own WORKBENCH_HOME so nothing touches the user's files.
``WORKBENCH_NO_QT=1`` hides PySide6 entirely (run with ``-p no:pytest-qt``), proving the non-UI
layers import and pass without it.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

if os.environ.get("WORKBENCH_NO_QT") == "1":

    class _BlockQt:
        def find_spec(self, name: str, *args: object) -> None:
            if name == "PySide6" or name.startswith("PySide6."):
                raise ImportError(f"{name} is hidden by WORKBENCH_NO_QT=1")
            return None

    sys.meta_path.insert(0, _BlockQt())  # type: ignore[arg-type]

REPO = Path(__file__).resolve().parent.parent
ARTIFACTS = REPO / "test-artifacts"


@pytest.fixture(autouse=True)
def workbench_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    monkeypatch.setenv("WORKBENCH_HOME", str(home))
    return home


def _fixtures_dir() -> Path | None:
    value = os.environ.get("WORKBENCH_FIXTURES")
    if value:
        path = Path(value)
        if not path.is_dir():
            raise RuntimeError(f"WORKBENCH_FIXTURES={value} is not a folder")
        return path
    default = REPO.parent / "shared" / "fixtures"
    return default if default.is_dir() else None


@pytest.fixture(scope="session")
def fixtures_dir() -> Iterator[Path]:
    """../shared/fixtures (or $WORKBENCH_FIXTURES); CI sets the variable, so it never skips."""
    path = _fixtures_dir()
    if path is None:
        if os.environ.get("CI"):
            raise RuntimeError("CI must set WORKBENCH_FIXTURES to the shared fixtures folder")
        pytest.skip("the shared fixtures folder is absent (set WORKBENCH_FIXTURES to run these)")
    yield path
