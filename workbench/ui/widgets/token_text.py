"""The token inspector's text: an answer's tokens, each coloured by how sure the model was of it.

Each token's background says its probability in five steps (none from 90 %, then amber to red
as it falls), blended from the theme's status colours into the base colour, so the scale reads
in light and dark themes alike and the text keeps its contrast.

Colouring is a ``QSyntaxHighlighter`` over token offsets (as the prompt's token view does). A
whole answer shown at once is coloured block by block in slices of a few milliseconds from the
visible text on: colouring all 2,000 tokens of an answer at once held the window 12 ms, and
their layout as long again (bench/bench_token_inspector.py). Tokens that stream in are appended
at the end and coloured as they land (``append_tokens``): only the blocks they touch are
highlighted, so a frame's tokens cost about as much as a frame's text.
"""

from __future__ import annotations

import codecs
import math
import time
from bisect import bisect_right
from collections.abc import Sequence
from html import escape

from PySide6.QtCore import QEvent, QPoint, Qt, QTimer, Signal
from PySide6.QtGui import (
    QColor,
    QHelpEvent,
    QKeyEvent,
    QMouseEvent,
    QPalette,
    QSyntaxHighlighter,
    QTextBlock,
    QTextCharFormat,
    QTextCursor,
    QTextDocument,
)
from PySide6.QtWidgets import QPlainTextEdit, QToolTip, QWidget

from workbench.core.logprobs import TokenLogprob, probability, token_texts
from workbench.ui import theming

#: Lower bounds of the probability steps, most sure first; a token at or above the first is
#: left uncoloured (most tokens of a fluent answer), so the doubtful ones stand out.
STEPS = (0.9, 0.7, 0.4, 0.15, 0.0)
STEP_NAMES = ("≥ 90 %", "70–90 %", "40–70 %", "15–40 %", "< 15 %")
#: (status colour, share of it blended into the base colour) per step after the first.
_BLENDS: tuple[tuple[theming.StatusKind, float], ...] = (
    ("warning", 0.22), ("warning", 0.45), ("error", 0.38), ("error", 0.6)
)
#: Longest the GUI thread spends colouring at once before it serves other events.
SLICE_S = 0.004

#: The steps' lower bounds as log-probabilities, least sure first (for ``bisect``).
_LOG_BOUNDS = [math.log(low) for low in reversed(STEPS[:-1])]


def step_of(logprob: float) -> int:
    """The colour step (0: most sure) of a token with ``logprob``."""
    return len(_LOG_BOUNDS) - bisect_right(_LOG_BOUNDS, logprob)


def _blend(base: QColor, color: QColor, share: float) -> QColor:
    return QColor.fromRgbF(
        base.redF() + (color.redF() - base.redF()) * share,
        base.greenF() + (color.greenF() - base.greenF()) * share,
        base.blueF() + (color.blueF() - base.blueF()) * share,
    )


def step_colors(palette: QPalette) -> list[QColor | None]:
    """The background of each step in this palette (None: the first step is not coloured)."""
    base = palette.color(QPalette.ColorRole.Base)
    colors: list[QColor | None] = [None]
    colors += [_blend(base, theming.status_color(kind), share) for kind, share in _BLENDS]
    return colors


def shown_token(token: str) -> str:
    """A token as a label: spaces and line breaks made visible, so ' the' and 'the' differ."""
    return token.replace(" ", "␣").replace("\n", "↵").replace("\t", "⇥") or "∅"


def alternatives_html(token: TokenLogprob) -> str:
    """A token's tooltip: its probability and its alternatives, most probable first."""
    rows = [
        f"<tr><td>{'<b>' if alt.token == token.token else ''}{escape(shown_token(alt.token))}"
        f"{'</b>' if alt.token == token.token else ''}</td>"
        f"<td align='right'>{probability(alt.logprob):.1%}</td>"
        f"<td align='right'>{alt.logprob:.3f}</td></tr>"
        for alt in token.top
    ]
    head = (f"<b>{escape(shown_token(token.token))}</b> {probability(token.logprob):.1%} "
            f"(logprob {token.logprob:.3f})")
    if not rows:
        return head + "<br>no alternatives were asked for"
    return f"{head}<table cellspacing='4'>{''.join(rows)}</table>"


def _units(text: str) -> int:
    """``text``'s length in document positions (UTF-16 units)."""
    return len(text) if text.isascii() else len(text.encode("utf-16-le")) // 2


def _decoder() -> codecs.IncrementalDecoder:
    return codecs.getincrementaldecoder("utf-8")(errors="replace")


