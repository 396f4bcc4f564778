"""Jinja highlighting driven by Pygments' lexer, block by block, with state across lines."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pygments.styles import get_style_by_name
from pygments.token import Comment, Keyword, Name, _TokenType
from PySide6.QtGui import QColor, QTextDocument
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from workbench.ui import theming
from workbench.ui.widgets.code_editor import CodeEditor
from workbench.ui.widgets.jinja_highlighter import DARK_STYLE, LIGHT_STYLE, JinjaHighlighter

pytestmark = pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints")

LIGHT = get_style_by_name(LIGHT_STYLE)


def color_of(token_type: _TokenType, style: object = LIGHT) -> str:
    return "#" + style.style_for_token(token_type)["color"].lower()  # type: ignore[attr-defined]


def runs(document: QTextDocument, line: int) -> dict[str, str]:
    """The coloured runs of a line: text -> foreground colour."""
    block = document.findBlockByNumber(line)
    units = block.text().encode("utf-16-le")  # Qt's positions count UTF-16 code units
    found = {}
    for fmt in block.layout().formats():
        text = units[2 * fmt.start : 2 * (fmt.start + fmt.length)].decode("utf-16-le")
        found[text] = fmt.format.foreground().color().name()
    return found


@pytest.fixture
def editor(qtbot: QtBot, qapp: QApplication) -> Iterator[CodeEditor]:
    saved = qapp.palette()
    qapp.setPalette(theming.palette(False))
    editor = CodeEditor()
    qtbot.addWidget(editor)
    editor.resize(600, 300)
    editor.show()
    yield editor
    qapp.setPalette(saved)


def test_typed_expression_is_coloured_by_token_type(qtbot: QtBot, editor: CodeEditor) -> None:
    qtbot.keyClicks(editor, "Summarize {{ ticket | trim }} now")
    coloured = runs(editor.document(), 0)
    assert coloured["{{"] == color_of(Comment.Preproc)
    assert coloured["}}"] == color_of(Comment.Preproc)
    assert coloured["ticket"] == theming.ACCENT_LIGHT.name()  # variables: the accent
    assert coloured["trim"] == color_of(Name.Function)
    assert "Summarize " not in coloured and " now" not in coloured  # prose stays plain


def test_plain_prose_lines_have_no_formats(qtbot: QtBot, editor: CodeEditor) -> None:
    editor.setPlainText("Just a sentence.\nAnother one, with {braces} but no Jinja.")
    assert editor.document().findBlockByNumber(0).layout().formats() == []
    assert editor.document().findBlockByNumber(1).layout().formats() == []


def test_comment_spanning_lines_is_one_comment(qtbot: QtBot, editor: CodeEditor) -> None:
    editor.setPlainText("before {# a note\nstill the note {{ not_a_var }}\nend #} after {{ x }}")
    comment = color_of(Comment)
    assert runs(editor.document(), 0)["{# a note"] == comment
    assert runs(editor.document(), 1) == {"still the note {{ not_a_var }}": comment}
    third = runs(editor.document(), 2)
    assert third["end #}"] == comment
    assert third["x"] == theming.ACCENT_LIGHT.name()


def test_tag_spanning_lines_keeps_its_state(qtbot: QtBot, editor: CodeEditor) -> None:
    editor.setPlainText("{% for item in\n   items %}- {{ item }}\n{% endfor %}")
    assert runs(editor.document(), 0)["for"] == color_of(Keyword)
    second = runs(editor.document(), 1)
    assert second["items"] == theming.ACCENT_LIGHT.name()  # inside the tag begun on line 1
    assert second["%}"] == color_of(Comment.Preproc)
    assert runs(editor.document(), 2)["endfor"] == color_of(Keyword)


def test_raw_block_spanning_lines_is_not_jinja(qtbot: QtBot, editor: CodeEditor) -> None:
    editor.setPlainText("{% raw %}\n{{ shown as is }}\n{% endraw %} {{ y }}")
    assert runs(editor.document(), 1) == {}
    assert runs(editor.document(), 2)["y"] == theming.ACCENT_LIGHT.name()


def test_typing_an_opening_comment_recolours_the_lines_below(
    qtbot: QtBot, editor: CodeEditor
) -> None:
    editor.setPlainText("line one\n{{ a }}\n{{ b }} #} tail")
    assert runs(editor.document(), 1)["a"] == theming.ACCENT_LIGHT.name()
    qtbot.keyClicks(editor, "{#")  # the cursor is at the start of the document
    comment = color_of(Comment)
    assert runs(editor.document(), 1) == {"{{ a }}": comment}
    assert runs(editor.document(), 2)["{{ b }} #}"] == comment
    editor.undo()
    assert runs(editor.document(), 1)["a"] == theming.ACCENT_LIGHT.name()


def test_positions_count_utf16_units_beyond_the_bmp(qtbot: QtBot, editor: CodeEditor) -> None:
    editor.setPlainText("😀😀 {{ name }}")
    assert runs(editor.document(), 0)["name"] == theming.ACCENT_LIGHT.name()


def test_disabled_highlighter_shows_literal_text_plain(qtbot: QtBot, editor: CodeEditor) -> None:
    editor.setPlainText("{{ name }}")
    assert editor.highlighter is not None
    editor.highlighter.set_enabled(False)
    assert runs(editor.document(), 0) == {}
    editor.highlighter.set_enabled(True)
    assert runs(editor.document(), 0)["name"] == theming.ACCENT_LIGHT.name()


def test_dark_palette_switches_to_the_dark_style(
    qtbot: QtBot, editor: CodeEditor, qapp: QApplication
) -> None:
    editor.setPlainText("{{ name }}")
    qapp.setPalette(theming.palette(True))
    assert editor.highlighter is not None
    qtbot.waitUntil(lambda: editor.highlighter.style_name == DARK_STYLE)  # type: ignore[union-attr]
    dark = get_style_by_name(DARK_STYLE)
    assert runs(editor.document(), 0)["{{"] == color_of(Comment.Preproc, dark)
    assert runs(editor.document(), 0)["name"] == theming.ACCENT_DARK.name()
    assert QColor(runs(editor.document(), 0)["name"]).lightness() > 100


def test_highlighter_on_a_bare_document() -> None:
    document = QTextDocument()
    document.setPlainText("{% if x %}yes{% endif %}")
    highlighter = JinjaHighlighter(document)
    highlighter.rehighlight()
    assert runs(document, 0)["if"] == color_of(Keyword, get_style_by_name(highlighter.style_name))


def _reddish(name: str) -> bool:
    """A colour that reads as an error: a saturated red (the hue of the theme's error colour)."""
    color = QColor(name)
    hue = color.hslHue()
    return color.hslSaturation() > 80 and (hue <= 15 or hue >= 340)


@pytest.mark.parametrize("dark", [False, True])
def test_jinja_expressions_use_the_accent_not_an_error_red(
    qtbot: QtBot, editor: CodeEditor, qapp: QApplication, dark: bool
) -> None:
    """The bug: in the dark theme ``{{ review }}`` was red (one-dark's variable colour), which
    reads as an error in a prompt that is fine."""
    qapp.setPalette(theming.palette(dark))
    assert editor.highlighter is not None
    style = DARK_STYLE if dark else LIGHT_STYLE
    qtbot.waitUntil(lambda: editor.highlighter.style_name == style)  # type: ignore[union-attr]
    qtbot.keyClicks(editor, "Review: {{ review | trim }} {% if x %}{{ x.name }}{% endif %}")
    coloured = runs(editor.document(), 0)
    assert coloured["review"] == (theming.ACCENT_DARK if dark else theming.ACCENT_LIGHT).name()
    assert not [text for text, name in coloured.items() if _reddish(name)], coloured
    assert not _reddish(theming.status_color("accent").name())
    assert _reddish(theming.status_color("error").name())  # the check tells red from the rest
