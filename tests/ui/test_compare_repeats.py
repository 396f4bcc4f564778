"""Repeats in the compare view: however many times each column runs, at 1366x768 with 2 to 8
columns, every column keeps its header, repeats panel, figures and rating controls in view (only
the output text gives up height), and the distinct answers switch the column's output.

The fast tests use the scripted backends of test_compare_view; the slow one the embedded
SmolLM2 model.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from PySide6.QtCore import QPoint, QRect, Qt
from PySide6.QtWidgets import QApplication, QWidget
from pytestqt.qtbot import QtBot

from tests.ui import test_compare_view as base
from tests.ui.runs import screenshot
from tests.ui.test_compare_view import ANSWERS, TEMPLATE, press, run_all, variant
from workbench.core.experiments import Variant
from workbench.core.models import Params
from workbench.storage.repositories import RunRef
from workbench.ui import theming
from workbench.ui.compare import session
from workbench.ui.compare.column import ColumnRun
from workbench.ui.compare.compare_view import CompareView
from workbench.ui.workers import RunWorker, through_runner

# the compare view's fixtures: a run manager over the scripted backends and a view factory
manager = base.manager
make_view = base.make_view


def _inside_viewport(view: CompareView, widget: QWidget) -> bool:
    """``widget`` is shown whole, within what the columns' scroll area shows."""
    viewport = view.area.viewport()
    if not widget.isVisible() or widget.visibleRegion().isEmpty():
        return False
    top_left = widget.mapTo(viewport, QPoint(0, 0))
    return viewport.rect().contains(QRect(top_left, widget.size()))


def _assert_pinned_parts_visible(view: CompareView) -> None:
    QApplication.processEvents()  # pending layout requests
    assert view.area.verticalScrollBar().maximum() == 0, "the columns must not scroll"
    for column in view.columns:
        parts = [column.badge, column.title, column.metrics, column.rating]
        parts += [column.repeats] if len(column.runs) > 1 else []
        for part in parts:
            assert _inside_viewport(view, part), f"{column.badge.text()}: {part} out of view"
        text = column.output.plain
        assert text.height() >= 3 * text.fontMetrics().height(), "the output has no room"


@pytest.mark.parametrize("repeats", [1, 3, 10])
@pytest.mark.parametrize("count", [2, 4, 8])
def test_header_metrics_and_rating_stay_visible_with_repeats(
    qtbot: QtBot, make_view: Callable[..., CompareView], count: int, repeats: int
) -> None:
    variants = [variant("paris" if i % 2 == 0 else "lyon", seed=i) for i in range(count)]
    view = make_view(*variants, width=1366, height=768)
    view.repeat_box.setValue(repeats)
    run_all(qtbot, view, timeout=60_000)
    _assert_pinned_parts_visible(view)
    if repeats > 1:
        assert all(c.repeats.figures.text("repeats") == f"{repeats} · 1 distinct"
                   for c in view.columns)
    # the diff panel takes two fifths of the height: the columns still keep them in view
    press(qtbot, view, Qt.Key.Key_D)
    assert view.diff_view.isVisible()
    _assert_pinned_parts_visible(view)
    if repeats == 3 and count in (4, 8):
        screenshot(view, f"compare-{count}-columns-3-repeats-diff")
        press(qtbot, view, Qt.Key.Key_D)
        qtbot.waitUntil(lambda: all(c.output.caught_up for c in view.columns), timeout=5000)
        screenshot(view, f"compare-{count}-columns-3-repeats")


@pytest.mark.parametrize("count", [2, 4, 8])
def test_a_long_before_running_note_leaves_the_columns_in_view(
    qtbot: QtBot, make_view: Callable[..., CompareView], count: int
) -> None:
    # half the columns decode greedily, so the top_k and top_p they vary change nothing there,
    # and every column has a seed, so its repeats will agree: a note longer than the window
    variants = [variant("paris" if i % 2 == 0 else "lyon", seed=i, top_k=10 + i,
                        top_p=0.5 + i / 20, **({"greedy": True} if i % 2 else {}))
                for i in range(count)]
    view = make_view(*variants, width=1366, height=768)
    view.repeat_box.setValue(3)
    note = view.effects_note
    qtbot.waitUntil(lambda: "repeats with a fixed seed" in note.text())  # off the GUI thread
    assert note.isVisible()
    assert "top_k changes nothing in" in note.text() and "top_p changes nothing in" in note.text()
    assert "repeats with a fixed seed give identical answers" in note.text()
    assert note.fontMetrics().horizontalAdvance(note.text()) > note.contentsRect().width()
    # one line, shortened with "…"; the whole note is in its tooltip
    assert note.height() < 2 * note.fontMetrics().lineSpacing()
    assert note.toolTip() == note.text()
    run_all(qtbot, view, timeout=60_000)
    _assert_pinned_parts_visible(view)
    press(qtbot, view, Qt.Key.Key_D)  # the diff panel gives up height before the columns do
    assert view.diff_view.isVisible()
    _assert_pinned_parts_visible(view)
    assert view.diff_view.height() >= view.diff_view.minimumSizeHint().height()
    screenshot(view, f"compare-{count}-columns-long-note-diff")


