"""The evaluation suite window on promptfoo's getting-started config: it fits a 1366×768 screen,
says why its cells failed when the config's backend cannot be reached, and runs the suite again
on another configured backend."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCharts import QBarCategoryAxis
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from tests.ui.runs import screenshot
from workbench.backends.config import BackendConfig, save_configs
from workbench.services.workspace import Workspace
from workbench.ui.evaluation.suite_window import OWN, SuiteWindow


def closed_port() -> int:
    """A local port nothing listens on: connecting to it is refused at once."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def workspace() -> Iterator[Workspace]:
    """The config's OpenAI provider points at a refused local port (an unreachable cloud
    backend without the network); 'spare' is another configured backend that answers."""
    save_configs(
        {
            "openai_compat": BackendConfig(
                name="openai_compat",
                backend="openai_compat",
                # no retries: a refused connection fails at once (2 backed-off retries took 10 s)
                options={"base_url": f"http://127.0.0.1:{closed_port()}/v1", "max_retries": 0},
            ),
            "spare": BackendConfig(
                name="spare", backend="scripted", options={"script": [{"text": "Bonjour"}]}
            ),
        }
    )
    workspace = Workspace()
    yield workspace
    workspace.close()


@pytest.fixture
def suite(fixtures_dir: Path) -> Path:
    return fixtures_dir / "promptfoo" / "getting-started" / "promptfooconfig.yaml"


def finished(qtbot: QtBot, window: SuiteWindow) -> None:
    qtbot.waitUntil(
        lambda: window.scorecard.isVisible() and window.run_button.isEnabled(), timeout=120_000
    )


def open_suite(qtbot: QtBot, workspace: Workspace, suite: Path) -> SuiteWindow:
    window = SuiteWindow(workspace, suite, backends=["llamacpp", "spare"])
    qtbot.addWidget(window)
    window.resize(1280, 720)
    window.show()
    qtbot.waitExposed(window)
    finished(qtbot, window)
    return window


def test_the_getting_started_suite_fits_a_small_screen(
    qtbot: QtBot, workspace: Workspace, suite: Path
) -> None:
    window = open_suite(qtbot, workspace, suite)
    card = window.scorecard
    assert len(card.criteria.badges) == 8  # two criteria × four variants, wrapped
    assert window.minimumSizeHint().width() <= 1366
    assert window.width() == 1280 and window.height() <= 768
    tops = {badge.geometry().top() for badge in card.criteria.badges}
    assert len(tops) > 1, "the criteria chips wrap onto more than one line"
    assert all(b.geometry().right() <= card.criteria.width() for b in card.criteria.badges)
    # Cut columns keep both ends: the prompt's start and the model that tells them apart
    header = card.grid.horizontalHeader()
    assert header.textElideMode() == Qt.TextElideMode.ElideMiddle
    label = card.grid.horizontalHeaderItem(0)
    assert label is not None
    assert label.text().startswith("Convert this English to {{language}}")
    assert label.toolTip() == label.text()
    # one bar per variant, each named so it can be told apart (cut to the start, two variants'
    # names were equal and the axis merged them: 2 labels for 4 bars, each shown as "…")
    [axis] = card.bars.chart().axes(Qt.Orientation.Horizontal)
    assert isinstance(axis, QBarCategoryAxis)
    names = axis.categories()
    assert len(names) == 4 and len(set(names)) == 4, names
    assert all(name.endswith(("4.1", "mini")) for name in names), names
    assert all(name.startswith(("Con", "Tra")) for name in names), names
    legend = [m.label() for m in card.histogram.chart().legend().markers()]
    assert len(set(legend)) == 4, legend
    screenshot(window, "suite-getting-started")


def test_unreachable_backend_is_explained_and_the_suite_runs_elsewhere(
    qtbot: QtBot, workspace: Workspace, suite: Path
) -> None:
    window = open_suite(qtbot, workspace, suite)
    errors = window.scorecard.errors
    assert errors.isVisible()
    assert "8 cells failed:" in errors.text() and "127.0.0.1" in errors.text()
    assert "connection refused" in errors.text()
    assert "choose a backend under Run on" in window.status.text()
    assert window.backend_box.currentText() == OWN  # never moved to another backend unasked
    assert not window.model_edit.isEnabled()
    screenshot(window, "suite-unreachable-backend")

    window.backend_box.setCurrentIndex(window.backend_box.findData("spare"))
    assert window.model_edit.isEnabled()
    qtbot.mouseClick(window.run_button, Qt.MouseButton.LeftButton)
    assert not window.run_button.isEnabled()
    finished(qtbot, window)
    card = window.scorecard.card
    assert card is not None
    # The two prompts × two OpenAI models become the two prompts on 'spare'.
    assert [v.label for v in card.variants] == [
        "Convert this English to {{language}}: {{input}} · spare",
        "Translate to {{language}}: {{input}} · spare",
    ]
    assert all(c.status != "error" for c in card.cells.values())
    assert not window.scorecard.errors.isVisible()
    assert " on spare · " in window.status.text()
    assert "choose a backend" not in window.status.text()
    screenshot(window, "suite-run-on-spare")


