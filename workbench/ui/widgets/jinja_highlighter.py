"""Jinja syntax highlighting, driven by Pygments' Jinja lexer one text block at a time.

``QSyntaxHighlighter`` asks for one block (line) at a time and remembers an integer state per
block. Pygments' ``DjangoLexer`` (aliases ``jinja``/``django``) is a regex state machine; run as
an ``ExtendedRegexLexer`` it exposes its state stack after each line, which is stored as the
block state, so a ``{% for ... %}`` tag or a ``{# comment #}`` that spans lines is highlighted
correctly and an edit re-lexes only the lines whose incoming state changed.

Two states are added to Pygments' rules for that: ``{# ... #}`` and ``{% raw %} ... {% endraw %}``
spanning lines (Pygments matches both in one regex, which needs the whole text at once). Lines
with no ``{`` outside a tag are plain text and skip the lexer entirely.

Colours come from a Pygments style chosen by the palette: ``default`` on light, ``one-dark`` on
dark.
"""

from __future__ import annotations

from typing import ClassVar

from pygments.lexer import ExtendedRegexLexer, LexerContext, bygroups, inherit
from pygments.lexers.templates import DjangoLexer
from pygments.style import StyleMeta
from pygments.styles import get_style_by_name
from pygments.token import Comment, Keyword, Name, Other, Text, Token, _TokenType
from PySide6.QtGui import (
    QColor,
    QFont,
    QPalette,
    QSyntaxHighlighter,
    QTextCharFormat,
    QTextDocument,
)

from workbench.ui.theming import ACCENT_DARK, ACCENT_LIGHT, is_dark

LIGHT_STYLE = "default"
DARK_STYLE = "one-dark"


class JinjaLineLexer(DjangoLexer, ExtendedRegexLexer):
    """Pygments' Jinja lexer, resumable line by line from a saved state stack."""

    name = "Jinja (line by line)"
    aliases: ClassVar[list[str]] = []

    tokens: ClassVar[dict[str, list[object]]] = {
        "root": [
            (r"\{#", Comment, "comment"),
            (
                r"(\{%)(-?\s*)(raw)(\s*-?)(%\})",
                bygroups(Comment.Preproc, Text, Keyword, Text, Comment.Preproc),
                "raw",
            ),
            inherit,
        ],
        "comment": [
            (r"#\}", Comment, "#pop"),
            (r"[^#]+", Comment),
            (r"#", Comment),
        ],
        "raw": [
            (
                r"(\{%)(-?\s*)(endraw)(\s*-?)(%\})",
                bygroups(Comment.Preproc, Text, Keyword, Text, Comment.Preproc),
                "#pop",
            ),
            (r"[^{]+", Text),
            (r"\{", Text),
        ],
    }


class _States:
    """Interns lexer state stacks as the integers ``QTextBlock`` stores (-1 is "root")."""

    def __init__(self) -> None:
        self._ids: dict[tuple[str, ...], int] = {("root",): -1}
        self._stacks: dict[int, tuple[str, ...]] = {-1: ("root",)}

    def id(self, stack: list[str]) -> int:
        key = tuple(stack)
        found = self._ids.get(key)
        if found is None:
            found = self._ids[key] = len(self._stacks) - 1
            self._stacks[found] = key
        return found

    def stack(self, state: int) -> list[str]:
        return list(self._stacks.get(state, ("root",)))


def _formats(style: StyleMeta, accent: QColor) -> dict[_TokenType, QTextCharFormat]:
    """Qt formats of a Pygments style, variables in the theme's ``accent``: one-dark paints
    them red, which reads as an error in a prompt that is fine."""
    formats: dict[_TokenType, QTextCharFormat] = {}
    for token_type, _ in style:
        info = style.style_for_token(token_type)
        fmt = QTextCharFormat()
        if info["color"]:
            fmt.setForeground(QColor(f"#{info['color']}"))
        if info["bold"]:
            fmt.setFontWeight(QFont.Weight.Bold)
        if info["italic"]:
            fmt.setFontItalic(True)
        if info["border"]:  # Pygments marks lexer errors with a border: underline them instead
            fmt.setUnderlineStyle(QTextCharFormat.UnderlineStyle.WaveUnderline)
            fmt.setUnderlineColor(QColor(f"#{info['border']}"))
        formats[token_type] = fmt
    formats[Name.Variable] = variable = QTextCharFormat()
    variable.setForeground(accent)
    return formats


class JinjaHighlighter(QSyntaxHighlighter):
    """Highlights Jinja in a ``QTextDocument``; disabled, it shows plain text (literal bodies)."""

    _lexer = JinjaLineLexer()

    def __init__(self, document: QTextDocument, palette: QPalette | None = None) -> None:
        super().__init__(document)
        self._states = _States()
        self._enabled = True
        self._formats: dict[_TokenType, QTextCharFormat] = {}
        self._style_name = ""
        self.set_palette(palette or QPalette())

    @property
    def style_name(self) -> str:
        return self._style_name

    def set_palette(self, palette: QPalette) -> None:
        """Pick the light or dark Pygments style for ``palette`` (re-highlights if it changed)."""
        name = DARK_STYLE if is_dark(palette) else LIGHT_STYLE
        if name == self._style_name:
            return
        self._style_name = name
        self._formats = _formats(get_style_by_name(name),
                                 ACCENT_DARK if is_dark(palette) else ACCENT_LIGHT)
        self.rehighlight()

    def set_enabled(self, enabled: bool) -> None:
        if enabled != self._enabled:
            self._enabled = enabled
            self.rehighlight()

    def format_for(self, token_type: _TokenType) -> QTextCharFormat | None:
        """The format of a token type, inherited from its parents like Pygments does."""
        while token_type is not Token:
            fmt = self._formats.get(token_type)
            if fmt is not None and fmt.properties():
                return fmt
            token_type = token_type.parent
        return None

    def highlightBlock(self, text: str) -> None:
        state = self.previousBlockState()
        if not self._enabled:
            self.setCurrentBlockState(-1)
            return
        if state == -1 and "{" not in text:
            self.setCurrentBlockState(-1)  # plain prose: nothing to lex
            return
        context = LexerContext(text + "\n", 0, self._states.stack(state))
        utf16 = not text.isascii() and len(text.encode("utf-16-le")) // 2 != len(text)
        for start, token_type, value in self._lexer.get_tokens_unprocessed(context=context):
            if token_type is Other or token_type is Text:
                continue
            fmt = self.format_for(token_type)
            if fmt is None:
                continue
            length = len(value)
            if utf16:  # Qt counts UTF-16 code units; Python counts code points
                length = len(value.encode("utf-16-le")) // 2
                start = len(text[:start].encode("utf-16-le")) // 2
            self.setFormat(start, length, fmt)
        self.setCurrentBlockState(self._states.id(context.stack))
