"""A saved evaluation reopened from the Experiments browser: its scorecard as stored, with the
drill-down into every cell (output, expected, each assertion's reason). Nothing runs again; the
results are read off the GUI thread."""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from workbench.core.errors import KnownError
from workbench.services.eval_reports import case_name, error_reasons
from workbench.services.evaluation import Evaluation
from workbench.services.scorecard import Scorecard
from workbench.services.workspace import Workspace
from workbench.ui.background import LatestJob
from workbench.ui.evaluation.scorecard_view import ScorecardView


@dataclass(frozen=True)
class _Loaded:
    evaluation: Evaluation
    card: Scorecard
    rows: list[str]
    errors: list[tuple[str, int]]


def _load(workspace: Workspace, experiment_id: str) -> _Loaded:
    evaluation = Evaluation.open(workspace.store, experiment_id, workspace.runner)
    card = evaluation.scorecard()
    rows = [case_name(evaluation, t, 0, numbered=False).split(": ", 1)[1]
            for t in range(len(evaluation.spec.tests))]
    return _Loaded(evaluation, card, rows, error_reasons(evaluation, card))


class SavedEvaluationWindow(QWidget):
    """One stored evaluation's scorecard."""

    def __init__(self, workspace: Workspace, experiment_id: str,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent, Qt.WindowType.Window)
        self.experiment_id = experiment_id
        self.setWindowTitle("Evaluation")
        self.status = QLabel("Reading the evaluation…", self)
        self.status.setAccessibleName("Evaluation status")
        self.status.setWordWrap(True)
        self.scorecard = ScorecardView(self)
        self.scorecard.hide()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 8)
        layout.setSpacing(8)
        layout.addWidget(self.status)
        layout.addWidget(self.scorecard, 1)
        self.loaded: _Loaded | None = None
        self._job = LatestJob(self._show, self._failed, self)
        self._job.submit(_load, workspace, experiment_id)

    @property
    def busy(self) -> bool:
        return self._job.running

    def _show(self, loaded: _Loaded) -> None:
        self.loaded = loaded
        evaluation = loaded.evaluation
        self.setWindowTitle(f"Evaluation — {evaluation.spec.name}")
        self.status.setText(f"{evaluation.spec.name}: evaluation {evaluation.id}, as saved "
                            "(run the suite again from Tools ▸ Run an evaluation suite…)")
        self.scorecard.set_scorecard(loaded.card, rows=loaded.rows,
                                     repeats=evaluation.spec.repeats, details=evaluation.detail,
                                     errors=loaded.errors)
        self.scorecard.show()

    def _failed(self, error: KnownError) -> None:
        self.status.setText(f"Cannot open the evaluation: {error}")
