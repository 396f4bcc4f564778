"""The history panel over a real SQLite run store: list, search, empty states, activation."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from tests.ui.runs import screenshot
from workbench.core.models import RenderedMessage, RunResult, SentRequest, Timings
from workbench.storage.repositories import Store
from workbench.ui import theming
from workbench.ui.widgets.history_panel import (
    HistoryPanel,
    HistoryRow,
    format_time,
    repository_source,
)

pytestmark = pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints")


def result(prompt: str, answer: str, *, backend: str = "llamacpp", finish: str = "stop",
           error_kind: str | None = None, total_s: float = 1.25) -> RunResult:
    return RunResult(
        request=SentRequest(backend=backend, model="smollm2-135m-instruct",
                            messages=[RenderedMessage(role="user", content=prompt)]),
        text=answer,
        finish_reason=finish,  # type: ignore[arg-type]
        timings=Timings(total_s=total_s),
        error=f"{error_kind}: failed" if error_kind else None,
        error_kind=error_kind,
    )


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    store = Store.open(tmp_path / "workbench.db")
    store.runs.add(result("Summarize the invoice dispute in 3 bullets", "- refund\n- late fee"))
    store.runs.add(result("Translate 'good morning' to French", "Bonjour",
                          backend="openai_compat", total_s=0.4))
    store.runs.add(result("Summarize the outage ticket", "", finish="error",
                          error_kind="ConnectError"))
    store.runs.add(result("Write a haiku about invoices", "Paper", finish="cancelled"))
    yield store
    store.close()


@pytest.fixture
def panel(qtbot: QtBot, qapp: QApplication, store: Store) -> Iterator[HistoryPanel]:
    saved = qapp.palette()
    theming.install(qapp, "light")
    panel = HistoryPanel(repository_source(store.runs))
    qtbot.addWidget(panel)
    panel.resize(420, 260)
    panel.show()
    qtbot.waitExposed(panel)
    panel.refresh()
    qtbot.waitUntil(lambda: len(panel.run_ids()) == 4, timeout=5_000)
    yield panel
    qapp.setPalette(saved)


def labels(panel: HistoryPanel) -> list[str]:
    return [row.label for row in panel.model.rows]


def test_lists_runs_newest_first_with_status_and_backend(panel: HistoryPanel) -> None:
    assert labels(panel) == [
        "Write a haiku about invoices",
        "Summarize the outage ticket",
        "Translate 'good morning' to French",
        "Summarize the invoice dispute in 3 bullets",
    ]
    model = panel.model
    marks = [model.index(r, 1).data() for r in range(4)]
    assert marks == ["⊘", "✗", "✓", "✓"]
    assert model.index(2, 6).data() == "openai_compat · smollm2-135m-instruct"
    assert model.index(2, 8).data() == "400 ms"
    assert model.index(0, 8).data(Qt.ItemDataRole.TextAlignmentRole) & Qt.AlignmentFlag.AlignRight
    assert "ConnectError" in model.index(1, 0).data(Qt.ItemDataRole.ToolTipRole)
    assert "failed run" in model.index(1, 1).data(Qt.ItemDataRole.AccessibleTextRole)
    screenshot(panel, "history-light")


def test_search_filters_and_says_when_nothing_matches(qtbot: QtBot, panel: HistoryPanel) -> None:
    panel.search.setFocus()
    qtbot.keyClicks(panel.search, "summarize")
    qtbot.waitUntil(lambda: len(panel.run_ids()) == 2, timeout=5_000)
    assert labels(panel) == ["Summarize the outage ticket",
                             "Summarize the invoice dispute in 3 bullets"]
    qtbot.keyClicks(panel.search, " refund")  # matches the output of one run
    qtbot.waitUntil(lambda: len(panel.run_ids()) == 1, timeout=5_000)
    assert labels(panel) == ["Summarize the invoice dispute in 3 bullets"]
    assert "[" in (panel.model.rows[0].snippet or "")  # the matching passage, marked

    panel.search.clear()
    qtbot.keyClicks(panel.search, "zebra")
    qtbot.waitUntil(lambda: panel.empty.isVisible(), timeout=5_000)
    assert panel.empty.text() == "No run matches “zebra”."
    assert not panel.view.isVisible()
    panel.search.clear()
    qtbot.waitUntil(lambda: len(panel.run_ids()) == 4, timeout=5_000)


def test_enter_or_double_click_restores_a_run(qtbot: QtBot, panel: HistoryPanel,
                                              store: Store) -> None:
    expected = store.runs.recent()[2].id
    panel.view.setFocus()
    panel.view.setCurrentIndex(panel.model.index(2, 0))
    with qtbot.waitSignal(panel.runActivated, timeout=1_000) as activated:
        qtbot.keyClick(panel.view, Qt.Key.Key_Return)
    assert activated.args == [expected]


def test_new_runs_appear_on_refresh(qtbot: QtBot, panel: HistoryPanel, store: Store) -> None:
    store.runs.add(result("Classify this email", "spam"))
    panel.refresh()
    qtbot.waitUntil(lambda: len(panel.run_ids()) == 5, timeout=5_000)
    assert labels(panel)[0] == "Classify this email"


def test_empty_history_says_what_to_do(qtbot: QtBot, tmp_path: Path) -> None:
    with Store.open(tmp_path / "empty.db") as empty:
        panel = HistoryPanel(repository_source(empty.runs))
        qtbot.addWidget(panel)
        panel.show()
        panel.refresh()
        qtbot.waitUntil(lambda: not panel.busy, timeout=5_000)
        assert "No runs yet" in panel.empty.text() and "Ctrl+Enter" in panel.empty.text()


def test_row_labels_and_times() -> None:
    row = HistoryRow("id", "2026-01-01T12:00:00+00:00", "ok", "llamacpp", template="triage",
                     version="7")
    assert row.label == "triage v7"
    # runs of one template told apart by their values; an unsaved edit's runs say so
    filled = HistoryRow("id", "2026-01-01T12:00:00+00:00", "ok", "llamacpp", template="triage",
                        values={"ticket": "Printer\n on   fire since the weekend", "team": ""})
    assert filled.label == "triage (unsaved) · Printer on fire since t…"
    now = datetime.fromisoformat("2026-06-15T18:00:00+00:00").astimezone()
    assert format_time(now.isoformat(), now) == now.strftime("%H:%M")
    earlier = now - timedelta(days=40)
    assert format_time(earlier.isoformat(), now).startswith(earlier.strftime("%b"))
    assert format_time("2020-05-06T01:02:03+00:00", now) == "2020-05-06"


def test_filters_tell_hand_compare_and_evaluation_runs_apart(
    qtbot: QtBot, qapp: QApplication, tmp_path: Path
) -> None:
    """Each row names its template and version, output, backend and model, key parameters,
    rating and source; the filters narrow to one source, template, backend or rating."""
    from workbench.core.experiments import ExperimentSpec, TestCase, Variant
    from workbench.core.models import Message, PromptTemplate
    from workbench.storage.repositories import RunRef

    saved = qapp.palette()
    theming.install(qapp, "light")
    store = Store.open(tmp_path / "filters.db")
    template = PromptTemplate(name="triage", messages=[Message(role="user", content="{{ q }}")])
    variant = Variant(label="A", template=template)
    compare = store.experiments.create(ExperimentSpec(name="c", variants=[variant]), "compare")
    evaluation = store.experiments.create(ExperimentSpec(
        name="e", variants=[variant], tests=[TestCase(vars={"q": "x"})]))
    tuned = result("Classify: printer on fire", "urgent: hardware")
    tuned.request = tuned.request.model_copy(update={
        "sent_params": {"temperature": 0.7, "max_tokens": 256}, "backend_name": "box"})
    hand = store.runs.add(tuned, RunRef(template_key="support/triage", template_version=3))
    in_compare = store.runs.add(result("Classify: refund", "billing"),
                                RunRef(compare.id, compare.variant_ids[0]))
    store.runs.add(result("Classify: x", "other"),
                   RunRef(evaluation.id, evaluation.variant_ids[0], evaluation.test_ids[0]))
    store.ratings.rate(in_compare, thumbs=1, stars=4)
    panel = HistoryPanel(repository_source(store.runs))
    qtbot.addWidget(panel)
    panel.resize(800, 320)
    panel.show()
    panel.refresh()
    qtbot.waitUntil(lambda: len(panel.run_ids()) == 3, timeout=5_000)
    model = panel.model
    row = {model.rows[r].run_id: [model.index(r, c).data() for c in range(9)] for r in range(3)}
    assert row[hand][2:8] == ["support/triage v3", "urgent: hardware", "", "hand",
                              "box · smollm2-135m-instruct", "T 0.7 · max 256"]
    assert row[in_compare][4:6] == ["▲ ★4", "compare"]

    filters = panel.filters
    filters.source.setFocus()
    qtbot.keyClick(filters.source, Qt.Key.Key_Down)  # All sources -> By hand
    qtbot.waitUntil(lambda: panel.run_ids() == [hand], timeout=5_000)
    qtbot.keyClick(filters.source, Qt.Key.Key_Down)  # -> Compare
    qtbot.waitUntil(lambda: panel.run_ids() == [in_compare], timeout=5_000)
    qtbot.keyClick(filters.source, Qt.Key.Key_Home)  # -> All sources
    assert [filters.template.itemText(i) for i in range(filters.template.count())] == [
        "All templates", "support/triage"]
    assert filters.backend.findText("box") > 0
    filters.rating.setFocus()
    qtbot.keyClick(filters.rating, Qt.Key.Key_Down)  # Any rating -> Rated
    qtbot.waitUntil(lambda: panel.run_ids() == [in_compare], timeout=5_000)
    screenshot(panel, "history-filtered")
    qtbot.keyClick(filters.rating, Qt.Key.Key_End)  # -> Not rated
    qtbot.waitUntil(lambda: len(panel.run_ids()) == 2, timeout=5_000)
    assert "Rating" not in panel.visible_columns()  # empty on every row shown
    filters.template.setFocus()
    qtbot.keyClick(filters.template, Qt.Key.Key_Down)  # -> support/triage
    qtbot.waitUntil(lambda: panel.run_ids() == [hand], timeout=5_000)
    qtbot.keyClicks(panel.search, "refund")  # a compare run: not of this template
    qtbot.waitUntil(lambda: panel.empty.isVisible(), timeout=5_000)
    assert panel.empty.text() == "No run matches “refund” with these filters."
    panel.search.clear()
    qtbot.keyClick(filters.template, Qt.Key.Key_Home)
    qtbot.keyClick(filters.rating, Qt.Key.Key_Home)
    qtbot.waitUntil(lambda: len(panel.run_ids()) == 3, timeout=5_000)
    screenshot(panel, "history-columns")
    assert panel.visible_columns() == list(model.COLUMNS)  # 800 px: every column
    # In a narrow dock the columns that do not fit are hidden from the right (their values are
    # in the row's tooltip), never scrolled sideways.
    panel.resize(300, 320)
    qtbot.waitUntil(lambda: panel.visible_columns()[-1] != "Took")
    assert panel.visible_columns()[:4] == ["Time", "", "Prompt", "Output"]
    assert not panel.view.horizontalScrollBar().isVisible()
    assert "T 0.7 · max 256" in model.index(2, 2).data(Qt.ItemDataRole.ToolTipRole)
    screenshot(panel, "history-narrow")
    panel.close()
    store.close()
    qapp.setPalette(saved)