def test_distinct_repeats_are_picked_from_the_list_and_rated_each(
    qtbot: QtBot, make_view: Callable[..., CompareView], theme: theming.Theme
) -> None:
    # real runs of two backends that answer differently, then shown as the repeats of one
    # column each, the way a saved comparison with diverging repeats reopens
    source = make_view(variant(), variant("lyon"))
    source.repeat_box.setValue(2)
    run_all(qtbot, source)
    qtbot.mouseClick(source.columns[1].rating.up, Qt.MouseButton.LeftButton)  # Lyon's shown run
    rated = source.columns[1].shown
    assert rated is not None and rated.run_id is not None
    paris = source.columns[0].runs
    lyon = [rated] + [r for r in source.columns[1].runs if r is not rated]
    view = make_view(*[variant(seed=i) for i in range(4)], width=1366, height=768)
    mixes = [[paris[0], lyon[0], paris[1]], [lyon[0], paris[0], lyon[1]],
             [paris[0], paris[1]], [lyon[0], lyon[1], paris[0], paris[1]]]
    for column, runs in zip(view.columns, mixes, strict=True):
        column.show_runs([ColumnRun(i, result=r.result, run_id=r.run_id)
                          for i, r in enumerate(runs)])
    column = view.columns[0]
    panel = column.repeats
    assert panel.answer_rows() == [f"×2 ◆ {ANSWERS['paris']}", f"×1   {ANSWERS['lyon']}"]
    figures = panel.figures
    assert figures.text("repeats") == "3 · 2 distinct"
    assert figures.text("agreement") == "67%"
    assert figures.text("best").startswith("◆ ")
    assert panel.answers.currentRow() == 0  # the answer on screen
    assert view.columns[3].repeats.figures.text("agreement") == "50%"
    _assert_pinned_parts_visible(view)
    screenshot(view, "compare-4-columns-distinct-repeats")
    # the arrow keys move through the answers and the column shows (and rates) each one
    panel.answers.setFocus()
    qtbot.waitUntil(panel.answers.hasFocus, timeout=5000)
    qtbot.keyClick(panel.answers, Qt.Key.Key_Down)
    assert column.output.text() == ANSWERS["lyon"]
    assert column.shown is not None and column.shown.run_id == lyon[0].run_id
    assert column.metrics.text("finish") == "stop"
    # the thumbs up given to that run in the other view, read on the writer thread
    qtbot.waitUntil(column.rating.up.isChecked, timeout=5000)
    qtbot.keyClick(panel.answers, Qt.Key.Key_Up)
    assert column.output.text() == ANSWERS["paris"] and not column.rating.up.isChecked()
    rect = panel.answers.visualItemRect(panel.answers.item(1))
    qtbot.mouseClick(panel.answers.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert column.output.text() == ANSWERS["lyon"]
    view.show_diff(0, 1)  # the diff compares the answers on screen
    assert view.diff_view.diff is not None
    assert (view.diff_view.diff.a, view.diff_view.diff.b) == (ANSWERS["lyon"], ANSWERS["lyon"])
    view.toggle_diff()
    theme.set_mode("dark")
    _assert_pinned_parts_visible(view)
    screenshot(view, "compare-4-columns-distinct-repeats-dark")


@pytest.mark.slow
def test_repeats_of_the_embedded_model_keep_figures_and_ratings_in_view(
    qtbot: QtBot, make_view: Callable[..., CompareView]
) -> None:
    from workbench.backends.local_models import EMBEDDED_ID
    from workbench.core.stability import normalize_output

    variants = [
        Variant(
            template=TEMPLATE,
            template_version=1,
            backend="llamacpp",
            model=EMBEDDED_ID,
            variables={"country": "France"},
            params=Params(max_tokens=16, temperature=temperature),
        )
        for temperature in (0.0, 0.7, 1.2, 1.8)
    ]
    view = make_view(*variants, width=1366, height=768)
    view.repeat_box.setValue(3)
    run_all(qtbot, view, timeout=300_000)
    _assert_pinned_parts_visible(view)
    for column in view.columns:
        assert all(r.result is not None and r.result.finish_reason in ("stop", "length")
                   for r in column.runs)
        distinct = {normalize_output(r.result.text) for r in column.runs if r.result}
        rows = column.repeats.answer_rows()
        assert len(rows) == len(distinct)
        assert sum(int(row[1:].split()[0]) for row in rows) == 3  # "×2 ◆ …": counts add up
        assert column.repeats.figures.text("repeats") == f"3 · {len(distinct)} distinct"
    greedy = view.columns[0].repeats.figures  # temperature 0: the same answer every time
    assert (greedy.text("agreement"), greedy.text("similarity")) == ("100%", "100%")
    screenshot(view, "compare-4-columns-3-repeats-smollm2")


def test_a_picked_answer_stays_while_the_repeat_on_screen_was_still_streaming(
    qtbot: QtBot, make_view: Callable[..., CompareView]
) -> None:
    # a column's repeats from backends that answer differently: the first one hangs, so the
    # column follows it live while the two others end; the person picks one of those answers
    view = make_view(variant("hang"), width=1366, height=768)
    column = view.columns[0]
    workers = [
        RunWorker(through_runner(view.runner, RunRef(repeat_index=i)),
                  session.request_for(variant(backend)))
        for i, backend in enumerate(("hang", "paris", "lyon"))
    ]
    column.begin([ColumnRun(i, worker) for i, worker in enumerate(workers)])
    for worker in workers:
        view.manager.submit(worker)
    qtbot.waitUntil(lambda: len(column.repeats.answer_rows()) == 2, timeout=10_000)
    qtbot.waitUntil(lambda: column.output.state == "streaming", timeout=10_000)
    assert column.output.text() == "Thinking " and column.repeats.answers.currentRow() == -1
    column.repeats.answers.setCurrentRow(1)  # as a click on the second answer does
    picked = column.output.text()
    assert picked in (ANSWERS["paris"], ANSWERS["lyon"]) and column.output.state == "finished"
    with qtbot.waitSignal(workers[0].signals.ended, timeout=10_000):
        column.cancel()
    assert column.output.text() == picked and column.output.state == "finished"
    assert column.repeats.figures.text("repeats") == "3 · 2 distinct · 1 failed"
    assert not column.busy
