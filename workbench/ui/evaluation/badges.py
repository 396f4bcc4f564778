"""The lines above a scorecard: criteria badges, and for a repeated evaluation its cases by
verdict over the repeats (flaky apart from failing, ``services.flaky``)."""

from __future__ import annotations

import html
from collections.abc import Sequence

from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QLabel, QWidget

from workbench.services.flaky import case_repeats, summarise
from workbench.services.scorecard import CriterionResult, Scorecard
from workbench.ui import theming
from workbench.ui.widgets.flow_layout import FlowLayout


class CriteriaBar(QWidget):
    """One badge per criterion and variant: met (green ✓) or not met (red ✗)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._layout = FlowLayout(self, spacing=6)
        self.badges: list[QLabel] = []

    def set_results(self, results: Sequence[CriterionResult]) -> None:
        for badge in self.badges:
            badge.deleteLater()
        self.badges = []
        while self._layout.count():
            self._layout.takeAt(0)
        if not results:
            empty = QLabel("No criteria: add some (e.g. pass_rate >= 0.9) to gate this suite", self)
            empty.setForegroundRole(QPalette.ColorRole.PlaceholderText)
            self.badges.append(empty)
            self._layout.addWidget(empty)
        for r in results:
            color = theming.status_color("ok" if r.met else "error")
            mark = "✓" if r.met else "✗"
            badge = QLabel(f"{mark} {r.criterion.text} · {middle(r.variant_label, 52)}", self)
            badge.setAccessibleName("criterion met" if r.met else "criterion not met")
            badge.setToolTip(r.line())
            badge.setStyleSheet(
                f"QLabel {{ border: 1px solid {color.name()}; border-radius: 9px;"
                f" padding: 2px 8px; color: {color.name()}; }}"
            )
            self.badges.append(badge)
            self._layout.addWidget(badge)


class RepeatsBar(QLabel):
    """For an evaluation run N times per case: passing, flaky and failing cases per variant
    with pass@N and pass^N, and which rows are flaky; hidden when N is 1."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAccessibleName("Flaky cases")
        self.setWordWrap(True)
        self.setVisible(False)

    def set_card(self, card: Scorecard, rows: Sequence[str], repeats: int) -> None:
        if repeats < 2:
            self.setVisible(False)
            return
        warn = theming.status_color("warning").name()
        lines = [
            f"<b>{repeats} repeats per case</b> (pass@{repeats}: at least one passed; "
            f"pass^{repeats}: all passed)"
        ]
        flaky = [c for c in case_repeats(card) if c.flaky]
        for v, s in enumerate(summarise(card, repeats)):
            names = ", ".join(
                f"{c.test + 1} {html.escape(middle(rows[c.test], 24))} ({c.passed}/{c.judged})"
                for c in flaky
                if c.variant == v
            )
            lines.append(
                f"{html.escape(middle(s.label, 40))}: {s.passing} passing · "
                f"<span style='color:{warn}'>{s.flaky} flaky</span> · {s.failing} failing"
                f"{f' · {s.errors} errors' if s.errors else ''} · pass@{repeats} "
                f"{_pct(s.pass_at_k)} · pass^{repeats} {_pct(s.pass_hat_k)}"
                + (f" · flaky rows: {names}" if names else "")
            )
        self.setText("<br>".join(lines))
        self.setVisible(True)


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value:.0%}"


def middle(text: str, width: int) -> str:
    """Cut in the middle: a variant's label ends with what tells it apart (' · openai:o4-mini')."""
    line = " ".join(text.split())
    if len(line) <= width:
        return line
    tail = width // 2
    return line[: width - tail - 1] + "…" + line[-tail:]
