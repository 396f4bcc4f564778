"""Reading the prompt library's list: templates by collection or tag, one entry, full-text
search and the collections. Plain queries of a few rows, kept apart from the writing."""

from __future__ import annotations

from collections.abc import Sequence

from workbench.storage.db import Database, NotFoundError
from workbench.storage.fts import fts_query
from workbench.storage.library_records import LibraryEntry, normalise_key
from workbench.storage.library_sql import (
    ENTRY_COLUMNS,
    ENTRY_SQL,
    HEAD_JOIN,
    entry_filters,
    entry_from_row,
)


class LibraryQueries:
    """The list queries ``Library`` offers (it sets ``db``)."""

    db: Database

    def entries(
        self,
        *,
        collection: str | None = None,
        tag: str | None = None,
        include_deleted: bool = False,
    ) -> list[LibraryEntry]:
        """Templates sorted by key; ``collection`` includes its sub-collections."""
        clauses, params = entry_filters(collection, tag, include_deleted)
        return self._entries(f"{ENTRY_SQL} {clauses} ORDER BY t.key", params)

    def entry(self, key: str) -> LibraryEntry:
        found = self._entries(f"{ENTRY_SQL} WHERE t.key = ?", [normalise_key(key)])
        if not found:
            raise NotFoundError(f"no template '{key}' in the library")
        return found[0]

    def search(self, query: str, limit: int = 50) -> list[LibraryEntry]:
        """Templates whose name, description, tags or text hold every word, best match first."""
        return self._entries(
            f"{ENTRY_COLUMNS}, snippet(library_fts, -1, '[', ']', '…', 12) FROM library_fts"
            f" JOIN library_templates t ON t.seq = library_fts.rowid {HEAD_JOIN}"
            " WHERE library_fts MATCH ? AND t.deleted_at IS NULL ORDER BY rank LIMIT ?",
            [fts_query(query), limit],
        )

    def collections(self) -> list[str]:
        """Every collection (and parent collection) that holds a template."""
        names: set[str] = set()
        for (collection,) in self.db.connection().execute(
            "SELECT DISTINCT collection FROM library_templates WHERE deleted_at IS NULL"
        ):
            parts = collection.split("/") if collection else []
            names.update("/".join(parts[: i + 1]) for i in range(len(parts)))
        return sorted(names)

    def _entries(self, sql: str, params: Sequence[object]) -> list[LibraryEntry]:
        return [entry_from_row(r) for r in self.db.connection().execute(sql, params).fetchall()]
