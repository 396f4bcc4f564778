"""A comparison's tool-call sequences side by side: per test case and repeat, each variant's
calls in order (tool, arguments, the result sent back) and its final answer, with the positions
where the variants part. ``workbench compare`` prints them and the Markdown export writes them;
the CSV and JSONL rows carry each cell's steps (``compare_export.cell_rows``).
"""

from __future__ import annotations

import shutil
import textwrap
from dataclasses import dataclass

from workbench.core.grid import CellKey
from workbench.core.tool_transcript import ToolStep, differing_rows, tool_steps
from workbench.core.wording import one_line
from workbench.services.comparison import Comparison

#: Longest answer printed under a sequence (a terminal is for reading the calls).
ANSWER_CHARS = 300




@dataclass(frozen=True)
class SequenceTable:
    """One test case and repeat: every variant's calls and answer (None: no run, or it failed)."""

    title: str  # "t0: description" ("" without test cases); "(repeat r)" added when repeated
    steps: list[list[ToolStep]]  # per variant
    answers: list[str | None]  # per variant: its final answer
    differing: set[int]  # positions where the variants' calls differ

    @property
    def rows(self) -> int:
        return max((len(s) for s in self.steps), default=0)


def cell_steps(comparison: Comparison, key: CellKey) -> list[ToolStep]:
    """The tool steps of a cell's latest run (none when it has not run)."""
    run = comparison.latest(key)
    if run is None:
        return []
    return tool_steps(run.result, comparison.spec.variants[key.variant].template.tools)


def sequence_tables(comparison: Comparison) -> list[SequenceTable]:
    """A table per test case and repeat where at least one variant called a tool."""
    spec = comparison.spec
    tables = []
    tests: list[int | None] = list(range(len(spec.tests))) or [None]
    for t in tests:
        for repeat in range(spec.repeats):
            keys = [CellKey(v, t, repeat) for v in range(len(spec.variants))]
            steps = [cell_steps(comparison, key) for key in keys]
            if not any(steps):
                continue
            runs = [comparison.latest(key) for key in keys]
            answers = [r.result.text if r is not None and r.status == "ok" else None
                       for r in runs]
            calling = [s for s in steps if s]
            title = ""
            if t is not None:
                test = spec.tests[t]
                name = test.description or ", ".join(f"{k}={v}" for k, v in test.vars.items())
                title = f"t{t}: {name}"
            if spec.repeats > 1:
                title = f"{title} (repeat {repeat})".strip()
            differing = differing_rows(calling) if len(calling) > 1 else set()
            tables.append(SequenceTable(title, steps, answers, differing))
    return tables


def step_text(step: ToolStep) -> str:
    """``1 get_weather {"city": "Oslo"}`` and, on the next line, ``→ result``."""
    return f"{step.step} {step.call.name} {step.call.arguments.strip() or '{}'}\n{step.outcome()}"


def text_table(table: SequenceTable, labels: list[str], width: int | None = None) -> list[str]:
    """``table`` as text columns for a terminal ``width`` wide (default: the terminal's): a row
    per call position (``≠`` where the variants part), then each variant's answer."""
    width = width or shutil.get_terminal_size((120, 24)).columns
    gutter = 2
    column = max(16, (width - gutter) // max(len(labels), 1) - gutter)

    def cells(texts: list[str], mark: str = " ") -> list[str]:
        wrapped = [[line for part in text.split("\n") for line in textwrap.wrap(part, column - 2)]
                   or [""] for text in texts]
        height = max(len(w) for w in wrapped)
        out = []
        for line in range(height):
            parts = [(w[line] if line < len(w) else "").ljust(column - 2) for w in wrapped]
            lead = mark if line == 0 else " "
            out.append(f"{lead} " + "  ".join(f"  {p}" for p in parts).rstrip())
        return out

    lines = [f"tool calls{f' ({table.title})' if table.title else ''}:"]
    lines += cells([label[: column - 2] for label in labels])
    for row in range(table.rows):
        texts = [step_text(s[row]) if row < len(s) else "–" for s in table.steps]
        lines += cells(texts, "≠" if row in table.differing else " ")
    answers = [f"answer: {one_line(a, ANSWER_CHARS)}" if a is not None else "no answer"
               for a in table.answers]
    lines += cells(answers)
    return lines
