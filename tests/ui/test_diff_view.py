"""The word diff view on its own: spans painted from the one diff engine, side by side and
inline, colours that keep their contrast in both palettes, text shown literally (never as HTML)."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor
from pytestqt.qtbot import QtBot

from tests.ui.runs import screenshot
from workbench.ui import theming
from workbench.ui.compare.diff_view import COLOURS, DiffView
from workbench.ui.compare.sweep_chart import contrast

OLD = "Summarize the ticket in 3 bullets.\nKeep it short and <b>polite</b>."
NEW = "Summarize the ticket in 5 bullets.\nKeep it short, friendly and <b>polite</b>."


@pytest.fixture
def view(qtbot: QtBot, theme: theming.Theme) -> DiffView:
    view = DiffView()
    qtbot.addWidget(view)
    view.resize(900, 260)
    view.show()
    qtbot.waitExposed(view)
    view.set_sources(["v1", "v2", "v3"], [OLD, NEW, OLD])
    return view


def test_change_colours_keep_their_contrast_in_both_themes() -> None:
    for dark in (False, True):
        for background, text in COLOURS[dark].values():
            assert contrast(QColor(background), QColor(text)) >= 7.0


def test_side_by_side_marks_deletions_left_and_insertions_right(view: DiffView) -> None:
    assert view.mode == "side"
    assert view.left.currentText() == "v1" and view.right.currentText() == "v2"
    left, right = view.left_text.toPlainText(), view.right_text.toPlainText()
    assert left == OLD and right == NEW  # the texts themselves, markup shown literally
    left_html, right_html = view.left_text.toHtml(), view.right_text.toHtml()
    delete_bg, insert_bg = COLOURS[False]["delete"][0], COLOURS[False]["insert"][0]
    assert delete_bg in left_html and insert_bg not in left_html
    assert insert_bg in right_html and delete_bg not in right_html
    assert "line-through" in left_html
    assert view.stats.text().startswith("−1 word  +3 words")
    screenshot(view, "diff-side-by-side-light")


def test_inline_by_click_and_back_by_shortcut(qtbot: QtBot, view: DiffView) -> None:
    qtbot.mouseClick(view.inline_button, Qt.MouseButton.LeftButton)
    assert view.mode == "inline" and view.stack.currentIndex() == 1
    text = view.inline_text.toPlainText()
    assert "35" in text.replace(" ", "")  # "3" deleted then "5" inserted, in place
    assert text.startswith("Summarize the ticket in ")
    view.inline_text.setFocus()
    qtbot.waitUntil(view.inline_text.hasFocus, timeout=5000)
    qtbot.keyClick(
        view.inline_text,
        Qt.Key.Key_I,
        Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier,
    )
    assert view.mode == "side" and view.stack.currentIndex() == 0


def test_picking_sources_redraws_and_identical_says_so(qtbot: QtBot, view: DiffView) -> None:
    with qtbot.waitSignal(view.sourcesChanged, timeout=5000) as picked:
        view.right.setCurrentIndex(2)
    assert picked.args == [0, 2]
    assert view.stats.text() == "identical"
    assert COLOURS[False]["delete"][0] not in view.left_text.toHtml()


def test_too_few_sources_say_what_to_do(qtbot: QtBot, theme: theming.Theme) -> None:
    view = DiffView()
    qtbot.addWidget(view)
    view.set_sources(["A"], ["only one"])
    view.right.setCurrentIndex(-1)
    view.redraw()
    assert "two columns" in view.stats.text()


def test_dark_palette_repaints_with_dark_colours(
    qtbot: QtBot, view: DiffView, theme: theming.Theme
) -> None:
    theme.set_mode("dark")
    qtbot.waitUntil(lambda: COLOURS[True]["insert"][0] in view.right_text.toHtml(), timeout=5000)
    assert COLOURS[False]["insert"][0] not in view.right_text.toHtml()
    screenshot(view, "diff-side-by-side-dark")
    view.show_texts("a b c", "a c d")
    assert view.diff is not None and view.diff.words_removed == 1
