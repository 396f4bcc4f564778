"""Autosaved drafts survive a crash and are offered back; saving or declining discards them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from workbench.storage.autosave import Autosave, default_folder


def test_drafts_live_in_the_data_folder(workbench_home: Path) -> None:
    assert Autosave().folder == default_folder()
    assert default_folder().is_relative_to(workbench_home)


def test_save_list_load_discard(tmp_path: Path) -> None:
    autosave = Autosave(tmp_path / "drafts")
    assert autosave.drafts() == []
    autosave.save("support/summarize", "draft one", base_text="saved text")
    autosave.save("untitled-1", "scratch — ünïcode\r\n")
    latest = autosave.save("support/summarize", "draft two", base_text="saved text")
    assert [d.key for d in autosave.drafts()] == ["untitled-1", "support/summarize"]
    assert autosave.load("support/summarize") == latest
    assert autosave.load("untitled-1").text == "scratch — ünïcode\r\n"  # type: ignore[union-attr]
    autosave.discard("support/summarize")
    assert autosave.load("support/summarize") is None
    assert [d.key for d in autosave.drafts()] == ["untitled-1"]


def test_stale_and_conflicting_drafts(tmp_path: Path) -> None:
    draft = Autosave(tmp_path).save("k", "edited", base_text="original")
    assert draft.is_stale("edited")
    assert not draft.is_stale("original")
    assert not draft.base_changed("original")
    assert draft.base_changed("someone else saved this")


def test_foreign_files_in_the_folder_are_ignored(tmp_path: Path) -> None:
    autosave = Autosave(tmp_path)
    autosave.save("k", "text")
    (tmp_path / "junk.draft.json").write_text("{not json", encoding="utf-8")
    (tmp_path / "other.draft.json").write_text('{"no": "key"}', encoding="utf-8")
    assert [d.key for d in autosave.drafts()] == ["k"]


def test_draft_written_by_a_process_that_then_dies_is_offered_back(tmp_path: Path) -> None:
    folder = tmp_path / "drafts"
    code = (
        "import os, sys\n"
        "from pathlib import Path\n"
        "from workbench.storage.autosave import Autosave\n"
        f"Autosave(Path({str(folder)!r})).save('prompts/ticket', 'unsaved words')\n"
        "os._exit(137)\n"  # no clean-up of any kind, as in a crash
    )
    done = subprocess.run([sys.executable, "-c", code], timeout=60)
    assert done.returncode == 137
    [draft] = Autosave(folder).drafts()
    assert (draft.key, draft.text) == ("prompts/ticket", "unsaved words")


def test_discarding_when_no_draft_was_ever_written_is_fine(tmp_path: Path) -> None:
    Autosave(tmp_path / "never-created").discard("anything")
