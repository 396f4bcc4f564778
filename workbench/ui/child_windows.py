"""Windows the main window opens beside itself: compare, sweep, evaluation suites, backends, batch
jobs, and the Experiments browser that reopens saved comparisons, sweeps and evaluations in them.

Each is imported when first opened (the compare view alone costs ~0.4 s of start-up). They are
tracked, not parented (a compare window may go behind the main window): each is deleted when it
is closed and leaves the list when it is destroyed, so closing, re-opening and quitting in any
order never touches a deleted window. Quitting closes those still open; each one's own close
stops its work, waiting a bounded time.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

import shiboken6
from PySide6.QtCore import QObject, Qt
from PySide6.QtWidgets import QWidget

from workbench.core.errors import KnownError
from workbench.core.experiments import Variant
from workbench.core.grid import TemplateChoice
from workbench.ui.background import watch_writes
from workbench.ui.widgets.window_keys import add_close_keys

if TYPE_CHECKING:
    from workbench.ui.batch_jobs import BatchJobsWindow
    from workbench.ui.batch_poller import BatchPoller
    from workbench.ui.compare.compare_view import CompareView
    from workbench.ui.compare.sweep_view import SweepView
    from workbench.ui.dialogs.backends_dialog import BackendsDialog
    from workbench.ui.experiments_browser import ExperimentsBrowser
    from workbench.ui.main_window import MainWindow

log = logging.getLogger(__name__)


class ChildWindows(QObject):
    """The windows open beside a main window, in the order they were opened."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._open: list[QWidget] = []

    def keep(self, child: QWidget, width: int, height: int) -> None:
        """Show ``child`` as a window deleted on close and tracked until it is destroyed;
        Ctrl+W and Escape close it as its close button does."""
        child.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        add_close_keys(child)
        child.resize(width, height)
        child.destroyed.connect(lambda _object=None, c=child: self._forget(c))
        self._open.append(child)
        child.show()

    def _forget(self, child: QWidget) -> None:
        if child in self._open:
            self._open.remove(child)

    def windows(self) -> list[QWidget]:
        """The windows still open (one closed but not yet deleted is not)."""
        return [w for w in self._open if shiboken6.isValid(w) and w.isVisible()]

    def __len__(self) -> int:
        return len(self.windows())

    def __getitem__(self, index: int) -> QWidget:
        return self.windows()[index]

    def close_all(self) -> bool:
        """Close every window (each stops its own work); False if one refused (a dialog with
        unsaved changes asks first)."""
        return all([w.close() for w in self.windows()])


def _keep(window: MainWindow, child: QWidget, width: int, height: int) -> None:
    window.child_windows.keep(child, width, height)


def _template_versions(window: MainWindow, *keys: str | None) -> list[TemplateChoice]:
    """The library's versions of templates ``keys`` (default: the window's): key, number,
    message and template; a key no longer in the library has none."""
    found = []
    for key in dict.fromkeys(keys or (window.key,)):
        if not key:
            continue
        try:
            versions = window.workspace.library.versions(key)
        except KnownError:
            continue
        found += [TemplateChoice(template=v.template(), key=v.key, version=v.number,
                                 message=v.message) for v in versions]
    return found


def _compare_view(window: MainWindow, title: str) -> CompareView:
    from workbench.ui.compare.compare_view import CompareView

    view = CompareView(window.runs)
    view.setWindowTitle(f"Compare — {title}")
    view.set_backends(window.picker.backend_names())
    view.sweepRequested.connect(lambda variant: open_sweep(window, variant))
    view.message.connect(lambda text: window.statusBar().showMessage(text, 10_000))
    view.saved.connect(lambda _id: window.history.refresh())
    view.restoreRequested.connect(window.restore_run)
    view.restoreRequested.connect(lambda _run_id: window.activateWindow())
    return view


