"""Journey 6, library in and out: File ▸ Import… the real awesome-chatgpt-prompts CSV (175 prompts)
with two rows added (a prompt over 128 KB and one whose text holds literal ``{{ }}``); search the
library; open one; edit it and save a version; run it and rate the answer thumbs up in Compare;
export the library to a bundle and to CSV (the left-out dialog names what CSV cannot hold, and
why), the template to a promptfoo config, and the rated run to fine-tuning JSONL that passes
``workbench finetune check``; restart: the library is intact."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QFileDialog
from pytestqt.qtbot import QtBot

from tests.journeys.conftest import RUN_TIMEOUT_MS, Journey, menu_action
from workbench.cli import main
from workbench.core.templates import render
from workbench.storage.formats import FORMATS, import_file
from workbench.ui.compare.compare_view import CompareView
from workbench.ui.main_window import MainWindow

pytestmark = [pytest.mark.slow,
              pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints")]

AWESOME = "prompt_library/awesome-chatgpt-prompts-2025-01-06.csv"
HUGE = "Transcript Summarizer"
BRACES = "Mustache Tutor"
BRACES_BODY = ("I want you to act as a templating tutor. Explain what {{ name }} and "
               "{{#items}}{{.}}{{/items}} do in Mustache, and why {% raw %} matters in Jinja.")
EDIT = " Keep every answer under three sentences."
SYSTEM = "You are a patient tutor."


@pytest.fixture
def library_csv(fixtures_dir: Path, tmp_path: Path) -> Path:
    """The real CSV with a prompt over 128 KB and one with literal braces appended."""
    with (fixtures_dir / AWESOME).open(encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f))
    words = " ".join(f"line {i}: the meeting went on about item {i}." for i in range(4000))
    huge = f"Summarize this transcript in five bullet points:\n{words}"
    assert len(huge.encode()) > 128 * 1024
    rows += [[HUGE, huge], [BRACES, BRACES_BODY]]
    path = tmp_path / "downloads" / "prompts.csv"
    path.parent.mkdir()
    with path.open("w", encoding="utf-8", newline="") as f:
        csv.writer(f).writerows(rows)
    return path


def _export(qtbot: QtBot, window: MainWindow, monkeypatch: pytest.MonkeyPatch, action: str,
            path: Path, fmt: str | None) -> str:
    """File ▸ ``action``: the save dialog answers ``path`` with ``fmt``'s filter chosen."""
    chosen = "" if fmt is None else f"{FORMATS[fmt].description} (*{FORMATS[fmt].suffix})"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(path), chosen))
    window.statusBar().clearMessage()
    menu_action(window, action).trigger()
    qtbot.waitUntil(lambda: window.statusBar().currentMessage().startswith(
        ("Exported", "Cannot")), timeout=RUN_TIMEOUT_MS)
    said = window.statusBar().currentMessage()
    assert said.startswith("Exported") and path.is_file(), said
    return said


def _back_to(qtbot: QtBot, window: MainWindow) -> None:
    """Click back into the main window (its shortcuts reach only the active window)."""
    window.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window)


def _key_named(window: MainWindow, name: str) -> str:
    (key,) = [e.key for e in window.workspace.library.entries() if e.name == name]
    return key


