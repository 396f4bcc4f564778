"""The main window's document without Qt: loading, editing, naming and saving through a real
writer thread, library edits of the open template, and drafts."""

from __future__ import annotations

import queue
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import pytest

from workbench.core.models import Message, PromptTemplate, Variable
from workbench.core.template_files import dumps, read_template
from workbench.services.document import (
    UNTITLED_KEY,
    Document,
    DocumentState,
    LibraryChange,
    declare_variables,
)
from workbench.storage.autosave import Autosave
from workbench.storage.db import Database
from workbench.storage.library import Library
from workbench.storage.repositories import Store
from workbench.storage.writer import StoreWriter


class Loop:
    """The owner thread's queue: what ``when_done`` hands over runs when the test drains it."""

    def __init__(self) -> None:
        self.calls: queue.SimpleQueue[Callable[[], None]] = queue.SimpleQueue()

    def when_done(self, future: Future[Any], fn: Callable[[], None]) -> None:
        future.add_done_callback(lambda _f: self.calls.put(fn))

    def run_one(self, timeout: float = 10.0) -> None:
        self.calls.get(timeout=timeout)()


@pytest.fixture
def parts(tmp_path: Path) -> Iterator[tuple[Library, StoreWriter, Autosave]]:
    db = Database(tmp_path / "db.sqlite3")
    writer = StoreWriter(Store(db))
    yield Library(db, tmp_path / "library"), writer, Autosave(tmp_path / "drafts")
    writer.close()
    db.close()


@pytest.fixture
def loop() -> Loop:
    return Loop()


@pytest.fixture
def doc(parts: tuple[Library, StoreWriter, Autosave], loop: Loop) -> Document:
    library, writer, autosave = parts

    def submit(job: Callable[[], Any]) -> Any:
        return writer.submit(lambda _store: job())

    return Document(library, autosave, submit=submit, when_done=loop.when_done)


def _typed(doc: Document, text: str) -> PromptTemplate:
    template = doc.template.model_copy(
        update={"messages": [Message(role="user", content=text)]}
    )
    doc.edit(template)
    return template


def test_a_new_document_is_clean_and_asks_for_a_name(doc: Document) -> None:
    assert not doc.dirty and doc.needs_name and doc.name == "untitled"
    _typed(doc, "Summarize {{ ticket }} for a manager")
    assert doc.dirty
    assert doc.proposed_name() == "summarize ticket for a manager"


def test_first_save_names_the_template_and_declares_its_variables(
    doc: Document, loop: Loop, parts: tuple[Library, StoreWriter, Autosave]
) -> None:
    library = parts[0]
    states: list[DocumentState] = []
    changes: list[LibraryChange] = []
    adopted: list[PromptTemplate] = []
    doc.changed.connect(states.append)
    doc.library_changed.connect(changes.append)
    doc.adopted.connect(adopted.append)
    _typed(doc, "Summarize {{ ticket }} in {{ n }} lines")
    doc.save(name="Ticket summary", message="first cut")
    assert doc.key == "ticket-summary" and doc.saving  # the key is taken at once
    assert states[-1].saving and states[-1].name == "Ticket summary"
    loop.run_one()
    assert not doc.saving and not doc.dirty and doc.version == 1
    saved = library.version("ticket-summary")
    assert saved.message == "first cut"
    assert [v.name for v in saved.template().variables] == ["n", "ticket"]
    assert [v.name for v in doc.template.variables] == ["n", "ticket"]  # the editor adopts them
    assert [v.name for v in adopted[-1].variables] == ["n", "ticket"]
    assert changes == [LibraryChange("ticket-summary", "saved", saved)]
    assert changes[0].message == "Saved ticket-summary as v1"


def test_edits_made_while_saving_stay_unsaved_with_their_draft(
    doc: Document, loop: Loop, parts: tuple[Library, StoreWriter, Autosave]
) -> None:
    autosave = parts[2]
    _typed(doc, "First draft")
    doc.save(name="draft")
    _typed(doc, "First draft, then more")
    doc.write_draft()
    loop.run_one()
    assert doc.dirty and doc.version == 1
    assert [d.key for d in autosave.drafts()] == ["draft"]
    doc.save()
    loop.run_one()
    assert not doc.dirty and doc.version == 2
    assert autosave.drafts() == []


def test_finish_delivers_a_save_before_a_decision(doc: Document, loop: Loop) -> None:
    _typed(doc, "Keep me")
    doc.save(name="keep")
    assert doc.finish(10.0)
    assert not doc.dirty and doc.version == 1
    loop.run_one()  # the late delivery finds the write delivered already: nothing twice
    assert doc.version == 1


def test_a_failed_save_is_reported_and_leaves_the_edits(
    doc: Document, loop: Loop, parts: tuple[Library, StoreWriter, Autosave]
) -> None:
    library = parts[0]
    library.folder.mkdir(parents=True)
    (library.folder / "blocked.prompt.yaml").mkdir()  # a folder where the file should go
    errors: list[Exception] = []
    doc.failed.connect(errors.append)
    _typed(doc, "text")
    doc.save(name="blocked")
    loop.run_one()
    assert len(errors) == 1 and doc.dirty and doc.version is None


