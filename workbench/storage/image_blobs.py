"""Images stored once per database, named by the SHA-256 of their bytes.

A run's request (and a variant's template) keeps each image as a reference, ``{"media_type",
"sha256", "detail"}`` in its JSON, and the bytes live once in ``image_blobs``: a 200-run sweep
over a 1 MB picture stores 1 MB, not 200. ``run_images`` and ``variant_images`` say which rows
use which blob; deleting a run or variant (directly or by cascade) deletes its rows there, and a
trigger drops a blob nothing uses any more (the schema is migration ``0016_image_blobs``).
Reading puts the bytes back, so history, restore, the exports and the wire see whole images.
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


#: The tables saying which rows use which blob, by the column naming the row.
_OWNER = {"run_images": "run_id", "variant_images": "variant_id"}


def link(conn: sqlite3.Connection, table: str, owner: str, hashes: list[str]) -> None:
    """Record that row ``owner`` (of ``run_images`` or ``variant_images``) uses ``hashes``."""
    conn.executemany(
        f"INSERT OR IGNORE INTO {table} ({_OWNER[table]}, sha256) VALUES (?, ?)",
        [(owner, digest) for digest in hashes],
    )


def relink(conn: sqlite3.Connection, table: str, owner: str, hashes: list[str]) -> None:
    """Make ``hashes`` exactly the blobs row ``owner`` uses (a variant whose images changed);
    a blob it let go that nothing else uses is dropped by the schema's trigger."""
    link(conn, table, owner, hashes)  # the new references first: a kept blob is never orphaned
    marks = ", ".join("?" for _ in hashes)
    conn.execute(
        f"DELETE FROM {table} WHERE {_OWNER[table]} = ? AND sha256 NOT IN ({marks})",
        (owner, *hashes),
    )


def move_inline_images(conn: sqlite3.Connection) -> None:
    """Migration: move the images written inline by earlier versions (in runs' requests and
    variants' templates) into ``image_blobs``, each row keeping a reference. One row is read at
    a time: a database of inline images can be gigabytes."""
    for table, column, links in (
        ("runs", "request_json", "run_images"),
        ("variants", "template_json", "variant_images"),
    ):
        ids = [
            row[0]
            for row in conn.execute(
                f"SELECT id FROM {table} WHERE instr({column}, '\"images\"') > 0"
            )
        ]
        for owner in ids:
            text = conn.execute(f"SELECT {column} FROM {table} WHERE id = ?", (owner,)).fetchone()
            dumped = json.loads(text[0])
            hashes = externalize(conn, dumped)
            if hashes:
                conn.execute(
                    f"UPDATE {table} SET {column} = ? WHERE id = ?",
                    (json.dumps(dumped, ensure_ascii=False, separators=(",", ":")), owner),
                )
                link(conn, links, owner, hashes)
