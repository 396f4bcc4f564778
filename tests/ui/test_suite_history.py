"""The suite's history window: the trend per evaluation, each case across runs, pinning a
baseline and the latest evaluation checked against it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCharts import QAreaSeries, QLineSeries
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from tests.ui.runs import screenshot
from workbench.backends.config import BackendConfig, save_configs
from workbench.services.eval_history import suite_key
from workbench.services.workspace import Workspace
from workbench.ui.evaluation.suite_window import SuiteWindow

ROWS = 8


def answering(name: str, *rows: int) -> BackendConfig:
    text = " ".join(f"[{n}]" for n in rows)
    return BackendConfig(name=name, backend="scripted", options={"script": [{"text": text}]})


@pytest.fixture
def workspace() -> Iterator[Workspace]:
    save_configs(
        {
            "good": answering("good", *range(1, ROWS + 1)),
            "bad": answering("bad", *range(7, ROWS + 1)),  # rows 1-6 fail
        }
    )
    workspace = Workspace()
    yield workspace
    workspace.close()


def test_pin_a_baseline_and_see_the_regression(
    qtbot: QtBot, workspace: Workspace, tmp_path: Path
) -> None:
    tests = "\n".join(
        f'  - {{vars: {{n: "{n}"}}, assert: [{{type: contains, value: "[{n}]"}}]}}'
        for n in range(1, ROWS + 1)
    )
    suite = tmp_path / "tags.yaml"
    suite.write_text(
        "name: tags\nvariants:\n  - {label: v, prompt: 'Tag {{ n }}', backend: good}\n"
        f"tests:\n{tests}\n",
        encoding="utf-8",
    )
    window = SuiteWindow(workspace, suite, backends=["good", "bad"])
    qtbot.addWidget(window)
    window.resize(1100, 700)
    window.show()

    def done() -> bool:
        return window.scorecard.isVisible() and window.run_button.isEnabled()

    qtbot.waitUntil(done, timeout=60_000)
    first = window.evaluation_id
    assert workspace.store.suites.evaluations(suite_key(suite))[0].experiment_id == first
    history = window.show_history()
    qtbot.waitUntil(lambda: history.trend.rowCount() == 1, timeout=30_000)
    assert "1 evaluation of tags.yaml" in history.status.text()
    assert not history.pin_button.isEnabled()
    history.trend.selectRow(0)
    qtbot.mouseClick(history.pin_button, Qt.MouseButton.LeftButton)
    assert workspace.store.suites.baseline(suite_key(suite)) == first
    qtbot.waitUntil(lambda: "★ baseline" in (history.trend.item(0, 0) or _none()).text(),
                    timeout=30_000)

    window.backend_box.setCurrentIndex(window.backend_box.findData("bad"))
    qtbot.mouseClick(window.run_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.evaluation_id != first and done(), timeout=60_000)
    qtbot.waitUntil(lambda: history.trend.rowCount() == 2 and history.check.isVisible(),
                    timeout=30_000)
    assert "6 pass -> fail" in history.check.text()
    assert "significant regression" in history.check.text()
    assert "no significant" not in history.check.text()
    assert history.cases.rowCount() == ROWS and history.cases.columnCount() == 4
    movements = [history.cases.item(r, 3).text() for r in range(ROWS)]  # type: ignore[union-attr]
    assert movements == ["worse"] * 6 + ["unchanged"] * 2
    marks = [history.cases.item(0, c).text() for c in (1, 2)]  # type: ignore[union-attr]
    assert marks == ["✓", "✗"]
    assert history.trend.item(1, 3).text().startswith("25%")  # type: ignore[union-attr]
    lines = {s.name(): [(p.x(), p.y()) for p in s.points()]
             for s in history.chart.chart().series() if isinstance(s, QLineSeries)}
    assert lines == {"v": [(1.0, 100.0)], "v · bad": [(2.0, 25.0)]}
    bands = [s for s in history.chart.chart().series() if isinstance(s, QAreaSeries)]
    assert len(bands) == 2
    lower = bands[1].lowerSeries()
    assert lower is not None and 0 < lower.points()[0].y() < 25  # the Wilson interval's low end
    history.tabs.setCurrentIndex(2)
    screenshot(history, "suite-history-cases")


def _none() -> object:
    class Empty:
        @staticmethod
        def text() -> str:
            return ""

    return Empty()
