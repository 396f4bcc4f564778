"""The main window: library and history on the left, the template in the centre with its preview
and output, parameters and the run controls on the right.

It is a view over a ``Workspace``: templates come from and go to its library, runs go through its
runner (limited, priced and saved), history reads its store. Every frequent action has a shortcut
shown in its menu and tooltip; docks and sizes are remembered between sessions.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QEvent, Qt, QTimer
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import (
    QDialog,
    QDockWidget,
    QFileDialog,
    QLabel,
    QMainWindow,
    QMessageBox,
    QSplitter,
    QTabWidget,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from workbench.backends.base import Backend
from workbench.core.errors import KnownError, MissingVariableError, TemplateError
from workbench.core.experiments import Variant
from workbench.core.models import Params, PromptTemplate, ResponseFormatType
from workbench.core.params import Capabilities
from workbench.core.tools import Tool
from workbench.services.document import Document
from workbench.services.runner import build_request
from workbench.services.workspace import Workspace
from workbench.storage.repositories import RunRef
from workbench.ui import branching, child_windows, run_restore, session_restore
from workbench.ui.document_actions import DocumentActions
from workbench.ui.library_transfer import LibraryTransfer
from workbench.ui.main_menus import MainMenus
from workbench.ui.model_files import ModelFiles
from workbench.ui.tool_steps import ToolSteps
from workbench.ui.widgets.history_panel import HistoryPanel, repository_source
from workbench.ui.widgets.library_panel import LibraryPanel
from workbench.ui.widgets.model_picker import ModelPicker, raw_prompt_function
from workbench.ui.widgets.output_view import OutputView
from workbench.ui.widgets.params_panel import ParamsPanel
from workbench.ui.widgets.preview_panel import Preview, PreviewPanel
from workbench.ui.widgets.problem_bar import ProblemBar
from workbench.ui.widgets.repeat_runs import RepeatRuns
from workbench.ui.widgets.run_panel import RunPanel
from workbench.ui.widgets.save_message_bar import SaveMessageBar
from workbench.ui.widgets.template_editor import TemplateEditor
from workbench.ui.widgets.unsaved_bar import UnsavedBar
from workbench.ui.widgets.variables_form import VariablesForm
from workbench.ui.window_support import (
    big_save_job,
    error_summary,
    on_gui_when_done,
    preview_summary,
    restore_layout,
    save_layout,
    window_settings,
)
from workbench.ui.workers import RunManager, RunWorker

if TYPE_CHECKING:
    from workbench.ui.compare.compare_view import CompareView
    from workbench.ui.compare.sweep_view import SweepView

log = logging.getLogger(__name__)

AUTOSAVE_MS = 1500
SAVE_WAIT_S = 120.0  # how long quitting (or answering "Save") waits for a save in progress


class MainWindow(QMainWindow):
    """The window people live in while they iterate on prompts."""

    def __init__(self, workspace: Workspace) -> None:
        super().__init__()
        self.workspace = workspace
        self.setWindowTitle("Prompt Workbench")
        writer = workspace.writer
        self.document = Document(
            workspace.library,
            workspace.autosave,
            submit=lambda job: writer.submit(lambda _store: job()),
            when_done=on_gui_when_done(self),
            save_job=big_save_job(workspace.library),
        )
        self._last_worker: RunWorker | None = None
        self.runs = RunManager(self, runner=workspace.runner)
        self.child_windows = child_windows.ChildWindows(self)  # closed with this one

        self.editor = TemplateEditor(self)
        self.variables = VariablesForm(self)
        self.preview = PreviewPanel(self)
        self.output = OutputView(self)
        self.params = ParamsPanel(self)
        self.library = LibraryPanel(workspace.library, self)
        self.history = HistoryPanel(repository_source(workspace.store.runs), self)
        self.history.watch(workspace.store.db)  # runs that a terminal's workbench compare writes
        self.picker = ModelPicker(workspace.runner, self)
        self._build_centre()
        self._build_docks()
        self._build_toolbar()
        self.doc_actions = DocumentActions(self)
        branching.install(self)
        self.tool_steps = ToolSteps(self)
        self.model_files = ModelFiles(self)  # also the window's drop target for .gguf files
        self.transfer = LibraryTransfer(self)
        self.menus = MainMenus(self)
        self._connect()
        self._autosave = QTimer(self)
        self._autosave.setSingleShot(True)
        self._autosave.setInterval(AUTOSAVE_MS)
        self._autosave.timeout.connect(self.document.write_draft)
        self.resize(1366, 800)
        self.document.load(self.editor.template(), None, None)  # the empty start is no edit
        restore_layout(self, self.centre_split)
        self.picker.reload()
        self.library.refresh()
        self.history.refresh()

    # --- layout -------------------------------------------------------------------------------

    def _build_centre(self) -> None:
        self.title = QLabel(self)
        self.title.setAccessibleName("Template title")
        self.title.setToolTip("The open template: F2 renames it, Ctrl+Shift+S saves with a message")
        self.message_bar = SaveMessageBar(self)
        self.unsaved_bar = UnsavedBar(self)  # before another template replaces unsaved edits
        self.problem_bar = ProblemBar(self)  # a file that could not be opened, until dismissed
        self.lower_tabs = QTabWidget(self)
        self.lower_tabs.setDocumentMode(True)
        self.lower_tabs.addTab(self.preview, "Preview")
        self.lower_tabs.addTab(self.output, "Output")
        self.lower_tabs.setAccessibleName("Preview and output")
        upper = QSplitter(Qt.Orientation.Vertical, self)
        upper.setObjectName("editorSplit")
        upper.addWidget(self.editor)
        upper.addWidget(self.variables)
        upper.setStretchFactor(0, 3)
        upper.setStretchFactor(1, 1)
        self.centre_split = QSplitter(Qt.Orientation.Vertical, self)
        self.centre_split.setObjectName("centreSplit")
        self.centre_split.addWidget(upper)
        self.centre_split.addWidget(self.lower_tabs)
        self.centre_split.setChildrenCollapsible(False)
        self.centre_split.setSizes([480, 320])
        centre = QWidget(self)
        layout = QVBoxLayout(centre)
        layout.setContentsMargins(8, 8, 8, 0)
        layout.setSpacing(4)
        layout.addWidget(self.title)
        layout.addWidget(self.message_bar)
        layout.addWidget(self.unsaved_bar)
        layout.addWidget(self.problem_bar)
        layout.addWidget(self.centre_split, 1)
        self.setCentralWidget(centre)

    def _dock(self, title: str, name: str, widget: QWidget, area: Qt.DockWidgetArea) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(name)
        dock.setWidget(widget)
        dock.setFeatures(
            QDockWidget.DockWidgetFeature.DockWidgetMovable
            | QDockWidget.DockWidgetFeature.DockWidgetClosable
            | QDockWidget.DockWidgetFeature.DockWidgetFloatable
        )
        self.addDockWidget(area, dock)
        return dock

    def _build_docks(self) -> None:
        left = Qt.DockWidgetArea.LeftDockWidgetArea
        self.library_dock = self._dock("Library", "libraryDock", self.library, left)
        self.history_dock = self._dock("History", "historyDock", self.history, left)
        run_panel = RunPanel(self.params, self)
        self.run_button, self.repeat = run_panel.run_button, run_panel.repeat
        self.cancel_button, self.token_summary = run_panel.cancel_button, run_panel.token_summary
        self.repeat_runs = RepeatRuns(self.output, run_panel)  # Run ×N: all N answers
        run_panel.add_below(self.repeat_runs)
        right = Qt.DockWidgetArea.RightDockWidgetArea
        self.params_dock = self._dock("Parameters", "paramsDock", run_panel, right)

    def _build_toolbar(self) -> None:
        bar = QToolBar("Model", self)
        bar.setObjectName("modelToolbar")
        bar.setMovable(False)
        bar.addWidget(self.picker)
        self.addToolBar(Qt.ToolBarArea.TopToolBarArea, bar)

    def _connect(self) -> None:
        self.editor.templateChanged.connect(self._template_changed)
        self.editor.parametersChanged.connect(self.params.set_params)
        self.document.loaded.connect(self._document_loaded)
        self.document.adopted.connect(self._adopt)
        self.variables.valuesChanged.connect(self.preview.set_values)
        self.variables.valuesChanged.connect(lambda _v: self._autosave.start())
        self.preview.errorChanged.connect(
            lambda error: self.editor.show_error(None if self.preview.is_quiet(error) else error)
        )
        self.variables.leftEmpty.connect(self.preview.flag_missing)
        self.preview.errorChanged.connect(self._show_error_summary)
        self.preview.previewUpdated.connect(self._show_preview_summary)
        self.params.paramsChanged.connect(self._params_changed)
        self.params.response_format.formatChanged.connect(self._response_format_chosen)
        self.params.tools.choiceChanged.connect(self._tool_choice_chosen)
        self.params.tools.toolsChanged.connect(self._tools_edited)
        self.tool_steps.editMock.connect(
            lambda call, answer: self.params.tools.edit_mocks().show_error(call, answer))
        self.library.templateActivated.connect(self.open_library_template)
        self.history.runActivated.connect(self.restore_run)
        self.picker.changed.connect(self._backend_changed)
        self.picker.capabilities.connect(self._model_capabilities)
        self.picker.problem.connect(lambda text: self.statusBar().showMessage(text, 15_000))
        self.run_button.clicked.connect(self.run)
        self.cancel_button.clicked.connect(self.cancel)
        self.output.rerunRequested.connect(self.run)
        self.output.cancelRequested.connect(self.cancel)
        self.runs.activeChanged.connect(self._active_changed)

    # --- documents ----------------------------------------------------------------------------

    @property
    def key(self) -> str | None:
        return self.document.key

    @property
    def version(self) -> int | None:
        return self.document.version

    @property
    def dirty(self) -> bool:
        self.document.edit(self.editor.template())  # the editor's debounce may not have run
        return self.document.dirty

    def show_template(self, template: PromptTemplate, key: str | None, version: int | None) -> None:
        """Put ``template`` in the editor as the document ``key`` (None: not in the library)."""
        self.document.load(template, key, version)

    def _document_loaded(self, template: PromptTemplate) -> None:
        # First: what they show of the document before must not outlive it (its variables on a
        # syntax error, its render as the "last one that rendered").
        self.variables.new_document()
        self.preview.new_document()
        self.editor.set_template(template)
        self.params.set_params(template.parameters)
        if self.output.state not in ("running", "streaming", "cancelling"):
            self.output.clear()  # the last answer belonged to the document before

    def _adopt(self, template: PromptTemplate) -> None:
        """A save declared variables, or a rename or details edit changed the carried fields."""
        self.editor.adopt(template)
        self.variables.set_template(self.editor.template())

    def keep_or_drop_edits(self) -> bool:
        """Before the editor's document is replaced: True to go on (saved or discarded), False
        to stay. Unsaved edits are never dropped without asking (a past run reopened as it was,
        untouched, is no edit of the person's: its run keeps it)."""
        if not self.dirty:
            return True
        if self.document.edits_kept_elsewhere:
            self.document.discard_draft()
            return True
        answer = self.ask_unsaved(self.document.name)
        if answer == QMessageBox.StandardButton.Save:
            if self.document.needs_name:
                dialog = self.doc_actions.naming_dialog()
                answered = dialog.exec() == QDialog.DialogCode.Accepted
                if answered:
                    self.doc_actions.save_named(dialog)
                dialog.deleteLater()
                if not answered:
                    return False
            elif not self.doc_actions.write_back():
                return False
            self.document.finish(SAVE_WAIT_S)
            return not self.dirty
        if answer == QMessageBox.StandardButton.Discard:
            self.document.discard_draft()
            return True
        return False

    def ask_unsaved(self, name: str) -> QMessageBox.StandardButton:
        """Save, Discard or Cancel, asked on the line under the title (``UnsavedBar``)."""
        return self.unsaved_bar.ask(name)

    def open_library_template(self, key: str, version: int | None = None) -> None:
        if self.keep_or_drop_edits():
            self._show_library_template(key, version)

    def _show_library_template(self, key: str, version: int | None) -> None:
        try:
            self.document.open(key, version)
        except KnownError as err:
            self.statusBar().showMessage(str(err), 10_000)

    def new_template(self, template: PromptTemplate | None = None) -> None:
        """A new unsaved document (Ctrl+N), blank or a copy of ``template``; the cursor goes to
        its first message."""
        if not self.keep_or_drop_edits():
            return
        self.document.new(template)
        self.output.clear()
        self.editor.focus_body()

    def save(self) -> QDialog | None:
        """Ctrl+S (a first save asks for the name)."""
        return self.doc_actions.save()

    def recover_drafts(self, *, ask: bool = True, untitled_only: bool = False) -> bool:
        return self.doc_actions.recover_drafts(ask=ask, untitled_only=untitled_only)

    def open_path(self, path: Path) -> bool:
        return self.doc_actions.open_path(path)

    def _template_changed(self, template: PromptTemplate) -> None:
        self.params.response_format.set_template(template)
        self.params.tools.set_template(template)
        self.output.schema_label.set_schema(template.output_schema)
        self.variables.set_template(template)
        self.preview.set_template(template)
        self.document.edit(template)
        if self.document.dirty:
            self._autosave.start()

    # --- backends -----------------------------------------------------------------------------

    def _backend_changed(self, backend: Backend, model: str) -> None:
        self.params.set_capabilities(backend.capabilities(), backend.display_name)
        self.editor.messages.set_vision(backend.capabilities().vision)
        self.preview.set_model(model or None)
        self.preview.set_runs_locally(backend.runs_locally, backend.default_max_tokens())
        self.preview.set_raw_prompt_function(raw_prompt_function(backend, model))
        self.preview.set_context_window(self.picker.context_window())

    def _model_capabilities(self, backend: Backend, model: str, table: Capabilities) -> None:
        """The chosen model's own table (e.g. reasoning only for a reasoning model)."""
        self.params.set_capabilities(
            table, f"{backend.display_name} · {model}" if model else backend.display_name,
            backend.capabilities(),
        )

    def show_backends(self) -> QWidget:
        """The Backends dialog (modal to this window; the picker re-reads them when it closes)."""
        return child_windows.open_backends(self)

    # --- running ------------------------------------------------------------------------------

    def _params_changed(self, params: Params) -> None:
        self.editor.set_parameters(params)
        self.document.edit(self.editor.template())
        thinks = "thinking_budget" not in self.params.ignored()
        self.preview.set_max_tokens(params.max_tokens, params.thinking_budget if thinks else None)

    def _response_format_chosen(self, value: ResponseFormatType) -> None:
        row = self.params.response_format
        self.editor.set_response_format(value, row.schema, row.grammar)
        self.document.edit(self.editor.template())

    def _tool_choice_chosen(self, choice: str) -> None:
        self.editor.set_tool_choice(choice)
        self.document.edit(self.editor.template())

    def _tools_edited(self, tools: list[Tool]) -> None:
        self.editor.set_tools(tools)
        self.document.edit(self.editor.template())

    def run(self) -> None:
        """Run the template as shown (Ctrl+Enter), ×N when a repeat count is set."""
        template = self.editor.template()
        values = self.variables.values()
        try:
            request = build_request(
                template,
                values,
                backend=self.picker.backend_name,
                model=self.picker.model,
                params=self.params.params(),
            )
        except KnownError as err:
            if isinstance(err, MissingVariableError):
                self.preview.flag_missing(err.name)  # now it is an error: a run needs it
                self.editor.show_error(err)
            self.lower_tabs.setCurrentWidget(self.preview)
            self.statusBar().showMessage(f"Cannot run: {err}", 15_000)
            return
        versioned = self.key is not None and not self.dirty
        ref = RunRef(
            template_key=self.key,
            template_version=self.version if versioned else None,
            variables=values,
            template=None if versioned else template,  # restored as it ran, variables and all
            template_file=None if self.document.path is None else str(self.document.path),
        )
        self.lower_tabs.setCurrentWidget(self.output)
        # Its answer is checked against the schema as sent (a Schema… edit does not pass
        # through _template_changed, and an edit made while it runs is not this run's).
        self.output.schema_label.set_schema(template.output_schema)
        workers = []
        for index in range(self.repeat.value()):
            worker = self.runs.start_run(request, ref=replace(ref, repeat_index=index))
            worker.signals.ended.connect(lambda _result: self.history.refresh())
            if self.document.needs_name:  # a first save makes it a run of that template
                self.doc_actions.follow_draft_run(worker)
            if index == 0:
                self.output.attach(worker)
                self._last_worker = worker
            workers.append(worker)
        self.repeat_runs.begin(workers, template.answer_pattern or None)
        self.tool_steps.follow(workers[0], request, ref, template)

    def cancel(self) -> None:
        self.runs.cancel_all()

    def current_variant(self) -> Variant:
        """The editor's template, values, parameters and model as one compare column (its
        library key and version only when saved: an edit's runs restore what they sent)."""
        return Variant(
            label=self.editor.template().name,
            template=self.editor.template(),
            template_key=None if self.dirty else self.key,
            template_version=None if self.dirty else self.version,
            template_file=None if self.document.path is None else str(self.document.path),
            params=self.params.params(),
            backend=self.picker.backend_name,
            model=self.picker.model,
            variables=self.variables.values(),
        )

    def open_compare(self) -> CompareView:
        """A compare window starting from the current prompt (column A)."""
        return child_windows.open_compare(self)

    def choose_suite(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Run an evaluation suite", "", "Suites and promptfoo configs (*.yaml *.yml)"
        )
        if path:
            self.open_suite(Path(path))

    def open_suite(self, path: Path) -> QWidget:
        """Run the suite at ``path`` in its own window: progress, then the scorecard."""
        return child_windows.open_suite(self, path)

    def open_sweep(self, variant: Variant) -> SweepView:
        """A sweep of two parameters around ``variant``."""
        return child_windows.open_sweep(self, variant)

    def _active_changed(self, count: int) -> None:
        self.history.set_running(count)
        self.cancel_button.setEnabled(count > 0)
        self.menus.cancel_action.setEnabled(count > 0)
        if count:
            self.statusBar().showMessage(f"{count} run{'s' if count > 1 else ''} in progress")
        else:
            self.statusBar().clearMessage()
            self.history.refresh()  # compare columns run through this manager too

    def changeEvent(self, event: QEvent) -> None:
        # Back from a sweep or evaluation window: show the runs they saved.
        if event.type() == QEvent.Type.ActivationChange and self.isActiveWindow():
            self.history.refresh()
        super().changeEvent(event)

    def restore_run(self, run_id: str) -> None:
        """Open a past run: its template, variables, parameters, backend and output."""
        run_restore.restore_run(self, run_id)

    # --- misc ---------------------------------------------------------------------------------

    def _show_preview_summary(self, preview: Preview) -> None:
        self.token_summary.setText(preview_summary(preview))

    def _show_error_summary(self, error: TemplateError | None) -> None:
        if error is not None:
            self.token_summary.setText(error_summary(error, self.preview.missing))

    def focus_search(self) -> None:
        self.library_dock.show()
        self.library.focus_search()

    def closeEvent(self, event: QCloseEvent) -> None:
        """Quit: close the child windows (each stops its work), keep the document, save the
        layout and the last-open template, then stop every worker, waiting a bounded time."""
        if not self.child_windows.close_all():
            event.ignore()  # a dialog kept its unsaved changes and said so
            return
        self.unsaved_bar.answer(QMessageBox.StandardButton.Cancel)  # the edits are kept anyway
        if not self.document.finish(SAVE_WAIT_S):
            log.warning("saving did not finish within %.0f s of quitting", SAVE_WAIT_S)
        self.document.keep_for_next_session()
        save_layout(self, self.centre_split, self.key, self.document.path)
        session_restore.save(self, window_settings())
        self.transfer.shutdown()
        self.picker.shutdown(timeout_s=1.0)
        self.tool_steps.tasks.shutdown(timeout_s=1.0)
        child_windows.stop_batch_polling(self)
        if not self.runs.shutdown(timeout_s=5.0):
            log.warning("a run did not stop within 5 s of quitting")
        event.accept()
