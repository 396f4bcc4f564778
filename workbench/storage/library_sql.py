"""The SQL the prompt library reads with: a template's row with its head version, entries."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from workbench.storage.library_records import LibraryEntry

ROW_SQL = (
    "SELECT t.seq, t.id, t.key, t.deleted_at IS NOT NULL, t.file_mtime_ns, t.file_size,"
    " coalesce(v.number, 0), v.content_hash FROM library_templates t"
    " LEFT JOIN template_versions v ON v.template_id = t.id AND v.number ="
    " (SELECT max(number) FROM template_versions WHERE template_id = t.id)"
)
VERSION_COLUMNS = "v.id, t.key, v.number, v.created_at, v.message, v.origin, v.content_hash, v.text"


ENTRY_COLUMNS = (
    "SELECT t.key, t.name, t.collection,"
    " (SELECT group_concat(tag, char(31)) FROM"
    " (SELECT tag FROM template_tags WHERE template_id = t.id ORDER BY tag)),"
    " v.number, v.created_at, t.deleted_at IS NOT NULL"
)
HEAD_JOIN = (
    "JOIN template_versions v ON v.template_id = t.id AND v.number ="
    " (SELECT max(number) FROM template_versions WHERE template_id = t.id)"
)
ENTRY_SQL = f"{ENTRY_COLUMNS} FROM library_templates t {HEAD_JOIN}"


def entry_filters(
    collection: str | None, tag: str | None, include_deleted: bool
) -> tuple[str, list[object]]:
    """``WHERE`` clause and parameters; a collection includes its sub-collections."""
    clauses: list[str] = []
    params: list[object] = []
    if not include_deleted:
        clauses.append("t.deleted_at IS NULL")
    if collection:
        clauses.append("(t.collection = ? OR t.collection LIKE ? ESCAPE '\\')")
        escaped = (
            collection.strip("/").replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        )
        params += [collection.strip("/"), f"{escaped}/%"]
    if tag:
        clauses.append(
            "EXISTS (SELECT 1 FROM template_tags g WHERE g.template_id = t.id AND g.tag = ?)"
        )
        params.append(tag)
    return ("WHERE " + " AND ".join(clauses) if clauses else ""), params


def entry_from_row(r: Sequence[Any]) -> LibraryEntry:
    """A row of ``ENTRY_SQL`` (plus an optional snippet column) as an entry."""
    tags = tuple(r[3].split("\x1f")) if r[3] else ()
    snippet = r[7] if len(r) > 7 else None
    return LibraryEntry(r[0], r[1], r[2], tags, r[4], r[5], bool(r[6]), snippet)
