"""The main window's history lists runs another process writes while the app is open."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from pytestqt.qtbot import QtBot

from tests.ui.windows import window
from workbench.storage.repositories.runs import RunFilter
from workbench.ui.main_window import MainWindow

__all__ = ["window"]

pytestmark = pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints")

TEMPLATE = """\
format_version: 1
name: capital
messages:
  - role: user
    content: "What is the capital of {{ country }}?"
"""


def test_a_terminals_compare_runs_are_listed_under_all_sources_without_a_click(
    qtbot: QtBot, window: MainWindow, tmp_path: Path, workbench_home: Path
) -> None:
    """A cold start ran `workbench compare sweep.yaml` beside the open app: its 24 runs were
    missing under "All sources" until a filter changed, because the list was queried again
    only after the app's own runs or a window switch. It now watches the database."""
    (workbench_home / "config").mkdir(parents=True, exist_ok=True)
    backends = [{"name": "s", "backend": "scripted", "options": {"script": [{"text": "Lima"}]}}]
    (workbench_home / "config" / "backends.yaml").write_text(
        yaml.safe_dump({"backends": backends})
    )
    (tmp_path / "capital.prompt.yaml").write_text(TEMPLATE)
    sweep = tmp_path / "sweep.yaml"
    sweep.write_text(yaml.safe_dump({
        "name": "capitals", "template": "capital.prompt.yaml", "backend": "s",
        "sweep": {"temperature": [0, 0.6, 1.2]}, "variables": {"country": "Peru"},
    }))
    history = window.history
    qtbot.waitUntil(lambda: not history.busy, timeout=5_000)
    assert history.filters.where() == RunFilter()  # All sources, all templates, all backends
    before = len(history.run_ids())

    done = subprocess.run(  # a real second process writing to the same database
        [sys.executable, "-m", "workbench", "compare", str(sweep)],
        capture_output=True, text=True, env=os.environ.copy(), timeout=120,
    )
    assert done.returncode == 0, done.stderr
    qtbot.waitUntil(lambda: len(history.run_ids()) == before + 3, timeout=10_000)
    assert {row.source for row in history.model.rows[:3]} == {"sweep"}
    assert history.filters.where() == RunFilter()  # nothing was touched to get them
