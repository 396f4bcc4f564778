"""The scorecard and its drill-down, driven like a person would, with screenshots."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCharts import QBarCategoryAxis
from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from tests.ui.runs import screenshot
from workbench.backends.config import BackendConfig
from workbench.core.experiments import AssertionSpec, ExperimentSpec, TestCase, Variant
from workbench.core.models import Message, PromptTemplate
from workbench.services.evaluation import Evaluation, rerun
from workbench.services.runner import Runner
from workbench.services.scorecard import Criterion, Scorecard, compare
from workbench.storage.repositories import Store
from workbench.storage.writer import StoreWriter
from workbench.ui import theming
from workbench.ui.evaluation.scorecard_view import ScorecardView

TEMPLATE = PromptTemplate(
    name="translate", messages=[Message(role="user", content="Translate to French: {{ text }}")]
)
ROWS = [
    ("Hello world", "Bonjour le monde"),
    ("Good morning world", "Bonjour tout le monde"),
    ("The library", "La bibliothèque"),
    ("Thank you", "Merci beaucoup"),
]


def scripted(name: str, *steps: dict[str, object]) -> BackendConfig:
    return BackendConfig(name=name, backend="scripted", options={"script": list(steps)})


@pytest.fixture
def evaluation(tmp_path: Path) -> Iterator[tuple[Evaluation, Scorecard]]:
    configs = {
        "terse": scripted("terse", {"text": "Bonjour le monde"}),
        "chatty": scripted("chatty", {"text": "Sure! Here it is: Bonjour, le monde."}),
        "down": scripted("down", {"error": "connection refused", "error_kind": "ConnectError"}),
    }
    spec = ExperimentSpec(
        name="translate",
        variants=[
            Variant(label="terse", template=TEMPLATE, backend="terse"),
            Variant(label="chatty", template=TEMPLATE, backend="chatty"),
            Variant(label="offline", template=TEMPLATE, backend="down"),
        ],
        tests=[TestCase(vars={"text": a}, expected=b) for a, b in ROWS],
        default_assertions=[
            AssertionSpec(type="icontains", value="monde"),
            AssertionSpec(type="edit-similarity", threshold=0.6, metric="closeness"),
            AssertionSpec(type="starts-with", value="Sure", negate=True),
        ],
    )
    with Store.open(tmp_path / "eval.db") as store, StoreWriter(store) as writer:
        runner = Runner(writer=writer, configs=configs)
        evaluation = Evaluation.create(store, spec, runner)
        card = evaluation.run()
        card.check([Criterion.parse("pass_rate >= 0.5"), Criterion.parse("error_rate <= 0")])
        yield evaluation, card
        runner.close()


def show(qtbot: QtBot, evaluation: Evaluation, card: Scorecard) -> ScorecardView:
    view = ScorecardView()
    qtbot.addWidget(view)
    view.resize(1280, 900)
    view.set_scorecard(
        card,
        rows=[t.vars["text"] for t in evaluation.spec.tests],
        details=evaluation.detail,
    )
    view.show()
    qtbot.waitExposed(view)
    return view


def test_scorecard_shows_rates_intervals_errors_and_criteria(
    qtbot: QtBot, evaluation: tuple[Evaluation, Scorecard]
) -> None:
    ev, card = evaluation
    view = show(qtbot, ev, card)
    terse = view.summary.topLevelItem(0)
    assert terse.text(0) == "terse"
    assert terse.text(1).startswith("50%  [")  # 2 of 4 rows contain "monde"... and are close
    offline = view.summary.topLevelItem(2)
    assert (offline.text(1), offline.text(3), offline.text(4), offline.text(5)) == (
        "–",
        "0",
        "0",
        "4",
    )
    children = [terse.child(i).text(0) for i in range(terse.childCount())]
    assert children == ["icontains", "closeness", "not-starts-with"]
    badges = [b.text() for b in view.criteria.badges]
    assert "✓ pass_rate >= 0.5 · terse" in badges
    assert "✗ error_rate <= 0 · offline" in badges
    assert view.grid.rowCount() == 4 and view.grid.columnCount() == 3
    assert view.grid.item(0, 0).text().startswith("✓")
    assert view.grid.item(0, 2).text() == "⚠"
    assert view.bars.chart().series() and view.histogram.chart().series()
    screenshot(view, "scorecard")


def test_clicking_a_cell_opens_output_diff_and_reasons(
    qtbot: QtBot, evaluation: tuple[Evaluation, Scorecard]
) -> None:
    ev, card = evaluation
    view = show(qtbot, ev, card)
    rect = view.grid.visualItemRect(view.grid.item(1, 1))
    with qtbot.waitSignal(view.cellOpened, timeout=5000) as opened:
        qtbot.mouseClick(view.grid.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert opened.args == [1, 1, 0]
    drill = view.drill
    assert drill.output.toPlainText() == "Sure! Here it is: Bonjour, le monde."
    assert "Row 2 · chatty" in drill.heading.text() and "fail" in drill.heading.text()
    assert drill.diff.diff is not None and not drill.diff.diff.identical
    assert drill.diff.left.currentText() == "expected"
    assert drill.diff.right.currentText() == "output"
    reasons = [drill.reasons.topLevelItem(i) for i in range(drill.reasons.topLevelItemCount())]
    assert [r.text(0) for r in reasons] == [
        "icontains",
        "edit-similarity (closeness)",
        "not-starts-with",
    ]
    assert reasons[2].text(1) == "✗ fail" and reasons[2].text(3).startswith("not:")
    assert all(r.text(3) for r in reasons)
    drill.tabs.setCurrentIndex(1)
    screenshot(view, "scorecard-drilldown-diff")


def test_an_errored_cell_shows_the_backend_error(
    qtbot: QtBot, evaluation: tuple[Evaluation, Scorecard]
) -> None:
    ev, card = evaluation
    view = show(qtbot, ev, card)
    with qtbot.waitSignal(view.cellOpened, timeout=5000):
        view.open_cell(2, 0)
    drill = view.drill
    assert "connection refused" in drill.output.toPlainText()
    assert "⚠ error" in drill.heading.text()
    verdicts = {
        drill.reasons.topLevelItem(i).text(1) for i in range(drill.reasons.topLevelItemCount())
    }
    assert verdicts == {"⚠ error"}
    screenshot(view, "scorecard-drilldown-error")


def test_scorecard_reads_in_the_dark_theme(
    qtbot: QtBot, qapp: QApplication, evaluation: tuple[Evaluation, Scorecard]
) -> None:
    saved = qapp.palette()
    theming.install(qapp, "dark")
    try:
        ev, card = evaluation
        view = show(qtbot, ev, card)
        chart = view.bars.chart()
        assert chart.backgroundBrush().color() == view.palette().color(QPalette.ColorRole.Base)
        assert chart.titleBrush().color() == view.palette().color(QPalette.ColorRole.WindowText)
        with qtbot.waitSignal(view.cellOpened, timeout=5000):
            view.open_cell(1, 0)
        screenshot(view, "scorecard-dark")
    finally:
        theme = qapp.findChild(theming.Theme)
        if theme is not None:
            theme.set_mode("light")
        qapp.setPalette(saved)


def test_the_regression_check_marks_cells_that_got_better_or_worse(
    qtbot: QtBot, evaluation: tuple[Evaluation, Scorecard]
) -> None:
    ev, card = evaluation
    candidate = rerun(ev, backend="terse")  # every variant now answers tersely
    after = candidate.run()
    view = show(qtbot, candidate, after)
    report = compare(card, after)
    view.show_regression(report, "the first run")
    assert view.regression.isVisible()
    text = view.regression.text()
    assert "▲ 8 better" in text and "▼ 0 worse" in text and "4 unchanged" in text
    assert view.grid.item(0, 1).text().startswith("▲ ✓")
    assert "before (the first run): ✗" in view.grid.item(0, 1).toolTip()
    assert view.grid.item(0, 2).text().startswith("▲ ✓")  # was an error, now judged and passing
    assert not view.grid.item(0, 0).text().startswith(("▲", "▼"))  # terse: unchanged
    screenshot(view, "scorecard-regression")


def test_a_case_without_expected_output_diffs_against_what_its_assertion_wants(
    qtbot: QtBot, tmp_path: Path
) -> None:
    """promptfoo tests have no expected output, only assertions ('contains: Bonjour le monde'):
    the diff tab said '(no expected output)' and showed nothing to compare with. It diffs the
    output against the text the first (not negated) text assertion asks for, and says which."""
    spec = ExperimentSpec(
        name="promptfoo-like",
        variants=[Variant(label="chatty", template=TEMPLATE, backend="chatty")],
        tests=[TestCase(vars={"text": "Hello world"}, assertions=[
            AssertionSpec(type="contains", value="Hola", negate=True),
            AssertionSpec(type="contains", value="Bonjour le monde")])],
    )
    configs = {"chatty": scripted("chatty", {"text": "Sure! Here it is: Bonjour, le monde."})}
    with Store.open(tmp_path / "eval.db") as store, StoreWriter(store) as writer:
        runner = Runner(writer=writer, configs=configs)
        evaluation = Evaluation.create(store, spec, runner)
        view = show(qtbot, evaluation, evaluation.run())
        with qtbot.waitSignal(view.cellOpened, timeout=5000):
            view.open_cell(0, 0)
        diff = view.drill.diff
        assert diff.left.currentText() == "expected (contains)"
        assert diff.diff is not None and not diff.diff.identical
        view.drill.tabs.setCurrentIndex(1)
        screenshot(view, "scorecard-drilldown-asserted-text")
        runner.close()


def test_the_drill_down_heading_is_not_covered_and_a_perfect_score_is_charted_at_one(
    qtbot: QtBot, tmp_path: Path
) -> None:
    """A cold start saw a white box over the start of "Click a cell to see its output…" (the
    hidden transcript editor, outside the layout, drawn at (0, 0)) and its 1.00 scores drawn
    over the "0.9" label of the score chart."""
    configs = {"terse": scripted("terse", {"text": "Paris"})}
    spec = ExperimentSpec(
        name="capitals",
        variants=[Variant(label="terse", template=TEMPLATE, backend="terse")],
        tests=[TestCase(vars={"text": c}) for c in ("France", "Japan", "Italy")],
        default_assertions=[AssertionSpec(type="contains", value="Paris")],
    )
    with Store.open(tmp_path / "eval.db") as store, StoreWriter(store) as writer:
        runner = Runner(writer=writer, configs=configs)
        evaluation = Evaluation.create(store, spec, runner)
        card = evaluation.run()
        view = show(qtbot, evaluation, card)
        view.resize(1250, 700)
        drill = view.drill

        def heading_uncovered() -> bool:
            spot = drill.heading.geometry().topLeft() + QPoint(4, 4)
            return drill.childAt(spot) is drill.heading

        assert heading_uncovered()
        qtbot.mouseClick(
            view.grid.viewport(), Qt.MouseButton.LeftButton,
            pos=view.grid.visualRect(view.grid.model().index(0, 0)).center(),
        )
        assert "✓ pass, score 1.00" in drill.heading.text() and heading_uncovered()
        axis = view.histogram.chart().axes(Qt.Orientation.Horizontal)[0]
        assert isinstance(axis, QBarCategoryAxis)
        bars = view.histogram.chart().series()[0].barSets()[0]  # type: ignore[attr-defined]
        full = [axis.categories()[i] for i in range(bars.count()) if bars.at(i)]
        assert full == ["1.0"]  # the bar of the three 1.00 scores
        screenshot(view, "scorecard-perfect-scores")
        runner.close()
