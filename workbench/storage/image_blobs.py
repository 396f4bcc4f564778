"""Images stored once per database, named by the SHA-256 of their bytes.

A run's request (a variant's template, a batch cell's request) keeps each image as a reference,
``{"media_type", "sha256", "detail"}`` in its JSON, and the bytes live once in ``image_blobs``: a
200-run sweep over a 1 MB picture stores 1 MB, not 200. ``run_images``, ``variant_images`` and
``batch_cell_images`` say which rows use which blob; deleting such a row (directly or by
cascade) deletes its references, and a trigger drops a blob nothing uses any more (migrations
``0016_image_blobs`` and ``0017_batch_cell_images``). Reading puts the bytes back, so history,
restore, the exports and the wire see whole images.
"""
from __future__ import annotations

import base64
import hashlib
import json
import sqlite3
from typing import Any, TypeVar

from pydantic import BaseModel

M = TypeVar("M", bound=BaseModel)

#: A stored JSON text holding at least one reference (keys are written unescaped; a prompt's
#: own text containing the word has its quotes escaped, so it never matches).
_MARK = '"sha256"'


def dump(conn: sqlite3.Connection, model: BaseModel, **options: Any) -> tuple[str, list[str]]:
    """``model`` as stored JSON (``options`` as for ``model_dump_json``) with each image of its
    ``messages`` replaced by a reference, the blobs written if new; and the hashes it uses."""
    if not any(getattr(m, "images", None) for m in getattr(model, "messages", ())):
        return model.model_dump_json(**options), []
    dumped = model.model_dump(mode="json", **options)
    hashes = externalize(conn, dumped)
    return json.dumps(dumped, ensure_ascii=False, separators=(",", ":")), hashes


def externalize(conn: sqlite3.Connection, dumped: dict[str, Any]) -> list[str]:
    """Replace the bytes of each image in ``dumped["messages"]`` by its hash, writing the blobs
    not stored yet; returns the distinct hashes, in order."""
    hashes: list[str] = []
    for message in dumped.get("messages") or ():
        for image in message.get("images") or ():
            data = image.pop("data", None)
            if not data:
                continue
            raw = base64.b64decode(data)
            digest = hashlib.sha256(raw).hexdigest()
            # Look first: binding a megabyte only for INSERT OR IGNORE to drop it costs a copy.
            if conn.execute(
                "SELECT 1 FROM image_blobs WHERE sha256 = ?", (digest,)
            ).fetchone() is None:
                conn.execute(
                    "INSERT INTO image_blobs (sha256, media_type, size, data) VALUES (?, ?, ?, ?)",
                    (digest, image.get("media_type", ""), len(raw), raw),
                )
            image["sha256"] = digest
            if digest not in hashes:
                hashes.append(digest)
    return hashes


def load(conn: sqlite3.Connection, text: str, model: type[M]) -> M:
    """A ``model`` from stored JSON ``text`` (``dump``'s), each image with its bytes again."""
    if _MARK not in text:
        return model.model_validate_json(text)
    dumped: dict[str, Any] = json.loads(text)
    for message in dumped.get("messages") or ():
        for image in message.get("images") or ():
            digest = image.pop("sha256", None)
            if digest is None:
                continue
            row = conn.execute(
                "SELECT data FROM image_blobs WHERE sha256 = ?", (digest,)
            ).fetchone()
            if row is None:
                # foreign keys keep a used blob: only a damaged file gets here
                raise sqlite3.IntegrityError(f"no stored image with hash {digest[:16]}")
            image["data"] = base64.b64encode(row[0]).decode("ascii")
    return model.model_validate(dumped)


#: The tables saying which rows use which blob, by the columns naming the row.
_OWNER: dict[str, tuple[str, ...]] = {
    "run_images": ("run_id",),
    "variant_images": ("variant_id",),
    "batch_cell_images": ("job_id", "custom_id"),
}
#: Where the rows each of those tables refers to keep their JSON: table, key, JSON column.
_STORED: dict[str, tuple[str, tuple[str, ...], str]] = {
    "run_images": ("runs", ("id",), "request_json"),
    "variant_images": ("variants", ("id",), "template_json"),
    "batch_cell_images": ("batch_cells", ("job_id", "custom_id"), "sent_json"),
}

Owner = str | tuple[str, ...]


def _key(owner: Owner) -> tuple[str, ...]:
    return (owner,) if isinstance(owner, str) else owner


def link(conn: sqlite3.Connection, table: str, owner: Owner, hashes: list[str]) -> None:
    """Record that row ``owner`` (its key in ``_OWNER[table]``) uses ``hashes``."""
    columns = ", ".join(_OWNER[table])
    marks = ", ".join("?" for _ in _OWNER[table])
    conn.executemany(
        f"INSERT OR IGNORE INTO {table} ({columns}, sha256) VALUES ({marks}, ?)",
        [(*_key(owner), digest) for digest in hashes],
    )


def relink(conn: sqlite3.Connection, table: str, owner: Owner, hashes: list[str]) -> None:
    """Make ``hashes`` exactly the blobs row ``owner`` uses (a variant whose images changed);
    a blob it let go that nothing else uses is dropped by the schema's trigger."""
    link(conn, table, owner, hashes)  # the new references first: a kept blob is never orphaned
    where = " AND ".join(f"{c} = ?" for c in _OWNER[table])
    marks = ", ".join("?" for _ in hashes)
    conn.execute(
        f"DELETE FROM {table} WHERE {where} AND sha256 NOT IN ({marks})",
        (*_key(owner), *hashes),
    )


def move_inline_images(conn: sqlite3.Connection) -> None:
    """Migration 0016: the images earlier versions wrote inline in runs' requests and variants'
    templates move into ``image_blobs``."""
    _move(conn, "run_images")
    _move(conn, "variant_images")


def move_inline_batch_images(conn: sqlite3.Connection) -> None:
    """Migration 0017: the same for the requests of batch jobs' cells."""
    _move(conn, "batch_cell_images")


def _move(conn: sqlite3.Connection, links: str) -> None:
    """Move the inline images of the rows ``links`` refers to into ``image_blobs``, each row
    keeping a reference. One row is read at a time: a database of inline images can be
    gigabytes."""
    table, columns, column = _STORED[links]
    key = ", ".join(columns)
    where = " AND ".join(f"{c} = ?" for c in columns)
    owners = conn.execute(
        f"SELECT {key} FROM {table} WHERE instr({column}, '\"images\"') > 0"
    ).fetchall()
    for owner in owners:
        text = conn.execute(f"SELECT {column} FROM {table} WHERE {where}", owner).fetchone()
        dumped = json.loads(text[0])
        hashes = externalize(conn, dumped)
        if hashes:
            conn.execute(
                f"UPDATE {table} SET {column} = ? WHERE {where}",
                (json.dumps(dumped, ensure_ascii=False, separators=(",", ":")), *owner),
            )
            link(conn, links, tuple(owner), hashes)
