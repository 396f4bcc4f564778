"""The sweep view: two axes over a base variant (each a parameter with its values, models,
template versions or variable sets; ``sweep_axes``), the pre-run estimate with a Run button, a
progress strip with time left, and the results (``sweep_pane``): a colour-scaled matrix plus a
chart of a metric against the row axis, always of the sweep as typed once it is edited.

The sweep is an experiment in the store (``services.comparison.saved_or_new``): running the same
sweep again resumes it, skipping the cells that already finished (``services.grid_runner``), and
``open_sweep`` shows a saved one with all its axes back in the editors (``sweep_layout.reopen``).
The estimate counts tokens with the backend's own tokenizer where it has one (a local model), so
it runs off the GUI thread.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from pydantic import ValidationError
from PySide6.QtCore import QObject, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence
from PySide6.QtWidgets import (
    QGridLayout,
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
from workbench.core.experiments import ExperimentSpec, Variant
from workbench.core.grid import Estimate, SweepSpec, TemplateChoice
from workbench.core.sweep_cells import CellSummary
from workbench.core.wording import plural
from workbench.services.comparison import (
    open_comparison,
    same_cells,
    saved_or_new,
    unclaimed_name,
)
from workbench.services.egress import plan as egress_plan
from workbench.services.experiment_lock import ExperimentBusy
from workbench.services.grid_runner import GridRunner, Progress, SweepHandle
from workbench.services.runner import Runner
from workbench.storage.repositories import StoredExperiment
from workbench.ui import theming
from workbench.ui.background import Progress as TaskProgress
from workbench.ui.background import Reporter, TaskRunner, TaskWorker, on_gui
from workbench.ui.batch_submit import BatchSubmit
from workbench.ui.compare.sweep_axes import AxisEditor, ModelCatalog
from workbench.ui.compare.sweep_layout import (
    Axis,
    SweepLayout,
    axis_phrase,
    build_spec,
    experiment_of,
    layout,
    reopen,
)
from workbench.ui.compare.sweep_pane import SweepPane
from workbench.ui.widgets.progress_strip import ProgressStrip

log = logging.getLogger(__name__)
#: Results are redrawn at most this often while cells finish (ms).
REDRAW_MS = 100
ESTIMATE_DEBOUNCE_MS = 300


class _Bridge(QObject):
    """Carries the grid runner's progress (worker threads) into the GUI thread."""

    progress = Signal(object)
    _posted = Signal(object)

    def __init__(self) -> None:
        super().__init__()
        self._posted.connect(self.progress, Qt.ConnectionType.QueuedConnection)

    def post(self, progress: Progress) -> None:
        self._posted.emit(progress)


