"""The token inspector: an answer coloured by how sure the model was of each token.

Each token's background says its probability in five steps (none from 90 %, then amber to red
as it falls), blended from the theme's status colours into the base colour, so the scale reads
in light and dark themes alike and the text keeps its contrast. Hovering a token shows its top-k
alternatives; clicking one opens them as a menu, from which a local run can be branched: the
answer up to that token, then the chosen alternative, continued as a new run.

Colouring is a ``QSyntaxHighlighter`` over token offsets (as the prompt's token view does), run
block by block in slices of a few milliseconds from the visible text on: colouring all 2,000
tokens of an answer at once held the window 12 ms, and their layout as long again
(bench/bench_token_inspector.py).
"""

from __future__ import annotations

import math
import time
from bisect import bisect_right
from collections.abc import Callable, Sequence
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
    QTextDocument,
)
from PySide6.QtWidgets import (
    QLabel,
    QMenu,
    QPlainTextEdit,
    QToolButton,
    QToolTip,
    QVBoxLayout,
    QWidget,
)

from workbench.core.logprobs import TokenLogprob, mean_logprob, perplexity, probability
from workbench.core.logprobs import token_texts as _token_texts
from workbench.core.models import RunResult
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
WAITING = "The tokens are coloured by probability when the answer is complete."
NO_TOKENS = (
    "No token probabilities for this run. Set 'Token alternatives' in the parameters (the "
    "local model and OpenAI-compatible servers return them) and run again."
)


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


def confidence_figures(tokens: Sequence[TokenLogprob] | None) -> tuple[str, str]:
    """``("ppl 1.42", tooltip)`` for a run's tokens; ``("", "")`` without any."""
    if not tokens:
        return "", ""
    mean = mean_logprob(tokens)
    ppl = perplexity(tokens)
    assert mean is not None and ppl is not None
    return (
        f"ppl {ppl:.2f}",
        f"Mean log-probability {mean:.3f} per token over {len(tokens):,} tokens; perplexity "
        f"{ppl:.2f} (1 when the model was sure of every token; higher: more torn between "
        "choices)",
    )


def tokens_toggle(parent: QWidget) -> QToolButton:
    """The output's "Tokens" switch: the answer as text, or coloured by token probability."""
    button = QToolButton(parent)
    button.setText("Tokens")
    button.setCheckable(True)
    button.setAutoRaise(True)
    button.setAccessibleName("Show output tokens by probability")
    button.setToolTip(
        "Colour the answer by how sure the model was of each token; hover a token for its "
        "alternatives (runs with 'Token alternatives' set)"
    )
    return button


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
        self._press: QPoint | None = None
        self._apply_colors()

    def set_tokens(self, tokens: Sequence[TokenLogprob], lead: str = "") -> None:
        """Show ``tokens`` after ``lead``, text the model did not write (a branch's start)."""
        self.tokens = list(tokens)
        self.pieces = _token_texts(self.tokens)
        self.lead = lead
        starts: list[int] = []
        ends: list[int] = []
        at = len(lead.encode("utf-16-le")) // 2
        for piece in self.pieces:
            starts.append(at)
            # document positions count UTF-16 units
            at += len(piece) if piece.isascii() else len(piece.encode("utf-16-le")) // 2
            ends.append(at)
        h = self._highlighter
        h.starts = []  # laid out uncoloured first (cheap), then coloured a slice at a time
        self.setPlainText(lead + "".join(self.pieces))
        h.starts, h.ends = starts, ends
        h.steps = [step_of(t.logprob) for t in self.tokens]
        self._recolor()

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