class _Highlighter(QSyntaxHighlighter):
    def __init__(self, document: QTextDocument) -> None:
        super().__init__(document)
        self.starts: list[int] = []
        self.ends: list[int] = []
        self.steps: list[int] = []
        self.formats: list[QTextCharFormat | None] = []

    def highlightBlock(self, text: str) -> None:
        if not self.starts:
            return
        block = self.currentBlock()
        start = block.position()
        end = start + block.length() - 1
        starts, ends, steps, formats = self.starts, self.ends, self.steps, self.formats
        i = max(bisect_right(starts, start) - 1, 0)
        while i < len(starts) and starts[i] < end:
            fmt = formats[steps[i]]
            if fmt is not None and ends[i] > start:
                left = max(starts[i], start)
                self.setFormat(left - start, min(ends[i], end) - left, fmt)
            i += 1


class TokenTextView(QPlainTextEdit):
    """The coloured text; says which token is under a point."""

    tokenClicked = Signal(int, QPoint)  # token index, global position

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setReadOnly(True)
        self.setTextInteractionFlags(  # arrow keys move a cursor from token to token
            Qt.TextInteractionFlag.TextSelectableByMouse
            | Qt.TextInteractionFlag.TextSelectableByKeyboard
        )
        self.setFont(theming.monospace_font())
        self.setAccessibleName("Output tokens by probability")
        self.setFrameShape(QPlainTextEdit.Shape.NoFrame)
        self._highlighter = _Highlighter(self.document())
        self._next: QTextBlock | None = None  # the next block to colour
        self._wrapped = False  # the blocks before the first visible one are still to colour
        self._slices = QTimer(self)
        self._slices.setInterval(0)
        self._slices.timeout.connect(self._color_slice)
        self.tokens: list[TokenLogprob] = []
        self.pieces: list[str] = []
        self.lead = ""  # the answer's given beginning (a branch's), shown uncoloured
        #: Streamed tokens' bytes are decoded as they come: a character split over two tokens
        #: belongs to the one that completes it (as ``token_texts`` says of a whole run).
        self._decoder = _decoder()
        self._press: QPoint | None = None
        self._apply_colors()

    def set_tokens(self, tokens: Sequence[TokenLogprob], lead: str = "") -> None:
        """Show ``tokens`` after ``lead``, text the model did not write (a branch's start);
        tokens streamed after them are added with ``append_tokens``."""
        self.tokens = list(tokens)
        self.pieces = token_texts(self.tokens)
        self._decoder = _decoder()
        self.lead = lead
        starts: list[int] = []
        ends: list[int] = []
        at = _units(lead)
        for piece in self.pieces:
            starts.append(at)
            at += _units(piece)
            ends.append(at)
        h = self._highlighter
        h.starts = []  # laid out uncoloured first (cheap), then coloured a slice at a time
        self.setPlainText(lead + "".join(self.pieces))
        h.starts, h.ends = starts, ends
        h.steps = [step_of(t.logprob) for t in self.tokens]
        self._recolor()

    def append_tokens(self, tokens: Sequence[TokenLogprob],
                      pieces: Sequence[str] | None = None) -> None:
        """Add ``tokens`` at the end, coloured as they land: streamed ones (decoded here), or
        those of a run that ended with their ``pieces`` of its text (``token_texts``)."""
        if pieces is None:
            pieces = [self._decoder.decode(t.raw) for t in tokens]
        h = self._highlighter
        at = h.ends[-1] if h.ends else _units(self.lead)
        for piece in pieces:  # the spans first: inserting the text highlights its blocks
            h.starts.append(at)
            at += _units(piece)
            h.ends.append(at)
        h.steps.extend(step_of(t.logprob) for t in tokens)
        self.tokens.extend(tokens)
        self.pieces.extend(pieces)
        bar = self.verticalScrollBar()
        follow = bar.value() >= bar.maximum() - 4
        cursor = QTextCursor(self.document())
        cursor.movePosition(QTextCursor.MoveOperation.End)
        cursor.insertText("".join(pieces))
        if follow:
            bar.setValue(bar.maximum())

    def keep(self, count: int) -> None:
        """Drop the tokens from ``count`` on (a run's end cut them, or they differ from it)."""
        if count >= len(self.tokens):
            return
        h = self._highlighter
        cursor = QTextCursor(self.document())
        cursor.setPosition(h.starts[count])
        cursor.movePosition(QTextCursor.MoveOperation.End, QTextCursor.MoveMode.KeepAnchor)
        for kept in (h.starts, h.ends, h.steps, self.tokens, self.pieces):
            del kept[count:]
        cursor.removeSelectedText()

    def token_at(self, point: QPoint) -> int | None:
        """The token under ``point`` (viewport coordinates), or None."""
        if not self.tokens:
            return None
        cursor = self.cursorForPosition(point)
        position = cursor.position()
        if self.cursorRect(cursor).center().x() > point.x() and position > 0:
            position -= 1  # the cursor lands after the character under the point's left half
        h = self._highlighter
        i = bisect_right(h.starts, position) - 1
        if 0 <= i < len(h.ends) and position < h.ends[i]:
            return i
        return None

    def position_of(self, index: int) -> QPoint:
        """The viewport point in the middle of token ``index`` (for tests and keyboard use)."""
        cursor = self.textCursor()
        h = self._highlighter
        cursor.setPosition(h.starts[index])
        left = self.cursorRect(cursor)
        cursor.setPosition(h.ends[index])
        right = self.cursorRect(cursor)
        x = (left.left() + right.left()) // 2 if right.top() == left.top() else left.left() + 2
        return QPoint(x, left.center().y())

    def spans(self) -> list[tuple[int, int, int]]:
        """Each token's (start, end, colour step) in the document."""
        h = self._highlighter
        return list(zip(h.starts, h.ends, h.steps, strict=True))

    def _apply_colors(self) -> None:
        formats: list[QTextCharFormat | None] = []
        for color in step_colors(self.palette()):
            if color is None:
                formats.append(None)
                continue
            fmt = QTextCharFormat()
            fmt.setBackground(color)
            formats.append(fmt)
        self._highlighter.formats = formats
        self._recolor()

    def _recolor(self) -> None:
        """Colour every block again, the visible ones first, a few milliseconds at a time."""
        self._next = self.firstVisibleBlock()
        self._wrapped = self._next.blockNumber() == 0
        self._color_slice()
        if self._next is not None:
            self._slices.start()

    def _color_slice(self) -> None:
        deadline = time.perf_counter() + SLICE_S
        block = self._next
        while block is not None and time.perf_counter() < deadline:
            self._highlighter.rehighlightBlock(block)
            block = block.next()
            if not block.isValid():
                block = None if self._wrapped else self.document().firstBlock()
                self._wrapped = True
            elif self._wrapped and block == self.firstVisibleBlock() and block.blockNumber():
                block = None  # came round to where it started
        self._next = block
        if block is None:
            self._slices.stop()

    @property
    def coloring(self) -> bool:
        """Whether blocks are still being coloured (tests wait for it)."""
        return self._next is not None

    def event(self, event: QEvent) -> bool:
        if event.type() == QEvent.Type.PaletteChange:
            self._apply_colors()
        elif event.type() == QEvent.Type.ToolTip and isinstance(event, QHelpEvent):
            index = self.token_at(self.viewport().mapFromGlobal(event.globalPos()))
            if index is not None:
                QToolTip.showText(event.globalPos(), alternatives_html(self.tokens[index]), self)
                return True
            QToolTip.hideText()
            event.ignore()
            return True
        return super().event(event)

    def mousePressEvent(self, event: QMouseEvent) -> None:
        self._press = event.position().toPoint()
        super().mousePressEvent(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        """Enter, the menu key or Shift+F10 open the alternatives of the token at the text
        cursor (move it with the arrow keys), so the inspector works without a mouse."""
        key, shift = event.key(), event.modifiers() & Qt.KeyboardModifier.ShiftModifier
        if key in (Qt.Key.Key_Return, Qt.Key.Key_Enter, Qt.Key.Key_Menu) or (
            key == Qt.Key.Key_F10 and shift
        ):
            cursor = self.textCursor()
            position = cursor.position()
            i = bisect_right(self._highlighter.starts, position) - 1
            if 0 <= i < len(self.tokens) and position <= self._highlighter.ends[i]:
                self.tokenClicked.emit(
                    i, self.viewport().mapToGlobal(self.cursorRect(cursor).bottomLeft())
                )
                return
        super().keyPressEvent(event)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        super().mouseReleaseEvent(event)
        point = event.position().toPoint()
        moved = self._press is not None and (point - self._press).manhattanLength() > 4
        self._press = None
        if event.button() == Qt.MouseButton.LeftButton and not moved:
            index = self.token_at(point)
            if index is not None:
                self.tokenClicked.emit(index, self.viewport().mapToGlobal(point))