def test_library_in_and_out(qtbot: QtBot, journey: Journey, library_csv: Path, tmp_path: Path,
                            monkeypatch: pytest.MonkeyPatch,
                            capsys: pytest.CaptureFixture[str]) -> None:
    window = journey.start()
    library = window.workspace.library
    before = {e.key for e in library.entries()}

    # File ▸ Import… the CSV: 177 templates, the huge one and the braces intact.
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(library_csv), ""))
    with qtbot.waitSignal(window.transfer.imported, timeout=RUN_TIMEOUT_MS):
        menu_action(window, "Import").trigger()
    report = window.transfer.reports[-1]
    qtbot.waitExposed(report)
    assert report.headline.text() == "Imported 177 templates from prompts.csv"
    journey.shot("import-report", report)
    report.close()
    _back_to(qtbot, window)
    imported = {e.key for e in library.entries()} - before
    assert len(imported) == 177
    huge_key, braces_key = _key_named(window, HUGE), _key_named(window, BRACES)
    huge_body = library.load(huge_key).messages[0].content
    assert len(huge_body.encode()) > 128 * 1024
    assert library.load(braces_key).messages[0].content == BRACES_BODY

    # Search (Ctrl+F) and open one from the list with the keyboard.
    qtbot.keyClick(window.editor, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
    search = window.library.search
    qtbot.waitUntil(search.hasFocus)
    qtbot.keyClicks(search, "mustache")
    qtbot.waitUntil(lambda: window.library.template_keys() == [braces_key], timeout=10_000)
    tree = window.library.tree
    window.library.select(braces_key)
    tree.setFocus()
    qtbot.keyClick(tree, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: window.key == braces_key, timeout=10_000)
    assert window.editor.template().messages[0].content == BRACES_BODY
    assert window.variables.values() == {}  # literal braces are text, not variables
    qtbot.waitUntil(lambda: "templating tutor" in window.preview.messages_view.toPlainText(),
                    timeout=30_000)
    journey.shot("opened-from-search")

    # Edit the prompt and save a version (Ctrl+S).
    editor = window.editor.editor_for("messages[0] (user)")
    assert editor is not None
    editor.setFocus()
    editor.moveCursor(editor.textCursor().MoveOperation.End)
    qtbot.keyClicks(editor, EDIT)
    qtbot.waitUntil(lambda: window.editor.template().messages[0].content.endswith(EDIT))
    # … and a system message above it (so CSV, one prompt per row, cannot hold it any more).
    messages = window.editor.messages
    qtbot.mouseClick(messages.add_button, Qt.MouseButton.LeftButton)
    card = messages.cards[1]
    qtbot.keyClicks(card.editor, SYSTEM)
    card.role.setFocus()
    qtbot.keyClick(card.role, Qt.Key.Key_Home)  # system
    qtbot.mouseClick(card.up, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: [(m.role, m.content) for m in window.editor.template().messages]
                    == [("system", SYSTEM), ("user", BRACES_BODY + EDIT)])
    qtbot.keyClick(window.editor, Qt.Key.Key_S, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: not window.dirty and window.version == 2, timeout=30_000)
    assert [v.number for v in library.versions(braces_key)] == [1, 2]
    assert [m.content for m in library.load(braces_key).messages] == [SYSTEM, BRACES_BODY + EDIT]
    qtbot.waitUntil(lambda: SYSTEM in window.preview.messages_view.toPlainText(),
                    timeout=30_000)
    journey.shot("saved-version-2")

    # Run it in Compare on the local model (a small answer) and rate the answer thumbs up.
    # Greedy, and ended at the first full stop: a run cut off at its token limit is no
    # fine-tuning example (the export leaves those out).
    window.params.rows["max_tokens"].spin.setValue(64)
    window.params.rows["temperature"].spin.setValue(0)
    stops = window.params.stop_editor.entry
    for stop in (".", "\\n"):
        stops.setFocus()
        qtbot.keyClicks(stops, stop)
        qtbot.keyClick(stops, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: window.current_variant().params.stop == [".", "\n"])
    qtbot.keyClick(window.editor, Qt.Key.Key_K, Qt.KeyboardModifier.ControlModifier
                   | Qt.KeyboardModifier.ShiftModifier)
    (compare,) = [w for w in window.child_windows if isinstance(w, CompareView)]
    qtbot.waitExposed(compare)
    with qtbot.waitSignal(compare.runAllFinished, timeout=RUN_TIMEOUT_MS):
        compare.run_all()
    column = compare.columns[0]
    assert column.shown is not None and column.shown.run_id
    assert column.shown.result is not None and column.shown.result.finish_reason == "stop"
    run_id = column.shown.run_id
    qtbot.mouseClick(column.rating.up, Qt.MouseButton.LeftButton)
    store = window.workspace.store
    qtbot.waitUntil(lambda: (r := store.ratings.get(run_id)) is not None and r.thumbs == 1,
                    timeout=10_000)
    journey.shot("rated-in-compare", compare)
    _back_to(qtbot, window)

    # File ▸ Export library… as a bundle: every template, the huge one byte for byte.
    bundle = tmp_path / "out" / "library.yaml"
    bundle.parent.mkdir()
    said = _export(qtbot, window, monkeypatch, "Export library", bundle, "bundle-yaml")
    total = len(library.entries())
    assert said.startswith(f"Exported {total} templates"), said
    back = import_file(bundle)
    assert back.errors == [] and len(back.templates) == total
    bodies = {t.name: [m.content for m in t.messages] for t in back.templates}
    assert bodies[HUGE] == [huge_body] and bodies[BRACES] == [SYSTEM, BRACES_BODY + EDIT]

    # … as CSV: one prompt per row; what CSV cannot hold is listed with why.
    table = tmp_path / "out" / "library.csv"
    said = _export(qtbot, window, monkeypatch, "Export library", table, "csv")
    with table.open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    box = window.transfer.left_out_box
    assert box is not None and box.isVisible()
    (left_out,) = box.informativeText().splitlines()
    assert left_out.startswith(f"• {BRACES}: ") and "2 messages" in left_out, left_out
    assert len(rows) == total - 1
    assert said.startswith(f"Exported {len(rows)} templates to {table} · 1 left out"), said
    journey.shot("csv-left-out", box)
    box.close()
    by_name = {r["act"]: r["prompt"] for r in rows}
    assert by_name[HUGE] == huge_body and BRACES not in by_name
    again = import_file(table)
    assert again.errors == [] and len(again.templates) == len(rows)

    # File ▸ Export template… as a promptfoo config: it renders what the app sends.
    config = tmp_path / "out" / "promptfooconfig.yaml"
    said = _export(qtbot, window, monkeypatch, "Export template", config, "promptfoo")
    assert said.startswith("Exported 1 template"), said
    read = import_file(config, "promptfoo")
    assert read.errors == [] and len(read.templates) == 1
    assert render(read.templates[0], read.tests[0].vars if read.tests else {}) == render(
        window.editor.template(), window.variables.values())

    # File ▸ Export rated runs for fine-tuning…: the thumbs-up run, and the check passes.
    jsonl = tmp_path / "out" / "rated.jsonl"
    said = _export(qtbot, window, monkeypatch, "Export rated runs for fine-tuning", jsonl, None)
    assert said.startswith("Exported 1 run"), said
    (example,) = [json.loads(line) for line in jsonl.read_text(encoding="utf-8").splitlines()]
    assert [m["content"] for m in example["messages"][:2]] == [SYSTEM, BRACES_BODY + EDIT]
    capsys.readouterr()
    assert main(["finetune", "check", str(jsonl)]) == 0
    journey.shot("exported")

    # Quit with the run's parameters not saved: a clean quit keeps them, and the next start
    # brings them back without a question, saying so.
    assert window.dirty
    window = journey.restart()
    assert QApplication.activeModalWidget() is None
    said = window.statusBar().currentMessage()
    assert "unsaved edits" in said and BRACES in said
    assert window.key == braces_key and window.dirty
    assert window.editor.template().parameters.max_tokens == 64
    assert window.params.params().max_tokens == 64  # and what the next run sends

    # The library is intact, with the edited template's two versions.
    library = window.workspace.library
    assert len(library.entries()) == total
    assert set(window.library.template_keys()) == {e.key for e in library.entries()}
    assert library.load(huge_key).messages[0].content == huge_body
    assert [v.number for v in library.versions(braces_key)] == [1, 2]
    assert [m.content for m in library.load(braces_key, 1).messages] == [BRACES_BODY]
    assert len(library.load(braces_key, 2).messages) == 2
    search = window.library.search
    window.library.focus_search()
    qtbot.keyClicks(search, "transcript summarizer")
    qtbot.waitUntil(lambda: window.library.template_keys() == [huge_key], timeout=10_000)
    journey.shot("after-restart")
