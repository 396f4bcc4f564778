"""A compare column opened from the main window remembers which library version it ran: its
header names the template, version and version message, its runs record the key and number, and
restoring one of them from the history reopens that version (it said "never saved")."""

from __future__ import annotations

import pytest
from pytestqt.qtbot import QtBot

from tests.ui.windows import shot, window
from workbench.core.models import Message, Params, PromptTemplate
from workbench.ui import child_windows
from workbench.ui.compare.compare_view import CompareView
from workbench.ui.main_window import MainWindow
from workbench.ui.run_restore import GONE, NEVER_SAVED

__all__ = ["window"]

RUN_TIMEOUT_MS = 180_000
CAPITAL = PromptTemplate(
    name="Capital",
    messages=[Message(role="user", content="Name the capital of France in one word.")],
    parameters=Params(max_tokens=4, seed=1),
)


@pytest.mark.slow
def test_a_compare_run_restores_its_library_version(qtbot: QtBot, window: MainWindow) -> None:
    library = window.workspace.library
    library.save(CAPITAL, key="geo/capital", message="first draft")
    terse = CAPITAL.model_copy(update={"messages": [
        Message(role="system", content="Answer with one word."), *CAPITAL.messages]})
    v2 = library.save(terse, key="geo/capital", message="one word only")
    window.show_template(v2.template(), "geo/capital", v2.number)

    view = window.open_compare()
    qtbot.waitExposed(view)
    column = view.columns[0]
    assert column.variant.template_key == "geo/capital" and column.variant.template_version == 2
    assert column.title.toolTip().startswith("Capital v2 “one word only”")
    with qtbot.waitSignal(view.runAllFinished, timeout=RUN_TIMEOUT_MS):
        view.run_action.trigger()
    run_id = column.shown.run_id if column.shown is not None else None
    assert run_id is not None
    view.writer.submit(lambda _s: None).result(10)  # type: ignore[union-attr]
    stored = window.workspace.store.runs.get(run_id)
    assert (stored.ref.template_key, stored.ref.template_version) == ("geo/capital", 2)
    shot(view, "compare_from_library_version")
    # reopened from the Experiments browser, its header still names the version's message
    with qtbot.waitSignal(view.saved, timeout=10_000):
        view.save()
    assert view.experiment_id is not None
    reopened = child_windows.open_experiment(window, "compare", view.experiment_id)
    assert isinstance(reopened, CompareView)
    assert reopened.columns[0].title.toolTip().startswith("Capital v2 “one word only”")


    window.show_template(CAPITAL, "geo/capital", 1)  # another document is open meanwhile
    window.history.runActivated.emit(run_id)
    assert (window.key, window.version) == ("geo/capital", 2)
    assert window.editor.template() == terse
    assert window.statusBar().currentMessage() not in (NEVER_SAVED, GONE)
    # An edited document is no saved version: its column carries no key (its runs restore
    # what they sent, not the library's version of another text).
    editor = window.editor.editor_for("messages[0] (system)")
    assert editor is not None
    editor.setFocus()
    qtbot.keyClicks(editor, " Be brief.")
    qtbot.waitUntil(lambda: window.dirty, timeout=5000)
    edited = window.current_variant()
    assert (edited.template_key, edited.template_version) == (None, None)
