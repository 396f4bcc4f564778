"""Journey 5, evaluate without surprises: Tools ▸ Run an evaluation suite… on promptfoo's
getting-started config (it names two OpenAI models); the app runs it on the local model and says
why, with the estimate of what its own backends would send; asked to run on them, it shows the
estimate and "Don't send" sends nothing. Read the scorecard, drill into a failing cell (output,
expected, diff, each assertion's reason), change the prompt, run again and see which cases got
better or worse; after a restart both evaluations are in Tools ▸ Experiments….

Nothing may leave the machine: every socket connection and name lookup to a host that is not
this computer is refused and recorded, and the test asserts there were none."""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QFileDialog, QMessageBox, QWidget
from pytestqt.qtbot import QtBot

from tests.journeys.conftest import RUN_TIMEOUT_MS, Journey, menu_action, with_modal
from workbench.ui.evaluation.saved_evaluation import SavedEvaluationWindow
from workbench.ui.evaluation.suite_window import OWN, SuiteWindow
from workbench.ui.experiments_browser import ExperimentsBrowser
from workbench.ui.main_window import MainWindow

pytestmark = [pytest.mark.slow,
              pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints")]

CLOUD = "  - openai:gpt-4.1\n  - openai:o4-mini\n"
# The same two cloud providers, with a small answer budget for the local model that stands in.
SMALL = ("  - id: openai:gpt-4.1\n    config: {max_tokens: 12, temperature: 0}\n"
         "  - id: openai:o4-mini\n    config: {max_tokens: 12, temperature: 0}\n")
OLD_PROMPT = "'Translate to {{language}}: {{input}}'"
NEW_PROMPT = "'Translate into {{language}}. Reply with the translation only: {{input}}'"


def _local(host: object) -> bool:
    if host in (None, "localhost", b"localhost", ""):
        return True
    try:
        return ipaddress.ip_address(str(host).split("%")[0]).is_loopback
    except ValueError:
        return False


@pytest.fixture
def egress(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Every attempt to reach another machine, refused and recorded."""
    attempts: list[str] = []
    connect, lookup = socket.socket.connect, socket.getaddrinfo

    def guarded_connect(self: socket.socket, address: Any) -> Any:
        if self.family in (socket.AF_INET, socket.AF_INET6) and not _local(address[0]):
            attempts.append(f"connect {address}")
            raise ConnectionRefusedError(f"journey 5: nothing leaves the machine ({address})")
        return connect(self, address)

    def guarded_lookup(host: Any, *args: Any, **kwargs: Any) -> Any:
        if not _local(host):
            attempts.append(f"lookup {host}")
            raise socket.gaierror(f"journey 5: no name lookups ({host})")
        return lookup(host, *args, **kwargs)

    monkeypatch.setattr(socket.socket, "connect", guarded_connect)
    monkeypatch.setattr(socket, "getaddrinfo", guarded_lookup)
    yield attempts


@pytest.fixture
def config(fixtures_dir: Path, tmp_path: Path) -> Path:
    """promptfoo's getting-started config as a person keeps it in their project folder."""
    text = (fixtures_dir / "promptfoo" / "getting-started" / "promptfooconfig.yaml").read_text(
        encoding="utf-8")
    assert CLOUD in text and OLD_PROMPT in text
    path = tmp_path / "project" / "promptfooconfig.yaml"
    path.parent.mkdir()
    path.write_text(text.replace(CLOUD, SMALL), encoding="utf-8")
    return path


def _suite_window(window: MainWindow) -> SuiteWindow:
    (suite,) = [w for w in window.child_windows if isinstance(w, SuiteWindow)]
    return suite


def _finished(qtbot: QtBot, suite: SuiteWindow) -> None:
    qtbot.waitUntil(lambda: suite.scorecard.isVisible() and suite.run_button.isEnabled(),
                    timeout=RUN_TIMEOUT_MS)


def _click(qtbot: QtBot, widget: QWidget) -> None:
    qtbot.mouseClick(widget, Qt.MouseButton.LeftButton)


def test_evaluate_without_surprises(qtbot: QtBot, journey: Journey, egress: list[str],
                                    config: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    window = journey.start()
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(config), ""))
    menu_action(window, "Run an evaluation suite").trigger()
    suite = _suite_window(window)
    qtbot.waitExposed(suite)
    _finished(qtbot, suite)

    # It ran on the local model, said why, and what the config's own backends would send.
    status = suite.status.text()
    assert suite.backend_box.currentData() == "llamacpp"
    assert " on llamacpp · " in status and "runs on the local model" in status
    assert "api.openai.com: 8 calls" in status
    store = window.workspace.store
    assert {r.backend for r in store.runs.recent(50)} == {"llamacpp"}
    card = suite.scorecard.card
    assert card is not None and len(card.variants) == 2 and len(card.cells) == 4
    first_id = suite.evaluation_id
    journey.shot("ran-locally", suite)

    # Run on its own backends: the estimate, and "Don't send" sends nothing.
    seen: list[str] = []

    def refuse(dialog: QWidget) -> None:
        assert isinstance(dialog, QMessageBox)
        seen.append(f"{dialog.text()}\n{dialog.informativeText()}")
        journey.shot("asks-before-sending", dialog)
        _click(qtbot, next(b for b in dialog.buttons() if b.text() == "Don't send"))

    runs_before = store.runs.count()
    suite.backend_box.setCurrentIndex(suite.backend_box.findText(OWN))
    with_modal(qtbot, refuse, lambda: _click(qtbot, suite.run_button))
    qtbot.waitUntil(lambda: suite.status.text().startswith("Nothing was sent"), timeout=30_000)
    (asked,) = seen
    assert "would send 8 calls" in asked and "api.openai.com" in asked
    assert "output tokens" in asked
    assert store.runs.count() == runs_before
    assert egress == []

    # The scorecard: a failing cell, opened with the mouse, says why.
    fails = sorted(k for k, c in card.cells.items() if c.status == "fail")
    assert fails, f"the 135M model translated everything exactly: {card.cells}"
    variant, test, _repeat = fails[0]
    grid = suite.scorecard.grid
    rect = grid.visualItemRect(grid.item(test, variant))
    with qtbot.waitSignal(suite.scorecard.cellOpened, timeout=10_000):
        _click_at(qtbot, grid.viewport(), rect.center())
    drill = suite.scorecard.drill
    assert drill.detail is not None and "✗ fail" in drill.heading.text()
    assert drill.output.toPlainText() == drill.detail.output
    # promptfoo's tests have no expected output: the diff is against what the assertion wants.
    assert drill.diff.left.currentText() in ("expected (contains)", "expected (icontains)")
    assert drill.diff.diff is not None and not drill.diff.diff.identical
    reasons = [drill.reasons.topLevelItem(i) for i in range(drill.reasons.topLevelItemCount())]
    assert reasons and all(r.text(3) for r in reasons)
    assert any(r.text(1) == "✗ fail" for r in reasons)
    drill.tabs.setCurrentIndex(1)  # the diff against the expected output
    journey.shot("failing-cell", suite)

    # Change the prompt (the config is the person's file) and run again on the local model.
    config.write_text(config.read_text(encoding="utf-8").replace(OLD_PROMPT, NEW_PROMPT),
                      encoding="utf-8")
    suite.backend_box.setCurrentIndex(suite.backend_box.findData("llamacpp"))
    _click(qtbot, suite.run_button)
    qtbot.waitUntil(lambda: suite.evaluation_id != first_id, timeout=10_000)
    _finished(qtbot, suite)
    second_id = suite.evaluation_id
    after = suite.scorecard.card
    assert after is not None and after is not card
    assert any("Translate into" in v.label for v in after.variants), after.variants
    # Which cases got better or worse than the earlier run.
    regression = suite.scorecard.regression
    assert regression.isVisible()
    text = regression.text()
    assert f"evaluation {first_id}" in text and "better" in text and "worse" in text
    counts = re.search(r"▲ (\d+) better.*▼ (\d+) worse.* (\d+) unchanged", text)
    assert counts is not None and sum(map(int, counts.groups())) == 4, text
    journey.shot("regression-check", suite)
    assert egress == []

    # Restart: both evaluations are in Tools ▸ Experiments…, and one reopens with its cells.
    window = journey.restart()
    menu_action(window, "Experiments").trigger()
    (browser,) = [w for w in window.child_windows if isinstance(w, ExperimentsBrowser)]
    qtbot.waitExposed(browser)
    qtbot.waitUntil(lambda: {o.id for o in browser.shown()} >= {first_id, second_id},
                    timeout=10_000)
    browser.kind_box.setFocus()
    qtbot.keyClick(browser.kind_box, Qt.Key.Key_End)  # Evaluations
    qtbot.waitUntil(lambda: [o.kind for o in browser.shown()] == ["eval", "eval"])
    journey.shot("experiments", browser)
    row = next(r for r, o in enumerate(browser.shown()) if o.id == second_id)
    browser.view.setFocus()
    browser.view.setCurrentIndex(browser.proxy.index(row, 1))
    qtbot.keyClick(browser.view, Qt.Key.Key_Return)
    saved = next(w for w in window.child_windows if isinstance(w, SavedEvaluationWindow))
    qtbot.waitExposed(saved)
    qtbot.waitUntil(lambda: saved.loaded is not None, timeout=30_000)
    reopened = saved.scorecard.card
    assert reopened is not None
    assert {k: c.status for k, c in reopened.cells.items()} == {
        k: c.status for k, c in after.cells.items()}
    saved.scorecard.open_cell(0, 0)
    assert saved.scorecard.drill.detail is not None
    journey.shot("reopened", saved)
    assert egress == []
    QApplication.processEvents()


def _click_at(qtbot: QtBot, widget: QWidget, pos: Any) -> None:
    qtbot.mouseClick(widget, Qt.MouseButton.LeftButton, pos=pos)
