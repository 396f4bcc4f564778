"""A compare column's tool calls, step by step, above its final answer: each call's tool, its
arguments and the (mocked) result sent back, so two models' ways to an answer read side by side.

Rows where the columns part (another tool, other arguments, a call one of them does not make:
``core.tool_transcript.differing_rows``) are marked with a bar and say so in their tooltip. The
list keeps a height of its own and scrolls, so the answer under it stays in view.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFrame, QLabel, QScrollArea, QSizePolicy, QVBoxLayout, QWidget

from workbench.core.tool_transcript import ToolStep, differing_rows, tool_steps
from workbench.core.wording import one_line
from workbench.ui import theming

if TYPE_CHECKING:
    from workbench.ui.compare.column import CompareColumn

#: Tallest the list gets before it scrolls (px): the answer under it keeps the rest.
MAX_HEIGHT = 220
#: Longest result shown in a row (the whole of it is in the row's tooltip).
RESULT_CHARS = 160




def _compact(arguments: str) -> str:
    """Arguments on one line (they may be long JSON; the tooltip has them indented)."""
    return one_line(arguments.strip() or "{}", RESULT_CHARS)


class StepRow(QLabel):
    """One call: ``1 · get_weather {"city": "Oslo"}`` and, under it, ``→ result``."""

    def __init__(self, index: int, step: ToolStep, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.step = step
        self.setWordWrap(True)
        self.setTextFormat(Qt.TextFormat.RichText)
        self.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.setAccessibleName(f"Call {index + 1}: {step.call.name}")
        self.differs = False
        self._draw()

    def set_differs(self, differs: bool) -> None:
        self.differs = differs
        self._draw()

    def _draw(self) -> None:
        step = self.step
        mono = theming.monospace_font().family()
        color = ""  # a result sent back reads as text; an error, or none sent, stands apart
        if step.error:
            color = theming.status_color("error").name()
        elif step.result is None or step.mocked:
            color = theming.status_color("muted").name()
        outcome = html.escape(one_line(step.outcome(), RESULT_CHARS))
        self.setText(
            f"<b>{step.step}</b> · <b>{html.escape(step.call.name)}</b> "
            f"<span style='font-family: \"{mono}\"'>{html.escape(_compact(step.call.arguments))}"
            f"</span><br><span style='{f'color: {color}' if color else ''}'>{outcome}</span>"
        )
        bar = theming.status_color("warning").name() if self.differs else "transparent"
        # (the 'border-left: 3px solid C' shorthand draws black here; the long form does not)
        self.setStyleSheet(f"border-width: 0 0 0 3px; border-style: solid; border-color: {bar};"
                           " padding-left: 4px;")
        where = "\n\nThis call differs from the other columns' at this position." \
            if self.differs else ""
        self.setToolTip(f"Step {step.step}: {step.call.name}\n{step.call.pretty_arguments()}\n\n"
                        f"{step.outcome()}{where}")


class ToolSequence(QScrollArea):
    """The calls of the run a column shows (hidden when it made none)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAccessibleName("Tool calls of this column")
        self.setWidgetResizable(True)
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setMaximumHeight(MAX_HEIGHT)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Maximum)
        body = QWidget(self)
        self._layout = QVBoxLayout(body)
        self._layout.setContentsMargins(4, 4, 4, 4)
        self._layout.setSpacing(4)
        self.summary = QLabel(body)
        self.summary.setAccessibleName("Tool calls summary")
        self.summary.setWordWrap(True)
        self._layout.addWidget(self.summary)
        self._layout.addStretch(1)
        self.setWidget(body)
        self.body = body
        self.steps: list[ToolStep] = []
        self.rows: list[StepRow] = []
        self.hide()

    def show_steps(self, steps: Sequence[ToolStep], answered: bool) -> None:
        """Show ``steps``; ``answered``: the run ended with an answer (not at a call)."""
        for row in self.rows:
            row.deleteLater()
        self.steps = list(steps)
        self.rows = [StepRow(i, step, self.body) for i, step in enumerate(steps)]
        for index, row in enumerate(self.rows):
            self._layout.insertWidget(index + 1, row)
        turns = len({s.step for s in steps})
        calls = f"{len(steps)} tool call{'' if len(steps) == 1 else 's'}"
        ending = "then the answer below" if answered else "ended at a call"
        self.summary.setText(f"{calls} in {turns} step{'' if turns == 1 else 's'}, {ending}")
        self.setVisible(bool(steps))

    def mark(self, rows: set[int]) -> None:
        """Mark the rows (positions from 0) where the columns' calls differ."""
        for index, row in enumerate(self.rows):
            row.set_differs(index in rows)

    def natural_height(self) -> int:
        """The height that shows every row without scrolling."""
        return self.body.sizeHint().height() + 2 * self.frameWidth()

    def differing(self) -> list[int]:
        return [i for i, row in enumerate(self.rows) if row.differs]


def show_run_steps(column: CompareColumn) -> None:
    """Show the calls of the run ``column`` shows (its template's mocks for calls it ended at)."""
    result = column.result()
    if result is None:
        column.tools.show_steps([], answered=False)
        return
    steps = tool_steps(result, column.variant.template.tools)
    column.tools.show_steps(steps, answered=not result.tool_calls)


def mark_differences(columns: Sequence[CompareColumn]) -> None:
    """Mark, in every column that called tools, the rows where the columns' calls differ
    (columns without calls take no part: their answer is compared by the diff view)."""
    calling = [c for c in columns if c.tools.steps]
    rows = differing_rows([c.tools.steps for c in calling]) if len(calling) > 1 else set()
    for column in calling:
        column.tools.mark(rows)
    # One height for every list, so the answers under them start level, side by side.
    tallest = max((c.tools.natural_height() for c in calling), default=0)
    for column in columns:
        column.tools.setMinimumHeight(min(tallest, MAX_HEIGHT) if column in calling else 0)
