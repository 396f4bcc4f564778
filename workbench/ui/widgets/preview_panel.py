"""The live preview: exactly what will be sent, its tokens, whether it fits, what it costs.

Three tabs show the rendered messages, the raw prompt a local model reads after its chat template
(through a function the window supplies), and the tokens with their boundaries coloured. Above
them, the token count (exact, or ≈ for an estimate) with the encoding, a context-window gauge
(prompt + max tokens against the window) and the cost at list price.

Every input change restarts a short debounce; the preview is then computed on a worker thread
(``PreviewComputer``), and only the newest result is applied — as small edits to the shown text,
so the views neither flicker nor lose their scroll position while a person types.
"""

from __future__ import annotations

import math

from PySide6.QtCore import QEvent, Qt, QTimer, Signal
from PySide6.QtGui import QFont, QTextCharFormat, QTextCursor
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from workbench.core.errors import MissingVariableError, TemplateError
from workbench.core.grid import DEFAULT_MAX_TOKENS
from workbench.core.model_table import NO_CHARGE
from workbench.core.models import PromptTemplate
from workbench.ui.background import LatestJob
from workbench.ui.theming import monospace_font, status_color
from workbench.ui.widgets.context_gauge import ContextGauge
from workbench.ui.widgets.figure_labels import FittingLabel
from workbench.ui.widgets.palette_colors import tint
from workbench.ui.widgets.preview_compute import (
    TOKEN_VIEW_CHARS,
    Preview,
    PreviewComputer,
    PreviewRequest,
    RawPromptFunction,
    give_values,
)
from workbench.ui.widgets.text_edits import Edit, Segment
from workbench.ui.widgets.token_view import TokenBoundaryView

DEBOUNCE_MS = 150
CURRENCY_SIGNS = {"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥"}

TOKENS_TOOLTIP = (
    "Models read tokens (words, parts of words, punctuation), and every model has its own "
    "tokenizer. 'exact' is counted with this model's tokenizer; '≈' is an estimate made with "
    "another one."
)
COST_TOOLTIP = (
    "The prompt at the model's list input price, plus the most the answer can cost (max tokens, "
    f"or {DEFAULT_MAX_TOKENS} when none is set, at the output price). Prices come from "
    "models.yaml."
)
NOTHING_YET = "Nothing to send yet: write a message in the editor."
RAW_EMPTY = (
    "The raw prompt appears here for local models: their chat template turns the messages into "
    "the one text the model reads, special tokens included."
)


def format_money(amount: float, currency: str) -> str:
    """``$0.00041`` — two significant digits below a cent, cents above."""
    if amount >= 0.01 or amount == 0:
        number = f"{amount:,.2f}"
    else:
        decimals = min(10, 1 - math.floor(math.log10(amount)))
        number = f"{amount:.{decimals}f}"
    sign = CURRENCY_SIGNS.get(currency)
    return f"{sign}{number}" if sign else f"{number} {currency}"


def _apply_segments(
    view: QPlainTextEdit,
    edits: list[Edit] | None,
    segments: tuple[Segment, ...],
    header: QTextCharFormat,
) -> None:
    """Apply ``edits`` to ``view``'s document, or rebuild it from ``segments`` when None."""
    plain = QTextCharFormat()
    cursor = QTextCursor(view.document())
    cursor.beginEditBlock()
    if edits is None:
        cursor.select(QTextCursor.SelectionType.Document)
        cursor.removeSelectedText()
        for segment in segments:
            cursor.insertText(segment.text, header if segment.header else plain)
    else:
        for edit in edits:
            cursor.setPosition(edit.start)
            cursor.setPosition(edit.end, QTextCursor.MoveMode.KeepAnchor)
            cursor.insertText(edit.text, header if edit.header else plain)
    cursor.endEditBlock()