def open_compare(window: MainWindow) -> CompareView:
    """A compare window whose column A is the window's current prompt."""
    view = _compare_view(window, window.editor.template().name)
    if window.key:
        view.set_template_versions(_template_versions(window))
    view.add_variant(window.current_variant())
    _keep(window, view, 1366, 760)
    return view


def open_experiments(window: MainWindow) -> ExperimentsBrowser:
    """The saved comparisons, sweeps and evaluations; activating one reopens it."""
    from workbench.services.experiments_overview import overview
    from workbench.ui.experiments_browser import ExperimentsBrowser

    store = window.workspace.store
    view = ExperimentsBrowser(lambda: overview(store))
    watch_writes(view, store.db, view.refresh)  # a sweep run meanwhile shows its new count
    view.openRequested.connect(lambda kind, experiment_id: open_experiment(
        window, kind, experiment_id))
    _keep(window, view, 1000, 560)
    return view


def open_experiment(window: MainWindow, kind: str, experiment_id: str) -> QWidget:
    """A saved experiment in the window it was made in, with its results: a comparison's
    columns, outputs, ratings and A/B votes; a sweep's matrix and chart; an evaluation's
    scorecard."""
    if kind == "eval":
        from workbench.ui.evaluation.saved_evaluation import SavedEvaluationWindow

        evaluation = SavedEvaluationWindow(window.workspace, experiment_id)
        _keep(window, evaluation, 1280, 720)
        return evaluation
    from workbench.ui.dialogs.egress_dialog import asker

    spec = window.workspace.store.experiments.get(experiment_id).spec
    what = f"Running “{spec.name}”"
    if kind == "sweep":
        from workbench.ui.compare.sweep_view import SweepView

        sweep = SweepView(window.workspace.runner)
        sweep.setWindowTitle(f"Sweep — {spec.name}")
        sweep.set_backends(window.picker.backend_names())
        if spec.variants:  # the versions a template axis offers (its own ticked)
            sweep.set_template_versions(_template_versions(window, spec.variants[0].template_key))
        sweep.open_sweep(experiment_id)  # its base, axes, repeats and name
        sweep.sweepFinished.connect(lambda _progress: window.history.refresh())
        sweep.confirm_remote = asker(sweep, window.workspace.runner, what)
        _follow_batches(window, sweep)
        _keep(window, sweep, 1100, 760)
        return sweep
    view = _compare_view(window, spec.name)
    # the versions its columns ran: their messages name them in the headers
    view.set_template_versions(_template_versions(window, *(v.template_key for v in spec.variants)))
    view.open_experiment(experiment_id)
    view.confirm_remote = asker(view, window.workspace.runner, what)
    _keep(window, view, 1366, 760)
    return view


def open_sweep(window: MainWindow, variant: Variant) -> SweepView:
    """A sweep around ``variant`` over two axes: parameters, models of the window's backends,
    versions of its template, or variable sets."""
    from workbench.ui.compare.sweep_view import SweepView

    view = SweepView(window.workspace.runner)
    view.setWindowTitle(f"Sweep — {variant.template.name}")
    view.set_backends(window.picker.backend_names())
    view.set_template_versions(_template_versions(window, variant.template_key or window.key))
    view.set_base(variant)
    view.sweepFinished.connect(lambda _progress: window.history.refresh())
    _follow_batches(window, view)
    _keep(window, view, 1100, 760)
    return view


def _follow_batches(window: MainWindow, sweep: SweepView) -> None:
    """A sweep submitted as a batch is followed in the Batch jobs window, polled from now; the
    sweep's matrix fills as its answers land."""
    sweep.batch.submitted.connect(lambda _ids: open_batch_jobs(window))
    batch_poller(window).polled.connect(sweep.show_landed)  # a slot: gone with the sweep


