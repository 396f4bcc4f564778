"""The document open in the main window, as plain Python: which template, which library key and
version (or which template file it was opened from), whether it has unsaved edits, and saving,
naming, drafts and library edits of it.

The widgets observe it (napari's ``ViewerModel`` idea): the editor reports what the person typed
with ``edit``, and the session tells its observers what to show through ``Event``s. Nothing here
knows about Qt, so the whole lifecycle is tested without a window.

Writes (a save, a rename, a delete) run through ``submit`` — the workspace's one writer thread —
and their results come back through ``when_done``, which the window makes "when this future is
done, call this on the GUI thread". The YAML of a 100k-token template takes ~0.7 s to write;
the GUI thread only hands the job over.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

from workbench.core.errors import KnownError, TemplateError
from workbench.core.models import Message, PromptTemplate, Variable
from workbench.core.template_files import TemplateFile, dumps
from workbench.core.templates import discover
from workbench.storage import files
from workbench.storage.autosave import Autosave, Draft
from workbench.storage.db import Database
from workbench.storage.images import store_images
from workbench.storage.library import Library, TemplateVersion

log = logging.getLogger(__name__)

T = TypeVar("T")
UNTITLED_KEY = ":new:"  # the draft key of a template not yet in the library (never a library key)
UNTITLED = "untitled"
FILE_DRAFT = "file:"  # the draft key of a template file's edits: this, then its absolute path

#: ``submit(job)`` runs ``job()`` on the writer thread; ``when_done(future, fn)`` calls ``fn`` on
#: the owner's thread once ``future`` is done.
Submit = Callable[[Callable[[], Any]], "Future[Any]"]
WhenDone = Callable[["Future[Any]", Callable[[], None]], None]


class Event(Generic[T]):
    """A list of observers called in order with one value (a Qt-free signal)."""

    def __init__(self) -> None:
        self._observers: list[Callable[[T], object]] = []

    def connect(self, observer: Callable[[T], object]) -> None:
        self._observers.append(observer)

    def emit(self, value: T) -> None:
        for observer in list(self._observers):
            observer(value)


@dataclass(frozen=True)
class DocumentState:
    """What the title bar and the Save action show."""

    name: str
    key: str | None
    version: int | None
    dirty: bool
    saving: bool
    path: Path | None = None  # the template file it is bound to (Ctrl+S writes there)


@dataclass(frozen=True)
class LibraryChange:
    """A library write finished: ``key`` (and ``old_key`` after a rename) changed."""

    key: str
    what: str  # "saved" | "unchanged" | "renamed" | "details" | "deleted" | "undeleted"
    version: TemplateVersion | None = None
    old_key: str | None = None

    @property
    def message(self) -> str:
        number = f" as v{self.version.number}" if self.version is not None else ""
        return {
            "saved": f"Saved {self.key}{number}",
            "unchanged": f"Nothing changed since {self.key}{number.replace(' as', '')}: "
            "no new version",
            "renamed": f"Renamed {self.old_key} to {self.key}",
            "details": f"Saved the description and tags of {self.key}{number}",
            "deleted": f"Deleted {self.key}",
            "undeleted": f"Put {self.key} back",
        }[self.what]


def declare_variables(template: PromptTemplate) -> PromptTemplate:
    """``template`` declaring every variable it uses (so the file says what it needs), without
    the bare declarations (no description or default) of variables it no longer uses."""
    try:
        found = discover(template)
    except TemplateError:
        return template  # a body that does not parse: saved as it is, the editor shows why
    unused = set(found.unused)
    kept = [
        v for v in template.variables
        if v.name not in unused or v.description or v.default is not None or v.multiline
    ]
    added = [Variable(name=name) for name in found.undeclared]
    if not added and len(kept) == len(template.variables):
        return template
    return template.model_copy(update={"variables": kept + added})


def as_edit_of(template: PromptTemplate, saved: PromptTemplate) -> PromptTemplate:
    """``template`` as an edit of ``saved``: with the fields the library carries (name,
    description, tags, variable declarations) as ``saved`` has them, so only what was written
    differs (a draft run before its first save was "untitled", with nothing declared)."""
    carried = {"name": saved.name, "description": saved.description, "tags": saved.tags,
               "variables": saved.variables}
    return declare_variables(template.model_copy(update=carried))


SaveJob = Callable[[PromptTemplate, str, str], tuple[TemplateVersion, PromptTemplate]]


def save_template(
    library: Library, template: PromptTemplate, key: str, message: str
) -> tuple[TemplateVersion, PromptTemplate]:
    """Save ``template`` (declaring its variables) as a version of ``key``."""
    declared = declare_variables(template)
    return library.save(declared, key=key, message=message), declared


_opened: dict[tuple[str, str], Library] = {}


def save_in_process(
    db_path: str, folder: str, template: PromptTemplate, key: str, message: str
) -> tuple[bool, Any]:
    """``save_template`` for a helper process (a big template's YAML is seconds of pure Python
    that would hold the GIL of the app's process): ``(True, result)`` or ``(False, (message,
    hint))`` for a KnownError. The library is opened once per process."""
    library = _opened.get((db_path, folder))
    if library is None:
        library = _opened[(db_path, folder)] = Library(Database(Path(db_path)), Path(folder))
    try:
        return True, save_template(library, template, key, message)
    except KnownError as err:
        return False, (err.message, err.hint)


def blank_template() -> PromptTemplate:
    return PromptTemplate(name=UNTITLED, messages=[Message(role="user", content="")])


@dataclass
class _Write:
    """A write handed to the writer thread, delivered once (by ``when_done`` or ``finish``)."""

    future: Future[Any]
    on_result: Callable[[Any], None]
    delivered: bool = False


@dataclass
class Document:
    """The open document and the writes of the library it belongs to."""

    library: Library
    autosave: Autosave
    submit: Submit
    when_done: WhenDone
    template: PromptTemplate = field(default_factory=blank_template)
    key: str | None = None
    version: int | None = None
    saved: PromptTemplate | None = None  # as last loaded or saved; None: never saved
    #: The template file the document was opened from or saved as: Ctrl+S writes it back.
    file: TemplateFile | None = None
    generation: int = 0  # counts documents shown, so a late result finds its own
    #: How a save is written (on the writer thread); by default ``save_template`` right there.
    save_job: SaveJob | None = None

    def __post_init__(self) -> None:
        self.saved = self.template if self.saved is None else self.saved
        self.reopened: PromptTemplate | None = None  # see ``edits_kept_elsewhere``
        self.loaded: Event[PromptTemplate] = Event()  # show this as a new document
        # The editor carries these fields (name, description, tags, variables) unchanged while
        # the person types: a save or a library edit changed them, adopt them.
        self.adopted: Event[PromptTemplate] = Event()
        self.changed: Event[DocumentState] = Event()
        self.library_changed: Event[LibraryChange] = Event()
        self.file_saved: Event[Path] = Event()
        self.failed: Event[KnownError] = Event()
        self._writes: list[_Write] = []
        self._state: DocumentState | None = None
        self._deleted: str | None = None  # the key of the open document, deleted (undo)

    # --- state ---------------------------------------------------------------------------------

    @property
    def dirty(self) -> bool:
        # Model equality, not serialised text: dumping a 100k-token template as YAML takes
        # ~0.7 s, and this runs on the GUI thread after every edit.
        return self.template != self.saved

    @property
    def name(self) -> str:
        return self.template.name

    def mark_reopened(self) -> None:
        """The document as it is now is a past run's, reopened (see ``edits_kept_elsewhere``)."""
        self.reopened = self.template

    @property
    def edits_kept_elsewhere(self) -> bool:
        """The unsaved edits are a past run's template as it was reopened, untouched since:
        the run keeps them, so replacing the document loses nothing (nobody is asked to save
        what they never wrote, which could overwrite the file with old text)."""
        return self.reopened is not None and self.template == self.reopened

    @property
    def needs_name(self) -> bool:
        """A first save asks for a name (a key is derived from it); a file has its home."""
        return self.key is None and self.file is None

    @property
    def path(self) -> Path | None:
        return self.file.path if self.file is not None else None

    @property
    def draft_key(self) -> str:
        """Where the document's unsaved edits are kept: its library key, its file, or untitled."""
        if self.key is not None:
            return self.key
        return f"{FILE_DRAFT}{self.file.path}" if self.file is not None else UNTITLED_KEY

    def file_changed(self) -> bool:
        """The bound file is no longer what was read or last written here (another program or
        git changed or removed it): overwriting it would lose that."""
        if self.file is None:
            return False
        try:
            return self.file.path.read_bytes().decode("utf-8") != self.file.source
        except (OSError, UnicodeDecodeError):
            return True

    @property
    def saving(self) -> bool:
        return any(not w.delivered for w in self._writes)

    def state(self) -> DocumentState:
        return DocumentState(
            self.name, self.key, self.version, self.dirty, self.saving, self.path
        )

    def _notify(self) -> None:
        state = self.state()
        if state != self._state:
            self._state = state
            self.changed.emit(state)

    # --- documents -----------------------------------------------------------------------------

    def load(self, template: PromptTemplate, key: str | None, version: int | None) -> None:
        """Make ``template`` the document ``key`` (None: not in the library), unedited."""
        self._replace(template, key, version, template)

    def _replace(
        self,
        template: PromptTemplate,
        key: str | None,
        version: int | None,
        saved: PromptTemplate | None,
        file: TemplateFile | None = None,
    ) -> None:
        self.template, self.key, self.version, self.saved = template, key, version, saved
        self.file = file
        self.reopened = None
        self.generation += 1
        self.loaded.emit(template)
        self._notify()

    def load_edit(self, template: PromptTemplate, key: str) -> None:
        """Make ``template`` an unsaved edit of library template ``key`` (over its newest
        version: Ctrl+S saves it as the next one, ``as_edit_of``); KnownError if ``key`` is
        gone."""
        saved = self.library.load(key)
        self._replace(as_edit_of(template, saved), key, self.library.entry(key).version, saved)

    def load_file_edit(self, template: PromptTemplate, path: Path) -> None:
        """Bind the template file ``path`` with ``template`` as its content, unsaved where it
        differs from the file (``as_edit_of``: Ctrl+S writes it there); KnownError (file,
        line, why) if the file cannot be read."""
        source = TemplateFile.read(path.absolute())
        edit = as_edit_of(template, source.template)
        self._replace(edit, None, None, source.template, source)

    def open(self, key: str, version: int | None = None) -> None:
        """Open a library template (its newest version, or ``version``); KnownError if gone.
        Unsaved edits of it kept from an earlier session come back over its newest version."""
        template = self.library.load(key, version)
        number = version if version is not None else self.library.entry(key).version
        kept = self._kept(key) if version is None else None
        self._replace(kept or template, key, number, template)

    def open_file(self, path: Path) -> None:
        """Open a template file, bound to it: Ctrl+S writes it back. Its unsaved edits kept
        from an earlier session come back over it. KnownError (file, line, why) if unreadable."""
        source = TemplateFile.read(path.absolute())
        kept = self._kept(f"{FILE_DRAFT}{source.path}")
        self._replace(kept or source.template, None, None, source.template, source)

    def _kept(self, draft_key: str) -> PromptTemplate | None:
        draft = self.autosave.load(draft_key)
        if draft is None:
            return None
        try:
            return PromptTemplate.model_validate_json(draft.text)
        except ValueError:  # an unreadable leftover: the saved template opens
            return None

    def new(self, template: PromptTemplate | None = None) -> None:
        """A new unsaved document: blank, or a copy of ``template`` (a built-in)."""
        self.load(template or blank_template(), None, None)

    def edit(self, template: PromptTemplate) -> None:
        """The person changed the document (typing, parameters, a technique)."""
        self.template = template
        self._notify()

    def proposed_name(self) -> str:
        """The name the naming dialog offers: the document's own unless it is the placeholder,
        else the first words of its first message."""
        if self.name.strip() and self.name != UNTITLED:
            return self.name
        body = next((m.content for m in self.template.messages if m.content.strip()), "")
        body = body or self.template.text or self.template.components.instruction
        words = "".join(c if c.isalnum() or c in "-' \n" else " " for c in body).split()
        return " ".join(words[:5]).lower() or UNTITLED

    def key_for_name(self, name: str) -> str:
        """The library key a first save under ``name`` would take (never another template's)."""
        return self.library.unused_key(name)

    # --- saving --------------------------------------------------------------------------------

    def save(self, *, message: str = "", name: str | None = None) -> None:
        """Save the document as a new library version on the writer thread.

        ``name`` names it (a first save): the key is derived from it at once, so a second save
        before the first is written cannot create a second template. Variables the template
        uses are declared in the saved file. A document bound to a file is written there.
        """
        if self.file is not None:
            self.save_as_file(self.file.path)
            return
        if name is not None and name.strip() and name.strip() != self.name:
            self.template = self.template.model_copy(update={"name": name.strip()})
            self.adopted.emit(self.template)
        first = self.key is None
        if first:
            self.key = self.key_for_name(self.name)
        before = self.version
        template, key, generation = self.template, self.key, self.generation
        assert key is not None
        library = self.library
        job = self.save_job or (lambda t, k, m: save_template(library, t, k, m))

        def write() -> tuple[TemplateVersion, PromptTemplate]:
            return job(template, key, message)

        def done(result: tuple[TemplateVersion, PromptTemplate]) -> None:
            version, declared = result
            if generation == self.generation:  # the document that was saved is still open
                edits_since = self.template != template
                self.version, self.saved = version.number, declared
                self.template = self.template.model_copy(update={"variables": declared.variables})
                if declared.variables != template.variables:
                    self.adopted.emit(self.template)
                if not edits_since:  # edits made while saving keep their draft
                    for each in (key, UNTITLED_KEY) if first else (key,):
                        self.autosave.discard(each)
            same = not first and version.number == before and generation == self.generation
            self.library_changed.emit(LibraryChange(key, "unchanged" if same else "saved", version))

        self._write(write, done)

    def save_as_file(self, path: Path) -> None:
        """Write the document to the template file ``path`` (atomically, on the writer thread)
        and bind it there, as any editor's Save as does: from then on Ctrl+S writes that file.
        The text read from it is kept when nothing changed (comments and all); an edited
        template is written in the canonical format."""
        path = path.absolute()
        template, generation, before = self.template, self.generation, self.draft_key
        source = self.file if self.file is not None and self.file.path == path else None

        def write() -> TemplateFile:
            declared = store_images(declare_variables(template), path)
            text = source.text_for(declared) if source is not None else dumps(declared)
            files.write_text(path, text)
            return TemplateFile(path, declared, text)

        def done(written: TemplateFile) -> None:
            if generation == self.generation:
                edits_since = self.template != template
                self.key, self.version = None, None  # a library template saved as a file is
                self.file, self.saved = written, written.template  # that file from now on
                variables = written.template.variables
                self.template = self.template.model_copy(update={"variables": variables})
                if variables != template.variables:
                    self.adopted.emit(self.template)
                if not edits_since:
                    self.autosave.discard(before)
            self.file_saved.emit(path)

        self._write(write, done)

    def add_to_library(
        self, name: str, *, message: str = "", description: str = "", tags: list[str] | None = None
    ) -> None:
        """Save a copy of the document as a new library template named ``name``; the document
        stays what it was (bound to its file)."""
        template = self.template.model_copy(update={
            "name": name.strip() or self.name, "description": description.strip(),
            "tags": tags or [],
        })
        key = self.key_for_name(template.name)
        library = self.library
        job = self.save_job or (lambda t, k, m: save_template(library, t, k, m))

        def done(result: tuple[TemplateVersion, PromptTemplate]) -> None:
            self.library_changed.emit(LibraryChange(key, "saved", result[0]))

        self._write(lambda: job(template, key, message), done)

    def _write(self, job: Callable[[], T], on_result: Callable[[T], None]) -> None:
        write = _Write(self.submit(job), on_result)
        self._writes.append(write)
        self.when_done(write.future, lambda: self._deliver(write))
        self._notify()

    def _deliver(self, write: _Write) -> None:
        if write.delivered:
            return
        write.delivered = True
        self._writes.remove(write)
        try:
            error = write.future.exception()
            if error is None:
                write.on_result(write.future.result())
            elif isinstance(error, KnownError):
                self.failed.emit(error)
            else:
                raise error  # a bug: to the owner's excepthook
        finally:
            self._notify()

    def finish(self, timeout_s: float) -> bool:
        """Wait for the writes in flight and deliver their results now (before a decision, such
        as quitting, that depends on them); False if one did not end in time."""
        for write in list(self._writes):
            try:
                write.future.exception(timeout=timeout_s)
            except FutureTimeout:
                return False
            self._deliver(write)
        return True

    # --- library edits -------------------------------------------------------------------------

    def rename(self, key: str, name: str) -> None:
        """Rename a library template (its key and file follow the name; history, labels and
        runs follow the key). The open document follows too."""
        library = self.library

        def done(version: TemplateVersion) -> None:
            if self.key == key:
                self.key, self.version = version.key, version.number
                saved = self.saved or self.template
                self.saved = saved.model_copy(update={"name": version.template().name})
                self.template = self.template.model_copy(update={"name": self.saved.name})
                self.adopted.emit(self.template)
            self.library_changed.emit(LibraryChange(version.key, "renamed", version, key))

        self._write(lambda: library.rename(key, name), done)

    def rename_current(self, name: str) -> None:
        """Rename the document: in the library if it is there, else only its name."""
        if self.key is not None:
            self.rename(self.key, name)
        elif name.strip():
            self.template = self.template.model_copy(update={"name": name.strip()})
            self.adopted.emit(self.template)
            self._notify()

    def set_details(self, key: str | None, description: str, tags: list[str]) -> None:
        """New description and tags: a new version of library template ``key``, or (None) an
        edit of the unsaved document."""
        update = {"description": description.strip(), "tags": tags}
        if key is None:
            self.template = self.template.model_copy(update=update)
            self.adopted.emit(self.template)
            self._notify()
            return
        library = self.library

        def write() -> TemplateVersion:
            template = library.load(key).model_copy(update=update)
            return library.save(template, key=key, message="description and tags edited")

        def done(version: TemplateVersion) -> None:
            if self.key == key:
                self.version = version.number
                self.saved = (self.saved or self.template).model_copy(update=update)
                self.template = self.template.model_copy(update=update)
                self.adopted.emit(self.template)
            self.library_changed.emit(LibraryChange(key, "details", version))

        self._write(write, done)

    def delete(self, key: str) -> None:
        """Delete a library template (its history stays, ``undelete`` brings it back). The
        open document, if it is that template, stays open as an unsaved one."""
        library = self.library

        def done(_none: None) -> None:
            if self.key == key:
                self.key, self.version, self.saved = None, None, None
                self._deleted = key
            self.library_changed.emit(LibraryChange(key, "deleted"))

        self._write(lambda: library.delete(key), done)

    def undelete(self, key: str) -> None:
        """Undo a delete: the template comes back with its history; the open document takes
        its place again if it was not edited meanwhile."""
        library = self.library

        def done(version: TemplateVersion) -> None:
            if self.key is None and self._deleted == key:
                template = version.template()
                if template == self.template:
                    self.key, self.version, self.saved = key, version.number, template
            self.library_changed.emit(LibraryChange(key, "undeleted", version))

        self._write(lambda: library.undelete(key), done)

    # --- drafts --------------------------------------------------------------------------------

    def write_draft(self) -> None:
        """Keep unsaved edits on disk, so a crash loses nothing."""
        if self.dirty:
            base = self.saved.model_dump_json() if self.saved is not None else None
            self.autosave.save(self.draft_key, self.template.model_dump_json(), base)

    def keep_for_next_session(self) -> None:
        """At a clean quit: keep unsaved edits, and a document in no library and no file at
        all (a built-in's copy, never edited) unless it is the blank start, for the next start."""
        if self.dirty:
            self.write_draft()
        elif self.key is None and self.file is None and self.template != blank_template():
            self.autosave.save(UNTITLED_KEY, self.template.model_dump_json(), None)

    def discard_draft(self) -> None:
        self.autosave.discard(self.draft_key)

    def drafts(self) -> list[tuple[Draft, PromptTemplate]]:
        """Edits a previous session did not save, oldest first (unreadable ones left alone)."""
        found = []
        for draft in self.autosave.drafts():
            try:
                found.append((draft, PromptTemplate.model_validate_json(draft.text)))
            except ValueError:
                continue
        return found

    def restore_draft(self, draft: Draft, template: PromptTemplate) -> None:
        """Open ``template`` (a draft's edits) over the library template or the file it was
        made from (gone: as an unsaved new document)."""
        if draft.key.startswith(FILE_DRAFT):
            try:
                source: TemplateFile | None = TemplateFile.read(Path(draft.key[len(FILE_DRAFT):]))
            except KnownError:
                source = None
            self._replace(template, None, None, source.template if source else None, source)
            return
        key = None if draft.key == UNTITLED_KEY else draft.key
        if key is not None:
            try:
                saved = self.library.load(key)
                version: int | None = self.library.entry(key).version
            except KnownError:
                key, saved, version = None, None, None
        else:
            saved, version = None, None
        self._replace(template, key, version, saved)

    def drop_draft(self, draft: Draft) -> None:
        self.autosave.discard(draft.key)
