"""The main window's document actions: new from a built-in, open a file, save (naming a new
template, a version message; a file opened is saved back to it), save as a file, add to the
library, rename, description and tags, delete with undo, and drafts offered back. The runs of an
untitled draft become runs of the template it is first saved as.

The document itself is ``services.document.Document`` (no Qt); this module asks the person what
it needs (names, messages) and shows what the document says happened.
"""

from __future__ import annotations

import html
import logging
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Qt
from PySide6.QtWidgets import QDialog, QFileDialog, QMessageBox, QWidget

from workbench.core.errors import KnownError
from workbench.core.models import PromptTemplate
from workbench.core.template_files import SUFFIX
from workbench.services.document import UNTITLED_KEY, DocumentState, LibraryChange, as_edit_of
from workbench.ui.dialogs.template_details import TemplateDetailsDialog
from workbench.ui.dialogs.template_gallery import TemplateGallery
from workbench.ui.window_support import ask_on

if TYPE_CHECKING:
    from workbench.core.outcome import RunOutcome
    from workbench.storage.library_records import TemplateVersion
    from workbench.storage.repositories import Store
    from workbench.ui.main_window import MainWindow
    from workbench.ui.workers import RunWorker

log = logging.getLogger(__name__)


def open_once(dialog: QDialog) -> None:
    """Open a window-modal dialog that is deleted once answered (a hidden one would stay the
    active window on some platforms, and the main window's shortcuts would not fire)."""
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    dialog.open()


