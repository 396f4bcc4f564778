"""How a column's repeats agree, and which of their answers the column's one output view shows.

Running a cell k times is how a person sees whether a prompt is reliable: identical answers are
collapsed into one row with their count, and the figures say how much the answers agree (share
of the most common one, mean pairwise similarity, the majority of extracted answers when the
template has an answer pattern, and the best of N — the answer most like the others). A row is a
button for the output view above it: click it or move through the rows with the arrow keys and
the column shows (and rates) that answer.

The panel has a height of its own, whatever the number of repeats: figures one per line without
wrapping, and at most ``MAX_ROWS`` answer rows (the list scrolls beyond), so the column's metrics
and rating controls below it stay in view.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFrame,
    QListWidget,
    QListWidgetItem,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from workbench.core.diff import similarity
from workbench.core.models import RunResult
from workbench.core.outcome import status_of
from workbench.core.stability import best_of_n, consensus_metric, normalize_output, stability
from workbench.ui import theming
from workbench.ui.compare.figures import FigureGrid

#: Answer rows shown before the list scrolls.
MAX_ROWS = 4
#: Marks the best-of-N answer in the list and in its figure.
BEST_MARK = "◆"

ROWS = (
    ("repeats", "Repeats", "How many times this column ran, and how many distinct answers "
     "came back (whitespace does not count)"),
    ("agreement", "Agreement", "Share of the finished repeats that gave the most common "
     "answer: 100% means the prompt answers the same way every time"),
    ("similarity", "Similarity", "Mean word similarity of every pair of answers: high when "
     "they differ only in wording"),
    ("majority", "Majority", "The answer most repeats agree on, extracted with the "
     "template's answer pattern (self-consistency), and how many gave it"),
    ("best", "Best of N", f"Best of N by consensus: the answer most like the others ({BEST_MARK} "
     "in the list), with its mean similarity to them"),
)


@dataclass(frozen=True)
class Answer:
    """A distinct answer: its text as it came, and the runs (column positions) that gave it."""

    text: str
    runs: tuple[int, ...]


class RepeatsPanel(QWidget):
    """Figures and distinct answers of a column's repeats. ``picked`` carries the position (in
    the column's runs) of a run whose answer the person chose to read."""

    picked = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.figures = FigureGrid(ROWS, self, elided=("repeats", "majority"))
        self.figures.setAccessibleName("Agreement of the repeats")
        self.answers = QListWidget(self)
        self.answers.setAccessibleName("Distinct answers of the repeats")
        self.answers.setToolTip("Identical answers collapsed with their count: click one, or "
                                "use the arrow keys, to read and rate it above")
        self.answers.setFrameShape(QFrame.Shape.NoFrame)
        self.answers.setFont(theming.monospace_font())
        self.answers.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.answers.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.answers.setUniformItemSizes(True)
        self.answers.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.answers.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
        self.answers.currentRowChanged.connect(self._row_changed)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        # the answers sit right under the output they switch; the figures under them line up
        # with the neighbouring columns' (the lists differ in height, the figures do not)
        layout.addWidget(self.answers)
        layout.addWidget(self.figures)
        self._answers: list[Answer] = []
        # similarity of each pair of answers, kept while the repeats end one by one: the
        # figures are redone at every end, and a pair of long answers takes ~1 ms to diff
        self._similar: dict[tuple[str, str], float] = {}
        self._fit_rows(1)

    # --- showing ------------------------------------------------------------------------------

    def begin(self, total: int) -> None:
        """New repeats were submitted: nothing to agree on yet."""
        self._answers = []
        self._similar.clear()
        self.answers.blockSignals(True)
        self.answers.clear()
        self.answers.blockSignals(False)
        self._fit_rows(1)
        for key in ("agreement", "similarity", "best"):
            self.figures.values[key].setText("–")
        self.figures.set_row_visible("majority", False)
        self.figures.values["repeats"].setText(f"0 of {total} done")

    def show_outputs(self, outputs: list[tuple[int, str]], total: int, *, failed: int = 0,
                     answer_pattern: str | None = None) -> None:
        """The answers of the finished repeats: (position in the column's runs, text) each.
        ``failed`` repeats ended without an answer (error or cancelled)."""
        ended = len(outputs) + failed
        count = f"{ended} of {total} done" if ended < total else f"{total}"
        if not outputs:
            self.begin(total)
            self.figures.values["repeats"].setText(count + (f" · {failed} failed" if failed
                                                            else ""))
            return
        texts = [text for _run, text in outputs]
        figures = stability(texts, answer_pattern, pair_similarity=self._similarity)
        self._answers = [Answer(g.text, tuple(outputs[i][0] for i in g.indices))
                         for g in figures.groups]
        # scored per distinct answer: identical ones score the same (ties: most common first)
        best = best_of_n([g.text for g in figures.groups],
                         consensus_metric(texts, self._similarity))
        assert best is not None  # there are outputs
        parts = [count, f"{len(figures.groups)} distinct"] + ([f"{failed} failed"] if failed
                                                            else [])
        values = self.figures.values
        values["repeats"].setText(" · ".join(parts))
        values["agreement"].setText(f"{figures.output_agreement:.0%}")
        similarity = figures.mean_similarity
        values["similarity"].setText("–" if similarity is None else f"{similarity:.0%}")
        values["best"].setText(f"{BEST_MARK} {best.score:.0%}")
        vote = figures.vote
        self.figures.set_row_visible("majority", vote is not None)
        if vote is not None:
            values["majority"].setText(
                f"“{vote.answer}” {vote.votes}/{figures.n}" if vote.answer is not None
                else "no answer found")
        self._fill(best.index)

    def show_results(self, results: Sequence[RunResult | None], *,
                     answer_pattern: str | None = None) -> None:
        """``show_outputs`` from the runs as they end (None: still running): answers of the
        finished ones, failed and cancelled ones counted apart."""
        outputs, failed = [], 0
        for index, result in enumerate(results):
            if result is None:
                continue
            if status_of(result) != "ok":
                failed += 1
            else:
                outputs.append((index, result.text))
        self.show_outputs(outputs, len(results), failed=failed, answer_pattern=answer_pattern)

    def _similarity(self, a: str, b: str) -> float:
        """``core.diff.similarity``, once per pair (it is symmetric)."""
        key = (a, b) if a <= b else (b, a)
        score = self._similar.get(key)
        if score is None:
            score = self._similar[key] = similarity(a, b)
        return score

    def _fill(self, best: int) -> None:
        """One row per distinct answer: "×2 ◆ The capital…", counts padded to one width so
        the answers line up (the list is monospace). Nothing is selected: the column says
        which run it shows (``select_run``)."""
        width = len(str(len(self._answers[0].runs))) if self._answers else 1
        self.answers.blockSignals(True)
        self.answers.clear()
        for row, answer in enumerate(self._answers):
            mark = BEST_MARK if row == best else " "
            line = normalize_output(answer.text) or "(empty)"
            item = QListWidgetItem(f"×{len(answer.runs):<{width}} {mark} {line}")
            item.setToolTip(answer.text[:2000])
            item.setData(Qt.ItemDataRole.UserRole, answer.runs[0])
            self.answers.addItem(item)
        self.answers.blockSignals(False)
        self._fit_rows(len(self._answers))

    def _fit_rows(self, rows: int) -> None:
        """As tall as its answers, up to ``MAX_ROWS`` (then it scrolls): a height of its own,
        set only when the number of rows changes."""
        row = max(self.answers.sizeHintForRow(0), self.answers.fontMetrics().height() + 4)
        height = row * max(1, min(rows, MAX_ROWS)) + 2 * self.answers.frameWidth()
        if self.answers.height() != height or self.answers.minimumHeight() != height:
            self.answers.setFixedHeight(height)

    # --- choosing -----------------------------------------------------------------------------

    def select_run(self, run: int) -> None:
        """Highlight the answer of run ``run`` (the one the column shows), without ``picked``;
        nothing when all answers are the same (there is nothing to choose between)."""
        row = next((i for i, a in enumerate(self._answers) if run in a.runs), -1)
        row = row if len(self._answers) > 1 else -1
        self.answers.blockSignals(True)
        self.answers.setCurrentRow(row)
        self.answers.blockSignals(False)

    def shown_run(self) -> int | None:
        item = self.answers.currentItem()
        if item is None:
            return None
        run = item.data(Qt.ItemDataRole.UserRole)
        return run if isinstance(run, int) else None

    def _row_changed(self, row: int) -> None:
        if 0 <= row < len(self._answers):
            self.picked.emit(self._answers[row].runs[0])

    def answer_rows(self) -> list[str]:
        """The rows as shown (count, best mark, answer on one line)."""
        return [self.answers.item(i).text() for i in range(self.answers.count())]
