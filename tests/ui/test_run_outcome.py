"""A run's outcome travels from the runner to the views in one piece: the compare column and the
output view get the stored run's id with the result from the worker's own signal, with no side
channel filled in the worker thread (the compare view once kept a ``RunIdHolder`` per run)."""

from __future__ import annotations

from collections.abc import Callable

from pytestqt.qtbot import QtBot

from tests.ui import test_compare_view as base
from tests.ui.runs import screenshot
from tests.ui.test_compare_view import ANSWERS, run_all, variant
from workbench.core.outcome import RunOutcome
from workbench.services.runner import build_request
from workbench.storage.repositories import RunRef, Store
from workbench.ui.compare.compare_view import CompareView
from workbench.ui.widgets.output_view import OutputView
from workbench.ui.workers import RunManager

manager = base.manager
make_view = base.make_view
VALUES = {"country": "France"}


def test_the_compare_column_gets_each_runs_id_and_outcome_from_its_worker(
    qtbot: QtBot, make_view: Callable[..., CompareView], store: Store
) -> None:
    view = make_view(variant(), variant("lyon"))
    view.repeat_box.setValue(2)
    run_all(qtbot, view)
    stored = {row.id: row for row in store.runs.recent()}
    assert len(stored) == 4
    for column, answer in zip(view.columns, (ANSWERS["paris"], ANSWERS["lyon"]), strict=True):
        for run in column.runs:
            assert run.run_id in stored and stored[run.run_id].status == "ok"
            assert run.result is not None and run.result.text == answer
            assert store.runs.get(run.run_id).result.text == answer
        shown = column.shown
        outcome = column.output.outcome
        assert shown is not None and isinstance(outcome, RunOutcome)
        assert (outcome.run_id, outcome.status, outcome.text) == (shown.run_id, "ok", answer)
        assert column.rating.isEnabled()  # rated by the id the outcome brought
    screenshot(view, "compare-outcome-run-ids")


def test_the_output_view_gets_the_stored_runs_id_with_the_outcome(
    qtbot: QtBot, manager: RunManager, store: Store
) -> None:
    view = OutputView()
    qtbot.addWidget(view)
    request = build_request(base.TEMPLATE, VALUES, backend="paris", model="paris")
    worker = manager.start_run(request, ref=RunRef(variables=VALUES))
    with qtbot.waitSignal(worker.signals.ended, timeout=20_000) as ended:
        view.attach(worker)
    outcome = ended.args[0]
    assert view.outcome is outcome and worker.signals.outcome is outcome
    (row,) = store.runs.recent()
    assert (outcome.run_id, outcome.status) == (row.id, "ok")
    assert view.state == "finished" and view.text() == ANSWERS["paris"] == outcome.text
    view.show_result(outcome.result.model_copy(update={"text": "from history"}))
    assert view.outcome is None  # a past run shown by hand is not the followed run's outcome
