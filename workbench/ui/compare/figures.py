"""Figures under a compare column: a grid of muted names and right-aligned values, one per line.

Eight columns side by side leave about 150 px each, so figures go one per line rather than on a
single line, and never wrap: a wrapped label would ask for more height the narrower the column,
and the column's pinned parts (figures, ratings) must keep a height of their own. A wide column
(one or two in the window) keeps each value next to its name: the room it has to spare goes
after the figures, not between them (names at the far left read apart from values at the far
right).
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, Qt
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QGridLayout, QLabel, QWidget

from workbench.core.logprobs import mean_logprob, perplexity
from workbench.core.models import RunResult
from workbench.ui import theming
from workbench.ui.run_text import (
    format_cost,
    format_duration,
    format_rate,
    output_rate,
    tokens_text,
)
from workbench.ui.widgets.figure_labels import ElidedLabel, MetricLabel
from workbench.ui.workers import ChunkBatch


class FigureGrid(QWidget):
    """Rows of (name, value): names in the muted colour, values right-aligned in a column as
    wide as the widest, right after the names. A value is a ``MetricLabel`` (a figure that
    keeps its width) or, for free text such as an answer, an ``ElidedLabel`` that reads from
    its start beside its name, takes what width the column has, shortens with "…" and shows
    the whole text in its tooltip."""

    def __init__(self, rows: tuple[tuple[str, str, str], ...], parent: QWidget | None = None,
                 *, elided: tuple[str, ...] = ()) -> None:
        super().__init__(parent)
        grid = QGridLayout(self)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.setHorizontalSpacing(8)
        grid.setVerticalSpacing(0)
        self.values: dict[str, QLabel] = {}
        self.names: dict[str, QLabel] = {}
        for row, (key, name, tip) in enumerate(rows):
            label = QLabel(name, self)
            label.setToolTip(tip)
            value: QLabel
            if key in elided:
                value = ElidedLabel(self)
                grid.addWidget(value, row, 1, 1, 2)
            else:
                value = MetricLabel("", self)
                grid.addWidget(value, row, 1, Qt.AlignmentFlag.AlignRight)
            value.setAccessibleName(name)
            value.setToolTip(tip)
            grid.addWidget(label, row, 0)
            self.names[key], self.values[key] = label, value
        grid.setColumnStretch(2, 1)  # a wide column's spare room: after the figures
        self._recolor()

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.PaletteChange:
            self._recolor()
        super().changeEvent(event)

    def _recolor(self) -> None:
        for label in self.names.values():
            palette = label.palette()
            palette.setColor(QPalette.ColorRole.WindowText, theming.status_color("muted"))
            label.setPalette(palette)

    def text(self, key: str) -> str:
        return self.values[key].text()

    def set_row_visible(self, key: str, visible: bool) -> None:
        self.names[key].setVisible(visible)
        self.values[key].setVisible(visible)


class MetricsStrip(FigureGrid):
    """TTFT, total time, tok/s, input/output tokens, cost and finish reason; a local model's
    load time on a line of its own, because it is paid once, not per answer. Every column has
    every row ("–" where the model was already loaded), so the rows of neighbouring columns
    line up and their output boxes are the same height."""

    ROWS = (
        ("ttft", "TTFT", "Time to first token: from sending the request to the first text"),
        ("total", "Total", "Time from sending the request to the end of the answer"),
        ("rate", "Speed", "Output tokens per second after the first token"),
        ("tokens", "In / out", "Prompt tokens / answer tokens"),
        ("cost", "Cost", "What the run cost at list price (– when unknown or free)"),
        ("finish", "Finish", "Why the answer ended: stop (the model ended it), length (max "
         "tokens), error or cancelled"),
        ("load", "Model load", "Loading the model before this run; paid once, not per answer "
         "(– when it was already loaded or runs elsewhere)"),
        ("logprob", "Mean logprob", "Mean log-probability of the answer's tokens: closer to 0, "
         "the surer the model (– without 'Token alternatives' set)"),
        ("ppl", "Perplexity", "exp(−mean logprob): 1 when the model was sure of every token; "
         "higher, the more it was torn between choices"),
    )

    def __init__(self, parent: QWidget | None = None, *, currency: str = "USD") -> None:
        super().__init__(self.ROWS, parent)
        self.currency = currency
        self.clear()

    def clear(self) -> None:
        for value in self.values.values():
            value.setText("–")

    def show_live(self, batch: ChunkBatch | None, elapsed_s: float) -> None:
        """Figures of a run still streaming: measured in the worker, tokens ≈ text events."""
        self.values["total"].setText(format_duration(elapsed_s))
        if batch is None:
            return
        self.values["ttft"].setText(format_duration(batch.ttft_s))
        self.values["rate"].setText(format_rate(batch.deltas_per_s, estimate=True))
        self.values["tokens"].setText(f"– / ≈ {batch.total_deltas:,}")

    def show_result(self, result: RunResult) -> None:
        timings, usage = result.timings, result.usage
        self.values["ttft"].setText(format_duration(timings.ttft_s))
        self.values["total"].setText(format_duration(timings.total_s))
        self.values["rate"].setText(format_rate(output_rate(result)))
        tokens_in = f"{usage.input_tokens:,}" if usage.input_tokens is not None else "–"
        tokens_out = tokens_text(usage) or "– tok"
        self.values["tokens"].setText(f"{tokens_in} / {tokens_out}")
        self.values["cost"].setText(format_cost(result.cost, self.currency) or "–")
        self.values["finish"].setText(result.finish_reason)
        # none or 0: the model was already loaded (or is not loaded by this app)
        self.values["load"].setText(format_duration(timings.load_s) if timings.load_s else "–")
        mean, ppl = mean_logprob(result.logprobs or ()), perplexity(result.logprobs or ())
        self.values["logprob"].setText("–" if mean is None else f"{mean:.3f}")
        self.values["ppl"].setText("–" if ppl is None else f"{ppl:.2f}")
