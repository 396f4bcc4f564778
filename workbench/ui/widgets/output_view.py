"""The streaming output of one run: text as Markdown or plain monospace, an honest status line,
live time to first token and tokens/s, copy / re-run / cancel, and failures inline with the fix.

Chunks are buffered and painted by the shared frame clock (each view about 33 Hz, staggered with
the other views; see ``frame_clock``), never one per token: the cost of a refresh does not grow
with the model's speed, and in Markdown mode it does not grow with the answer's length either
(see ``MarkdownStream``).
"""

from __future__ import annotations

import time
from html import escape
from typing import Literal

from PySide6.QtCore import QEvent, Qt, QTimer, Signal
from PySide6.QtGui import (
    QAction,
    QColor,
    QGuiApplication,
    QKeySequence,
    QPalette,
    QTextCursor,
)
from PySide6.QtWidgets import (
    QAbstractScrollArea,
    QButtonGroup,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QSizePolicy,
    QStackedWidget,
    QTextBrowser,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from workbench.core.models import RunResult, SentRequest
from workbench.core.outcome import RunOutcome, RunStatus, status_of
from workbench.ui import theming
from workbench.ui.run_text import (
    FINISH_TEXT,
    figure_tips,
    finish_status,
    format_cost,
    format_duration,
    format_rate,
    output_rate,
    tokens_text,
    what_to_do,
)
from workbench.ui.widgets.figure_labels import ElidedLabel, MetricLabel
from workbench.ui.widgets.frame_clock import FrameBudget, frame_clock
from workbench.ui.widgets.markdown_stream import MarkdownStream
from workbench.ui.widgets.schema_label import SchemaLabel
from workbench.ui.widgets.thinking_panel import ThinkingPanel
from workbench.ui.widgets.token_inspector import (
    TokenInspector,
    confidence_figures,
    tokens_toggle,
)
from workbench.ui.workers import ChunkBatch, RunWorker

State = Literal["idle", "running", "streaming", "cancelling", "finished", "failed", "cancelled"]
Mode = Literal["markdown", "plain"]
#: What the view says of a run that ended (the runner decided how: ``core.outcome.status_of``).
STATE_OF: dict[RunStatus, State] = {"ok": "finished", "error": "failed", "cancelled": "cancelled"}

#: Paint at least this much when there is budget left. Short answers still appear in one go
#: (before the painting speed is learnt a paint covers over 1 KB); Markdown that is slow to lay
#: out (a table: about 0.2 ms per row) moves on in steps that fit a frame (1 KB was 26 rows).
MIN_PAINT_CHARS = 256
EMPTY_TEXT = "Press Run (Ctrl+Enter) and the answer streams in here."


def _tool_button(parent: QWidget, action: QAction) -> QToolButton:
    button = QToolButton(parent)
    button.setDefaultAction(action)
    button.setAutoRaise(True)
    button.setAccessibleName(action.text().replace("&", ""))
    return button


def _sent_to(sent: SentRequest) -> str:
    """"down · llama3" (the configured backend's name when known, else its type)."""
    return f"{sent.backend_name or sent.backend} · {sent.model}"


class OutputView(QWidget):
    """Shows one run at a time. ``attach(worker)`` follows a live run; ``show_result(result)``
    shows a finished one (e.g. from history)."""

    rerunRequested = Signal()
    cancelRequested = Signal()
    stateChanged = Signal(str)
    modeChanged = Signal(str)
    #: A token alternative was picked: (the shown run's result, the answer's text up to the
    #: token then the alternative, the token's index).
    branchRequested = Signal(object, str, int)

    def __init__(self, parent: QWidget | None = None, *, currency: str = "USD") -> None:
        super().__init__(parent)
        self.currency = currency
        self._state: State = "idle"
        self._mode: Mode = "markdown"
        self._parts: list[str] = []
        self._pending: list[str] = []
        self._rendered: dict[Mode, int] = {"markdown": 0, "plain": 0}  # chars shown per mode
        self._chars_per_s = 250_000.0  # painting speed, learnt as it paints
        self._worker: RunWorker | None = None
        self._last_batch: ChunkBatch | None = None
        self._run_start = 0.0
        self._result: RunResult | None = None
        self.outcome: RunOutcome | None = None  # the followed run's end, with its stored id
        self.run_id: str | None = None  # the shown run's id in history, when it is known
        self._sent_to = ""  # "backend · model" of the run shown
        self._build()
        self._clock = QTimer(self)  # elapsed time keeps counting while the model is silent
        self._clock.setInterval(200)
        self._clock.timeout.connect(self._tick)
        self._show_state()

    # --- construction -----------------------------------------------------------------------

    def _build(self) -> None:
        self.cancel_action = QAction("Cancel", self)
        self.cancel_action.setShortcut(QKeySequence(Qt.Key.Key_Escape))
        self.cancel_action.setToolTip("Stop this run; the text so far is kept (Esc)")
        self.cancel_action.triggered.connect(self.cancel)
        self.copy_action = QAction("Copy output", self)
        self.copy_action.setShortcut(QKeySequence("Ctrl+Shift+C"))
        self.copy_action.setToolTip(
            "Copy the whole output (Ctrl+Shift+C); Ctrl+C copies a selection"
        )
        self.copy_action.triggered.connect(self.copy)
        self.rerun_action = QAction("Re-run", self)
        self.rerun_action.setShortcut(QKeySequence("Ctrl+R"))
        self.rerun_action.setToolTip("Run the same request again (Ctrl+R)")
        self.rerun_action.triggered.connect(self.rerunRequested)
        for action in (self.cancel_action, self.copy_action, self.rerun_action):
            action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            self.addAction(action)

        self.status = ElidedLabel(self)
        self.status.setAccessibleName("Run status")
        self.status.setTextFormat(Qt.TextFormat.PlainText)
        self.status.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        self.ttft_label = self._metric("Time to first token", "TTFT 000 ms")
        self.rate_label = self._metric("Tokens per second", "≈ 000 tok/s")
        self.tokens_label = self._metric("Output tokens", "0,000 tok")
        self.total_label = self._metric("Total time", "0.00 s")
        self.cost_label = self._metric("Cost", "")
        self.confidence_label = self._metric("Perplexity", "ppl 00.00")

        self.markdown_button = QToolButton(self)
        self.markdown_button.setText("Markdown")
        self.plain_button = QToolButton(self)
        self.plain_button.setText("Plain")
        self.mode_group = QButtonGroup(self)
        for button, mode in ((self.markdown_button, "markdown"), (self.plain_button, "plain")):
            button.setCheckable(True)
            button.setAutoRaise(True)
            button.setAccessibleName(f"Show output as {button.text()}")
            button.setToolTip(
                "Render the answer as Markdown (Ctrl+Shift+M toggles)" if mode == "markdown"
                else "Show the raw text in a monospace font (Ctrl+Shift+M toggles)"
            )
            self.mode_group.addButton(button)
            button.clicked.connect(lambda _c=False, m=mode: self.set_mode(m))
        self.markdown_button.setChecked(True)
        self.tokens_button = tokens_toggle(self)
        self.tokens_button.toggled.connect(self.show_tokens)
        toggle = QAction("Toggle Markdown", self)
        toggle.setShortcut(QKeySequence("Ctrl+Shift+M"))
        toggle.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        toggle.triggered.connect(
            lambda: self.set_mode("plain" if self._mode == "markdown" else "markdown")
        )
        self.addAction(toggle)

        self.copy_button = _tool_button(self, self.copy_action)
        self.rerun_button = _tool_button(self, self.rerun_action)
        self.cancel_button = _tool_button(self, self.cancel_action)
        self.copied_label = QLabel(self)
        self.copied_label.setAccessibleName("Copy confirmation")

        # The status has a line of its own: beside the figures it was cut to "✓ finished · sto…"
        # in a 1366 px window. The figures and the Markdown/Plain switch go on the line below.
        header = QHBoxLayout()
        header.setContentsMargins(4, 0, 0, 0)  # text starts where the document's margin ends
        header.setSpacing(8)
        header.addWidget(self.status, 1)
        header.addWidget(self.copied_label)
        header.addWidget(self.copy_button)
        header.addWidget(self.rerun_button)
        header.addWidget(self.cancel_button)
        figures = QHBoxLayout()
        figures.setContentsMargins(4, 0, 0, 0)
        figures.setSpacing(12)
        for label in (self.ttft_label, self.rate_label, self.tokens_label, self.total_label,
                      self.cost_label, self.confidence_label):
            label.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
            figures.addWidget(label)
        # set_schema: checks each finished answer. On a line of its own (hidden when there is
        # nothing to check): beside the figures a 1366 px window cut a violation to "schema ✗…".
        self.schema_label = SchemaLabel(self)
        self.schema_label.setContentsMargins(4, 0, 0, 0)
        figures.addStretch(1)
        figures.addWidget(self.markdown_button)
        figures.addWidget(self.plain_button)
        figures.addWidget(self.tokens_button)

        self.error_label = QLabel(self)
        self.error_label.setAccessibleName("Run error")
        self.error_label.setWordWrap(True)
        self.error_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.error_label.setTextFormat(Qt.TextFormat.RichText)
        self.error_label.setContentsMargins(4, 4, 4, 4)
        self.error_label.hide()

        self.browser = QTextBrowser(self)
        self.browser.setOpenExternalLinks(True)
        self.browser.setAccessibleName("Output (Markdown)")
        self.browser.setPlaceholderText(EMPTY_TEXT)
        self.plain = QPlainTextEdit(self)
        self.plain.setReadOnly(True)
        self.plain.setAccessibleName("Output (plain text)")
        self.plain.setPlaceholderText(EMPTY_TEXT)
        self.plain.setFont(theming.monospace_font())
        for view in (self.browser, self.plain):
            view.setFrameShape(QAbstractScrollArea.Shape.NoFrame)
            view.setToolTip("The model's answer. Ctrl+C copies a selection")
        self.markdown = MarkdownStream(self.browser.document(), self._code_shade())
        self.thinking = ThinkingPanel(self)
        self.stack = QStackedWidget(self)
        self.stack.addWidget(self.browser)
        self.stack.addWidget(self.plain)
        self.inspector = TokenInspector(self)
        self.inspector.branchRequested.connect(self._branch)
        self.stack.addWidget(self.inspector)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        layout.addLayout(header)
        layout.addLayout(figures)
        layout.addWidget(self.schema_label)
        layout.addWidget(self.error_label)
        layout.addWidget(self.thinking)
        layout.addWidget(self.stack, 1)
        self._refresh_icons()

    def _metric(self, name: str, typical: str) -> QLabel:
        label = MetricLabel(typical, self)
        label.setAccessibleName(name)
        label.setToolTip(name)
        return label

    def _refresh_icons(self) -> None:
        self.copy_action.setIcon(theming.icon("copy"))
        self.rerun_action.setIcon(theming.icon("rerun"))
        self.cancel_action.setIcon(theming.icon("stop"))

    def _code_shade(self) -> QColor:
        return self.palette().color(QPalette.ColorRole.AlternateBase)

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.PaletteChange:
            self._refresh_icons()
            self._show_state()
            self.markdown.code_background = self._code_shade()
            if self.markdown.text:  # repaint in the new colours, a frame's budget at a time
                self.markdown.reset()
                self._rendered["markdown"] = 0
                frame_clock().want(self, self._flush)
        super().changeEvent(event)

    # --- public surface -----------------------------------------------------------------------

    @property
    def state(self) -> State:
        return self._state

    @property
    def mode(self) -> Mode:
        return self._mode

    def text(self) -> str:
        """Everything received so far (including what is not painted yet)."""
        return "".join(self._parts) + "".join(self._pending)

    def set_mode(self, mode: Mode) -> None:
        if mode == self._mode:
            return
        self._mode = mode
        (self.markdown_button if mode == "markdown" else self.plain_button).setChecked(True)
        self.tokens_button.setChecked(False)
        self.stack.setCurrentWidget(self.browser if mode == "markdown" else self.plain)
        self._paint()
        if not self.caught_up:
            frame_clock().want(self, self._flush)
        self.modeChanged.emit(mode)

    def show_tokens(self, on: bool) -> None:
        """Show the answer coloured by token probability (the token inspector), or its text."""
        self.tokens_button.setChecked(on)
        text_view = self.browser if self._mode == "markdown" else self.plain
        self.stack.setCurrentWidget(self.inspector if on else text_view)
        if not self.caught_up:  # the shown view catches up with what arrived meanwhile
            frame_clock().want(self, self._flush)

    def _branch(self, index: int, alternative: str) -> None:
        if self._result is not None:
            self.branchRequested.emit(
                self._result, self.inspector.prefix(index, alternative), index
            )

    def attach(self, worker: RunWorker) -> None:
        """Follow a run that was just started (connect before the event loop runs again)."""
        self.detach()
        self._worker = worker
        signals = worker.signals
        signals.started.connect(self._on_started)
        signals.chunk.connect(self.add_chunk)
        signals.ended.connect(self._on_ended)
        self.begin()

    def begin(self) -> None:
        """Clear and show "running" (for a run driven without a worker)."""
        self._reset()
        self._set_state("running")

    def clear(self) -> None:
        """Back to "No run yet" (another document is open). A run still attached is let go of,
        not cancelled: it goes on and is saved to history."""
        self.detach()
        self._reset()
        self._set_state("idle")

    def _reset(self) -> None:
        self.outcome = None
        self.run_id = None
        self._parts.clear()
        self._pending.clear()
        frame_clock().drop(self)
        self._rendered = {"markdown": 0, "plain": 0}
        self.markdown.reset()
        self.plain.clear()
        self._last_batch = None
        self._sent_to = ""
        self._run_start = time.perf_counter()
        for label in (self.ttft_label, self.rate_label, self.tokens_label, self.total_label,
                      self.cost_label, self.confidence_label):
            label.clear()
        self.inspector.wait()
        self.schema_label.clear_check()
        self.error_label.hide()
        self.thinking.clear()

    def add_chunk(self, batch: ChunkBatch) -> None:
        self.thinking.append(batch.reasoning, batch.total_reasoning_deltas)
        self._pending.append(batch.text)
        self.inspector.receive(batch.tokens)
        self._last_batch = batch
        if self._state == "running":
            self._set_state("streaming")
        frame_clock().want(self, self._flush)

    def show_result(self, result: RunResult) -> None:
        """Show a run's end: its full text, final figures and its state (finished, failed or
        cancelled). Also used to show a past run (``outcome`` is then None: it belongs to the
        run the view followed)."""
        self.outcome = None
        self.run_id = None
        self._sent_to = _sent_to(result.request)
        if not result.text.startswith("".join(self._parts)):  # another run (from history)
            self._rendered = {"markdown": 0, "plain": 0}
            self.markdown.reset()
            self.plain.clear()
        self._parts = [result.text]
        self._pending.clear()
        self.thinking.show_result(result)
        self._paint()
        if not self.caught_up:
            frame_clock().want(self, self._flush)  # the rest is painted over the next frames
        self._show_figures(result)
        self.inspector.show_run(result)
        if status_of(result) == "ok":
            self.schema_label.check(result.text)
        else:  # a partial answer says nothing about the schema
            self.schema_label.clear_check()
        self._set_state(STATE_OF[status_of(result)], result)

    def cancel(self) -> None:
        """Ask the attached run to stop; the view says "cancelled" once it has."""
        if self._state not in ("running", "streaming"):
            return
        if self._worker is not None:
            self._worker.cancel()
        self._set_state("cancelling")
        self.cancelRequested.emit()

    def copy(self) -> None:
        text = self.text()
        if not text:
            return
        QGuiApplication.clipboard().setText(text)
        self.copied_label.setText("copied")
        QTimer.singleShot(1500, self.copied_label.clear)

    # --- run events ---------------------------------------------------------------------------

    def detach(self) -> None:
        """Stop following the attached run: its worker goes on, its text no longer comes here."""
        if self._worker is None:
            return
        signals = self._worker.signals
        signals.started.disconnect(self._on_started)
        signals.chunk.disconnect(self.add_chunk)
        signals.ended.disconnect(self._on_ended)
        self._worker = None

    def _on_started(self, sent: SentRequest) -> None:
        named = self._worker.request.backend if self._worker is not None else ""
        self._sent_to = _sent_to(sent.model_copy(update={"backend_name": named}))
        self.inspector.lead = sent.continue_from or ""
        self._show_state()

    def _on_ended(self, outcome: RunOutcome) -> None:
        self.detach()
        self.show_result(outcome.result)
        self.outcome = outcome
        self.run_id = outcome.run_id

    # --- painting ----------------------------------------------------------------------------

    @property
    def caught_up(self) -> bool:
        """True when the visible view shows all the text (or tokens) received so far."""
        if self.tokens_button.isChecked():  # the text views catch up when shown again
            return not self._pending and self.inspector.caught_up
        return not self._pending and self._rendered[self._mode] == sum(map(len, self._parts))

    def _flush(self) -> bool:
        """One frame's refresh (called by the frame clock); False once everything is shown."""
        if self._pending:
            self._parts.append("".join(self._pending))
            self._pending.clear()
            self._show_live_figures()
        elif self.caught_up:
            return False
        if self.tokens_button.isChecked():
            self.inspector.catch_up()
        else:
            self._paint()
        return True

    def _paint(self) -> None:
        """Bring the visible view closer to the text received: as much as fits in the paint
        budget, so a burst (a fast model, a long restored answer) is spread over a few frames
        instead of freezing one."""
        text = "".join(self._parts)
        shown = self._rendered[self._mode]
        if shown == len(text):
            return
        view: QTextBrowser | QPlainTextEdit = (
            self.browser if self._mode == "markdown" else self.plain
        )
        if shown > len(text):
            shown = 0
        budget = FrameBudget.available()
        if budget <= 0:
            return  # other views used this frame's budget: the timer comes back next frame
        step = max(MIN_PAINT_CHARS, round(self._chars_per_s * budget))
        end = min(len(text), shown + step)
        bar = view.verticalScrollBar()
        follow = bar.value() >= bar.maximum() - 4
        position = bar.value()
        started = time.perf_counter()
        if self._mode == "markdown":
            self.markdown.update(text[:end])
        elif shown == 0:
            self.plain.setPlainText(text[:end])
        else:
            cursor = QTextCursor(self.plain.document())
            cursor.movePosition(QTextCursor.MoveOperation.End)
            cursor.insertText(text[shown:end])
        spent = time.perf_counter() - started
        FrameBudget.charge(spent)
        if end - shown >= MIN_PAINT_CHARS and spent > 0:  # learn this view's painting speed
            rate = (end - shown) / spent
            # slow down at once when a paint ran over, speed up gently when it was quick
            self._chars_per_s = rate if rate < self._chars_per_s else (
                0.8 * self._chars_per_s + 0.2 * rate)
        self._rendered[self._mode] = end
        bar.setValue(bar.maximum() if follow else position)

    def _tick(self) -> None:
        self.total_label.setText(format_duration(time.perf_counter() - self._run_start))

    def _show_live_figures(self) -> None:
        batch = self._last_batch
        if batch is None:
            return
        self.ttft_label.setText(f"TTFT {format_duration(batch.ttft_s)}")
        self.rate_label.setText(format_rate(batch.deltas_per_s, estimate=True))
        self.rate_label.setToolTip("Tokens per second, live (counted in chunks, ≈ tokens)")
        self.tokens_label.setText(f"≈ {batch.total_deltas:,} tok")
        self.total_label.setText(format_duration(time.perf_counter() - self._run_start))

    def _show_figures(self, result: RunResult) -> None:
        timings = result.timings
        if timings.ttft_s is not None:
            self.ttft_label.setText(f"TTFT {format_duration(timings.ttft_s)}")
        rate = output_rate(result)
        self.rate_label.setText(format_rate(rate) if rate is not None else "")
        self.tokens_label.setText(tokens_text(result.usage))
        self.total_label.setText(format_duration(timings.total_s) if timings.total_s else "")
        self.cost_label.setText(format_cost(result.cost, self.currency))
        confidence, why = confidence_figures(result.logprobs)
        self.confidence_label.setText(confidence)
        tips = figure_tips(result)
        for label, tip in ((self.ttft_label, tips["ttft"]), (self.rate_label, tips["rate"]),
                           (self.tokens_label, tips["tokens"]), (self.cost_label, tips["cost"]),
                           (self.confidence_label, why or "Perplexity")):
            label.setToolTip(tip)

    # --- state --------------------------------------------------------------------------------

    def _set_state(self, state: State, result: RunResult | None = None) -> None:
        changed = state != self._state
        self._state = state
        if state in ("running", "streaming", "cancelling"):
            if not self._clock.isActive():
                self._clock.start()
        else:
            self._clock.stop()
        self._result = result
        self._show_state()
        if changed:
            self.stateChanged.emit(state)

    def _show_state(self) -> None:
        state = self._state
        result = self._result
        busy = state in ("running", "streaming", "cancelling")
        self.cancel_action.setEnabled(state in ("running", "streaming"))
        self.rerun_action.setEnabled(not busy and state != "idle")
        self.copy_action.setEnabled(bool(self._parts or self._pending))
        color = theming.status_color("muted")
        explanation = ""
        if state == "idle":
            text = "No run yet"
        elif state == "running":
            text = "running… waiting for the first token"
            color = theming.status_color("accent")
        elif state == "streaming":
            text = "● streaming"
            color = theming.status_color("accent")
        elif state == "cancelling":
            text = "cancelling…"
        elif state == "cancelled":
            text = "cancelled · the text so far is kept"
            color = theming.status_color("warning")
        elif state == "failed":
            text = "✗ failed"
            color = theming.status_color("error")
        else:
            reason = result.finish_reason if result is not None else "stop"
            text = finish_status(reason)
            explanation = f"{reason}: {FINISH_TEXT.get(reason, reason)}"
            color = theming.status_color("warning" if reason == "length" else "ok")
        self.status.setText(text)
        self.status.setToolTip("\n".join(t for t in (explanation or text, self._sent_to) if t))
        self.status.set_color(color)
        # The empty state's invitation only while there is neither a run nor an answer.
        placeholder = EMPTY_TEXT if state == "idle" else ""
        self.browser.setPlaceholderText(placeholder)
        self.plain.setPlaceholderText(placeholder)
        if state == "failed" and result is not None:
            self._show_error(result)
        else:
            self.error_label.hide()

    def _show_error(self, result: RunResult) -> None:
        error = theming.status_color("error").name()
        reason = escape(result.error or "the backend gave no reason")
        self.error_label.setText(
            f"<b style='color:{error}'>{reason}</b><br>"
            f"<b>What to do:</b> {escape(what_to_do(result.error_kind))}"
        )
        self.error_label.setToolTip(f"Error type: {result.error_kind}" if result.error_kind else "")
        self.error_label.show()