class SweepView(QWidget):
    """A two-axis sweep of one base variant through a ``Runner`` with a store writer."""

    estimated = Signal(object)  # Estimate
    sweepFinished = Signal(object)  # the last Progress (done == total)

    def __init__(self, runner: Runner, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        if runner.writer is None:
            raise ValueError("a sweep is saved as it runs: give the Runner a store writer")
        self.runner = runner
        self.writer = runner.writer
        self.store = runner.writer.store
        self.grid = GridRunner(runner, self.store)
        self.base: Variant | None = None
        self.spec: SweepSpec | None = None
        self.planned: ExperimentSpec | None = None  # the spec as the experiment it runs as
        self.typed: tuple[Axis | None, Axis | None] = (None, None)
        self.estimate: Estimate | None = None
        self.experiment: StoredExperiment | None = None
        self.handle: SweepHandle | None = None
        self._names = SweepLayout()  # of the sweep as typed: names the estimate's cells
        self.catalog = ModelCatalog(runner, self)
        self._tasks = TaskRunner(self, max_threads=1)
        self._estimate_job: TaskWorker[Estimate] | None = None
        self._bridge = _Bridge()
        self._bridge.progress.connect(self._on_progress)
        self._closed = False
        self._saving = False  # run's save is on the writer thread
        # A reopened sweep the axes cannot say (``open_sweep``): estimated and run as saved
        # until an axis is edited.
        self._reopened: StoredExperiment | None = None
        self._any_shown = False  # a sweep was shown: an edit shows its grid, not what to do
        # Set for a sweep reopened from the store: asked before running remote cells.
        self.confirm_remote: Callable[[ExperimentSpec], bool] | None = None
        self._build()

    def _build(self) -> None:
        self.name = QLineEdit(self)
        self.name.setAccessibleName("Sweep name")
        self.name.setToolTip("Left empty, the sweep is named after its template and axes")
        self.rows = AxisEditor("Rows", "temperature", "0, 0.4, 0.8, 1.2", self.catalog, self)
        self.cols = AxisEditor("Columns", "top_p", "0.5, 0.9", self.catalog, self)
        self.repeats = QSpinBox(self)
        self.repeats.setRange(1, 50)
        self.repeats.setPrefix("×")
        self.repeats.setAccessibleName("Repeats per cell")
        self.repeats.setToolTip("Run every cell this many times (the matrix shows the mean)")
        for editor in (self.rows, self.cols):
            editor.changed.connect(self._edited)
        self.repeats.valueChanged.connect(self._edited)
        self.name.textChanged.connect(self._edited)
        self.reopen_note = QLabel(self)
        self.reopen_note.setAccessibleName("Reopened sweep note")
        self.reopen_note.setWordWrap(True)
        self.reopen_note.hide()

        self.estimate_label = QLabel("Set the values to sweep; the estimate appears here "
                                     "before anything runs.", self)
        self.estimate_label.setAccessibleName("Pre-run estimate")
        self.estimate_label.setFont(theming.monospace_font())
        self.estimate_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.estimate_label.setWordWrap(True)
        self.run_button = QPushButton("Run sweep", self)
        # An action, not the button's shortcut: a greyed button (its estimate on the way after
        # an edit) swallowed Ctrl+Enter; the action runs the sweep once the estimate is there.
        self._run_key = QAction("Run sweep", self)
        self._run_key.setShortcuts([QKeySequence("Ctrl+Return"), QKeySequence("Ctrl+Enter")])
        self._run_key.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        self._run_key.triggered.connect(self.run_when_ready)
        self.addAction(self._run_key)
        self._run_pending = False
        self._estimating = False  # an edit's estimate is on its way (Run is greyed meanwhile)
        self.run_button.setToolTip("Run every cell not already done (Ctrl+Enter)")
        self.run_button.setEnabled(False)
        self.run_button.clicked.connect(self.run)
        self.batch = BatchSubmit(self.runner, self._submit_batch, self)
        self.batch.failed.connect(self._show_problem)
        self.batch.submitted.connect(self._batch_sent)
        self.progress = ProgressStrip(self)
        self.pane = SweepPane(lambda: self.handle is not None, self)
        pane = self.pane
        self.cells, self.matrix, self.detail, self.chart = (pane.cells, pane.matrix,
                                                             pane.detail, pane.chart)
        self.metric_box, self.legend = pane.metric_box, pane.legend
        self.empty_state, self.results_stack = pane.empty_state, pane.results_stack

        form = QGridLayout()
        form.setContentsMargins(0, 0, 0, 0)
        form.setHorizontalSpacing(8)
        form.setVerticalSpacing(4)
        form.addWidget(self.rows, 0, 0, 1, 3)
        form.addWidget(self.cols, 1, 0, 1, 3)
        form.addWidget(QLabel("Name", self), 2, 0)
        form.addWidget(self.name, 2, 1)
        repeat_row = QHBoxLayout()
        repeat_row.addWidget(QLabel("Repeat", self))
        repeat_row.addWidget(self.repeats)
        form.addLayout(repeat_row, 2, 2)
        form.addWidget(self.reopen_note, 3, 0, 1, 3)
        estimate_row = QHBoxLayout()
        estimate_row.setSpacing(8)
        estimate_row.addWidget(self.estimate_label, 1)
        buttons = QVBoxLayout()
        buttons.addWidget(self.run_button)
        buttons.addWidget(self.batch.button)
        buttons.addStretch(1)
        estimate_row.addLayout(buttons)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 8)
        layout.setSpacing(8)
        layout.addLayout(form)
        layout.addLayout(estimate_row)
        layout.addWidget(self.progress)
        layout.addWidget(self.pane, 1)

        self._estimate_timer = QTimer(self)
        self._estimate_timer.setSingleShot(True)
        self._estimate_timer.setInterval(ESTIMATE_DEBOUNCE_MS)
        self._estimate_timer.timeout.connect(self.refresh_estimate)
        self._redraw_timer = QTimer(self)
        self._redraw_timer.setSingleShot(True)
        self._redraw_timer.setInterval(REDRAW_MS)
        self._redraw_timer.timeout.connect(self.redraw)

    # --- the sweep ----------------------------------------------------------------------------

    def set_base(self, variant: Variant) -> None:
        """The variant every cell starts from (the editor's template, parameters and model)."""
        self.base = variant
        for editor in (self.rows, self.cols):
            editor.set_base(variant)
        if not self.catalog.names:
            self.catalog.set_backends([variant.backend])
        self.schedule_estimate()

    def set_backends(self, names: list[str]) -> None:
        """The backends whose models a model axis offers (listed when first needed)."""
        self.catalog.set_backends(names)

    def set_template_versions(self, versions: list[TemplateChoice]) -> None:
        """The library's versions of the template a template axis offers."""
        for editor in (self.rows, self.cols):
            editor.set_template_versions(versions)

    def sweep_spec(self) -> SweepSpec:
        """The sweep as typed (``KnownError``/``ValueError`` say what is wrong); the typed axes
        are kept in ``typed`` (they decide the matrix's orientation)."""
        if self.base is None:
            raise ValueError("no base variant to sweep")
        self.typed = (self.rows.axis(), self.cols.axis())
        return build_spec(self.name.text().strip() or self.default_name(), self.base,
                          *self.typed, self.repeats.value())

    def default_name(self) -> str:
        """"triage · temperature 0.2–1.2 × top_p 0.9, 1": the template and the axes with their
        values, numbered (" (2)") past another stored experiment of that name, so two sweeps
        of one template read apart in the Experiments window. No date, unlike a comparison's:
        the same sweep run again finds its experiment by name to resume it."""
        template = self.base.template.name if self.base is not None else ""
        axes = " × ".join(axis_phrase(a) for a in self.typed if a is not None)
        name = " · ".join(p for p in (template or "Sweep", axes) if p)
        if self.base is None:
            return name
        try:
            spec = build_spec(name, self.base, *self.typed, self.repeats.value())
            experiment = experiment_of(spec, self.typed[0])
        except (KnownError, ValueError):
            return name  # not a sweep yet: nothing stored can be it
        return unclaimed_name(self.store, name, experiment)

    def _edited(self) -> None:
        self._reopened = None  # the sweep is the one typed from now on
        self.reopen_note.hide()
        self.schedule_estimate()

    def schedule_estimate(self) -> None:
        self.run_button.setEnabled(False)
        self._estimating = True
        if not self._closed:
            self._estimate_timer.start()

    def refresh_estimate(self) -> None:
        """Expand the sweep and estimate it off the GUI thread; Run is enabled when it is done."""
        try:
            spec, experiment = self._planned()
        except (KnownError, ValueError, ValidationError) as err:
            self.spec = self.planned = None
            self.batch.check(None)
            self._show_problem(_message(err))
            self._show_typed(None, None)
            return
        self.spec, self.planned = spec, experiment
        self.batch.check(lambda: experiment)
        self.name.setPlaceholderText(self.default_name())
        self._names = layout(experiment, self._typed_dimensions())
        if self._estimate_job is not None:
            self._estimate_job.cancel()
        grid = self.grid
        stored = self._existing(experiment)
        self._show_typed(experiment, stored)

        def work(_report: Reporter, _cancel: CancelToken) -> Estimate:
            return grid.estimate(stored if stored is not None else experiment)

        job: TaskWorker[Estimate] = TaskWorker(work)
        self._estimate_job = job
        job.signals.finished.connect(lambda value, j=job: self._estimated(j, value))
        job.signals.failed.connect(lambda error, j=job: self._estimate_failed(j, error))
        self.estimate_label.setText("Estimating…")
        self._estimating = True
        self._tasks.start(job)

    def _planned(self) -> tuple[SweepSpec | None, ExperimentSpec]:
        """The sweep to estimate and run: a reopened one as saved while the axes cannot say it,
        else the one typed (raises what is wrong with it)."""
        if self._reopened is not None:
            return None, self._reopened.spec
        spec = self.sweep_spec()
        return spec, experiment_of(spec, self.typed[0])

    def _typed_dimensions(self) -> list[str]:
        return [a.dimension for a in self.typed if a is not None]

    def _existing(self, experiment: ExperimentSpec) -> StoredExperiment | None:
        from workbench.services.comparison import find_same

        return find_same(self.store, experiment)

    def _estimated(self, job: TaskWorker[Estimate], estimate: Estimate) -> None:
        if job is not self._estimate_job:
            return  # superseded by a newer edit
        self.estimate = estimate
        self._set_label_colour(None)
        repeats = self.planned.repeats if self.planned is not None else 1
        unit = "cells" if self.planned is None or not self.planned.tests else "settings"
        lines = estimate.lines(lambda key: self._names.cell_name(key, repeats), unit=unit)
        away = egress_plan(estimate, configs=self.runner.configs)
        lines += [f"sent away:      {line}" for line in away.lines()[:len(away.shares)]]
        self.estimate_label.setText("\n".join(lines))
        # Cells that cannot be rendered are listed above; with none sendable there is no run.
        sendable = estimate.calls - len(estimate.unrenderable)
        self.run_button.setEnabled(sendable > 0 and self.handle is None)
        complete = estimate.calls == 0 and estimate.skipped > 0 and not estimate.waiting
        if estimate.calls == 0 and estimate.waiting:
            self.estimate_label.setText(
                f"{estimate.waiting:,} cells are waiting in a batch job: their answers land here "
                "as the provider sends them (Tools ▸ Batch jobs…)")
        if complete:  # this very sweep has a result in every cell: nothing to resume
            self.estimate_label.setText("\n".join([
                f"all {estimate.skipped:,} cells done — change an axis's values or the repeats "
                "to sweep something new",
                *(line for line in estimate.lines(unit=unit)
                  if line.startswith("no effect:")),
            ]))
        self.run_button.setToolTip(
            "Every cell of this sweep has a result"
            if complete
            else "Run every cell not already done (Ctrl+Enter)"
            if sendable > 0
            else "No cell can be sent: fix what the estimate lists first"
        )
        self.run_button.setText(
            "Done" if complete else "Resume sweep" if estimate.skipped else "Run sweep"
        )
        self._estimating = False
        if self._run_pending:
            self._run_pending = False
            if self.run_button.isEnabled():
                self.run()
        self.estimated.emit(estimate)

    def run_when_ready(self) -> None:
        """Ctrl+Enter: run now, or as soon as the estimate of the latest edit is shown."""
        if self.run_button.isEnabled():
            self.run()
        elif self._estimating:
            self._run_pending = True

    def _estimate_failed(self, job: TaskWorker[Estimate], error: KnownError) -> None:
        if job is self._estimate_job:
            self._show_problem(error.message + (f" — {error.hint}" if error.hint else ""))

    def _show_problem(self, text: str) -> None:
        self._estimating = self._run_pending = False
        self.estimate = None
        self.run_button.setEnabled(False)
        self._set_label_colour("error")
        self.estimate_label.setText(text)

    def _set_label_colour(self, kind: str | None) -> None:
        palette = self.estimate_label.palette()
        palette.setColor(self.estimate_label.foregroundRole(),
                         theming.status_color("error") if kind else
                         self.palette().color(self.estimate_label.foregroundRole()))
        self.estimate_label.setPalette(palette)

    # --- running ------------------------------------------------------------------------------

    def run(self) -> None:
        """Save the sweep (or find the same one, to resume it) and run the cells not done."""
        if self.planned is None or self.handle is not None or self._saving:
            return
        spec = self.planned
        if self.confirm_remote is not None:
            if not self.confirm_remote(spec):
                return
            self.confirm_remote = None
        # saved (or found) on the writer thread; the sweep starts when it answers
        self._saving = True
        self.run_button.setEnabled(False)
        self.progress.begin(self._progress_title())

        def failed(error: KnownError) -> None:
            self._saving = False
            self.progress.end()
            self._show_problem(f"Not saved: {error}")

        on_gui(self.writer.submit(lambda s: saved_or_new(s, spec, "sweep")), self,
               lambda found: self._start(found[0]), failed)

    def _start(self, stored: StoredExperiment) -> None:
        self._saving = False
        if self._closed:
            return
        self.experiment = stored
        self._show_experiment(stored.id, self._typed_dimensions())
        try:
            handle = self.grid.start(stored, on_progress=self._bridge.post)
        except ExperimentBusy as busy:  # the same sweep runs in another window or process
            self._set_label_colour("error")
            self.estimate_label.setText(
                f"Not started: this sweep is already running in {busy.holder.describe()}.\n"
                "Let that run finish (or stop it there), then run it here: only what it left runs."
            )
            self.progress.end()
            self.run_button.setEnabled(True)
            return
        self.run_button.setEnabled(False)
        self.handle = handle
        self._started = time.perf_counter()
        self.progress.begin(self._progress_title(), cancel=handle.cancel_all)
        if handle.done:  # nothing left to run
            self._finished(None)

    def _submit_batch(self, spec: ExperimentSpec, cancel: CancelToken) -> list[str]:
        """Save the sweep (or find the same one) and send its cells not done as batch jobs;
        their ids. On a pool thread (``BatchSubmit``)."""
        from workbench.services.batch import BatchJobs

        stored, _ = self.writer.submit(lambda s: saved_or_new(s, spec, "sweep")).result()
        jobs = BatchJobs(self.store, self.runner).submit(stored, cancel=cancel)
        return [job.id for job in jobs]

    def _batch_sent(self, job_ids: list[str]) -> None:
        """The sweep went as a batch job: its matrix shows, and fills as answers land."""
        if self._closed or not job_ids:
            return
        experiment_id = self.store.batches.get(job_ids[0]).experiment_id
        self._show_experiment(experiment_id, self._typed_dimensions())
        self.refresh_estimate()  # its cells are waiting now: Run sweep has nothing to send

    def show_landed(self, *_poll: object) -> None:
        """Batch answers may have landed (a poll ended): show the sweep's results again."""
        if not self._closed and self.handle is None and self.experiment is not None:
            self._show_experiment(self.experiment.id, self._typed_dimensions())

    def _progress_title(self) -> str:
        return f"Sweep: {plural(self.estimate.calls, 'call') if self.estimate else 'calls'}"

    def cancel(self) -> None:
        if self.handle is not None:
            self.handle.cancel_all()

    def _on_progress(self, progress: Progress) -> None:
        if self._closed:
            return
        last = progress.last
        if last is not None and last.result is not None:
            self.cells.add(last.key.variant, last.key.test, last.result)
        self.progress.report(
            TaskProgress(progress.done, progress.total, progress.elapsed_s, progress.eta_s),
            f"Cell {progress.done} of {progress.total}"
            + (f" · {progress.failed} failed" if progress.failed else ""),
        )
        if not self._redraw_timer.isActive():
            self._redraw_timer.start()
        if progress.done >= progress.total:
            self._finished(progress)

    def _finished(self, progress: Progress | None) -> None:
        self.handle = None
        self.progress.end()
        self.redraw()
        self.schedule_estimate()  # what is left, if anything (cancelled or failed cells)
        self.sweepFinished.emit(progress)

    # --- results ------------------------------------------------------------------------------

    def open_sweep(self, experiment_id: str) -> None:
        """Show a saved sweep with every result it has, and all its axes (parameters, models,
        template versions, variable sets), its base, repeats and name in the editors: the
        estimate is then this sweep's, Run resumes it (the cells not done) instead of starting
        another, and an edit is an edit of it, as of a sweep just typed. Only parameter axes
        came back, so a model or variable-set axis left editors that said another sweep.

        The editors are checked to rebuild exactly this sweep; where they cannot (a sweep
        file's third axis, a setting no axis sweeps), a note says why, and the sweep is
        estimated and resumed as saved until an axis is edited."""
        self._show_experiment(experiment_id)
        stored = self.experiment
        if stored is None or not stored.spec.variants:
            return
        spec = stored.spec
        found = reopen(spec)
        self._reopened = None
        self.set_base(found.base)
        self.rows.show_axis(found.rows)
        self.cols.show_axis(found.cols)
        self.repeats.setValue(spec.repeats)
        self.name.setText(spec.name)
        problem = found.problem or self._rebuilt_differs(spec)
        if not problem and self.default_name() == spec.name:
            self.name.clear()  # named after its axes, as a new sweep is: an edit renames it
        self._reopened = stored if problem else None
        self.reopen_note.setText(
            f"Reopened as saved: {problem}. The editors show what they can; Run resumes the "
            "sweep as it was saved, and changing an axis starts a new sweep from the editors."
            if problem else "")
        self.reopen_note.setVisible(bool(problem))

    def _rebuilt_differs(self, spec: ExperimentSpec) -> str:
        """Why the sweep the editors now say is not ``spec`` ("" when it is, cell for cell)."""
        try:
            typed = self.sweep_spec()
            rebuilt = experiment_of(typed, self.typed[0])
        except (KnownError, ValueError, ValidationError) as err:
            return f"its axes do not read back ({_message(err)})"
        if same_cells(rebuilt, spec):
            return ""
        return "its cells are not two axes over one base setting"

    def _show_typed(self, experiment: ExperimentSpec | None,
                    stored: StoredExperiment | None) -> None:
        """After an edit the matrix shows the sweep as typed, the one the estimate is for and
        Run runs or resumes: the store's runs of this very sweep (``find_same``, shown as a
        reopened one), else its grid with every cell empty, else (it cannot be laid out) no
        sweep. The last sweep's results stayed under the edited axes' editors, read as theirs
        by a first-time user. A running sweep keeps its matrix until it ends."""
        if self.handle is not None or self._saving:
            return
        if stored is not None:
            if self.experiment is None or self.experiment.id != stored.id:
                self._show_experiment(stored.id, self._typed_dimensions())
            return
        self.experiment = None
        if experiment is None:
            self.pane.show_nothing()
        elif self._any_shown:  # before any results, the empty state says what to do
            self._show_grid(self.cells.plan(experiment, self._typed_dimensions()))

    def _show_experiment(self, experiment_id: str, prefer: list[str] | None = None) -> None:
        comparison = open_comparison(self.store, experiment_id)
        self.experiment = comparison.experiment
        self._show_grid(self.cells.show(comparison, prefer or ()))

    def _show_grid(self, grid: SweepLayout) -> None:
        self._any_shown = True
        self.pane.show_grid(grid)

    def current_metric_key(self) -> str:
        return self.pane.current_metric_key()

    def summaries(self) -> dict[tuple[int, int], CellSummary]:
        """Each matrix cell's answers, agreement and assertion score."""
        return self.pane.summaries()

    def values(self) -> dict[tuple[int, int], float | None]:
        """The metric the metric box picks, per matrix cell."""
        return self.pane.values()

    def redraw(self) -> None:
        self.pane.redraw()

    def shutdown(self, timeout_s: float = 10.0) -> bool:
        """Cancel a running sweep and wait for it (call on close); nothing is estimated or
        drawn afterwards."""
        self._closed = True
        self._estimate_timer.stop()
        self._redraw_timer.stop()
        handle = self.handle
        if handle is not None:
            handle.cancel_all()
            try:
                handle.wait(timeout_s)
            except TimeoutError:
                return False
        listed = self.catalog.shutdown(timeout_s) and self.batch.shutdown(timeout_s)
        return self._tasks.shutdown(timeout_s) and listed

    def closeEvent(self, event: QCloseEvent) -> None:
        """Closing the window stops its sweep: the cells not run stay to resume later."""
        if not self.shutdown(timeout_s=5.0):
            log.warning("the sweep did not stop within 5 s of closing its window")
        super().closeEvent(event)


def _message(err: Exception) -> str:
    if isinstance(err, ValidationError):
        first = err.errors()[0]
        return f"{'.'.join(str(p) for p in first['loc'])}: {first['msg']}"
    if isinstance(err, KnownError):
        return err.message + (f" — {err.hint}" if err.hint else "")
    return str(err)
