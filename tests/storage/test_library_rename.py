"""Renaming, deleting and putting back library templates: the file follows the name, and the
history, labels and runs follow the file."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.storage.factories import make_result, make_template
from workbench.core.errors import KnownError
from workbench.storage.db import Database, NotFoundError
from workbench.storage.library import Library
from workbench.storage.repositories import RunRef, Store


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    db = Database(tmp_path / "lib.db")
    yield db
    db.close()


@pytest.fixture
def library(db: Database, tmp_path: Path) -> Library:
    return Library(db, tmp_path / "library")


def test_rename_moves_the_file_and_keeps_history_labels_and_runs(
    library: Library, db: Database
) -> None:
    library.save(make_template(), collection="support", message="first")
    library.save(make_template(description="second"), key="support/summarize-ticket")
    library.set_label("support/summarize-ticket", "production", 1)
    run_id = Store(db).runs.add(make_result(), RunRef(template_key="support/summarize-ticket"))

    renamed = library.rename("support/summarize-ticket", "Triage the ticket")

    assert (renamed.key, renamed.number, renamed.message) == (
        "support/triage-the-ticket", 3, "renamed from “Summarize ticket”"
    )
    assert not (library.folder / "support" / "summarize-ticket.prompt.yaml").exists()
    assert library.load("support/triage-the-ticket").name == "Triage the ticket"
    assert [v.number for v in library.versions("support/triage-the-ticket")] == [1, 2, 3]
    assert library.labels("support/triage-the-ticket") == {"production": 1}
    assert Store(db).runs.get(run_id).ref.template_key == "support/triage-the-ticket"
    with pytest.raises(NotFoundError):
        library.entry("support/summarize-ticket")
    assert library.rescan().renamed == []  # nothing left for a rescan to find


def test_rename_never_takes_another_templates_key(library: Library) -> None:
    library.save(make_template(name="alpha"))
    library.save(make_template(name="beta"))
    assert library.rename("beta", "alpha").key == "alpha-2"
    assert library.rename("alpha-2", "alpha").key == "alpha-2"  # its own key is free to keep
    with pytest.raises(KnownError):
        library.rename("alpha", "  ")


def test_undelete_brings_back_the_file_without_a_new_version(library: Library) -> None:
    library.save(make_template(name="keep me"))
    library.delete("keep-me")
    assert library.entries() == []
    back = library.undelete("keep-me")
    assert back.number == 1
    assert [e.key for e in library.entries()] == ["keep-me"]
    assert library.load("keep-me").name == "keep me"
    assert len(library.versions("keep-me")) == 1


def test_unused_key_skips_deleted_templates(library: Library) -> None:
    library.save(make_template(name="gone"))
    library.delete("gone")
    assert library.unused_key("gone") == "gone-2"
    assert library.unused_key("Fresh Idea") == "fresh-idea"
