"""Generate rows…: from the dataset editor, a scripted model proposes rows; a person unticks one,
edits a cell and keeps the rest, which land in the dataset. A remote backend asks first."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QApplication, QMessageBox
from pytestqt.qtbot import QtBot

from tests.ui.runs import screenshot
from workbench.backends.config import BackendConfig
from workbench.core.experiments import TestCase
from workbench.services.runner import Runner
from workbench.storage.repositories import Store
from workbench.storage.writer import StoreWriter
from workbench.ui.evaluation.dataset_view import DatasetView
from workbench.ui.evaluation.generate_rows import GenerateRowsDialog

ANSWER = {"rows": [
    {"text": "Good morning", "language": "German"},
    {"text": "Where is the station?", "language": "Italian"},
    {"text": "hello   WORLD", "language": "french"},  # already in the dataset
    {"text": "Thank you very much", "language": "Japanese"},
]}


@pytest.fixture
def runner(tmp_path: Path) -> Iterator[tuple[Runner, Store]]:
    configs = {
        "rows": BackendConfig(name="rows", backend="scripted",
                              options={"script": [{"text": json.dumps(ANSWER)}]}),
        "cloud": BackendConfig(name="cloud", backend="openai_compat",
                               options={"base_url": "https://api.example.com/v1"}),
    }
    with Store.open(tmp_path / "gen.db") as store, StoreWriter(store) as writer:
        run = Runner(writer=writer, configs=configs)
        yield run, store
        run.close()


def _open(qtbot: QtBot, runner: Runner,
          backends: tuple[str, ...] = ("rows", "cloud")) -> tuple[DatasetView, GenerateRowsDialog]:
    view = DatasetView([TestCase(vars={"text": "Hello world", "language": "French"},
                                 expected="Bonjour le monde")])
    qtbot.addWidget(view)
    view.resize(900, 320)
    view.show()
    view.enable_generation(runner, backends)
    qtbot.mouseClick(view.generate, Qt.MouseButton.LeftButton)
    dialog = view.generator
    assert dialog is not None and dialog.isVisible()
    return view, dialog


def test_generated_rows_are_reviewed_edited_and_kept(
    qtbot: QtBot, runner: tuple[Runner, Store]
) -> None:
    run, store = runner
    view, dialog = _open(qtbot, run)
    assert dialog.backend.currentData() == "llamacpp"  # the local model by default
    assert dialog.prompt.isHidden()  # the generation prompt is there, collapsed
    qtbot.keyClicks(dialog.description, "phrases a traveller needs")
    dialog.count.setValue(4)
    qtbot.mouseClick(dialog.prompt_toggle, Qt.MouseButton.LeftButton)
    assert dialog.prompt.isVisible()
    prompt = dialog.prompt.toPlainText()
    assert "Write 4 varied test cases" in prompt and "phrases a traveller needs" in prompt
    assert '"text", "language"' in prompt
    dialog.prompt.appendPlainText("Keep every phrase under six words.")  # an edit is sent as is
    dialog.backend.setCurrentIndex(dialog.backend.findData("rows"))
    qtbot.mouseClick(dialog.generate_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.table.rowCount() == 3, timeout=30_000)

    # The script answers the same every time: the missing row is asked for twice more, in vain.
    assert "3 rows of 4 asked for in 3 rounds" in dialog.status.text()
    assert "9 duplicates dropped (3 already in the dataset)" in dialog.status.text()
    assert len(store.runs.ids()) == 3
    for run_id in store.runs.ids():
        sent = store.runs.get(run_id).result.request.messages[0].content
        assert sent.endswith("Keep every phrase under six words.")
    dialog.table.item(1, 0).setCheckState(Qt.CheckState.Unchecked)  # not this one
    dialog.table.item(2, 2).setText("Korean")  # Thank you very much: in Korean instead
    screenshot(dialog, "generate-rows-review")
    qtbot.mouseClick(dialog.keep_button, Qt.MouseButton.LeftButton)

    assert not dialog.isVisible()
    assert [r.vars for r in view.rows()] == [
        {"text": "Hello world", "language": "French"},
        {"text": "Good morning", "language": "German"},
        {"text": "Thank you very much", "language": "Korean"},
    ]
    assert "3 rows" in view.count.text()


def test_a_remote_backend_asks_and_dont_send_sends_nothing(
    qtbot: QtBot, runner: tuple[Runner, Store]
) -> None:
    run, store = runner
    _view, dialog = _open(qtbot, run)
    qtbot.keyClicks(dialog.description, "greetings")
    dialog.backend.setCurrentIndex(dialog.backend.findData("cloud"))
    seen: list[str] = []

    def answer() -> None:
        box = QApplication.activeModalWidget()
        if not isinstance(box, QMessageBox):
            return
        timer.stop()
        seen.append(f"{box.text()}\n{box.informativeText()}")
        keep = next(b for b in box.buttons() if b.text() == "Don't send")
        qtbot.mouseClick(keep, Qt.MouseButton.LeftButton)

    timer = QTimer()
    timer.timeout.connect(answer)
    timer.start(50)
    qtbot.mouseClick(dialog.generate_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.status.text().startswith("Nothing was sent"), timeout=30_000)
    assert len(seen) == 1 and "Generating rows would send 1 call" in seen[0]
    assert "api.example.com" in seen[0]
    assert store.runs.count() == 0 and dialog.generate_button.isEnabled()


def test_generating_can_be_cancelled(qtbot: QtBot, tmp_path: Path) -> None:
    configs = {"slow": BackendConfig(name="slow", backend="scripted", options={
        "script": [{"delay_s": 30}, {"text": json.dumps(ANSWER)}]})}
    with Store.open(tmp_path / "slow.db") as store, StoreWriter(store) as writer:
        run = Runner(writer=writer, configs=configs)
        try:
            _view, dialog = _open(qtbot, run, ("slow",))
            qtbot.keyClicks(dialog.description, "greetings")
            dialog.backend.setCurrentIndex(dialog.backend.findData("slow"))
            qtbot.mouseClick(dialog.generate_button, Qt.MouseButton.LeftButton)
            qtbot.waitUntil(lambda: dialog.progress.isVisible(), timeout=10_000)
            dialog.progress.cancel_action.trigger()
            qtbot.waitUntil(lambda: dialog.generate_button.isEnabled(), timeout=10_000)
            assert dialog.table.rowCount() == 0
        finally:
            run.close()


def test_a_sweep_gets_variable_sets_generated_for_its_template(
    qtbot: QtBot, tmp_path: Path
) -> None:
    """The sweep's variable sets are where rows of values are typed in the main window: Generate…
    there proposes sets for the template's variables and adds the ones kept."""
    from tests.ui.test_compare_view import variant
    from tests.ui.test_sweep_axes import choose
    from workbench.ui.compare.sweep_view import SweepView

    countries = {"rows": [{"country": c} for c in ("Peru", "Japan", "peru", "Chad")]}
    configs = {"countries": BackendConfig(name="countries", backend="scripted", options={
        "script": [{"text": json.dumps(countries)}], "models": ["countries"]})}
    with Store.open(tmp_path / "sweep.db") as store, StoreWriter(store) as writer:
        run = Runner(writer=writer, configs=configs)
        view = SweepView(run)
        qtbot.addWidget(view)
        try:
            view.resize(1200, 800)
            view.show()
            view.set_backends(["countries"])
            view.set_base(variant("countries"))
            choose(qtbot, view.rows, "variable set")
            sets = view.rows.sets
            assert sets.generate_button.isVisible()
            qtbot.mouseClick(sets.generate_button, Qt.MouseButton.LeftButton)
            dialog = sets.generator
            assert dialog is not None
            assert dialog.backend.findData("countries") > 0  # the configured backends
            qtbot.keyClicks(dialog.description, "countries of every continent")
            dialog.count.setValue(4)
            dialog.backend.setCurrentIndex(dialog.backend.findData("countries"))
            qtbot.mouseClick(dialog.generate_button, Qt.MouseButton.LeftButton)
            qtbot.waitUntil(lambda: dialog.table.rowCount() == 3, timeout=30_000)
            qtbot.mouseClick(dialog.keep_button, Qt.MouseButton.LeftButton)
            assert [s.vars for s in sets.sets()] == [
                {"country": "Peru"}, {"country": "Japan"}, {"country": "Chad"}]
            assert sets.note.text() == "3 sets generated"
        finally:
            assert view.shutdown(10)
            run.close()
