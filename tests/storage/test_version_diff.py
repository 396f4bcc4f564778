"""Version diffs take their word changes from the project's one word diff engine (core.diff)."""

from __future__ import annotations

from workbench.core.diff import diff_words
from workbench.storage.version_diff import WordChange, diff_texts, word_changes


def test_word_changes_are_the_core_engines_inline_spans() -> None:
    old, new = "Reply to the cat, politely.", "Reply to a dog, politely!"
    assert word_changes(old, new) == tuple(
        WordChange(span.kind, span.text) for span in diff_words(old, new).inline
    )
    # core.diff folds the space between two changes: one replacement, not two around a space
    assert word_changes("the cat", "a dog") == (
        WordChange("delete", "the cat"),
        WordChange("insert", "a dog"),
    )


def test_replace_chunks_carry_word_changes_that_spell_both_sides() -> None:
    diff = diff_texts("a\nkeep the old words\nz\n", "a\nkeep the new words here\nz\n", "v1", "v2")
    [replace] = [c for c in diff.chunks if c.op == "replace"]
    assert "".join(w.text for w in replace.words if w.op != "insert") == "keep the old words"
    assert "".join(w.text for w in replace.words if w.op != "delete") == "keep the new words here"
    assert all(not c.words for c in diff.chunks if c.op != "replace")
    assert (diff.added, diff.removed) == (1, 1)
