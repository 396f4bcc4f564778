"""The dataset table: typing into cells, rows and columns from the toolbar, inline problems."""

from __future__ import annotations

from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from tests.ui.runs import screenshot
from workbench.core.experiments import TestCase
from workbench.ui.evaluation.dataset_view import DatasetView

ROWS = [
    TestCase(vars={"text": "Hello world", "language": "French"}, expected="Bonjour le monde"),
    TestCase(
        vars={"text": "Where is the library?", "language": "Spanish"},
        expected="¿Dónde está la biblioteca?",
        description="question",
    ),
]


def make(qtbot: QtBot) -> DatasetView:
    view = DatasetView(ROWS)
    qtbot.addWidget(view)
    view.resize(900, 320)
    view.show()
    qtbot.waitExposed(view)
    return view


def test_typing_into_a_cell_edits_the_row(qtbot: QtBot) -> None:
    view = make(qtbot)
    assert view.model.table.columns == ["text", "language", "expected", "description"]
    view.view.setCurrentIndex(view.model.index(0, 1))
    view.view.setFocus()
    qtbot.keyClick(view.view, Qt.Key.Key_F2)  # the edit key opens the cell's editor
    editor = view.view.focusWidget()
    assert editor is not view.view
    qtbot.keyClicks(editor, "German")  # the old value is selected: typing replaces it
    qtbot.keyClick(editor, Qt.Key.Key_Tab)  # commits and moves to the next cell
    assert view.rows()[0].vars["language"] == "German"
    assert ROWS[0].vars["language"] == "French"  # the given rows are never edited


def test_rows_and_columns_from_the_toolbar(qtbot: QtBot) -> None:
    view = make(qtbot)
    qtbot.mouseClick(view.add_row, Qt.MouseButton.LeftButton)
    assert len(view.rows()) == 3 and view.rows()[2].vars == {"text": "", "language": ""}
    assert view.count.text() == "3 rows · 2 variables"
    view.view.setCurrentIndex(view.model.index(0, 0))
    qtbot.mouseClick(view.duplicate, Qt.MouseButton.LeftButton)
    assert view.rows()[1].vars == view.rows()[0].vars and len(view.rows()) == 4
    qtbot.keyClicks(view.column_name, "tone")
    qtbot.keyClick(view.column_name, Qt.Key.Key_Return)
    assert view.model.table.variables == ["text", "language", "tone"]
    assert view.column_name.text() == "" and not view.problem.isVisible()
    view.view.setCurrentIndex(view.model.index(0, 2))
    qtbot.keyClicks(view.column_name, "style")
    qtbot.mouseClick(view.rename, Qt.MouseButton.LeftButton)
    assert view.model.table.variables == ["text", "language", "style"]
    view.view.setCurrentIndex(view.model.index(0, 2))
    qtbot.mouseClick(view.remove_column, Qt.MouseButton.LeftButton)
    assert view.model.table.variables == ["text", "language"]
    view.view.selectRow(1)
    qtbot.mouseClick(view.remove, Qt.MouseButton.LeftButton)
    assert len(view.rows()) == 3
    screenshot(view, "dataset-table")


def test_a_bad_column_name_is_shown_inline(qtbot: QtBot) -> None:
    view = make(qtbot)
    qtbot.keyClicks(view.column_name, "2 words")
    qtbot.mouseClick(view.add_column, Qt.MouseButton.LeftButton)
    assert view.problem.isVisible() and "not a variable name" in view.problem.text()
    view.view.setCurrentIndex(view.model.index(0, 2))  # 'expected' is not a variable column
    qtbot.mouseClick(view.remove_column, Qt.MouseButton.LeftButton)
    assert "select a cell in a variable column" in view.problem.text()
    assert view.model.table.columns == ["text", "language", "expected", "description"]
    screenshot(view, "dataset-table-problem")