class TokenInspector(QWidget):
    """The legend and the coloured answer; emits ``branchRequested(index, alternative)`` when an
    alternative is picked from a token's menu and branching is possible."""

    branchRequested = Signal(int, str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.legend = QLabel(self)
        self.legend.setAccessibleName("Probability colours")
        self.legend.setTextFormat(Qt.TextFormat.RichText)
        self.legend.setContentsMargins(4, 0, 0, 0)
        self.view = TokenTextView(self)
        self.view.tokenClicked.connect(self.open_alternatives)
        self.empty = QLabel(NO_TOKENS, self)
        self.empty.setWordWrap(True)
        self.empty.setContentsMargins(4, 4, 4, 4)
        self.empty.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.popup: QMenu | None = None
        self.branch_note = ""  # why branching is not offered ("" when it is)
        #: Says why a run cannot be branched ("" when it can); None: no branching here.
        self.branch_check: Callable[[RunResult], str] | None = None
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(self.legend)
        layout.addWidget(self.view, 1)
        layout.addWidget(self.empty, 1)
        self._show_legend()
        self.set_tokens(None)

    def set_tokens(self, tokens: Sequence[TokenLogprob] | None, *, branch_note: str = "",
                   lead: str = "") -> None:
        """Show a run's tokens (None or empty: say how to get them) after ``lead``, a branch's
        given beginning. ``branch_note`` says why branching is not offered ("" when it is)."""
        self.branch_note = branch_note
        self.view.set_tokens(tokens or (), lead)
        self.view.setVisible(bool(tokens))
        self.legend.setVisible(bool(tokens))
        self.empty.setText(NO_TOKENS)
        self.empty.setVisible(not tokens)

    def wait(self) -> None:
        """A run is on its way: its tokens are shown when it ends (not "none asked for")."""
        self.set_tokens(None)
        self.empty.setText(WAITING)

    def show_run(self, result: RunResult) -> None:
        """Show a run's tokens after its given start (a branch's), saying whether it branches."""
        check = self.branch_check
        note = "Branching is offered in the main window" if check is None else check(result)
        self.set_tokens(result.logprobs, branch_note=note, lead=result.request.continue_from or "")

    def open_alternatives(self, index: int, where: QPoint | None = None) -> QMenu:
        """A menu of token ``index``'s alternatives; picking one branches there."""
        token = self.view.tokens[index]
        menu = QMenu(self)
        menu.setAccessibleName("Token alternatives")
        head = menu.addAction(f"{shown_token(token.token)}  {probability(token.logprob):.1%}"
                              f"  (token {index + 1})")
        head.setEnabled(False)
        menu.addSeparator()
        for alt in token.top:
            action = menu.addAction(
                f"Branch with {shown_token(alt.token)}  {probability(alt.logprob):.1%}"
            )
            written = alt.token == token.token
            action.setEnabled(not self.branch_note and not written)
            action.setToolTip("the token the model wrote" if written else self.branch_note or
                              "Continue the answer from here with this token, as a new run")
            action.triggered.connect(
                lambda _c=False, i=index, t=alt.token: self.branchRequested.emit(i, t)
            )
        if self.branch_note:
            note = menu.addAction(self.branch_note)
            note.setEnabled(False)
        menu.setToolTipsVisible(True)
        self.popup = menu
        menu.popup(where if where is not None else
                   self.view.viewport().mapToGlobal(self.view.position_of(index)))
        return menu

    def prefix(self, index: int, alternative: str) -> str:
        """The answer up to token ``index``, then ``alternative``: where a branch starts."""
        return self.view.lead + "".join(self.view.pieces[:index]) + alternative

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.PaletteChange:
            self._show_legend()
        super().changeEvent(event)

    def _show_legend(self) -> None:
        text = self.palette().color(QPalette.ColorRole.Text).name()
        swatches = []
        for name, color in zip(STEP_NAMES, step_colors(self.palette()), strict=True):
            fill = color.name() if color is not None else self.palette().color(
                QPalette.ColorRole.Base).name()
            swatches.append(f"<span style='background:{fill}; color:{text}'>&nbsp;"
                            f"{escape(name)}&nbsp;</span>")
        self.legend.setText("Probability: " + " ".join(swatches))
        self.legend.setToolTip("How sure the model was of each token. Hover a token for its "
                               "alternatives; click it to pick one and branch (local model)")