class PreviewPanel(QWidget):
    """Shows what a template sends; recomputes off the GUI thread as its inputs change."""

    #: A preview was applied (the ``Preview``: counts, fit, cost, messages).
    previewUpdated = Signal(object)
    #: The template's render error (a ``TemplateError``), or None once it renders again.
    errorChanged = Signal(object)

    def __init__(self, parent: QWidget | None = None, *, debounce_ms: int = DEBOUNCE_MS) -> None:
        super().__init__(parent)
        self._computer = PreviewComputer()
        self._job = LatestJob(self._apply, parent=self)
        self._template: PromptTemplate | None = None
        self._values: dict[str, str] = {}
        self._model: str | None = None
        self._max_tokens: int | None = None
        self._thinking_budget: int | None = None
        self._context_window: int | None = None
        self._runs_locally = False
        self._default_max_tokens: int | None = None
        self._raw_prompt: RawPromptFunction | None = None
        self._token_chars = TOKEN_VIEW_CHARS
        self._shown_messages: tuple[Segment, ...] = ()
        self._shown_raw: tuple[Segment, ...] = ()
        self._error: TemplateError | None = None
        self._missing: list[str] = []  # with a MissingVariableError: every variable unfilled
        # Variables that may be called missing: the person ran, or left their field empty.
        # Until then an empty variable is being filled in, not an error.
        self._flagged: set[str] = set()
        self.preview: Preview | None = None
        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(debounce_ms)
        self._debounce.timeout.connect(self.refresh)

        # --- the summary: tokens, context gauge, cost -------------------------------------
        self.tokens_label = QLabel("—", self)
        self.tokens_label.setAccessibleName("Token count")
        self.tokens_label.setToolTip(TOKENS_TOOLTIP)
        self.tokens_label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.gauge = ContextGauge(self)
        self.window_label = QLabel(self)
        self.window_label.setAccessibleName("Context window use")
        self.window_label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.window_label.setToolTip(self.gauge.toolTip())
        self.cost_label = FittingLabel(self)
        self.cost_label.setAccessibleName("Cost estimate")
        self.cost_label.setToolTip(COST_TOOLTIP)
        self.cost_label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        summary = QHBoxLayout()
        summary.setContentsMargins(8, 4, 8, 4)
        summary.setSpacing(8)
        summary.addWidget(self.tokens_label)
        summary.addWidget(self.gauge, 1)
        summary.addWidget(self.window_label)
        summary.addSpacing(8)
        summary.addWidget(self.cost_label)

        # --- the error banner ---------------------------------------------------------------
        self.error_label = QLabel(self)
        self.error_label.setWordWrap(True)
        self.error_label.setAutoFillBackground(True)
        self.error_label.setContentsMargins(8, 4, 8, 4)
        self.error_label.setAccessibleName("Render error")
        self.error_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.error_label.hide()

        # --- the tabs -------------------------------------------------------------------------
        self.messages_view = self._text_view("Rendered messages",
                                             "Exactly the messages that will be sent, with the "
                                             "tokens each one's content takes.")
        self.raw_view = self._text_view("Raw prompt",
                                        "The one text a local model reads after its chat "
                                        "template, special tokens included.")
        self.raw_note = QLabel(RAW_EMPTY, self)
        self.raw_note.setWordWrap(True)
        self.raw_note.setAccessibleName("Raw prompt note")
        self.raw_note.setContentsMargins(8, 4, 8, 4)
        raw_page = QWidget(self)
        raw_layout = QVBoxLayout(raw_page)
        raw_layout.setContentsMargins(0, 0, 0, 0)
        raw_layout.setSpacing(0)
        raw_layout.addWidget(self.raw_note)
        raw_layout.addWidget(self.raw_view, 1)
        self.token_view = TokenBoundaryView(self)
        self.token_note = QLabel(self)
        self.token_note.setAccessibleName("Tokens shown")
        self.token_note.setContentsMargins(8, 4, 8, 4)
        self.show_all_tokens = QPushButton("Show all", self)
        self.show_all_tokens.setAccessibleName("Show all tokens")
        self.show_all_tokens.setToolTip("Colour every token (slower for a very long prompt).")
        self.show_all_tokens.clicked.connect(self._show_all_tokens)
        self.show_all_tokens.hide()
        token_bar = QHBoxLayout()
        token_bar.setContentsMargins(0, 0, 8, 0)
        token_bar.addWidget(self.token_note, 1)
        token_bar.addWidget(self.show_all_tokens)
        tokens_page = QWidget(self)
        tokens_layout = QVBoxLayout(tokens_page)
        tokens_layout.setContentsMargins(0, 0, 0, 0)
        tokens_layout.setSpacing(0)
        tokens_layout.addLayout(token_bar)
        tokens_layout.addWidget(self.token_view, 1)
        self.tabs = QTabWidget(self)
        self.tabs.setDocumentMode(True)  # no frame around the pages: the panel has one
        self.tabs.addTab(self.messages_view, "Messages")
        self.tabs.addTab(raw_page, "Raw prompt")
        self.tabs.addTab(tokens_page, "Tokens")
        self.tabs.setTabToolTip(0, self.messages_view.toolTip())
        self.tabs.setTabToolTip(1, self.raw_view.toolTip())
        self.tabs.setTabToolTip(2, self.token_view.toolTip())
        self.tabs.setAccessibleName("Preview")
        self.tabs.currentChanged.connect(self._tab_changed)
        self.tokens_page = tokens_page

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        layout.addLayout(summary)
        layout.addWidget(self.error_label)
        layout.addWidget(self.tabs, 1)
        self._header_format = QTextCharFormat()
        self._update_header_format()
        self._show_summary(None)

    def _text_view(self, name: str, tip: str) -> QPlainTextEdit:
        view = QPlainTextEdit(self)
        view.setReadOnly(True)
        view.setFont(monospace_font())
        view.setAccessibleName(name)
        view.setToolTip(tip)
        view.setPlaceholderText(NOTHING_YET)
        return view

    # --- inputs ---------------------------------------------------------------------------

    def set_template(self, template: PromptTemplate) -> None:
        self._template = template
        self._schedule()

    def set_values(self, values: dict[str, str]) -> None:
        self._values = dict(values)
        self._schedule()

    def set_model(self, model: str | None) -> None:
        """The model counted for: its tokenizer, context window and price."""
        self._model = model or None
        self._schedule()

    def set_max_tokens(self, max_tokens: int | None, thinking_budget: int | None = None) -> None:
        """The answer's budget the cost counts, and the part of it the model may think with
        (a thinking budget the backend honours)."""
        self._max_tokens = max_tokens
        self._thinking_budget = thinking_budget
        self._schedule()

    def set_context_window(self, window: int | None) -> None:
        """A window to use instead of the model table's (e.g. a local model's n_ctx)."""
        self._context_window = window
        self._schedule()

    def set_runs_locally(self, local: bool, default_max_tokens: int | None = None) -> None:
        """Whether the model runs on this computer (then a run costs nothing), and the answer
        limit its backend sends when none is set (None: the model's own, unknown)."""
        self._runs_locally = local
        self._default_max_tokens = default_max_tokens
        self._schedule()

    def set_raw_prompt_function(self, function: RawPromptFunction | None) -> None:
        """How the selected backend turns messages into its raw prompt (None: not a local model).

        It is called on the preview's worker thread, so it must not touch Qt objects.
        """
        self._raw_prompt = function
        self._shown_raw = ()
        self._schedule()

    def _schedule(self) -> None:
        self._debounce.start()

    def refresh(self) -> int:
        """Compute the preview now (off the GUI thread); returns the job's generation."""
        self._debounce.stop()
        if self._template is None:
            return self._job.generation
        request = PreviewRequest(
            template=self._template,
            values=self._values,
            model=self._model,
            max_tokens=self._max_tokens,
            default_max_tokens=self._default_max_tokens,
            thinking_budget=self._thinking_budget,
            context_window=self._context_window,
            price=NO_CHARGE if self._runs_locally else None,
            raw_prompt=self._raw_prompt,
            want_tokens=self.tabs.currentWidget() is self.tokens_page,
            token_chars=self._token_chars,
            shown_messages=self._shown_messages,
            shown_raw=self._shown_raw,
        )
        return self._job.submit(self._computer.compute, request)

    def wait(self, msecs: int = 5000) -> bool:
        """Block until the worker is idle (shutdown, benchmarks)."""
        return self._job.wait(msecs)

    # --- results -------------------------------------------------------------------------

    def _apply(self, preview: Preview) -> None:
        self._missing = preview.missing
        self._show_error(preview.error)
        if preview.error is not None:
            self.errorChanged.emit(preview.error)
            return
        self.preview = preview
        request = preview.request
        edits = preview.message_edits if request.shown_messages is self._shown_messages else None
        _apply_segments(self.messages_view, edits, preview.message_segments, self._header_format)
        self._shown_messages = preview.message_segments
        self._show_raw(preview)
        if preview.tokens is not None:
            self._show_tokens(preview)
        self._show_summary(preview)
        self.errorChanged.emit(None)
        self.previewUpdated.emit(preview)

    def _show_raw(self, preview: Preview) -> None:
        palette = self.raw_note.palette()
        palette.setColor(palette.ColorRole.WindowText, self.palette().text().color())
        if preview.raw_error is not None:
            self.raw_note.setText(f"The chat template failed: {preview.raw_error}")
            palette.setColor(palette.ColorRole.WindowText, status_color("error"))
        elif preview.completion and self._raw_prompt is not None:
            self.raw_note.setText("A completion template is sent as its text: see Messages.")
        elif preview.raw_prompt is None:
            self.raw_note.setText(RAW_EMPTY)
        self.raw_note.setPalette(palette)
        self.raw_note.setVisible(preview.raw_prompt is None)
        self.raw_view.setVisible(preview.raw_prompt is not None)
        if preview.raw_prompt is not None:
            same_base = preview.request.shown_raw is self._shown_raw
            edits = preview.raw_edits if same_base else None
            _apply_segments(self.raw_view, edits, preview.raw_segments, self._header_format)
            self._shown_raw = preview.raw_segments

    def _show_tokens(self, preview: Preview) -> None:
        view = preview.tokens
        assert view is not None
        self.token_view.set_tokens(view)
        counted = "raw prompt" if preview.counted == "raw prompt" else "message contents"
        if view.truncated:
            self.token_note.setText(
                f"The first {view.shown_tokens:,} tokens of the {counted} "
                f"({preview.count_text} in all)."
            )
        else:
            self.token_note.setText(f"{view.shown_tokens:,} tokens in the {counted}.")
        self.show_all_tokens.setVisible(view.truncated)

    def _show_summary(self, preview: Preview | None) -> None:
        if preview is None:
            self.tokens_label.setText("— tokens")
            self.window_label.setText("")
            self.cost_label.set_texts("")
            self.gauge.set_fit(None)
            self.window_label.setToolTip(self.gauge.toolTip())
            return
        label = "exact" if preview.exact else "estimate"
        self.tokens_label.setText(f"{preview.count_text} tokens · {label} · {preview.tokenizer}")
        lines = [preview.note + "."]
        if not preview.completion:
            lines += [
                f"{m.role}: {n:,} tokens of content"
                for m, n in zip(preview.messages, preview.content_tokens, strict=True)
            ]
            if preview.counted == "messages":
                lines.append(
                    f"+ 3 per message and {preview.reply_priming} to prime the reply "
                    "(chat overhead)"
                )
        self.tokens_label.setToolTip("\n".join([*lines, "", TOKENS_TOOLTIP]))
        fit = preview.fit
        self.gauge.set_fit(fit)
        self.window_label.setToolTip(self.gauge.toolTip())
        window_palette = self.window_label.palette()
        window_palette.setColor(window_palette.ColorRole.WindowText, self.palette().text().color())
        if fit is None:
            why = "no model chosen" if not self._model else f"window of {self._model} unknown"
            self.window_label.setText(why)
        else:
            self.window_label.setText(f"{fit.needed:,} / {fit.context_window:,} ctx")
            if self.gauge.state == "over":
                self.window_label.setText(
                    f"{fit.needed:,} / {fit.context_window:,} ctx · {fit.overflow:,} over"
                )
                window_palette.setColor(window_palette.ColorRole.WindowText,
                                        status_color("error"))
            elif self.gauge.state == "near":
                window_palette.setColor(window_palette.ColorRole.WindowText,
                                        status_color("warning"))
        self.window_label.setPalette(window_palette)
        self.cost_label.set_texts(*self._cost_texts(preview))

    def _cost_texts(self, preview: Preview) -> tuple[str, str]:
        """The cost, and a shorter form without the answer's budget for a narrow panel."""
        cost = preview.cost
        if cost is None:
            self.cost_label.setToolTip(
                "No list price for this model: add its price to models.yaml to see the cost.\n\n"
                + COST_TOOLTIP
            )
            return "cost unknown", "cost unknown"
        if cost.price == NO_CHARGE:
            self.cost_label.setToolTip(
                "The model runs on this computer: its runs cost nothing but time and power."
            )
            return "free (local)", "free (local)"
        approx = "" if cost.exact else "≈ "
        assumed = " assumed" if preview.output_assumed else ""
        budget = (
            f"no max tokens set, so {preview.output_tokens:,} are assumed (the backend's own "
            "limit where it sends one, as in sweep and compare estimates)"
            if preview.output_assumed
            else f"{preview.output_tokens:,} max tokens"
        )
        out = cost.output + cost.reasoning
        thinking = (
            f", of which up to {format_money(cost.reasoning, cost.currency)} for "
            f"{preview.reasoning_tokens:,} thinking tokens (billed as output)"
            if preview.reasoning_tokens else ""
        )
        self.cost_label.setToolTip(
            f"Prompt {format_money(cost.input, cost.currency)} at "
            f"{cost.price.input:g} {cost.currency}/M input tokens; the answer at most "
            f"{format_money(out, cost.currency)} at {cost.price.output:g} "
            f"{cost.currency}/M output tokens ({budget}){thinking}.\n\n{COST_TOOLTIP}"
        )
        short = (
            f"{approx}{format_money(cost.input, cost.currency)} in + ≤ "
            f"{format_money(out, cost.currency)} out"
        )
        think = f", ≤ {preview.reasoning_tokens:,} thinking" if preview.reasoning_tokens else ""
        return f"{short} ({preview.output_tokens:,} max tokens{assumed}{think})", short

    def flag_missing(self, name: str) -> None:
        """From now on a missing ``name`` is an error (a run needed it, or its field was left
        empty)."""
        self._flagged.add(name)
        if self._error is not None:
            self._show_error(self._error)

    def new_document(self) -> None:
        """Another document comes next: its variables are being filled in, and nothing shown
        may be the one before's — not its render (the fallback while the new one has an error
        shows only a render of the same document), not its counts, not a result still being
        computed for it."""
        self._flagged.clear()
        self._job.discard()
        self.preview = None
        self._shown_messages = ()
        self._shown_raw = ()
        for view in (self.messages_view, self.raw_view):
            view.clear()
        self.token_view.set_tokens(None)
        self.token_note.clear()
        self.show_all_tokens.hide()
        self._missing = []
        self._show_error(None)
        self._show_summary(None)

    def is_quiet(self, error: TemplateError | None) -> bool:
        """A variable with no value yet, not flagged: a note, not an error."""
        return isinstance(error, MissingVariableError) and error.name not in self._flagged

    def _show_error(self, error: TemplateError | None) -> None:
        self._error = error
        if error is None:
            self.error_label.hide()
            self.messages_view.setPlaceholderText(NOTHING_YET)
            for view in (self.messages_view, self.raw_view, self.token_view):
                view.setEnabled(True)
            return
        color = status_color("error")
        if isinstance(error, MissingVariableError) and self.is_quiet(error):
            color = self.palette().placeholderText().color()
        palette = self.error_label.palette()
        palette.setColor(palette.ColorRole.Window, tint(color, 38))
        palette.setColor(palette.ColorRole.WindowText, color)
        self.error_label.setPalette(palette)
        stale = " The preview below is the last one that rendered." if self.preview else ""
        missing = self.missing
        text = (
            f"{give_values(missing)} to see the preview"
            if isinstance(error, MissingVariableError) and self.is_quiet(error)
            else str(error)
        )
        self.error_label.setText(f"{text.rstrip('.')}.{stale}")  # one full stop, not two
        # With nothing rendered for this document yet, the empty views say what is missing.
        self.messages_view.setPlaceholderText(
            f"Nothing to send yet: fill in {', '.join(missing)} (the fields above)."
            if missing else "Nothing to show until the template renders: see the error above."
        )
        self.error_label.show()
        for view in (self.messages_view, self.raw_view, self.token_view):
            view.setEnabled(False)  # greyed: it no longer matches the template

    @property
    def error(self) -> TemplateError | None:
        return self._error

    @property
    def missing(self) -> list[str]:
        """With a missing-variable error: every variable still without a value."""
        error = self._error
        if not isinstance(error, MissingVariableError):
            return []
        return self._missing or [error.name]

    # --- view state -------------------------------------------------------------------------

    def _tab_changed(self, _index: int) -> None:
        if self.tabs.currentWidget() is self.tokens_page:
            if self._template is not None:
                self.refresh()
        else:
            self._token_chars = TOKEN_VIEW_CHARS  # "Show all" lasts while the tab is open

    def _show_all_tokens(self) -> None:
        self._token_chars = 1 << 62
        self.refresh()

    def _update_header_format(self) -> None:
        self._header_format = QTextCharFormat()
        self._header_format.setFontWeight(QFont.Weight.Bold)
        self._header_format.setForeground(self.palette().placeholderText())

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if event.type() == QEvent.Type.PaletteChange:
            self._update_header_format()
            self._shown_messages = ()  # rebuild with the new header colour
            self._shown_raw = ()
            if self._template is not None:
                self.refresh()
