"""Turning what a person types into a full-text (FTS5) query."""

from __future__ import annotations

from workbench.core.errors import KnownError


def fts_query(text: str) -> str:
    """Plain words to an FTS5 query that matches rows holding all of them.

    Each word becomes a quoted phrase, so punctuation and FTS operators in what a user types are
    searched for as text instead of failing as syntax.
    """
    words = [w for w in text.split() if w.strip('"')]
    if not words:
        raise KnownError("the search is empty", hint="type one or more words")
    return " ".join('"' + w.replace('"', '""') + '"' for w in words)
