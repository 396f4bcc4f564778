"""What the main window's figures say about a run, the way a person reads them."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel
from pytestqt.qtbot import QtBot

from tests.backends.conftest import free_port
from tests.ui.windows import shot, window
from workbench.backends.config import add_config
from workbench.core.experiments import Variant
from workbench.core.models import Params
from workbench.ui.compare.compare_view import CompareView
from workbench.ui.main_window import MainWindow

__all__ = ["window"]

RUN_TIMEOUT_MS = 120_000


@pytest.mark.slow
def test_a_local_model_is_free_in_the_same_words_everywhere(
    qtbot: QtBot, window: MainWindow
) -> None:
    assert window.picker.backend_name == "llamacpp"  # the embedded model, the default
    qtbot.keyClick(window, Qt.Key.Key_N, Qt.KeyboardModifier.ControlModifier)
    editor = window.editor.editor_for("messages[0] (user)")
    assert editor is not None
    editor.setFocus()
    qtbot.keyClicks(editor, "Name a colour.")
    qtbot.waitUntil(lambda: "tokens" in window.token_summary.text(), timeout=30_000)
    assert window.token_summary.text().endswith(" · free (local)")
    assert "$" not in window.token_summary.text()
    window.lower_tabs.setCurrentWidget(window.preview)
    qtbot.waitUntil(lambda: window.preview.cost_label.text() == "free (local)", timeout=30_000)
    shot(window, "main_window_local_cost")


def replace_variant(variant: Variant, label: str) -> Variant:
    return variant.model_copy(update={"label": label})


def _shown_whole(label: QLabel) -> bool:
    return label.fontMetrics().horizontalAdvance(label.text()) <= label.width()


@pytest.mark.slow
def test_a_finished_run_says_how_it_ended_in_full_at_1366_px(
    qtbot: QtBot, window: MainWindow
) -> None:
    window.resize(1366, 768)
    qtbot.keyClick(window, Qt.Key.Key_N, Qt.KeyboardModifier.ControlModifier)
    editor = window.editor.editor_for("messages[0] (user)")
    assert editor is not None
    editor.setFocus()
    qtbot.keyClicks(editor, "Write a long story about the sea.")
    spin = window.params.rows["max_tokens"].spin
    spin.setFocus()
    spin.selectAll()
    qtbot.keyClicks(spin, "3")
    qtbot.keyClick(spin, Qt.Key.Key_Tab)
    qtbot.waitUntil(lambda: window.params.params().max_tokens == 3)
    qtbot.mouseClick(window.run_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.output.state == "finished", timeout=RUN_TIMEOUT_MS)
    status = window.output.status
    assert status.text() == "✓ finished · length — raise max tokens"
    assert _shown_whole(status)
    assert "max tokens reached: raise max tokens for a longer answer" in status.toolTip()
    assert "llamacpp · " in status.toolTip()  # and where it was sent
    assert not window.output.browser.placeholderText()  # an answer, not an invitation
    shot(window, "main_window_finished_length")


def test_a_run_on_a_server_that_is_down_reads_cleanly(qtbot: QtBot, window: MainWindow) -> None:
    url = f"http://127.0.0.1:{free_port()}/v1"  # nothing listens there
    add_config("down", "openai_compat", {"base_url": url, "max_retries": 0})
    window.picker.reload()
    window.picker.select("down", "foo")
    qtbot.waitUntil(lambda: window.picker.backend_name == "down")
    qtbot.mouseClick(window.run_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.output.state == "failed", timeout=30_000)
    error = window.output.error_label.text()
    assert "connection refused" in error and error.count("What to do") == 1
    assert "ConnectError" not in error
    assert not window.output.browser.placeholderText()  # no "Press Run" under the error
    qtbot.waitUntil(lambda: len(window.history.run_ids()) == 1, timeout=10_000)

    # Every history header shown at the dock's width is shown whole; the rest are hidden (their
    # values are in the row's tooltip), never scrolled to sideways.
    view = window.history.view
    header = view.header()
    shown = window.history.visible_columns()
    assert shown == ["Time", "", "Prompt", "Output", "Source"]  # at the first start's width
    for section, title in enumerate(window.history.model.COLUMNS):
        needed = header.fontMetrics().horizontalAdvance(title)
        if title in shown:
            assert header.sectionSize(section) >= needed, (title, header.sectionSize(section))
    assert not view.horizontalScrollBar().isVisible()
    # The backend by the name it has in Tools ▸ Backends, its type in the row's tooltip.
    backend = window.history.model.index(0, 6)
    assert backend.data() == "down · foo"
    assert "down · foo (openai_compat)" in backend.data(Qt.ItemDataRole.ToolTipRole)
    assert header.sectionSize(2) >= 80  # the prompt column keeps room to be recognised
    assert window.output.status.toolTip().endswith("down · foo")
    shot(window, "main_window_run_down")

    # Restoring the run selects that backend again, not another of its type.
    window.picker.select("llamacpp", "")
    qtbot.waitUntil(lambda: window.picker.backend_name == "llamacpp")
    window.history.runActivated.emit(window.history.run_ids()[0])
    assert window.picker.backend_name == "down" and window.picker.model == "foo"


@pytest.mark.slow
def test_compare_columns_say_how_each_run_ended_in_full(qtbot: QtBot, window: MainWindow) -> None:
    qtbot.keyClick(window, Qt.Key.Key_N, Qt.KeyboardModifier.ControlModifier)
    editor = window.editor.editor_for("messages[0] (user)")
    assert editor is not None
    editor.setFocus()
    qtbot.keyClicks(editor, "Write a long story about the sea.")
    window.params.set_params(Params(max_tokens=3))
    qtbot.waitUntil(lambda: window.params.params().max_tokens == 3)
    qtbot.keyClick(
        window.editor, Qt.Key.Key_K,
        Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier,
    )
    qtbot.waitUntil(lambda: len(window.child_windows) == 1)
    compare = window.child_windows[0]
    assert isinstance(compare, CompareView)
    base = compare.variants()[0]
    for label in ("B", "C", "D"):
        compare.add_variant(replace_variant(base, label))
    compare.resize(1366, 768)
    with qtbot.waitSignal(compare.runAllFinished, timeout=RUN_TIMEOUT_MS):
        compare.run_all()
    for column in compare.columns:
        status = column.output.status
        assert status.text() == "✓ finished · length — raise max tokens"
        assert _shown_whole(status), (status.width(), column.width())
    shot(compare, "compare_finished_length_4_columns")
