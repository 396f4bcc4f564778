"""The prompt editor: monospace, line numbers, inline errors, undo/redo, Ctrl+Enter left to Run."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QFontInfo, QKeySequence, QShortcut, QTextFormat
from PySide6.QtWidgets import QApplication, QScrollArea, QVBoxLayout, QWidget
from pytestqt.qtbot import QtBot

from tests.ui.runs import screenshot
from workbench.core.errors import TemplateError
from workbench.core.templates import parse
from workbench.ui.theming import monospace_font
from workbench.ui.widgets.code_editor import CodeEditor

pytestmark = pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints")

BODY = (
    "You are a support analyst.\n"
    "Summarize {{ ticket | trim }} in {{ n }} bullets.\n"
    "{% if urgent %}Flag it as urgent.{% endif }\n"
    "Answer in English."
)


@pytest.fixture
def editor(qtbot: QtBot, light: None) -> CodeEditor:
    editor = CodeEditor(min_lines=2, max_lines=12)
    qtbot.addWidget(editor)
    editor.resize(560, 100)
    editor.show()
    qtbot.waitExposed(editor)
    return editor


def syntax_error(body: str) -> TemplateError:
    with pytest.raises(TemplateError) as caught:
        parse(body, "messages[0] (user)")
    return caught.value


def test_prompts_are_monospace(editor: CodeEditor) -> None:
    assert QFontInfo(editor.font()).fixedPitch()
    assert editor.font().family() == monospace_font().family()


def test_real_syntax_error_is_marked_at_its_line_and_column(
    qtbot: QtBot, editor: CodeEditor
) -> None:
    editor.setPlainText(BODY)
    error = syntax_error(BODY)
    assert (error.line, error.column) == (3, 43)
    editor.set_error(error.line, error.column, error.reason)

    assert editor.error_text() == f"line 3, column 43: {error.reason}"
    strip = editor.findChild(type(editor._strip))
    assert strip is not None and strip.isVisible()
    line, char = editor.extraSelections()
    assert line.format.property(QTextFormat.Property.FullWidthSelection)
    assert line.cursor.blockNumber() == 2
    assert char.cursor.selectedText() == "}"  # the offending character, underlined
    assert char.cursor.positionInBlock() == 43  # the selection ends after column 43
    screenshot(editor, "code_editor_inline_error")


def test_clicking_the_error_position_moves_the_cursor_there(
    qtbot: QtBot, editor: CodeEditor
) -> None:
    editor.setPlainText(BODY)
    error = syntax_error(BODY)
    editor.set_error(error.line, error.column, error.reason)
    with qtbot.waitSignal(editor.errorActivated):
        editor._strip.linkActivated.emit("#error")
    cursor = editor.textCursor()
    assert (cursor.blockNumber(), cursor.positionInBlock()) == (2, 42)


def test_error_without_a_line_shows_only_the_message(editor: CodeEditor) -> None:
    editor.setPlainText("{{ x }}")
    editor.set_error(None, None, "output longer than 2000000 characters")
    assert editor.error_text() == "output longer than 2000000 characters"
    assert editor.extraSelections() == []


def test_clearing_the_error_removes_every_mark(editor: CodeEditor) -> None:
    editor.setPlainText(BODY)
    height = editor.height()
    editor.set_error(3, 40, "unexpected '}'")
    assert editor.height() > height  # the message strip is inside the editor
    editor.clear_error()
    assert editor.error is None and editor.extraSelections() == []
    assert editor.height() == height


def test_undo_and_redo_with_the_keyboard(qtbot: QtBot, editor: CodeEditor) -> None:
    qtbot.keyClicks(editor, "Hello {{ name }}")
    assert editor.toPlainText() == "Hello {{ name }}"
    qtbot.keyClick(editor, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert editor.toPlainText() == ""
    qtbot.keyClick(
        editor,
        Qt.Key.Key_Z,
        Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier,
    )
    assert editor.toPlainText() == "Hello {{ name }}"


def test_ctrl_enter_reaches_the_windows_run_shortcut(
    qtbot: QtBot, light: None, qapp: QApplication
) -> None:
    window = QWidget()
    qtbot.addWidget(window)
    editor = CodeEditor(window)
    QVBoxLayout(window).addWidget(editor)
    runs: list[bool] = []
    run = QShortcut(QKeySequence("Ctrl+Return"), window)
    run.activated.connect(lambda: runs.append(True))
    window.show()
    window.activateWindow()
    qtbot.waitUntil(lambda: qapp.activeWindow() is window)  # shortcuts need the active window
    editor.setFocus()
    qtbot.keyClicks(editor, "abc")
    qtbot.keyClick(editor, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    assert runs == [True]
    assert editor.toPlainText() == "abc"  # no newline typed


def test_editor_grows_with_its_lines_up_to_the_maximum(qtbot: QtBot, editor: CodeEditor) -> None:
    two = editor.height()
    qtbot.keyClicks(editor, "one")
    for word in ("two", "three", "four"):
        qtbot.keyClick(editor, Qt.Key.Key_Return)
        qtbot.keyClicks(editor, word)
    four = editor.height()
    assert four > two
    editor.setPlainText("\n".join(str(i) for i in range(100)))
    line = editor.fontMetrics().lineSpacing()
    assert editor.height() < 13 * line + 40  # capped at 12 lines: the rest scrolls
    assert editor.verticalScrollBarPolicy() == Qt.ScrollBarPolicy.ScrollBarAsNeeded


def test_line_numbers_widen_for_long_texts(editor: CodeEditor) -> None:
    narrow = editor.gutter_width()
    editor.setPlainText("\n" * 12345)
    assert editor.gutter_width() > narrow
    assert CodeEditor(line_numbers=False).gutter_width() == 0


def test_code_is_indented_with_tab_and_enter_while_prompts_tab_on(
    qtbot: QtBot, light: None
) -> None:
    """In a code editor (a Python mock) Tab indents, Enter keeps the indentation (one more after
    a colon), Shift+Tab dedents and Ctrl+Tab moves on; a prompt editor's Tab moves on."""
    form = QWidget()
    qtbot.addWidget(form)
    code = CodeEditor(form, jinja=False, indent="    ", opens=":")
    prompt = CodeEditor(form)
    layout = QVBoxLayout(form)
    layout.addWidget(code)
    layout.addWidget(prompt)
    with qtbot.waitActive(form):
        form.show()
        form.activateWindow()
    code.setFocus()
    qtbot.keyClicks(code, "def mock(args):")
    qtbot.keyClick(code, Qt.Key.Key_Return)
    qtbot.keyClicks(code, "if args:")
    qtbot.keyClick(code, Qt.Key.Key_Return)
    qtbot.keyClicks(code, "return 1")
    qtbot.keyClick(code, Qt.Key.Key_Return)
    qtbot.keyClick(code, Qt.Key.Key_Backtab, Qt.KeyboardModifier.ShiftModifier)
    qtbot.keyClicks(code, "return 2")
    qtbot.keyClick(code, Qt.Key.Key_Tab)
    qtbot.keyClicks(code, "# two")
    assert code.toPlainText() == (
        "def mock(args):\n    if args:\n        return 1\n    return 2    # two")
    qtbot.keyClick(code, Qt.Key.Key_Tab, Qt.KeyboardModifier.ControlModifier)
    assert prompt.hasFocus()
    qtbot.keyClick(prompt, Qt.Key.Key_Tab)
    assert not prompt.hasFocus() and "\t" not in prompt.toPlainText()


def test_a_field_narrowed_after_its_text_was_laid_out_grows_to_show_it_all(
    qtbot: QtBot, light: None
) -> None:
    """A message laid out wide, then narrowed (the window restored at its saved size after the
    text was set, at a restart): its wrapped lines are all shown (the last ones were clipped)."""
    area = QScrollArea()
    qtbot.addWidget(area)
    area.setWidgetResizable(True)
    form = QWidget()
    layout = QVBoxLayout(form)
    editor = CodeEditor(form, min_lines=2, max_lines=16)
    layout.addWidget(editor)
    layout.addStretch(1)
    area.setWidget(form)
    editor.setPlainText("Review the text below.\n" + "word " * 30 + "\nEnglish.")
    area.resize(1400, 600)
    area.show()
    qtbot.waitExposed(area)
    wide = editor.height()
    area.resize(350, 600)

    def shown_lines() -> int:
        doc = editor.document()
        return sum(doc.findBlockByNumber(i).layout().lineCount() for i in range(doc.blockCount()))

    qtbot.waitUntil(lambda: shown_lines() > 3)
    spacing = editor.fontMetrics().lineSpacing()
    qtbot.waitUntil(lambda: editor.height() >= wide + (shown_lines() - 3) * spacing)