class DocumentActions(QObject):
    """What File and Edit do to the open document and the library's templates."""

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.window = window
        self.document = window.document
        self.document.changed.connect(self._state_changed)
        self.document.library_changed.connect(self._library_changed)
        self.document.failed.connect(self._save_failed)
        self.document.file_saved.connect(
            lambda path: self.window.statusBar().showMessage(f"Saved {path}", 5000)
        )
        window.message_bar.saveRequested.connect(
            lambda message: self.document.save(message=message)
        )
        self._shown: tuple[str | None, int | None] = (None, None)
        self._draft_runs: tuple[int, list[str]] = (-1, [])  # (document generation, run ids)
        library = window.library
        library.renameRequested.connect(self.rename_template)
        library.detailsRequested.connect(self.edit_details)
        library.deleteRequested.connect(self.delete_template)
        library.undeleteRequested.connect(self.document.undelete)

    def open_file(self) -> None:
        """File ▸ Open file…"""
        path, _ = QFileDialog.getOpenFileName(
            self.window, "Open a template file", "", "Prompt templates (*.prompt.yaml *.yaml)"
        )
        if path:
            self.open_path(Path(path))

    def open_path(self, path: Path) -> bool:
        """Open a template file (File ▸ Open file…, a file given on the command line or handed
        over by a second launch), bound to it: Ctrl+S saves back to it. A file that cannot be
        read is named, with its line, in the problem bar until dismissed (a status message
        would be replaced by the next one), and the document stays as it was."""
        if not self.window.keep_or_drop_edits():
            return False
        try:
            self.document.open_file(path)
        except KnownError as err:
            log.warning("cannot open %s", err)
            self.window.problem_bar.show_problem(f"Cannot open {err}")
            return False
        self.window.problem_bar.hide()
        kept = " Your unsaved edits of it from the last session are back." if (
            self.document.dirty) else ""
        self.window.statusBar().showMessage(
            f"Opened {self.document.path}: Ctrl+S saves back to it.{kept}", 15_000
        )
        return True

    def new_from_template(self) -> TemplateGallery | None:
        """File ▸ New from template…: pick a built-in and open a copy of it."""
        if not self.window.keep_or_drop_edits():
            return None
        gallery = TemplateGallery(self.window)
        gallery.accepted.connect(lambda: self._open_builtin(gallery.chosen()))
        open_once(gallery)
        return gallery

    def _open_builtin(self, template: PromptTemplate | None) -> None:
        if template is not None:
            self.document.new(template)
            self.window.output.clear()
            self.window.editor.focus_body()
            self.window.statusBar().showMessage(
                f"A copy of the built-in “{template.name}”: Ctrl+S saves it to your library", 10_000
            )

    def save(self) -> TemplateDetailsDialog | None:
        """Save the editor's template (Ctrl+S): back to the file it was opened from, else as a
        new library version; a first save asks for its name. The file is written on the writer
        thread: typing goes on meanwhile."""
        self.document.edit(self.window.editor.template())
        if self.document.needs_name:
            dialog = self.naming_dialog()
            dialog.accepted.connect(lambda: self.save_named(dialog))
            open_once(dialog)
            return dialog
        self.write_back()
        return None

    def write_back(self) -> bool:
        """Save a document that has a home (its file, its library template); False when the
        person chose not to overwrite a file that changed on disk since it was opened."""
        if self.document.file_changed() and not self._overwrite_changed_file():
            return False
        self.document.save()
        return True

    def _overwrite_changed_file(self) -> bool:
        save, cancel = QMessageBox.StandardButton.Save, QMessageBox.StandardButton.Cancel
        answer = ask_on(
            self.window,
            "File changed on disk",
            f"{self.document.path} changed on disk (or was removed) since you opened it. "
            "Overwrite it with the template as it is in the window?",
            save | cancel,
            icon=QMessageBox.Icon.Warning, default=cancel, names={save: "Overwrite"},
        )
        return answer == save

    def save_as_file(self, path: Path | None = None) -> bool:
        """File ▸ Save as file…: write the template to a .prompt.yaml file of the person's
        choosing; the document is that file from then on (Ctrl+S writes it)."""
        self.document.edit(self.window.editor.template())
        if path is None:
            key = self.document.key or self.document.key_for_name(self.document.name)
            suggested = self.document.path or Path(f"{key.rsplit('/', 1)[-1]}{SUFFIX}")
            chosen, _ = QFileDialog.getSaveFileName(
                self.window, "Save as a template file", str(suggested),
                f"Prompt templates (*{SUFFIX})",
            )
            if not chosen:
                return False
            path = Path(chosen)
        if not path.name.endswith((SUFFIX, ".yaml", ".yml")):
            path = path.with_name(f"{path.name}{SUFFIX}")
        self.document.save_as_file(path)
        return True

    def add_to_library(self) -> TemplateDetailsDialog:
        """File ▸ Add to library…: a copy of the template as a new library template (a file's
        document stays bound to its file; a new one becomes the library template)."""
        self.document.edit(self.window.editor.template())
        if self.document.needs_name:
            dialog = self.save()
            assert dialog is not None
            return dialog
        dialog = self.naming_dialog(title="Add to the library", accept="Add")
        dialog.accepted.connect(lambda: self.document.add_to_library(
            dialog.name(), message=dialog.message(), description=dialog.description(),
            tags=dialog.tags(),
        ))
        open_once(dialog)
        return dialog

    def save_with_message(self) -> QWidget | None:
        """Ctrl+Shift+S: the same save, with a message for the version (asked in a line under
        the title, not in a dialog); a first save asks in the naming dialog instead. A file has
        no versions: it is saved."""
        self.document.edit(self.window.editor.template())
        if self.document.path is not None:
            return self.save()
        if self.document.needs_name:
            dialog = self.save()
            assert dialog is not None
            dialog.message_edit.setFocus()
            return dialog
        self.window.message_bar.open()
        return self.window.message_bar

    def naming_dialog(
        self, title: str = "Save to the library", accept: str = "Save"
    ) -> TemplateDetailsDialog:
        template = self.document.template
        return TemplateDetailsDialog(
            self.window,
            title=title,
            accept_text=accept,
            intro="Name the template. Its file in the library is named after it.",
            name=self.document.proposed_name(),
            key_for=self.document.key_for_name,
            description=template.description,
            tags=template.tags,
            message=True,
            over=self.window.editor,
        )

    def save_named(self, dialog: TemplateDetailsDialog) -> None:
        self.document.set_details(None, dialog.description(), dialog.tags())
        self.document.save(name=dialog.name(), message=dialog.message())

    def rename_template(self, key: str | None = None) -> QDialog | None:
        """Rename a library template (F2: the open one; its file follows the name)."""
        name = self._name_of(key)
        if name is None:
            return None
        dialog = TemplateDetailsDialog(
            self.window, title="Rename template", accept_text="Rename", name=name,
            key_for=self.document.key_for_name if key is None and self.window.key is None else None,
        )
        if key is None:
            dialog.accepted.connect(lambda: self.document.rename_current(dialog.name()))
        else:
            dialog.accepted.connect(lambda: self.document.rename(key, dialog.name()))
        open_once(dialog)
        return dialog

    def edit_details(self, key: str | None = None) -> QDialog | None:
        """Description and tags of a library template (or of the open document)."""
        try:
            template = self.window.workspace.library.load(key) if key else self.document.template
        except KnownError as err:
            self.window.statusBar().showMessage(str(err), 10_000)
            return None
        target = key or self.window.key
        dialog = TemplateDetailsDialog(
            self.window, title=f"Describe “{template.name}”", accept_text="Save",
            description=template.description, tags=template.tags,
        )
        dialog.accepted.connect(
            lambda: self.document.set_details(target, dialog.description(), dialog.tags())
        )
        open_once(dialog)
        return dialog

    def delete_template(self, key: str | None = None) -> None:
        """Delete a library template (Edit ▸ Delete: the open one); the library panel offers
        Undo. The open document stays open, unsaved."""
        target = key or self.window.key
        if target:
            self.document.delete(target)

    def _name_of(self, key: str | None) -> str | None:
        if key is None:
            return self.document.name
        try:
            return self.window.workspace.library.entry(key).name
        except KnownError as err:
            self.window.statusBar().showMessage(str(err), 10_000)
            return None

    def follow_draft_run(self, worker: RunWorker) -> None:
        """``worker`` runs the untitled document: once saved, its run is listed under the
        template's name (History's template filter finds it)."""
        generation = self.document.generation

        def ended(outcome: RunOutcome) -> None:
            if outcome.run_id is not None:
                self.draft_run(outcome.run_id, generation)

        worker.signals.ended.connect(ended)

    def draft_run(self, run_id: str, generation: int | None = None) -> None:
        """``run_id`` is a run of the untitled document (the one open, or of ``generation``):
        it joins the template the document is first saved as."""
        if generation is None:
            generation = self.document.generation
        if generation == self.document.generation and self.document.key is not None:
            self._attach([run_id], self.document.key)  # saved while it ran
            return
        if self._draft_runs[0] != generation:
            self._draft_runs = (generation, [])
        self._draft_runs[1].append(run_id)

    def _attach(self, run_ids: list[str], key: str, version: TemplateVersion | None = None) -> None:
        """The draft's runs become runs of ``key``: of ``version`` those that ran exactly what
        it saved (History then says "v1", and restoring one opens v1). History follows the
        write by itself (it watches the database)."""

        def job(store: Store) -> None:
            saved = version.template() if version is not None else None
            same = [] if saved is None else [
                run_id for run_id in run_ids
                if (ran := store.runs.template_of(run_id)) is not None
                and as_edit_of(ran, saved) == saved]
            store.runs.attach([i for i in run_ids if i not in same], key)
            if same and version is not None:
                store.runs.attach(same, key, version.number)

        self.window.workspace.writer.submit(job)

    def _library_changed(self, change: LibraryChange) -> None:
        generation, draft_runs = self._draft_runs
        if (change.what == "saved" and draft_runs and generation == self.document.generation
                and change.key == self.document.key):
            self._attach(draft_runs, change.key, change.version)
            self._draft_runs = (-1, [])
        self.window.library.refresh()
        if change.what == "deleted":
            self.window.library.offer_undelete(change.key)
        self._sync_library()
        message = change.message
        if change.what == "saved" and change.version is not None:
            # by the name the library lists (not its file key), and how to name a version
            name = self._name_of(change.key) or change.key
            message = f"Saved “{name}” as v{change.version.number}" + (
                "" if change.version.message
                else " · Save with message… (Ctrl+Shift+S) says what changed")
        self.window.statusBar().showMessage(message, 8000)

    def _save_failed(self, error: KnownError) -> None:
        self.window.statusBar().showMessage(f"Not saved: {error}", 15_000)

    def _state_changed(self, state: DocumentState) -> None:
        version = f"  v{state.version}" if state.version is not None else ""
        where = f"  — {html.escape(str(state.path))}" if state.path is not None else ""
        unsaved = "  (unsaved)" if state.dirty else ""
        saving = "  saving…" if state.saving else ""
        self.window.title.setText(
            f"<b>{html.escape(state.name)}</b>{version}{where}{unsaved}{saving}"
        )
        file = f" — {state.path}" if state.path is not None else ""
        self.window.setWindowTitle(
            f"{state.name}{' *' if state.dirty else ''}{file} — Prompt Workbench"
        )
        # "saving…" is in the title: QStatusBar.showMessage repaints at once, a frame's work.
        if (state.key, state.version) != self._shown:  # not on every keystroke: the person
            self._sync_library()  # may be looking at another template's versions meanwhile

    def _sync_library(self) -> None:
        """The library highlights the open template and version (nothing for a new one)."""
        self._shown = (self.window.key, self.window.version)
        self.window.library.show_document(*self._shown)

    def recover_drafts(self, *, ask: bool = True, untitled_only: bool = False) -> bool:
        """Bring back edits a previous session did not save; True if one was restored. After a
        clean quit (``ask`` False) the first comes back at once, said in the status bar; after
        a crash each is offered with a question. ``untitled_only``: only a new template's (the
        others stay kept, and come back when their template or file is opened)."""
        for draft, template in self.document.drafts():
            if untitled_only and draft.key != UNTITLED_KEY:
                continue
            if not ask:
                self.document.restore_draft(draft, template)
                self.window.statusBar().showMessage(
                    f"Your unsaved edits of “{template.name}” from the last session are back "
                    "(Ctrl+S saves them).", 15_000)
                return True
            answer = ask_on(
                self.window,
                "Unsaved edits",
                f"Edits of “{template.name}” from your last session were not saved. Restore them?",
                QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            )
            if answer == QMessageBox.StandardButton.Yes:
                self.document.restore_draft(draft, template)
                return True
            self.document.drop_draft(draft)
        return False

    def say_kept_drafts(self) -> None:
        """After a file opened at start: the unsaved edits of other templates kept from the last
        session stay kept, and the status bar says whose, and where they come back."""
        names = [f"“{template.name}”" for draft, template in self.document.drafts()
                 if draft.key not in (UNTITLED_KEY, self.document.draft_key)]
        if names:
            bar = self.window.statusBar()
            bar.showMessage(
                f"{bar.currentMessage()} Your unsaved edits of {', '.join(names)} from the last "
                f"session are kept: they come back when you open {'them' if names[1:] else 'it'}."
                .strip(), 20_000)