def test_a_suite_naming_cloud_backends_runs_locally_and_asks_before_sending(
    qtbot: QtBot, suite: Path
) -> None:
    """promptfoo's getting-started config names two OpenAI models and nothing is configured:
    opening it sent 8 requests to api.openai.com at once. It runs on the local model, says why,
    and running it on its own backends shows the estimate and asks; "Don't send" sends nothing."""
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication, QMessageBox

    workspace = Workspace()
    try:
        window = SuiteWindow(workspace, suite, backends=["llamacpp"])
        qtbot.addWidget(window)
        window.resize(1280, 720)
        window.show()
        finished(qtbot, window)
        assert window.backend_box.currentData() == "llamacpp"
        status = window.status.text()
        assert " on llamacpp · " in status and "runs on the local model" in status
        assert "openai_compat → api.openai.com: 8 calls" in status
        assert {r.backend for r in workspace.store.runs.recent(50)} == {"llamacpp"}
        card = window.scorecard.card
        assert card is not None and all(v.label.endswith("· llamacpp") for v in card.variants)
        screenshot(window, "suite-cloud-config-runs-locally")
        runs_before = workspace.store.runs.count()
        experiments_before = len(workspace.store.experiments.summaries())

        seen: list[str] = []

        def answer() -> None:
            box = QApplication.activeModalWidget()
            if not isinstance(box, QMessageBox):
                return
            timer.stop()
            seen.append(f"{box.text()}\n{box.informativeText()}")
            screenshot(box, "suite-asks-before-sending")
            keep = next(b for b in box.buttons() if b.text() == "Don't send")
            qtbot.mouseClick(keep, Qt.MouseButton.LeftButton)

        timer = QTimer()
        timer.timeout.connect(answer)
        timer.start(50)
        window.backend_box.setCurrentIndex(window.backend_box.findText(OWN))
        qtbot.mouseClick(window.run_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: window.status.text().startswith("Nothing was sent"),
                        timeout=30_000)
        assert len(seen) == 1
        assert "would send 8 calls" in seen[0] and "api.openai.com" in seen[0]
        assert "output tokens" in seen[0] and "(not set up in Tools ▸ Backends" in seen[0]
        assert window.run_button.isEnabled()
        assert workspace.store.runs.count() == runs_before
        assert len(workspace.store.experiments.summaries()) == experiments_before
        window.close()
    finally:
        workspace.close()


def test_running_again_marks_the_cases_that_got_better_or_worse(
    qtbot: QtBot, workspace: Workspace, suite: Path, tmp_path: Path
) -> None:
    """After editing the suite, Run again showed the new scorecard alone: nothing said which
    cases got better or worse than the run before (only ``workbench eval --baseline`` did)."""
    own = tmp_path / "promptfooconfig.yaml"
    own.write_text(suite.read_text(encoding="utf-8"), encoding="utf-8")
    window = open_suite(qtbot, workspace, own)
    window.backend_box.setCurrentIndex(window.backend_box.findData("spare"))
    qtbot.mouseClick(window.run_button, Qt.MouseButton.LeftButton)
    finished(qtbot, window)
    first = window.evaluation_id
    assert not window.scorecard.regression.isVisible()  # 4 variants before, 2 now: no match
    # 'spare' answers "Bonjour": asking for just that makes the French row pass.
    own.write_text(own.read_text(encoding="utf-8").replace("'Bonjour le monde'", "'Bonjour'"),
                   encoding="utf-8")
    qtbot.mouseClick(window.run_button, Qt.MouseButton.LeftButton)
    finished(qtbot, window)
    assert window.evaluation_id not in (None, first)
    regression = window.scorecard.regression
    assert regression.isVisible()
    assert f"the earlier run (evaluation {first})" in regression.text()
    assert "▲ 2 better" in regression.text() and "▼ 0 worse" in regression.text()
    assert "2 unchanged" in regression.text()
    assert window.scorecard.grid.item(0, 0).text().startswith("▲ ✓")
    screenshot(window, "suite-run-again-regression")
