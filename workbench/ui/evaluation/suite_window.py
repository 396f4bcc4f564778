"""Running an evaluation suite from the app: a window with progress and time left while the
cells run (off the GUI thread, through the workspace's runner), then the scorecard."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from workbench.backends.base import CancelToken
from workbench.services.eval_reports import case_name
from workbench.services.evaluation import Evaluation
from workbench.services.evaluation import Progress as EvalProgress
from workbench.services.scorecard import Scorecard
from workbench.services.suites import load_suite, suite_tools
from workbench.services.workspace import Workspace
from workbench.ui.evaluation.scorecard_view import ScorecardView
from workbench.ui.tasks import Reporter, TaskError, TaskRunner, TaskWorker
from workbench.ui.widgets.progress_strip import ProgressStrip

Result = tuple[Evaluation, Scorecard]


class SuiteWindow(QWidget):
    """One evaluation of a suite file: progress first, the scorecard when it is done."""

    def __init__(self, workspace: Workspace, path: Path, parent: QWidget | None = None) -> None:
        super().__init__(parent, Qt.WindowType.Window)
        self.workspace = workspace
        self.path = path
        self.setWindowTitle(f"Evaluation — {path.name}")
        self.status = QLabel(f"Running {path.name}…", self)
        self.status.setAccessibleName("Evaluation status")
        self.status.setWordWrap(True)
        self.progress = ProgressStrip(self)
        self.scorecard = ScorecardView(self)
        self.scorecard.hide()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 8)
        layout.setSpacing(8)
        layout.addWidget(self.status)
        layout.addWidget(self.progress)
        layout.addWidget(self.scorecard, 1)
        self.tasks = TaskRunner(self, max_threads=1)
        self.worker: TaskWorker[Result] = TaskWorker(self._run)
        self.progress.track_task(self.worker, "Evaluating")  # type: ignore[arg-type]
        self.worker.signals.finished.connect(self._show)
        self.worker.signals.failed.connect(self._failed)
        self.worker.signals.cancelled.connect(lambda: self.status.setText("Cancelled."))
        self.tasks.start(self.worker)

    def _run(self, report: Reporter, cancel: CancelToken) -> Result:
        """In a pool thread: create the evaluation, run every cell, score it."""
        suite = load_suite(self.path)
        runner = self.workspace.runner
        tools = suite_tools(suite.spec, runner, suite.judge)
        try:
            evaluation = Evaluation.create(self.workspace.store, suite.spec, runner, **tools)

            def progress(p: EvalProgress) -> None:
                report(p.done, p.total)

            card = evaluation.run(cancel, on_progress=progress)
            card.check(suite.criteria)
            return evaluation, card
        finally:
            for tool in tools.values():
                close = getattr(tool, "close", None)
                if close is not None:
                    close()

    def _show(self, result: Result) -> None:
        evaluation, card = result
        self.progress.hide()
        failing = [c for c in card.criteria if not c.met]
        self.status.setText(
            f"{self.path.name}: evaluation {evaluation.id} · "
            + (
                "criteria met"
                if card.criteria and not failing
                else f"{len(failing)} criteria not met"
                if failing
                else "no criteria"
            )
        )
        # The grid numbers its rows itself: name each by its description or values only.
        rows = [
            case_name(evaluation, t, 0).split(": ", 1)[1]
            for t in range(len(evaluation.spec.tests))
        ]
        self.scorecard.set_scorecard(
            card, rows=rows, repeats=evaluation.spec.repeats, details=evaluation.detail
        )
        self.scorecard.show()

    def _failed(self, error: TaskError) -> None:
        self.progress.hide()
        self.status.setText(f"The evaluation could not run: {error}")

    def closeEvent(self, event: QCloseEvent) -> None:
        self.worker.cancel()
        self.tasks.shutdown(timeout_s=5.0)
        super().closeEvent(event)