def test_a_late_save_result_does_not_touch_the_next_document(doc: Document, loop: Loop) -> None:
    _typed(doc, "one")
    doc.save(name="one")
    doc.new()
    loop.run_one()
    assert doc.key is None and doc.version is None and not doc.dirty


def test_rename_of_the_open_template_follows_it(
    doc: Document, loop: Loop, parts: tuple[Library, StoreWriter, Autosave]
) -> None:
    _typed(doc, "Hello {{ who }}")
    doc.save(name="greeting")
    loop.run_one()
    _typed(doc, "Hello {{ who }}, unsaved")
    doc.rename("greeting", "Warm greeting")
    loop.run_one()
    assert (doc.key, doc.version, doc.name) == ("warm-greeting", 2, "Warm greeting")
    assert doc.dirty  # the unsaved edit is still unsaved, the rename is not an edit
    assert parts[0].load("warm-greeting").messages[0].content == "Hello {{ who }}"


def test_details_of_an_unsaved_and_a_saved_document(
    doc: Document, loop: Loop, parts: tuple[Library, StoreWriter, Autosave]
) -> None:
    doc.set_details(None, "Says hello", ["demo"])
    assert (doc.template.description, doc.template.tags) == ("Says hello", ["demo"])
    doc.save(name="hello")
    loop.run_one()
    doc.set_details("hello", "Says hello warmly", ["demo", "greeting"])
    loop.run_one()
    assert not doc.dirty and doc.version == 2
    version = parts[0].version("hello")
    assert version.message == "description and tags edited"
    assert version.template().tags == ["demo", "greeting"]


def test_delete_keeps_the_open_document_and_undo_reattaches_it(
    doc: Document, loop: Loop, parts: tuple[Library, StoreWriter, Autosave]
) -> None:
    _typed(doc, "Precious")
    doc.save(name="precious")
    loop.run_one()
    doc.delete("precious")
    loop.run_one()
    assert parts[0].entries() == []
    assert doc.key is None and doc.dirty  # still open, and a draft keeps it if the app quits
    assert doc.template.messages[0].content == "Precious"
    doc.undelete("precious")
    loop.run_one()
    assert (doc.key, doc.version, doc.dirty) == ("precious", 1, False)


def test_drafts_are_offered_back_over_their_library_template(
    doc: Document, loop: Loop, parts: tuple[Library, StoreWriter, Autosave]
) -> None:
    library, _, autosave = parts
    _typed(doc, "v1 text")
    doc.save(name="story")
    loop.run_one()
    _typed(doc, "edited, never saved")
    doc.write_draft()
    _typed(doc, "untitled too")
    fresh = Document(library, autosave, submit=doc.submit, when_done=doc.when_done)
    drafts = fresh.drafts()
    assert [d.key for d, _ in drafts] == ["story"]
    draft, template = drafts[0]
    fresh.restore_draft(draft, template)
    assert (fresh.key, fresh.version, fresh.dirty) == ("story", 1, True)
    fresh.new()
    _typed(fresh, "a new one")
    fresh.write_draft()
    assert UNTITLED_KEY in {d.key for d, _ in fresh.drafts()}


def test_declare_variables_adds_used_and_drops_bare_unused_ones() -> None:
    template = PromptTemplate(
        name="t",
        messages=[Message(role="user", content="{{ a }} {{ b }}")],
        variables=[
            Variable(name="b", description="kept"),
            Variable(name="old"),
            Variable(name="gone", default="x"),
        ],
    )
    names = [v.name for v in declare_variables(template).variables]
    assert names == ["b", "gone", "a"]
    broken = template.model_copy(update={"messages": [Message(role="user", content="{{ a")]})
    assert declare_variables(broken) is broken


def test_saving_without_a_change_says_so(doc: Document, loop: Loop) -> None:
    changes: list[LibraryChange] = []
    doc.library_changed.connect(changes.append)
    _typed(doc, "same")
    doc.save(name="same")
    loop.run_one()
    doc.save(message="nothing new")
    loop.run_one()
    assert [c.what for c in changes] == ["saved", "unchanged"]
    assert changes[1].message == "Nothing changed since same v1: no new version"


def test_a_file_document_keeps_its_own_draft_and_comes_back_bound_to_its_file(
    doc: Document, tmp_path: Path, loop: Loop
) -> None:
    """A file's unsaved edits are kept under the file (not as the untitled draft): opening the
    file again, or restoring the drafts at the next start, gives them back bound to it."""
    path = tmp_path / "haiku.prompt.yaml"
    path.write_text(dumps(PromptTemplate(
        name="haiku", messages=[Message(role="user", content="A haiku.")]
    )), encoding="utf-8")
    doc.open_file(path)
    assert doc.path == path and not doc.needs_name and not doc.dirty
    _typed(doc, "A limerick.")
    doc.keep_for_next_session()  # a clean quit
    assert doc.autosave.load(UNTITLED_KEY) is None
    assert read_template(path).messages[0].content == "A haiku."  # only Ctrl+S writes it

    doc.new()
    doc.open_file(path)
    assert doc.dirty and doc.template.messages[0].content == "A limerick."
    [(draft, template)] = doc.drafts()
    doc.new()
    doc.restore_draft(draft, template)
    assert doc.path == path and doc.dirty and doc.saved is not None
    doc.save()
    loop.run_one()
    assert not doc.dirty and doc.drafts() == []
    assert read_template(path).messages[0].content == "A limerick."
