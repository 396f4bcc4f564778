"""The prompt library: files as the source of truth, immutable versions, diff, restore, labels,
rescan of changes made on disk, search, and all-or-nothing imports."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.storage.factories import make_template
from workbench.core.errors import KnownError, TemplateFileError
from workbench.core.models import Message, PromptTemplate
from workbench.core.template_files import dumps, loads
from workbench.storage import files
from workbench.storage.db import Database, NotFoundError
from workbench.storage.library import Library
from workbench.storage.library_records import content_hash, normalise_key, slug


@pytest.fixture
def library(tmp_path: Path) -> Iterator[Library]:
    db = Database(tmp_path / "lib.db")
    yield Library(db, tmp_path / "library")
    db.close()


def test_save_writes_a_readable_file_and_a_version(library: Library) -> None:
    template = make_template()
    version = library.save(template, collection="support", message="first draft")
    path = library.folder / "support" / "summarize-ticket.prompt.yaml"
    assert path.read_text(encoding="utf-8") == dumps(template) == version.text
    assert (version.key, version.number, version.message, version.origin) == (
        "support/summarize-ticket",
        1,
        "first draft",
        "save",
    )
    assert version.content_hash == content_hash(version.text)
    assert library.load("support/summarize-ticket") == template
    entry = library.entry("support/summarize-ticket")
    assert (entry.collection, entry.tags, entry.version) == ("support", ("summaries", "support"), 1)


def test_saving_unchanged_template_records_nothing_and_keeps_bytes(library: Library) -> None:
    text = "# hand-written, keep this comment\n" + dumps(make_template())
    path = library.folder / "mine.prompt.yaml"
    path.parent.mkdir(parents=True)
    path.write_text(text, encoding="utf-8")
    library.rescan()
    template = library.open_file("mine").template
    again = library.save(template, key="mine", message="no change")
    assert again.number == 1
    assert path.read_text(encoding="utf-8") == text  # comment and layout untouched
    changed = library.save(template.model_copy(update={"description": "new"}), key="mine")
    assert changed.number == 2
    assert loads(path.read_text(encoding="utf-8")).description == "new"


def test_versions_are_immutable_history(library: Library) -> None:
    t = make_template()
    for i in range(3):
        library.save(t.model_copy(update={"description": f"d{i}"}), message=f"edit {i}")
    versions = library.versions("summarize-ticket")
    assert [(v.number, v.message) for v in versions] == [
        (1, "edit 0"),
        (2, "edit 1"),
        (3, "edit 2"),
    ]
    with pytest.raises(Exception, match="immutable"), library.db.transaction() as conn:
        conn.execute("UPDATE template_versions SET text = 'x'")
    assert library.version("summarize-ticket", 1).template().description == "d0"


def test_diff_between_versions(library: Library) -> None:
    t = make_template()
    library.save(t)
    edited = t.model_copy(
        update={
            "messages": [
                t.messages[0],
                Message(role="user", content="Summarize this support ticket:\n{{ ticket }}"),
            ]
        }
    )
    library.save(edited)
    diff = library.diff("summarize-ticket", 1, "head")
    assert diff.changed and diff.added == 1 and diff.removed == 1
    [replace] = [c for c in diff.chunks if c.op == "replace"]
    assert replace.old == ("    Summarize this ticket:",)
    assert replace.new == ("    Summarize this support ticket:",)
    assert [w.text for w in replace.words if w.op == "insert"] == ["support "]
    assert "-    Summarize this ticket:" in diff.unified()
    assert "+    Summarize this support ticket:" in diff.unified()
    assert not library.diff("summarize-ticket", 2, 2).changed


def test_restore_writes_a_new_version(library: Library) -> None:
    t = make_template()
    library.save(t)
    library.save(t.model_copy(update={"description": "worse"}))
    restored = library.restore("summarize-ticket", "v1")
    assert (restored.number, restored.origin, restored.message) == (3, "restore", "restored v1")
    assert restored.text == library.version("summarize-ticket", 1).text
    assert library.path_for("summarize-ticket").read_text(encoding="utf-8") == restored.text
    assert library.restore("summarize-ticket", 3).number == 3  # already current: nothing new


def test_labels_point_at_versions_and_move(library: Library) -> None:
    t = make_template()
    library.save(t)
    library.save(t.model_copy(update={"description": "v2"}))
    library.set_label("summarize-ticket", "production", 1)
    library.set_label("summarize-ticket", "staging", "head")
    assert library.labels("summarize-ticket") == {"production": 1, "staging": 2}
    assert library.version("summarize-ticket", "production").number == 1
    library.set_label("summarize-ticket", "production", 2)
    assert library.load("summarize-ticket", "production").description == "v2"
    library.remove_label("summarize-ticket", "staging")
    assert library.labels("summarize-ticket") == {"production": 2}
    for bad in ("", "head", "3", "v2", "two words"):
        with pytest.raises(KnownError):
            library.set_label("summarize-ticket", bad, 1)
    with pytest.raises(NotFoundError):
        library.version("summarize-ticket", "nonexistent")
    with pytest.raises(NotFoundError):
        library.version("summarize-ticket", 9)


def _write(library: Library, key: str, template: PromptTemplate) -> Path:
    path = library.folder / f"{key}.prompt.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(dumps(template), encoding="utf-8")
    return path


def _bump_mtime(path: Path) -> None:
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10_000_000))


def test_rescan_picks_up_edits_additions_deletions_and_moves(library: Library) -> None:
    library.save(make_template("alpha"), collection="a")
    library.save(make_template("beta"), collection="a")
    library.save(make_template("gamma"))
    assert library.rescan().added == []  # nothing changed yet

    _write(library, "a/alpha", make_template("alpha", description="edited in vim"))
    _write(library, "new/delta", make_template("delta"))
    (library.folder / "a" / "beta.prompt.yaml").unlink()
    (library.folder / "gamma.prompt.yaml").rename(library.folder / "new" / "gamma.prompt.yaml")
    report = library.rescan()
    assert report.changed == ["a/alpha"]
    assert report.added == ["new/delta"]
    assert report.removed == ["a/beta"]
    assert report.renamed == [("gamma", "new/gamma")]
    assert report.problems == []
    assert [(v.number, v.origin, v.message) for v in library.versions("a/alpha")] == [
        (1, "save", ""),
        (2, "disk", "changed on disk"),
    ]
    assert [e.key for e in library.entries()] == ["a/alpha", "new/delta", "new/gamma"]
    assert [e.key for e in library.entries(include_deleted=True) if e.deleted] == ["a/beta"]
    assert len(library.versions("new/gamma")) == 1  # moved with its history

    # A deleted template comes back through restore, or when its file reappears.
    library.restore("a/beta", "head")
    assert library.path_for("a/beta").exists()
    library.delete("a/beta")
    _write(library, "a/beta", make_template("beta"))
    report = library.rescan()
    assert report.changed == ["a/beta"]
    assert not library.entry("a/beta").deleted


def test_rescan_reports_broken_files_and_keeps_last_good_version(library: Library) -> None:
    library.save(make_template("alpha"))
    path = library.path_for("alpha")
    path.write_text("format_version: 1\nname: alpha\nmessages: [\n", encoding="utf-8")
    (library.folder / "notes.prompt.yaml").write_bytes(b"\xff\xfe not utf-8")
    report = library.rescan()
    assert sorted(Path(p.path).name for p in report.problems) == [
        "alpha.prompt.yaml",
        "notes.prompt.yaml",
    ]
    assert all(isinstance(p, TemplateFileError) for p in report.problems)
    assert any(p.line == 3 for p in report.problems)  # the line of the unclosed '['
    assert report.kept == {str(path): 1}  # alpha had a good version; notes never had one
    assert library.entry("alpha").version == 1
    assert library.load("alpha") == make_template("alpha")
    # Saving over a file that was broken on disk refuses rather than losing the edit.
    with pytest.raises(TemplateFileError):
        library.save(make_template("alpha", description="x"))


def test_save_records_an_outside_edit_before_overwriting_it(library: Library) -> None:
    library.save(make_template("alpha"))
    path = _write(library, "alpha", make_template("alpha", description="edited by a colleague"))
    _bump_mtime(path)
    version = library.save(make_template("alpha", description="mine"))
    assert [(v.number, v.origin) for v in library.versions("alpha")] == [
        (1, "save"),
        (2, "disk"),
        (3, "save"),
    ]
    assert version.number == 3
    assert library.version("alpha", 2).template().description == "edited by a colleague"


def test_rescan_ignores_temp_files_hidden_folders_and_cleans_leftovers(library: Library) -> None:
    library.save(make_template("alpha"))
    leftover = library.folder / f"{files.TEMP_PREFIX}alpha.prompt.yaml.x1"
    leftover.write_text("format_version: 1\nname: half", encoding="utf-8")
    old = time.time() - files.UNTAGGED_STALE_AFTER_S - 60  # no writer in its name: old = stale
    os.utime(leftover, (old, old))
    git = library.folder / ".git"
    git.mkdir()
    (git / "stray.prompt.yaml").write_text("not a template", encoding="utf-8")
    report = library.rescan()
    assert report.added == [] and report.problems == []
    assert not leftover.exists()


def test_search_collections_and_tags(library: Library) -> None:
    library.save(
        make_template("Volcano facts", tags=["geo", "science"], description="Eruptions explained"),
        collection="science/earth",
    )
    library.save(make_template("Tide tables", tags=["geo"]), collection="science/sea")
    library.save(make_template("Haiku", tags=["poetry"]), collection="arts")
    assert [e.key for e in library.search("eruptions")] == ["science/earth/volcano-facts"]
    assert [e.key for e in library.search("careful support")] != []  # body text is indexed
    assert library.search("tide")[0].snippet is not None
    assert library.collections() == ["arts", "science", "science/earth", "science/sea"]
    assert [e.key for e in library.entries(collection="science")] == [
        "science/earth/volcano-facts",
        "science/sea/tide-tables",
    ]
    assert [e.key for e in library.entries(tag="poetry")] == ["arts/haiku"]
    library.delete("arts/haiku")
    assert library.search("haiku") == []


def test_import_adds_versions_and_dedupes_keys(library: Library) -> None:
    library.save(make_template("act as a linux terminal"), collection="imported")
    batch = [
        make_template("Act as a Linux Terminal", description="new"),
        make_template("Translator"),
        make_template("Translator", description="second"),
    ]
    results = library.import_templates(batch, collection="imported", message="from prompts.csv")
    assert [(v.key, v.number, changed) for v, changed in results] == [
        ("imported/act-as-a-linux-terminal", 2, True),
        ("imported/translator", 1, True),
        ("imported/translator-2", 1, True),
    ]
    assert all(v.origin == "import" for v, _ in results)
    again = library.import_templates(batch, collection="imported")
    assert [changed for _, changed in again] == [False, False, False]


def test_import_at_given_keys(library: Library) -> None:
    library.save(make_template("kept"), collection="team/a")
    batch = [
        make_template("kept", description="new"),
        make_template("no key"),
        make_template("renamed"),
        make_template("twice"),
    ]
    keys = ["team/a/kept", None, "/other/file-name/", "other/file-name"]
    results = library.import_templates(batch, collection="fallback", keys=keys)
    assert [(v.key, v.number) for v, _ in results] == [
        ("team/a/kept", 2),
        ("fallback/no-key", 1),
        ("other/file-name", 1),
        ("other/file-name-2", 1),
    ]
    assert library.load("team/a/kept").description == "new"


def test_failed_import_leaves_library_exactly_as_before(
    library: Library, monkeypatch: pytest.MonkeyPatch
) -> None:
    library.save(make_template("one"), collection="imp")
    before_files = {p: p.read_bytes() for p in library.folder.rglob("*") if p.is_file()}
    before_versions = len(library.versions("imp/one"))
    commits = 0
    real_commit = files.PreparedWrite.commit

    def failing_commit(self: files.PreparedWrite, *, sync_folder: bool = True) -> None:
        nonlocal commits
        commits += 1
        if commits == 3:
            raise files.FileWriteError(f"cannot write {self.path}: No space left on device")
        real_commit(self, sync_folder=sync_folder)

    monkeypatch.setattr(files.PreparedWrite, "commit", failing_commit)
    batch = [
        make_template("one", description="changed"),
        make_template("two"),
        make_template("three"),
    ]
    with pytest.raises(files.FileWriteError):
        library.import_templates(batch, collection="imp")
    after_files = {p: p.read_bytes() for p in library.folder.rglob("*") if p.is_file()}
    assert after_files == before_files
    assert len(library.versions("imp/one")) == before_versions
    assert [e.key for e in library.entries()] == ["imp/one"]


def test_keys_and_slugs() -> None:
    assert slug("Act as a Linux Terminal!") == "act-as-a-linux-terminal"
    assert slug("日本語の要約") == "日本語の要約"
    assert slug("???") == "template"
    assert normalise_key("\\a\\b.prompt.yaml") == "a/b"
    for bad in ("../escape", "a/../b", ".hidden", "a//b", "", "con:x"):
        with pytest.raises(KnownError):
            normalise_key(bad)
