"""The output view's schema figure: whether a finished answer is JSON matching the template's
``output_schema``, and where it is not — each violation at its JSON path ("$.items[2].price").

The check is the ``is-json`` assertion's (``core.assertions.structured.schema_valid``), so the
output view, the evaluation's schema-valid rate and a suite's assertions agree on what passes.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QWidget

from workbench.core.assertions.structured import schema_valid
from workbench.core.evaluation import EvaluationError
from workbench.ui import theming
from workbench.ui.widgets.figure_labels import ElidedLabel

#: Violations named in the label itself; the tooltip lists them all.
SHOWN = 1


class SchemaLabel(ElidedLabel):
    """Empty (and hidden) until an answer is checked against a schema; a long violation is
    shortened with "…" in its middle, keeping its JSON path and the count of the others (the
    tooltip lists every one)."""

    elide_mode = Qt.TextElideMode.ElideMiddle

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAccessibleName("Schema check")
        self.schema: dict[str, Any] | None = None
        self.problems: list[str] = []
        self._verdict = self._tip = ""
        self._count: tuple[int, int] | None = None
        self.hide()

    def set_schema(self, schema: dict[str, Any] | None) -> None:
        """The schema answers are checked against from now on (None: no check)."""
        self.schema = schema
        if schema is None:
            self.clear_check()

    def clear_check(self) -> None:
        self.problems = []
        self._count = None
        self.clear()
        self.hide()

    def check(self, text: str) -> bool | None:
        """Check a finished answer; shows and returns whether it is valid (None: no schema)."""
        if self.schema is None:
            self.clear_check()
            return None
        try:
            result = schema_valid(text, self.schema)
        except EvaluationError as err:  # the schema itself is invalid
            self.problems = [str(err)]
            self._show(False, "schema ✗ invalid schema")
            return False
        self.problems = list(result.details.get("problems") or ([] if result.passed
                                                                  else [result.reason]))
        if result.passed:
            self._show(True, "schema ✓")
            return True
        first = self.problems[0] if self.problems else result.reason
        more = f" (+{len(self.problems) - SHOWN} more)" if len(self.problems) > SHOWN else ""
        self._show(False, f"schema ✗ {first}{more}")
        return False

    def show_count(self, valid: int, total: int) -> None:
        """Add how many of several answers (a compare column's repeats) were valid; kept beside
        the verdicts of answers shown later, until ``clear_check``."""
        self._count = (valid, total) if total >= 2 else None
        if not self.isHidden():  # checked already: show it now, else with the next check
            self._render()

    def _render(self) -> None:
        count = f"{self._count[0]}/{self._count[1]} valid · " if self._count else ""
        self.setText(count + self._verdict)  # the count first: a long violation is elided
        self.setToolTip(self._tip)

    def _show(self, valid: bool, text: str) -> None:
        self._verdict = text
        self._tip = ("The answer is JSON matching the template's output_schema." if valid
                     else "Where the answer breaks the template's output_schema:\n"
                     + "\n".join(self.problems))
        self._render()
        self.set_color(theming.status_color("ok" if valid else "error"))
        self.show()
