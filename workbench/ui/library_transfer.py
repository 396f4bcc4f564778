"""File ▸ Import… and File ▸ Export…: other tools' files into the library and back out.

Reading and storing run on a worker thread (a CSV library of thousands of prompts, or a promptfoo
config with its test rows, is more than a frame's work) through the same ``import_file`` and
``store_import`` as ``workbench import``; the report then names every problem with its line.
Exports go through ``storage.formats.export`` and are written atomically. The converters are
imported when first used: the window opens without them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QFileDialog, QMenu, QMessageBox

from workbench.backends.base import CancelToken
from workbench.core.errors import KnownError
from workbench.core.models import PromptTemplate
from workbench.ui.background import Reporter, TaskRunner, TaskWorker

if TYPE_CHECKING:
    from workbench.services.importing import StoredImport
    from workbench.storage.formats import ImportResult
    from workbench.ui.dialogs.import_report import ImportReport
    from workbench.ui.main_window import MainWindow

IMPORT_FILTER = ";;".join(
    [
        "Prompt libraries and configs (*.json *.yaml *.yml *.csv *.prompty)",
        "CSV prompt library (*.csv)",
        "promptfoo config (*.yaml *.yml)",
        "Library bundle (*.json *.yaml)",
        "Prompty (*.prompty)",
        "All files (*)",
    ]
)
#: Template formats offered by Export, in menu order ("promptfoo": the editor's prompt with its
#: backend, parameters and values as a config promptfoo runs; one template only).
EXPORT_FORMATS = ("bundle-yaml", "bundle-json", "markdown", "csv", "prompty", "llm-template",
                  "promptfoo")
FINETUNE_FILTER = "Fine-tuning JSONL (OpenAI chat format) (*.jsonl)"


def export_filter(fmt: str) -> str:
    """"library bundle (YAML, with format_version) (*.yaml)"."""
    from workbench.storage.formats import FORMATS

    info = FORMATS[fmt]
    return f"{info.description} (*{info.suffix})"


@dataclass(frozen=True)
class Imported:
    file: Path
    result: ImportResult
    stored: StoredImport | None  # None when nothing could be read
    format_unknown: bool = False  # the file's format could not be told: ask for it


@dataclass(frozen=True)
class Exported:
    path: Path
    written: int  # templates in the file
    warnings: list[str]
    left_out: list[tuple[str, str]]  # (template name, why the format cannot hold it)
    unit: str = "template"  # what ``written`` counts


class LibraryTransfer(QObject):
    """Owns the import and export actions of a main window and the reports they open."""

    imported = Signal(object)  # Imported

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.window = window
        self.tasks = TaskRunner(self, max_threads=1)
        self.reports: list[ImportReport] = []
        self.left_out_box: QMessageBox | None = None  # what the last export could not hold
        self.import_action = QAction("&Import…", window)
        self.import_action.setToolTip(
            "Import prompts from another tool: CSV libraries, promptfoo configs, bundles, Prompty, "
            "llm templates, presets (Ctrl+I)"
        )
        self.import_action.setShortcut("Ctrl+I")
        self.import_action.triggered.connect(self.choose_import)
        self.export_action = QAction("&Export template…", window)
        self.export_action.setToolTip("Write the template in the editor to another format")
        self.export_action.triggered.connect(lambda: self.choose_export(whole_library=False))
        self.export_library_action = QAction("Export &library…", window)
        self.export_library_action.setToolTip("Write every template in the library to one file")
        self.export_library_action.triggered.connect(lambda: self.choose_export(whole_library=True))
        self.export_rated_action = QAction("Export rated runs for &fine-tuning…", window)
        self.export_rated_action.setToolTip(
            "Write the runs rated thumbs up (or 4+ stars) as fine-tuning JSONL, the format "
            "'workbench finetune check' validates"
        )
        self.export_rated_action.triggered.connect(self.choose_rated_export)

    def add_to(self, menu: QMenu) -> None:
        menu.addSeparator()
        for action in (self.import_action, self.export_action, self.export_library_action,
                       self.export_rated_action):
            menu.addAction(action)

    # --- import -------------------------------------------------------------------------------

    def choose_import(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self.window, "Import", "", IMPORT_FILTER)
        if path:
            self.import_path(Path(path))

    def import_path(self, path: Path, fmt: str | None = None) -> TaskWorker[Imported]:
        """Read ``path`` (as ``fmt``, or the format detected) and store it off the GUI thread;
        the report opens when it is done."""
        workspace = self.window.workspace

        def work(_report: Reporter, _cancel: CancelToken) -> Imported:
            from workbench.services.importing import store_import
            from workbench.storage.formats import (
                ImportProblem,
                ImportResult,
                UnknownFormatError,
                import_file,
            )

            try:
                result = import_file(path, fmt)
            except UnknownFormatError as err:
                problem = ImportProblem(None, err.message)
                return Imported(path, ImportResult("unknown", problems=[problem]), None, True)
            stored = None
            if result.templates or result.tests or result.presets or result.experiment:
                stored = store_import(workspace.store, workspace.library, result, path)
            return Imported(path, result, stored)

        self.window.statusBar().showMessage(f"Importing {path.name}…")
        worker = TaskWorker(work)
        worker.signals.finished.connect(self._show_import)
        worker.signals.failed.connect(
            lambda error: self._fail(f"Cannot import {path.name}", error)
        )
        return self.tasks.start(worker)

    def _show_import(self, done: Imported) -> None:
        from workbench.storage.formats import FORMATS
        from workbench.ui.dialogs.import_report import ImportReport

        window = self.window
        window.library.refresh()
        formats = [(n, f.description) for n, f in FORMATS.items() if f.can_import]
        report = ImportReport(
            done.file,
            done.result,
            done.stored,
            window,
            formats=formats if done.format_unknown else None,
        )
        report.templateChosen.connect(window.open_library_template)
        report.formatChosen.connect(lambda fmt: self._read_as(report, done.file, fmt))
        report.finished.connect(lambda _code: self.reports.remove(report))
        self.reports.append(report)
        report.resize(720, 480)
        report.show()
        window.statusBar().showMessage(report.headline.text(), 10_000)
        self.imported.emit(done)

    def _read_as(self, report: ImportReport, file: Path, fmt: str) -> None:
        report.close()
        self.import_path(file, fmt)

    def _fail(self, what: str, error: KnownError) -> None:
        hint = f" — {error.hint}" if error.hint else ""
        self.window.statusBar().showMessage(f"{what}: {error.message}{hint}", 15_000)

    # --- export -------------------------------------------------------------------------------

    def choose_export(self, *, whole_library: bool) -> None:
        from workbench.storage.formats import FORMATS

        formats = [
            f for f in EXPORT_FORMATS
            if not (whole_library and (FORMATS[f].one_per_file or f == "promptfoo"))
        ]
        name = "library" if whole_library else self.window.editor.template().name
        chosen, selected = QFileDialog.getSaveFileName(
            self.window,
            "Export",
            f"{name}{FORMATS[formats[0]].suffix}",
            ";;".join(export_filter(f) for f in formats),
        )
        if not chosen:
            return
        fmt = next((f for f in formats if export_filter(f) == selected), formats[0])
        self.export_to(Path(chosen), fmt, whole_library=whole_library)

    def export_to(self, path: Path, fmt: str, *, whole_library: bool) -> TaskWorker[Exported]:
        """Write the editor's template (or the whole library) to ``path`` in ``fmt``."""
        library = self.window.workspace.library
        current = [self.window.editor.template()]
        variant = self.window.current_variant()

        def work(_report: Reporter, _cancel: CancelToken) -> Exported:
            from workbench.core.experiments import ExperimentSpec
            from workbench.storage import files
            from workbench.storage.formats import export

            keys = [e.key for e in library.entries()] if whole_library else []
            templates: list[PromptTemplate] = (
                [library.load(key) for key in keys] if whole_library else current
            )
            if not templates:
                raise KnownError("the library holds no templates to export")
            if fmt == "promptfoo":  # the prompt as it runs here: backend, parameters, values
                spec = ExperimentSpec(name=variant.template.name, variants=[variant])
                out = export(fmt, experiment=spec)
            else:
                out = export(fmt, templates=templates, keys=keys)
            files.write_text(path, out.text)
            written = len(templates) if out.written is None else out.written
            left = {f"{reason}; left out" for _name, reason in out.left_out}
            return Exported(path, written, [w for w in out.warnings if w not in left],
                            out.left_out)

        worker = TaskWorker(work)
        worker.signals.finished.connect(self._exported)
        worker.signals.failed.connect(lambda error: self._fail(f"Cannot export to {path}", error))
        return self.tasks.start(worker)

    def choose_rated_export(self) -> None:
        chosen, _ = QFileDialog.getSaveFileName(
            self.window, "Export rated runs for fine-tuning", "rated-runs.jsonl", FINETUNE_FILTER)
        if chosen:
            self.export_rated(Path(chosen))

    def export_rated(self, path: Path) -> TaskWorker[Exported]:
        """Write the runs rated good to ``path`` as fine-tuning JSONL, off the GUI thread."""
        store = self.window.workspace.store

        def work(_report: Reporter, _cancel: CancelToken) -> Exported:
            from workbench.services.finetune_export import export_rated
            from workbench.storage import files

            out = export_rated(store)
            files.write_text(path, out.text)
            return Exported(path, out.written or 0, out.warnings, [], "run")

        worker = TaskWorker(work)
        worker.signals.finished.connect(self._exported)
        worker.signals.failed.connect(lambda error: self._fail(f"Cannot export to {path}", error))
        return self.tasks.start(worker)

    def _exported(self, done: Exported) -> None:
        """Say how many templates were written, and list any the format could not hold."""
        what = f"1 {done.unit}" if done.written == 1 else f"{done.written:,} {done.unit}s"
        skipped = f" · {len(done.left_out)} left out" if done.left_out else ""
        self.window.statusBar().showMessage(
            " · ".join([f"Exported {what} to {done.path}{skipped}", *done.warnings]), 15_000)
        if not done.left_out:
            return
        box = QMessageBox(QMessageBox.Icon.Information, "Left out of the export",
                          f"{len(done.left_out)} template{'s' if len(done.left_out) != 1 else ''}"
                          f" could not be written to {done.path.name} ({what} were):",
                          QMessageBox.StandardButton.Ok, self.window)
        box.setInformativeText("\n".join(f"• {name}: {why}" for name, why in done.left_out))
        box.setWindowModality(Qt.WindowModality.NonModal)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.left_out_box = box
        box.show()

    def shutdown(self) -> None:
        self.tasks.shutdown()
