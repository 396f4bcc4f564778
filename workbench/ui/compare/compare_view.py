"""The compare view: variants in columns side by side, run together, diffed, repeated and rated.

Each column is a variant (template version, variables, parameters, backend/model); its header
names what it changes compared with column A. Run all submits every column (×k repeats) through
``services.Runner``, so each backend's concurrency limit applies — a local model queues, remote
servers run in parallel — and every run is saved to history as it ends. The comparison itself is
an experiment in the store, created on the first run, so it reopens with all its outputs.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path

from PySide6.QtCore import QEvent, Qt, Signal
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence, QShowEvent
from PySide6.QtWidgets import (
    QAbstractScrollArea,
    QFileDialog,
    QLabel,
    QLineEdit,
    QScrollArea,
    QSizePolicy,
    QSpinBox,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from workbench.core.effects import Effects, check
from workbench.core.errors import KnownError
from workbench.core.experiments import ExperimentSpec, Variant
from workbench.core.grid import CellKey, TemplateChoice
from workbench.core.models import RunRequest
from workbench.services.compare_export import write_export
from workbench.services.comparison import open_comparison, preference_summary, save_comparison
from workbench.services.grid_runner import ignored_by
from workbench.storage.repositories import Store, StoredExperiment
from workbench.storage.writer import StoreWriter
from workbench.ui import theming
from workbench.ui.background import LatestJob, on_gui
from workbench.ui.compare import session
from workbench.ui.compare.column import ColumnRun, CompareColumn
from workbench.ui.compare.columns_split import ColumnsLayout, ColumnsSplit
from workbench.ui.compare.diff_view import DiffView
from workbench.ui.compare.judging import Judging
from workbench.ui.compare.rating import PreferenceBar
from workbench.ui.compare.tool_sequence import mark_differences
from workbench.ui.compare.variant_editor import VariantEditor
from workbench.ui.compare.variants import header, letter
from workbench.ui.widgets.figure_labels import ElidedLabel
from workbench.ui.workers import RunManager, RunWorker, stop_and_deliver, through_runner

MAX_REPEATS = 50
CLOSE_WAIT_S = 5.0  # how long closing the window waits for its runs to stop

log = logging.getLogger(__name__)


class CompareView(QWidget):
    """Columns of variants. Needs a ``RunManager`` built with a ``Runner``; when that runner has
    a store writer, runs, ratings and the comparison are saved."""

    runAllFinished = Signal()
    saved = Signal(str)  # experiment id, once stored
    exported = Signal(str)  # the file written
    sweepRequested = Signal(object)  # Variant: the column to sweep (the window opens a SweepView)
    message = Signal(str)
    restoreRequested = Signal(str)  # run id: a column's run, to open in the main window's editor

    def __init__(self, manager: RunManager, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        if manager.runner is None:
            raise ValueError("the compare view runs through services.Runner: give the "
                             "RunManager a runner")
        self.manager = manager
        self.runner = manager.runner
        self.writer: StoreWriter | None = self.runner.writer
        self.store: Store | None = self.writer.store if self.writer is not None else None
        self.columns: list[CompareColumn] = []  # creation order (A, B, C…)
        self.order: list[int] = []  # display order: indices into columns
        self.blind = False
        self.experiment_id: str | None = None
        self.variant_ids: list[str] = []
        self.name = ""  # until saved: the name typed, else session.default_name of the columns
        self.column_keys: list[str] = []  # stable names for preferences (A, B…)
        self._pending = 0
        self._saving = False  # run_all's save is on the writer thread
        self._opened = False  # shown once: the focus was put in the columns
        self._messages: dict[tuple[str, int], str] = {}  # version messages, for the headers
        # Set for a comparison reopened from the store: asked once before the first Run all
        # whether remote columns may be sent (False: nothing runs).
        self.confirm_remote: Callable[[ExperimentSpec], bool] | None = None
        self.judging = Judging(self)
        self._effects = LatestJob(self._show_effects, parent=self)
        self._build()

    # --- construction -------------------------------------------------------------------------

    def _action(self, text: str, keys: str, tip: str, slot: object, icon: str = "") -> QAction:
        action = QAction(text, self)
        action.setShortcut(QKeySequence(keys))
        action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        action.setToolTip(f"{tip} ({QKeySequence(keys).toString()})")
        action.triggered.connect(slot)
        action.setProperty("icon_name", icon)
        self.addAction(action)
        return action

    def _build(self) -> None:
        self.add_action = self._action("Add variant", "Ctrl+Shift+N",
                                       "Duplicate the last column and change one thing",
                                       self.open_variant_editor, "add")
        self.run_action = self._action("Run all", "Ctrl+Return",
                                       "Run every column; each backend's concurrency limit applies",
                                       self.run_all, "run")
        self.cancel_action = self._action("Cancel all", "Ctrl+Shift+Escape",
                                          "Stop every column; the text so far is kept",
                                          self.cancel_all, "stop")
        self.diff_action = self._action("Diff", "Ctrl+D", "Word diff of two columns",
                                        self.toggle_diff)
        self.diff_action.setCheckable(True)
        self.blind_action = self._action("Blind", "Ctrl+B",
                                         "Shuffle the columns and hide what they are until you "
                                         "reveal them", self.toggle_blind)
        self.blind_action.setCheckable(True)
        self.sweep_action = self._action("Sweep…", "Ctrl+Shift+W",
                                         "Sweep parameters of the last column over a grid of "
                                         "values", self._request_sweep)
        self.export_action = self._action("Export…", "Ctrl+E",
                                          "Export outputs, figures, diffs and preferences "
                                          "(Markdown, CSV or JSONL)", self._export_clicked)
        self.save_action = self._action("Save", "Ctrl+S",
                                        "Save the comparison as an experiment", self.save, "save")
        self.repeat_box = QSpinBox(self)
        self.repeat_box.setRange(1, MAX_REPEATS)
        self.repeat_box.setPrefix("×")
        self.repeat_box.setAccessibleName("Repeats per column")
        self.repeat_box.setToolTip("Run each column this many times: identical answers are "
                                   "collapsed and their agreement shown")
        self.name_edit = QLineEdit(self.name, self)
        self.name_edit.setAccessibleName("Comparison name")
        self.name_edit.setToolTip("Saved with the comparison; left empty, it is named after its "
                                  "template, what the columns change and when")
        self.name_edit.editingFinished.connect(self._rename)

        self.toolbar = QToolBar(self)
        self.toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        for action in (self.add_action, self.run_action, self.cancel_action):
            self.toolbar.addAction(action)
        self.toolbar.addWidget(QLabel(" Repeat ", self))
        self.toolbar.addWidget(self.repeat_box)
        self.toolbar.addSeparator()
        for action in (self.diff_action, self.blind_action, self.sweep_action, self.save_action,
                       self.export_action):
            self.toolbar.addAction(action)
        self.toolbar.addSeparator()
        self.toolbar.addWidget(self.name_edit)

        self.editor = VariantEditor(self)
        self.editor.variantReady.connect(self.add_variant)
        self.notice = QLabel(self)
        self.notice.setAccessibleName("Compare view message")
        self.notice.setWordWrap(True)
        self.notice.hide()
        # Said before running: columns whose difference changes nothing (greedy decoding, a
        # parameter the backend ignores) would otherwise just look identical afterwards. One
        # line, the whole note in its tooltip: wrapped, a long one took the height the columns'
        # figures and rating controls need.
        self.effects_note = ElidedLabel(self)
        self.effects_note.setAccessibleName("Settings that change nothing")
        self.effects_note.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
        self.effects_note.hide()
        self.repeat_box.valueChanged.connect(self._check_effects)

        self.strip = QWidget()
        self.strip_layout = ColumnsLayout(self.strip)
        self.strip_layout.setContentsMargins(8, 8, 8, 8)
        self.strip_layout.setSpacing(8)
        self.empty = QLabel("No variants yet: open a template and press Compare, or Add variant "
                            "(Ctrl+Shift+N).", self.strip)
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.strip_layout.addWidget(self.empty)
        self.area = QScrollArea(self)
        self.area.setWidget(self.strip)
        self.area.setWidgetResizable(True)
        self.area.setFrameShape(QAbstractScrollArea.Shape.NoFrame)
        self.area.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)

        self.diff_view = DiffView(self)
        self.diff_view.hide()
        self.splitter = ColumnsSplit(self.area, self.diff_view, self._first_text, self)

        self.preferences = PreferenceBar(self)
        self.preferences.preferred.connect(self.judging.preferred)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 8)
        layout.setSpacing(8)
        layout.addWidget(self.toolbar)
        edges: list[QWidget] = [self.editor, self.notice, self.effects_note, self.splitter,
                                self.preferences, self.preferences.summary]
        for widget in edges:
            widget.setContentsMargins(8, 0, 8, 0)
            layout.addWidget(widget, 1 if widget is self.splitter else 0)
        self._refresh_icons()
        self._update_actions()

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.PaletteChange:
            self._refresh_icons()
        super().changeEvent(event)

    def _refresh_icons(self) -> None:
        for action in self.actions():
            name = action.property("icon_name")
            if name:
                action.setIcon(theming.icon(str(name)))

    # --- variants -----------------------------------------------------------------------------

    def set_template_versions(self, versions: list[TemplateChoice]) -> None:
        """Template versions offered by "Add variant" (from the library); their messages name
        the versions in the headers."""
        self.editor.set_versions(versions)
        self._messages.update({(c.key, c.version): c.message for c in versions
                               if c.key is not None and c.version is not None and c.message})
        self._relayout()

    def set_backends(self, names: list[str]) -> None:
        self.editor.set_backends(names)

    def variants(self) -> list[Variant]:
        return [column.variant for column in self.columns]

    def add_variant(self, variant: Variant) -> CompareColumn:
        """Add a column (the first one becomes column A, the baseline)."""
        column = CompareColumn(variant, self.strip)
        self.columns.append(column)
        self.column_keys.append(letter(len(self.columns) - 1))
        self.order.append(len(self.columns) - 1)
        column.removeRequested.connect(lambda c=column: self.remove_column(c))
        column.ratingGiven.connect(self.judging.rated)
        column.ratingWanted.connect(lambda run_id, c=column: self.judging.show_rating(c, run_id))
        column.restoreRequested.connect(self.restoreRequested)
        column.shownRunChanged.connect(self._results_changed)
        column.set_blind(self.blind)
        self._relayout()
        return column

    def remove_column(self, column: CompareColumn) -> None:
        if column not in self.columns:
            return
        column.cancel()
        index = self.columns.index(column)
        self.columns.pop(index)
        self.column_keys.pop(index)
        self.order = [i if i < index else i - 1 for i in self.order if i != index]
        if self.experiment_id is not None:
            # saved variants keep their ids by position: a removed column would hand its id
            # (and its runs) to the next one, so the next save starts a new experiment
            self.experiment_id, self.variant_ids = None, []
        column.setParent(None)
        column.deleteLater()
        self._relayout()

    def open_variant_editor(self) -> None:
        if not self.columns:
            self._notify("Add a first variant before duplicating one.")
            return
        source = self.columns[self.order[-1]]
        index = self.columns.index(source)
        self.editor.open_for(source.variant, self._display_name(index))

    def _request_sweep(self) -> None:
        if self.columns:
            self.sweepRequested.emit(self.columns[self.order[-1]].variant)

    def _display_name(self, index: int) -> str:
        if self.blind:
            return f"Output {self.order.index(index) + 1}"
        return self.column_keys[index]

    def _relayout(self) -> None:
        """Put the columns in display order and refresh their headers and the pickers."""
        while self.strip_layout.count():
            self.strip_layout.takeAt(0)
        self.empty.setVisible(not self.columns)
        if not self.columns:
            self.strip_layout.addWidget(self.empty)
        base = self.columns[0].variant if self.columns else None
        for position, index in enumerate(self.order):
            column = self.columns[index]
            self.strip_layout.addWidget(column, 1)
            if self.blind:
                column.set_header(f"Output {position + 1}", "")
            else:
                assert base is not None
                title = header(base, column.variant, index, self._messages)
                column.set_header(self.column_keys[index], title)
        self._results_changed()
        self._update_actions()
        if not self.name:
            self.name_edit.setPlaceholderText(session.default_name(self.variants(), self.store))
        self._check_effects()

    def _check_effects(self) -> None:
        """Name the columns a greedy or ignored setting makes identical (hidden in blind mode:
        it would say which column is which). Off the GUI thread: what a model ignores may be
        read from its file or asked of its server."""
        if self.blind:
            self.effects_note.hide()
        self._effects.submit(check, self.variants(), ignored_by(self.runner))

    def _show_effects(self, found: Effects) -> None:
        lines = found.lines("columns", lambda i: self.column_keys[i], self.repeat_box.value())
        self.effects_note.setText("Before running: " + " · ".join(lines) if lines else "")
        self.effects_note.set_color(theming.status_color("warning"))
        self.effects_note.setVisible(bool(lines) and not self.blind)

    def _update_actions(self) -> None:
        has = bool(self.columns)
        busy = any(c.busy for c in self.columns)
        self.run_action.setEnabled(has and not busy and not self._saving)
        self.cancel_action.setEnabled(busy)
        self.add_action.setEnabled(has)
        self.sweep_action.setEnabled(has)
        self.save_action.setEnabled(has and self.writer is not None)
        self.export_action.setEnabled(has and self.writer is not None)

    # --- running ------------------------------------------------------------------------------

    def run_all(self) -> None:
        """Run every column ×k, under each backend's concurrency limit."""
        if not self.columns or self._saving or any(c.busy for c in self.columns):
            return
        repeats = self.repeat_box.value()
        try:
            requests = [session.request_for(c.variant) for c in self.columns]
        except KnownError as err:
            self._notify(f"Cannot run: {err.message}" + (f" — {err.hint}" if err.hint else ""))
            return
        if self.confirm_remote is not None:
            spec = session.spec_for(self.name, self.variants(), repeats)
            if not self.confirm_remote(spec):
                self._notify("Nothing was sent.")
                return
            self.confirm_remote = None
        if self.writer is None:
            self._start(requests, repeats)
            return
        # Saved on the writer thread (it may be busy committing other runs): the runs start
        # when the comparison's ids are known, without the GUI thread waiting for them.
        self._saving = True
        self._update_actions()

        def saved(stored: StoredExperiment) -> None:
            self._saving = False
            self._saved_as(stored)
            self._start(requests, repeats)

        def failed(error: KnownError) -> None:
            self._saving = False
            self._update_actions()
            self._notify(f"Cannot save the comparison: {error}")

        on_gui(self._save_spec(repeats), self, saved, failed)

    def _start(self, requests: list[RunRequest], repeats: int) -> None:
        self.notice.hide()
        for index, (column, request) in enumerate(zip(self.columns, requests, strict=True)):
            variant_id = self.variant_ids[index] if self.variant_ids else None
            runs: list[ColumnRun] = []
            for repeat in range(repeats):
                ref = session.ref_for(column.variant, self.experiment_id, variant_id, repeat)
                execute = through_runner(self.runner, ref, column.variant.template.max_tool_steps)
                runs.append(ColumnRun(repeat, RunWorker(execute, request)))
            column.begin(runs)  # the column hears each end first: it keeps the outcome's run id
            for run in runs:
                assert run.worker is not None
                run.worker.signals.ended.connect(self._run_ended)
                self._pending += 1
                self.manager.submit(run.worker)
        self._update_actions()

    def _run_ended(self) -> None:
        self._pending -= 1
        if self._pending == 0:
            self._update_actions()
            self._results_changed()
            self.runAllFinished.emit()

    def cancel_all(self) -> None:
        """Stop every run. Queued runs are stopped first, so a slot freed by a cancelled run is
        never taken by a run that is about to be cancelled too."""
        runs = [run for column in self.columns for run in column.runs if run.worker is not None]
        for run in sorted(runs, key=lambda r: r.started_at != 0.0):
            assert run.worker is not None
            run.worker.cancel()
        for column in self.columns:
            column.cancel()

    def showEvent(self, event: QShowEvent) -> None:
        """Opened, the focus is in the first column's text (the tab chain would start in the
        toolbar's repeat box, where a digit typed changes the repeat count)."""
        super().showEvent(event)
        if not event.spontaneous() and not self._opened:
            self._opened = True
            first = self._first_text()
            if first is not None:
                first.setFocus(Qt.FocusReason.OtherFocusReason)

    def closeEvent(self, event: QCloseEvent) -> None:
        """Closing stops the window's runs (each is saved as cancelled) and waits for them, a
        bounded time, so their ends reach the columns while these still exist."""
        workers = [r.worker for c in self.columns for r in c.runs if r.running and r.worker]
        self.cancel_all()
        if not stop_and_deliver(workers, CLOSE_WAIT_S):
            log.warning("a compare run did not stop within %.0f s of closing", CLOSE_WAIT_S)
        super().closeEvent(event)

    def _notify(self, text: str) -> None:
        self.notice.setText(text)
        self.notice.show()
        self.message.emit(text)

    # --- saving -------------------------------------------------------------------------------

    def _rename(self) -> None:
        self.name = (self.name_edit.text().strip() or self.name
                     or session.default_name(self.variants(), self.store))

    def _save_spec(self, repeats: int) -> Future[StoredExperiment]:
        """Save the comparison as it now is, on the writer thread."""
        assert self.writer is not None
        self._rename()
        if not self.name_edit.text().strip():
            self.name_edit.setText(self.name)  # the default name it is saved under stays
        spec = session.spec_for(
            self.name, session.labelled(self.variants(), self.column_keys, self._messages), repeats
        )
        experiment_id = self.experiment_id
        if experiment_id is None:
            return self.writer.submit(lambda s: save_comparison(s, spec))
        return self.writer.submit(lambda s: s.experiments.update(experiment_id, spec))

    def _saved_as(self, stored: StoredExperiment) -> None:
        self.experiment_id, self.variant_ids = stored.id, stored.variant_ids

    def export(self, path: Path) -> None:
        """Save, then write the comparison with its outputs, figures, diffs and preferences
        (CSV, JSONL or a Markdown report, by the file's suffix). Both happen when the writer
        thread answers (every rating given before is stored by then); ``exported`` says so."""
        if self.writer is None or self.store is None or not self.columns:
            raise KnownError("nothing to export", hint="add and run some variants first")
        store = self.store

        def write(stored: StoredExperiment) -> None:
            self._saved_as(stored)
            try:
                comparison = open_comparison(store, stored.id)
                write_export(comparison, path, preference_summary(store, comparison,
                                                                  labels=self.column_keys))
            except KnownError as err:
                self._notify(f"Cannot export: {err.message}")
                return
            self._notify(f"Exported to {path}.")
            self.exported.emit(str(path))

        self._rename()
        on_gui(self._save_spec(self.repeat_box.value()), self, write,
               lambda err: self._notify(f"Cannot export: {err.message}"))

    def _export_clicked(self) -> None:
        name, _filter = QFileDialog.getSaveFileName(
            self, "Export comparison", f"{self.name or session.default_name(self.variants())}.md",
            "Markdown report (*.md);;CSV (*.csv);;JSON Lines (*.jsonl)")
        if name:
            try:
                self.export(Path(name))
            except KnownError as err:
                self._notify(f"Cannot export: {err.message}")

    def save(self) -> None:
        """Save the comparison (its runs are saved as they end) on the writer thread; ``saved``
        gives its id once it is stored."""
        if self.writer is None or not self.columns:
            return
        self._rename()

        def stored(experiment: StoredExperiment) -> None:
            self._saved_as(experiment)
            self.saved.emit(experiment.id)
            self._notify(f"Saved as “{self.name}”.")

        on_gui(self._save_spec(self.repeat_box.value()), self, stored,
               lambda err: self._notify(f"Not saved: {err.message}"))

    def open_experiment(self, experiment_id: str) -> None:
        """Show a saved comparison with its outputs, figures and ratings."""
        if self.store is None:
            raise RuntimeError("no store to open a comparison from")
        for column in list(self.columns):
            self.remove_column(column)
        saved = open_comparison(self.store, experiment_id)
        spec = saved.spec
        self.name = spec.name
        self.name_edit.setText(self.name)
        self.repeat_box.setValue(spec.repeats)
        run_column: dict[str, int] = {}
        for index, variant in enumerate(spec.variants):
            column = self.add_variant(variant)
            latest = [saved.latest(CellKey(index, None, r)) for r in range(spec.repeats)]
            runs = [r for r in latest if r is not None]
            column.show_runs([ColumnRun(r.ref.repeat_index, result=r.result, run_id=r.id)
                              for r in runs])
            for r in runs:
                run_column[r.id] = index
            if column.shown is not None and column.shown.run_id is not None:
                column.show_rating(self.store.ratings.get(column.shown.run_id))
        self.experiment_id, self.variant_ids = experiment_id, saved.experiment.variant_ids
        self.judging.load(self.store, experiment_id, run_column)
        self._results_changed()

    # --- results: diff ----------------------------------------------------------------------------

    def _results_changed(self) -> None:
        names = [self._display_name(i) for i in self.order]
        texts = [(self.columns[i].result().text if self.columns[i].result() else "")  # type: ignore[union-attr]
                 for i in self.order]
        self.preferences.set_columns(names)
        mark_differences([self.columns[i] for i in self.order])
        if self.diff_view.isVisible():
            self.diff_view.set_sources(names, texts)

    def toggle_diff(self) -> None:
        visible = not self.diff_view.isVisible()
        self.splitter.show_below(visible)
        self.diff_action.setChecked(visible)
        if visible:
            self._results_changed()

    def _first_text(self) -> QWidget | None:
        """The text shown by the first column on screen."""
        return self.columns[self.order[0]].output.stack.currentWidget() if self.columns else None

    def show_diff(self, left: int, right: int) -> None:
        """Diff the columns at display positions ``left`` and ``right``."""
        if not self.diff_view.isVisible():
            self.toggle_diff()
        self.diff_view.pick(left, right)

    # --- blind mode ---------------------------------------------------------------------------

    def toggle_blind(self) -> None:
        self.set_blind(not self.blind)

    def set_blind(self, blind: bool, *, seed: int | None = None) -> None:
        """Blind: shuffle the columns and hide what they are; off: reveal them in order."""
        self.blind = blind
        self.blind_action.setChecked(blind)
        self.blind_action.setText("Reveal" if blind else "Blind")
        self.order = list(range(len(self.columns)))
        if blind:
            random.Random(seed).shuffle(self.order)
        self.judging.blind_rated.clear()
        for column in self.columns:
            column.set_blind(blind)
            run_id = column.shown.run_id if column.shown is not None else None
            if blind:
                column.show_rating(None)  # ratings given before would name the column
            elif run_id is not None:
                self.judging.show_rating(column, run_id)
        self._relayout()
        self.judging.show_summary()
