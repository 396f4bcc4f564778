"""A compare column's figures read as name–value pairs however wide the column: with one column
in the window a first-time user saw "TTFT" at the far left and its "610 ms" at the far right,
some 600 px apart. The spare width now goes after the figures; values stay right-aligned in a
column as wide as the widest, and free text (the majority answer) reads beside its name."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from tests.ui import test_compare_view as base
from tests.ui.test_compare_view import run_all, variant
from tests.ui.windows import shot
from workbench.ui.compare.compare_view import CompareView
from workbench.ui.compare.figures import FigureGrid
from workbench.ui.widgets.figure_labels import ElidedLabel

# the compare view's fixtures: a run manager over the scripted backends and a view factory
manager = base.manager
make_view = base.make_view


def _pairs(grid: FigureGrid) -> dict[str, tuple[int, int, int]]:
    """Each shown row: (name's left, value's left, value's right) in the grid."""
    QApplication.processEvents()  # pending layout requests, as the next event-loop turn would
    return {key: (grid.names[key].geometry().left(), value.geometry().left(),
                  value.geometry().right())
            for key, value in grid.values.items() if value.isVisible()}


def test_one_wide_column_keeps_each_figure_beside_its_name(
    qtbot: QtBot, make_view: Callable[..., CompareView]
) -> None:
    view = make_view(variant(), width=1366, height=768)
    view.repeat_box.setValue(3)
    run_all(qtbot, view)
    column = view.columns[0]
    assert column.width() > 1000
    for grid in (column.metrics, column.repeats.figures):
        pairs = _pairs(grid)
        assert pairs, "no figures shown"
        texts = {k for k in pairs if isinstance(grid.values[k], ElidedLabel)}  # free text
        names = max(grid.names[k].sizeHint().width() for k in pairs)
        values = max(grid.values[k].width() for k in pairs if k not in texts)
        for key, (name_left, value_left, value_right) in pairs.items():
            # a value starts right after the widest name; a figure ends where the widest ends
            assert value_left - name_left <= names + 8 + values, key
            if key not in texts:
                assert value_right - name_left <= names + 8 + values, key
        rights = {right for k, (_n, _v, right) in pairs.items() if k not in texts}
        assert len(rights) == 1  # right-aligned
        assert all(pairs[k][1] <= names + 8 for k in texts)  # beside its name
    assert column.metrics.text("total") != "–"
    shot(view, "compare-one-column-figures")
    # the same pairs in a narrower window: the spare width was all the difference
    before = _pairs(column.metrics)
    view.resize(900, 768)
    assert column.width() < 900
    assert _pairs(column.metrics) == before
