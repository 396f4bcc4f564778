"""Running an evaluation suite from the app: a window with progress and time left while the
cells run (off the GUI thread, through the workspace's runner), then the scorecard.

A suite runs on the backends it names when they are on this computer. When it names backends
that would send its prompts away (a promptfoo config's cloud providers), it runs on the local
model instead and says so; running it on its own backends then shows the estimate of what goes
where and asks first (``services.egress``). "Run on" runs it again with every variant moved to
another configured backend chosen by hand, as ``workbench eval --backend`` does."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from workbench.backends.base import CancelToken
from workbench.core.errors import KnownError
from workbench.core.experiments import ExperimentSpec
from workbench.services.egress import EgressPlan, plan_experiment
from workbench.services.eval_history import suite_key
from workbench.services.eval_reports import case_name, error_reasons
from workbench.services.evaluation import Evaluation
from workbench.services.evaluation_session import Progress as EvalProgress
from workbench.services.scorecard import Scorecard, compare
from workbench.services.suites import load_suite, suite_tools, with_backend
from workbench.services.workspace import Workspace
from workbench.ui.background import Reporter, TaskRunner, TaskWorker
from workbench.ui.batch_submit import BatchSubmit
from workbench.ui.dialogs.egress_dialog import confirm_remote
from workbench.ui.evaluation.history_view import SuiteHistoryView
from workbench.ui.evaluation.scorecard_view import ScorecardView
from workbench.ui.widgets.history_panel import format_time
from workbench.ui.widgets.progress_strip import ProgressStrip

Result = tuple[Evaluation, Scorecard, list[tuple[str, int]]]
OWN = "the suite's own backends"
LOCAL = "llamacpp"  # where a suite whose backends would send its prompts away runs by default


class SuiteWindow(QWidget):
    """One suite file: progress first, the scorecard when it is done; run again on another
    backend from ``backends`` (the configured ones)."""

    ended = Signal()  # a run of the suite ended (finished, failed or cancelled): runs were saved

    def __init__(
        self,
        workspace: Workspace,
        path: Path,
        parent: QWidget | None = None,
        *,
        backends: Sequence[str] = (),
    ) -> None:
        super().__init__(parent, Qt.WindowType.Window)
        self.workspace = workspace
        self.path = path
        self.setWindowTitle(f"Evaluation — {path.name}")
        self.status = QLabel(self)
        self.status.setAccessibleName("Evaluation status")
        self.status.setWordWrap(True)
        self.backend_box = QComboBox(self)
        self.backend_box.setAccessibleName("Run on backend")
        self.backend_box.setToolTip(
            "Run every variant on this backend instead of the one the suite names"
        )
        self.backend_box.addItem(OWN, None)
        for name in backends:
            self.backend_box.addItem(name, name)
        self.model_edit = QLineEdit(self)
        self.model_edit.setAccessibleName("Model for the backend")
        self.model_edit.setPlaceholderText("model (default)")
        self.model_edit.setToolTip("The model on that backend; empty: the backend's default")
        self.model_edit.setMaximumWidth(220)
        self.model_edit.setEnabled(False)
        self.backend_box.currentIndexChanged.connect(
            lambda _i: self.model_edit.setEnabled(self.backend_box.currentData() is not None)
        )
        self.repeat_box = QSpinBox(self)
        self.repeat_box.setAccessibleName("Repeat each case")
        self.repeat_box.setRange(0, 100)
        self.repeat_box.setSpecialValueText("as the suite says")  # 0: the suite's 'repeats'
        self.repeat_box.setSuffix("×")
        self.repeat_box.setToolTip(
            "Run every case this many times: a case that passes on some repeats and fails on "
            "others is shown as flaky, apart from the failing ones"
        )
        self.run_button = QPushButton("Run again", self)
        self.run_button.setToolTip("Run the suite again on the chosen backend (a new evaluation)")
        self.run_button.clicked.connect(self._run_chosen)
        self.history_button = QPushButton("History…", self)
        self.history_button.setToolTip(
            "Every evaluation of this suite: the trend, each case across runs, the baseline"
        )
        self.history_button.clicked.connect(self.show_history)
        self.batch = BatchSubmit(workspace.runner, self._submit_batch, self)
        self.batch.failed.connect(self.status.setText)
        self.backend_box.currentIndexChanged.connect(lambda _i: self._check_batch())
        self.model_edit.editingFinished.connect(self._check_batch)
        self.repeat_box.valueChanged.connect(lambda _v: self._check_batch())
        self.history: SuiteHistoryView | None = None
        self.progress = ProgressStrip(self)
        self.scorecard = ScorecardView(self)
        self.scorecard.hide()
        bar = QHBoxLayout()
        bar.setSpacing(6)
        bar.addWidget(self.status, 1)
        bar.addWidget(QLabel("Run on", self))
        bar.addWidget(self.backend_box)
        bar.addWidget(self.model_edit)
        bar.addWidget(QLabel("Repeat", self))
        bar.addWidget(self.repeat_box)
        bar.addWidget(self.run_button)
        bar.addWidget(self.batch.button)
        bar.addWidget(self.history_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 8)
        layout.setSpacing(8)
        layout.addLayout(bar)
        layout.addWidget(self.progress)
        layout.addWidget(self.scorecard, 1)
        self.tasks = TaskRunner(self, max_threads=1)
        self.worker: TaskWorker[Result] | None = None
        self.egress: EgressPlan | None = None  # what its own backends would send away
        self.last: tuple[Evaluation, Scorecard] | None = None  # the latest run shown
        self._where = ""  # " on BACKEND:MODEL" when the suite's backends are overridden
        self._note = ""  # why it runs on the local model
        self.run()
        self._check_batch()

    def run(self, backend: str | None = None, model: str = "", *, confirmed: bool = False) -> None:
        """Evaluate the suite (a new evaluation each time), on ``backend`` if one is given.
        On its own backends, first find out what would leave this computer (``confirmed``:
        the person already said yes, or nothing does)."""
        if backend is None and not confirmed:
            self._check_own_backends()
            return
        where = f" on {backend}{f':{model}' if model else ''}" if backend else ""
        self.status.setText(f"Running {self.path.name}{where}…")
        self.run_button.setEnabled(False)
        self.progress.show()
        self._where = where
        repeats = self.repeat_box.value() or None
        worker: TaskWorker[Result] = TaskWorker(
            lambda r, c: self._run(r, c, backend, model, repeats)
        )
        self.progress.track_task(worker, "Evaluating", unit="cell")  # type: ignore[arg-type]
        worker.signals.finished.connect(self._show)
        worker.signals.failed.connect(self._failed)
        worker.signals.cancelled.connect(self._cancelled)
        self.worker = worker
        self.tasks.start(worker)

    @property
    def evaluation_id(self) -> str | None:
        """The evaluation shown (each run is a new one, listed in Tools ▸ Experiments…)."""
        return None if self.last is None else self.last[0].id

    def show_history(self) -> SuiteHistoryView:
        """The suite's history window (one per suite window), brought up to date."""
        if self.history is None:
            self.history = SuiteHistoryView(self.workspace, self.path, self)
        else:
            self.history.refresh()
        self.history.show()
        return self.history

    def _run_chosen(self) -> None:
        backend = self.backend_box.currentData()
        self.run(backend, self.model_edit.text().strip() if backend else "")

    def _check_own_backends(self) -> None:
        """Off the GUI thread: which of the suite's calls would leave this computer."""
        self.status.setText(f"Checking where {self.path.name} would send its prompts…")
        self.run_button.setEnabled(False)
        runner = self.workspace.runner
        worker: TaskWorker[EgressPlan] = TaskWorker(lambda _r, _c: plan_experiment(
            load_suite(self.path, local_fallback=False).spec, runner))
        worker.signals.finished.connect(self._checked)
        worker.signals.failed.connect(self._failed)
        self.tasks.start(worker)

    def _checked(self, plan: EgressPlan) -> None:
        first = self.egress is None
        self.egress = plan
        if not plan.remote:
            self.run(confirmed=True)
        elif first:  # as opened: the local model, and say why
            self._note = (f"It names backends that would send its prompts away "
                          f"({'; '.join(plan.lines()[:len(plan.shares)])}), so it runs on the "
                          "local model. To send them, choose “the suite's own backends” under "
                          "Run on: you will see this estimate and be asked first.")
            index = self.backend_box.findData(LOCAL)
            if index < 0:
                self.backend_box.addItem(LOCAL, LOCAL)
                index = self.backend_box.count() - 1
            self.backend_box.setCurrentIndex(index)
            self.run(LOCAL, confirmed=True)
        elif confirm_remote(self, plan, f"Running {self.path.name} on its own backends"):
            self._note = ""
            self.run(confirmed=True)
        else:
            self.run_button.setEnabled(True)
            self.status.setText(f"Nothing was sent: {self.path.name} was not run on its own "
                                "backends.")

    def _run(
        self,
        report: Reporter,
        cancel: CancelToken,
        backend: str | None,
        model: str,
        repeats: int | None,
    ) -> Result:
        """In a pool thread: create the evaluation, run every cell (``repeats`` times when
        given), score it, say why cells errored."""
        suite = load_suite(self.path, local_fallback=False)  # it offers the local model
        spec = self._spec(suite.spec, backend, model, repeats)
        runner = self.workspace.runner
        tools = suite_tools(spec, runner, suite.judge)
        try:
            evaluation = Evaluation.create(self.workspace.store, spec, runner, **tools)
            self.workspace.store.suites.add(evaluation.id, suite_key(self.path))

            def progress(p: EvalProgress) -> None:
                report(p.done, p.total)

            card = evaluation.run(cancel, on_progress=progress)
            card.check(suite.criteria)
            return evaluation, card, error_reasons(evaluation, card)
        finally:
            for tool in tools.values():
                close = getattr(tool, "close", None)
                if close is not None:
                    close()

    @staticmethod
    def _spec(spec: ExperimentSpec, backend: str | None, model: str, repeats: int | None
              ) -> ExperimentSpec:
        """The suite's experiment on ``backend`` (None: its own), ``repeats`` times."""
        spec = spec if backend is None else with_backend(spec, backend, model)
        return spec if repeats is None else spec.model_copy(update={"repeats": repeats})

    def _check_batch(self) -> None:
        """Whether the suite, on the backend chosen under Run on, can go as a batch."""
        path, backend = self.path, self.backend_box.currentData()
        model = self.model_edit.text().strip() if backend else ""
        repeats = self.repeat_box.value() or None
        self.batch.check(lambda: self._spec(load_suite(path, local_fallback=False).spec,
                                            backend, model, repeats))

    def _submit_batch(self, spec: ExperimentSpec, cancel: CancelToken) -> list[str]:
        """On a pool thread: a new evaluation of the suite (a point in its history, as a run
        makes), its cells sent as batch jobs; their ids. Once a job ended, the Batch jobs
        window finishes it live: the cells that failed run and every answer is graded."""
        from workbench.services.batch import BatchJobs

        store = self.workspace.store
        experiment = store.experiments.create(spec)
        store.suites.add(experiment.id, suite_key(self.path))
        jobs = BatchJobs(store, self.workspace.runner).submit(experiment, cancel=cancel)
        return [job.id for job in jobs]

    def _show(self, result: Result) -> None:
        evaluation, card, errors = result
        self.progress.hide()
        self.run_button.setEnabled(True)
        failing = [c for c in card.criteria if not c.met]
        state = (
            "criteria met"
            if card.criteria and not failing
            else f"{len(failing)} criteria not met"
            if failing
            else "no criteria"
        )
        advice = " · to run it elsewhere, choose a backend under Run on" if errors else ""
        note = f"\n{self._note}" if self._note and self._where == f" on {LOCAL}" else ""
        # a person knows a suite by its name and when it ran; the id is for the CLI
        when = format_time(self.workspace.store.experiments.get(evaluation.id).created_at)
        self.status.setText(
            f"{evaluation.spec.name} · {when}{self._where} · {state}{advice}{note}"
        )
        self.status.setToolTip(
            f"Evaluation {evaluation.id} of {self.path}: reopen it from Experiments…"
        )
        # The grid numbers its rows itself: name each by its description or values only.
        rows = [
            case_name(evaluation, t, 0, numbered=False).split(": ", 1)[1]
            for t in range(len(evaluation.spec.tests))
        ]
        self.scorecard.set_scorecard(
            card,
            rows=rows,
            repeats=evaluation.spec.repeats,
            details=evaluation.detail,
            errors=errors,
        )
        self._against(self.last, evaluation, card)
        self.last = evaluation, card
        self.scorecard.show()
        if self.history is not None and self.history.isVisible():
            self.history.refresh()
        self.ended.emit()

    def _against(self, earlier: tuple[Evaluation, Scorecard] | None, evaluation: Evaluation,
                 card: Scorecard) -> None:
        """Mark the cases that got better or worse than the run before in this window (after
        the prompts were edited, say), when both ran the same cases on as many variants."""
        if earlier is None:
            return
        before, before_card = earlier
        same_cases = [t.vars for t in before.spec.tests] == [t.vars for t in evaluation.spec.tests]
        if same_cases and len(before_card.variants) == len(card.variants):
            self.scorecard.show_regression(compare(before_card, card),
                                           f"the earlier run (evaluation {before.id})")

    def _failed(self, error: KnownError) -> None:
        self.progress.hide()
        self.run_button.setEnabled(True)
        self.status.setText(f"The evaluation could not run: {error}")
        self.ended.emit()

    def _cancelled(self) -> None:
        self.run_button.setEnabled(True)
        self.status.setText("Cancelled.")
        self.ended.emit()

    def closeEvent(self, event: QCloseEvent) -> None:
        if self.worker is not None:
            self.worker.cancel()
        if self.history is not None:
            self.history.close()
        self.tasks.shutdown(timeout_s=5.0)
        self.batch.shutdown(timeout_s=5.0)
        super().closeEvent(event)
