"""File ▸ Import and File ▸ Export in the real window: the file dialog answers with a real file,
the import runs off the GUI thread into the real library, and the report names every problem."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog
from pytestqt.qtbot import QtBot

from tests.ui.windows import close_window, open_window, shot
from workbench.core.templates import render
from workbench.storage.formats import import_file
from workbench.ui.dialogs.import_report import ImportReport
from workbench.ui.main_window import MainWindow

AWESOME = "prompt_library/awesome-chatgpt-prompts-2025-01-06.csv"
TIMEOUT_MS = 60_000


@pytest.fixture
def window(qtbot: QtBot) -> Iterator[MainWindow]:
    window = open_window(qtbot)
    yield window
    close_window(window)


def _choose_file(monkeypatch: pytest.MonkeyPatch, path: Path) -> None:
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(path), ""))


def _import(qtbot: QtBot, window: MainWindow) -> ImportReport:
    """File ▸ Import…, then wait for the report."""
    assert window.transfer.import_action in window.menuBar().actions()[0].menu().actions()
    with qtbot.waitSignal(window.transfer.imported, timeout=TIMEOUT_MS):
        window.transfer.import_action.trigger()
    report = window.transfer.reports[-1]
    qtbot.waitExposed(report)
    return report


def test_a_csv_library_imports_and_opens_from_the_report(
    qtbot: QtBot, window: MainWindow, fixtures_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _choose_file(monkeypatch, fixtures_dir / AWESOME)
    report = _import(qtbot, window)
    assert report.headline.text() == (
        "Imported 175 templates from awesome-chatgpt-prompts-2025-01-06.csv"
    )
    assert "imported/awesome-chatgpt-prompts-2025-01-06" in report.details.text()
    assert report.templates.count() == 175
    assert report.problem_rows() == [  # the file really has this duplicate
        (
            "warning",
            "line 143",
            "'Life Coach' also appears at line 36; both imported",
        )
    ]
    assert len(set(window.library.template_keys()) - {"welcome"}) == 175
    shot(report, "import-report-light")
    item = report.templates.item(1)
    report.templates.itemActivated.emit(item)
    key = item.data(0x0100)
    assert window.key == key and window.version == 1
    assert window.editor.template().name == import_file(fixtures_dir / AWESOME).templates[1].name
    # The same file again: nothing new, every template reported unchanged.
    report.close()
    again = _import(qtbot, window)
    assert "175 templates already in the library unchanged" in again.details.text()


def test_a_malformed_file_names_its_lines_and_keeps_the_library(
    qtbot: QtBot, window: MainWindow, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    hi = [{"role": "user", "content": "hi"}]
    good = {"format_version": 1, "name": "good one", "messages": hi}
    bundle = tmp_path / "team-prompts.json"

    def write(*templates: dict[str, object]) -> None:
        data = {"format_version": 1, "kind": "prompt-workbench-bundle", "templates": templates}
        bundle.write_text(json.dumps(data, indent=2), encoding="utf-8")

    write(good)
    _choose_file(monkeypatch, bundle)
    _import(qtbot, window).close()
    (key,) = set(window.library.template_keys()) - {"welcome"}
    before = window.workspace.library.path_for(key).read_bytes()

    wizard = {"format_version": 1, "name": "bad role", "messages": [{"role": "wizard"}]}
    hot = {"format_version": 1, "name": "good one", "temperature": "hot"}
    write(wizard, hot)
    report = _import(qtbot, window)
    assert report.headline.text() == "Nothing imported from team-prompts.json"
    rows = report.problem_rows()
    assert [severity for severity, _where, _message in rows] == ["error", "error"]
    lines = [int(where.removeprefix("line ")) for _s, where, _m in rows]
    assert lines == sorted(lines) and lines[0] > 1
    assert "'bad role' not imported: messages.0.role" in rows[0][2]
    assert "left out; nothing already in the library was changed" in report.details.text()
    assert set(window.library.template_keys()) == {key, "welcome"}
    assert window.workspace.library.path_for(key).read_bytes() == before
    assert [v.number for v in window.workspace.library.versions(key)] == [1]
    shot(report, "import-report-problems")


def test_export_writes_the_template_and_the_library(
    qtbot: QtBot, window: MainWindow, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from workbench.storage.formats import FORMATS

    out = tmp_path / "one.prompty"
    monkeypatch.setattr(
        QFileDialog,
        "getSaveFileName",
        lambda *a, **k: (str(out), f"{FORMATS['prompty'].description} (*.prompty)"),
    )
    window.transfer.export_action.trigger()
    qtbot.waitUntil(lambda: "Exported 1 template" in window.statusBar().currentMessage())
    (template,) = import_file(out).templates
    # Prompty has no components: they are written into the body, which renders the same.
    assert "parts." not in out.read_text(encoding="utf-8")
    assert render(template) == render(window.editor.template())

    window.workspace.library.save(window.editor.template(), key="kept")
    library_file = tmp_path / "all.yaml"
    worker = window.transfer.export_to(library_file, "bundle-yaml", whole_library=True)
    with qtbot.waitSignal(worker.signals.finished, timeout=TIMEOUT_MS):
        pass
    assert "Exported 2 templates" in window.statusBar().currentMessage()
    back = import_file(library_file)
    names = sorted(t.name for t in back.templates)
    assert names == sorted([template.name, window.workspace.library.load("welcome").name])
    assert sorted(back.keys) == ["kept", "welcome"]  # the library's structure goes along


def test_a_file_of_unknown_format_can_be_read_as_a_chosen_one(
    qtbot: QtBot, window: MainWindow, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    preset = tmp_path / "settings.yaml"  # a text-generation-webui preset, but not by its name
    preset.write_text("temperature: 0.3\ntop_p: 0.9\nfoo: bar\n", encoding="utf-8")
    _choose_file(monkeypatch, preset)
    report = _import(qtbot, window)
    assert report.headline.text() == "Nothing imported from settings.yaml"
    assert report.problem_rows() == [
        ("error", "", "cannot tell the format of 'settings.yaml'")
    ]
    assert report.read_as.isVisible() and "choose it" in report.details.text()
    report.read_as.setCurrentIndex(report.read_as.findData("tgw-preset"))
    with qtbot.waitSignal(window.transfer.imported, timeout=TIMEOUT_MS):
        qtbot.mouseClick(report.read_again, Qt.MouseButton.LeftButton)
    again = window.transfer.reports[-1]
    assert again is not report and not again.read_as.isVisible()
    assert again.headline.text() == "Imported 1 preset from settings.yaml"
    assert again.problem_rows()[0][:2] == ("warning", "line 3", )


def test_csv_export_counts_the_rows_and_lists_what_it_left_out(
    qtbot: QtBot, window: MainWindow, tmp_path: Path
) -> None:
    """A CSV row holds one prompt: a template with several messages is left out. The status
    counted every template ("Exported 3" for 2 rows) and said nothing more; the count is the
    rows written and a dialog names each template left out and why."""
    import csv

    from workbench.core.models import Message, PromptTemplate

    library = window.workspace.library
    library.save(PromptTemplate(name="reviewer", messages=[
        Message(role="system", content="You review code."),
        Message(role="user", content="Review {{ diff }}")]), key="reviewer")
    library.save(PromptTemplate(name="haiku", messages=[
        Message(role="user", content="A haiku about {{ topic }}")]), key="haiku")
    out = tmp_path / "library.csv"
    worker = window.transfer.export_to(out, "csv", whole_library=True)
    with qtbot.waitSignal(worker.signals.finished, timeout=TIMEOUT_MS):
        pass
    with out.open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    assert sorted(r["act"] for r in rows) == ["haiku", window.workspace.library.load(
        "welcome").name]
    message = window.statusBar().currentMessage()
    assert message.startswith(f"Exported 2 templates to {out} · 1 left out"), message
    box = window.transfer.left_out_box
    assert box is not None and box.isVisible()
    assert "1 template could not be written to library.csv (2 templates were)" in box.text()
    assert box.informativeText().startswith("• reviewer: template 'reviewer' has 2 messages")
    shot(box, "export-left-out")
    box.close()


def test_export_a_promptfoo_config_that_renders_the_same_prompt(
    qtbot: QtBot, window: MainWindow, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """File ▸ Export template… offers promptfoo: the editor's prompt with its components
    written in, its backend, parameters and variable values, rendering what the preview sends."""
    from workbench.storage.formats import FORMATS

    out = tmp_path / "welcome.yaml"
    monkeypatch.setattr(
        QFileDialog, "getSaveFileName",
        lambda *a, **k: (str(out), f"{FORMATS['promptfoo'].description} (*.yaml)"),
    )
    window.transfer.export_action.trigger()
    qtbot.waitUntil(lambda: "Exported 1 template" in window.statusBar().currentMessage(),
                    timeout=TIMEOUT_MS)
    text = out.read_text(encoding="utf-8")
    assert "parts." not in text and "llamacpp" in text
    back = import_file(out, "promptfoo")
    assert back.errors == [] and len(back.tests) == 1
    assert render(back.templates[0], back.tests[0].vars) == render(
        window.editor.template(), window.variables.values())


def test_rated_runs_export_as_fine_tuning_jsonl_that_passes_the_check(
    qtbot: QtBot, window: MainWindow, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from workbench.cli import main
    from workbench.core.models import RenderedMessage, RunResult, SentRequest

    def run(question: str, answer: str) -> str:
        request = SentRequest(backend="llamacpp", model="smol", messages=[
            RenderedMessage(role="system", content="Answer briefly."),
            RenderedMessage(role="user", content=question)])
        return window.workspace.store.runs.add(
            RunResult(request=request, text=answer, finish_reason="stop"))

    store = window.workspace.store
    store.ratings.rate(run("Capital of France?", "Paris."), thumbs=1)
    store.ratings.rate(run("Capital of Italy?", "Rome."), stars=5)
    store.ratings.rate(run("Capital of Spain?", "Lisbon."), thumbs=-1)
    run("Capital of Peru?", "Lima.")  # not rated
    out = tmp_path / "rated.jsonl"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(out), ""))
    assert window.transfer.export_rated_action in window.menuBar().actions()[0].menu().actions()
    window.transfer.export_rated_action.trigger()
    qtbot.waitUntil(lambda: "Exported 2 runs" in window.statusBar().currentMessage(),
                    timeout=TIMEOUT_MS)
    lines = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [e["messages"][-1]["content"] for e in lines] == ["Paris.", "Rome."]
    capsys.readouterr()
    assert main(["finetune", "check", str(out)]) == 0