def batch_poller(window: MainWindow) -> BatchPoller:
    """The window's poller of unfinished batch jobs (made on first use; polls nothing yet)."""
    from workbench.ui.batch_poller import BatchPoller
    from workbench.ui.batch_rows import JobRow, JobsOfStore, unconfirmed_notice

    poller = window.findChild(BatchPoller, "batchPoller")
    if poller is None:
        jobs = JobsOfStore(window.workspace.store, window.workspace.runner)
        poller = BatchPoller(jobs, parent=window)
        poller.setObjectName("batchPoller")
        poller.polled.connect(lambda *_: window.history.refresh())  # answers may have landed
        told: set[str] = set()

        def say_unconfirmed(rows: list[JobRow]) -> None:
            """Jobs with a batch of unknown outcome are said in the status bar (from the
            start's round; again when another job joins them, not at every round)."""
            new = [row for row in rows if row.id not in told]
            told.clear()
            told.update(row.id for row in rows)
            if new:
                window.statusBar().showMessage(unconfirmed_notice(new))

        poller.unconfirmed.connect(say_unconfirmed)
    return poller


def resume_batch_polling(window: MainWindow) -> BatchPoller:
    """At start: jobs an earlier session left unfinished are polled again (a round now; the
    poller keeps polling while any is unfinished)."""
    poller = batch_poller(window)
    poller.poll()
    return poller


def stop_batch_polling(window: MainWindow) -> None:
    """On quit: no new round starts; one under way is waited for a bounded time (the jobs go
    on at the provider, and the next start polls them again)."""
    from workbench.ui.batch_poller import BatchPoller

    poller = window.findChild(BatchPoller, "batchPoller")
    if poller is not None and not poller.shutdown(timeout_s=5.0):
        log.warning("a batch poll did not end within 5 s of quitting")


def open_batch_jobs(window: MainWindow) -> BatchJobsWindow:
    """The Batch jobs window (the open one, brought to the front and re-read)."""
    from workbench.ui.batch_jobs import BatchJobsWindow

    for open_window in window.child_windows.windows():
        if isinstance(open_window, BatchJobsWindow):
            open_window.raise_()
            open_window.activateWindow()
            open_window.refresh()
            return open_window
    poller = batch_poller(window)
    view = BatchJobsWindow(poller.jobs, poller)
    view.rerunFinished.connect(lambda _job, _count: window.history.refresh())
    view.evaluationFinished.connect(lambda evaluation: open_experiment(window, "eval",
                                                                       evaluation))
    _keep(window, view, 1000, 420)
    return view


def open_suite(window: MainWindow, path: Path) -> QWidget:
    """Run the evaluation suite at ``path``: progress, then its scorecard."""
    from workbench.ui.evaluation.suite_window import SuiteWindow

    view = SuiteWindow(window.workspace, path, backends=window.picker.backend_names())
    view.ended.connect(window.history.refresh)  # its runs, without waiting for a filter change
    view.batch.submitted.connect(lambda _ids: open_batch_jobs(window))
    _keep(window, view, 1280, 720)  # fits a 1366×768 screen
    return view


def open_backends(window: MainWindow) -> BackendsDialog:
    """The Backends dialog, modal to the main window; the model picker re-reads the backends
    when it closes."""
    from workbench.backends.registry import default_registry
    from workbench.ui.dialogs.backends_dialog import BackendsDialog
    from workbench.ui.local_servers import local_servers

    servers = local_servers(window)
    dialog = BackendsDialog(window, registry=default_registry(), servers=servers)
    dialog.setObjectName("backendsDialog")
    dialog.saved.connect(window.workspace.runner.forget)
    dialog.removed.connect(window.workspace.runner.forget)
    dialog.finished.connect(lambda _result: window.picker.reload())
    dialog.setWindowModality(Qt.WindowModality.WindowModal)
    # its own size (880×620), not its size hint (689×398, which hid the keyring note and
    # Test connection below the fold): a server's whole form at 1366×768
    _keep(window, dialog, dialog.width(), dialog.height())
    return dialog
