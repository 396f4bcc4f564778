"""The token inspector: an answer coloured by how sure the model was of each token, live.

The legend above the coloured text (``token_text.TokenTextView``). Hovering a token shows its
top-k alternatives; clicking one opens them as a menu, from which a local run can be branched:
the answer up to that token, then the chosen alternative, continued as a new run.

While a run streams, its tokens are received as they come (``receive``, cheap) and shown by
the output view's frame clock (``catch_up``) at most ``FRAME_TOKENS`` per frame, only while the
inspector is shown; when the run ends, ``show_run`` settles the streamed tokens to the stored
ones, so the view ends exactly as the run shown afresh from history would.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from html import escape

from PySide6.QtCore import QEvent, QPoint, Qt, Signal
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QLabel, QMenu, QToolButton, QVBoxLayout, QWidget

from workbench.core.logprobs import (
    TokenLogprob,
    mean_logprob,
    perplexity,
    probability,
    token_texts,
)
from workbench.core.models import RunResult
from workbench.ui.widgets.token_text import STEP_NAMES, TokenTextView, shown_token, step_colors

WAITING = ("The tokens are coloured by probability as they stream in (runs with 'Token "
           "alternatives' set).")
NO_TOKENS = (
    "No token probabilities for this run. Set 'Token alternatives' in the parameters (the "
    "local model and OpenAI-compatible servers return them) and run again."
)
STREAMING_NOTE = "Branching is offered once the run has ended"
#: Most streamed tokens shown per frame: a burst (a fast server, the Tokens switch turned on
#: mid-run) is spread over frames. 2,000 tokens at once held the window 19 ms (15 ms of CPU);
#: 160 take about 1 ms (bench/bench_token_inspector.py).
FRAME_TOKENS = 160
#: Most tokens shown as they streamed that may go at the run's end (those past a stop sequence,
#: a character cut at the end) before it is shown afresh instead.
SETTLE_TAIL = 64


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
        #: The tokens of the run on its way so far; all of them once it has ended, with their
        #: pieces of its text.
        self.streamed: list[TokenLogprob] = []
        self._pieces: list[str] | None = None
        self.lead = ""  # that run's given beginning (a branch's), once it has started
        self.set_tokens(None)

    def set_tokens(self, tokens: Sequence[TokenLogprob] | None, *, branch_note: str = "",
                   lead: str = "") -> None:
        """Show a run's tokens (None or empty: say how to get them) after ``lead``, a branch's
        given beginning. ``branch_note`` says why branching is not offered ("" when it is)."""
        self.branch_note = branch_note
        self.view.set_tokens(tokens or (), lead)
        self.empty.setText(NO_TOKENS)
        self._show_view(bool(tokens))

    def _show_view(self, on: bool) -> None:
        self.view.setVisible(on)
        self.legend.setVisible(on)
        self.empty.setVisible(not on)

    def wait(self) -> None:
        """A run is on its way: its tokens show as they stream in (not "none asked for")."""
        self.set_tokens(None)
        self.empty.setText(WAITING)
        self.streamed = []
        self.lead = ""
        self._pieces = None

    def receive(self, tokens: Sequence[TokenLogprob]) -> None:
        """Tokens of the run on its way, shown by the coming ``catch_up`` calls."""
        self.streamed.extend(tokens)

    @property
    def caught_up(self) -> bool:
        """Whether every token received is shown."""
        return len(self.view.tokens) >= len(self.streamed)

    def catch_up(self) -> None:
        """Show up to ``FRAME_TOKENS`` more of the tokens received (called once a frame)."""
        shown = len(self.view.tokens)
        more = self.streamed[shown:shown + FRAME_TOKENS]
        if not more:
            return
        if not shown and self._pieces is None:  # the run's first tokens
            self.set_tokens(None, branch_note=STREAMING_NOTE, lead=self.lead)
            self._show_view(True)
        pieces = None if self._pieces is None else self._pieces[shown:shown + len(more)]
        self.view.append_tokens(more, pieces)

    def show_run(self, result: RunResult) -> None:
        """Show a run's tokens after its given start (a branch's), saying whether it branches.
        Tokens shown as they streamed stay: the view is cut back to where they agree with the
        run's (a stop sequence's tokens go, a character cut at the end is completed) and the
        rest follows over the next ``catch_up`` calls, so it ends as the run shown afresh."""
        check = self.branch_check
        note = "Branching is offered in the main window" if check is None else check(result)
        lead = result.request.continue_from or ""
        final = list(result.logprobs or ())
        pieces = token_texts(final)
        shown = self.view
        same, most = 0, min(len(final), len(shown.tokens))
        while (same < most and final[same] == shown.tokens[same]
               and pieces[same] == shown.pieces[same]):
            same += 1
        if (not final or not self.streamed or not shown.tokens or lead != shown.lead
                or len(shown.tokens) - same > SETTLE_TAIL):
            self.streamed, self._pieces = [], None
            self.set_tokens(final, branch_note=note, lead=lead)
            return
        shown.keep(same)
        self.streamed, self._pieces = final, pieces
        self.branch_note = note

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
