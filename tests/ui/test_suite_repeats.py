"""The suite window's Repeat control: a suite run 4 times per case on a backend that alternates
its answers shows the flaky case apart from the failing one."""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from workbench.backends.config import BackendConfig, save_configs
from workbench.services.workspace import Workspace
from workbench.ui.evaluation.suite_window import SuiteWindow


@pytest.fixture
def workspace() -> Iterator[Workspace]:
    save_configs(
        {
            "coin": BackendConfig(
                name="coin",
                backend="scripted",
                options={"alternate": [[{"text": "yes"}], [{"text": "no"}]]},
            )
        }
    )
    workspace = Workspace()
    yield workspace
    workspace.close()


def test_repeat_shows_flaky_cases_apart_from_failing(
    qtbot: QtBot, workspace: Workspace, tmp_path: Path
) -> None:
    suite = tmp_path / "coin.yaml"
    suite.write_text(
        textwrap.dedent(
            """\
            name: coin
            tests:
              - {description: flips, vars: {q: a}, assert: [{type: icontains, value: "yes"}]}
              - {description: never, vars: {q: b}, assert: [{type: icontains, value: maybe}]}
            variants:
              - {label: v, prompt: "Is {{ q }} true?", backend: coin}
            """
        ),
        encoding="utf-8",
    )
    window = SuiteWindow(workspace, suite)
    qtbot.addWidget(window)
    window.show()

    def done() -> bool:
        return window.scorecard.isVisible() and window.run_button.isEnabled()

    qtbot.waitUntil(done, timeout=60_000)
    assert not window.scorecard.repeats.isVisible()  # run once: nothing can be flaky
    assert window.repeat_box.text() == "as the suite says"
    window.repeat_box.setValue(4)
    qtbot.mouseClick(window.run_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.last is not None and window.last[0].spec.repeats == 4
                    and done(), timeout=60_000)
    text = window.scorecard.repeats.text()
    assert window.scorecard.repeats.isVisible()
    assert "4 repeats per case" in text
    assert "0 passing" in text and "1 flaky" in text and "1 failing" in text
    assert "flaky rows: 1 flips (2/4)" in text
    assert window.scorecard.grid.rowCount() == 8
