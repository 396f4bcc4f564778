"""A fast-loading copy of each bundled tokenizer vocabulary (tiktoken's mergeable ranks).

Parsing a ``.tiktoken`` file (one base64 token and its rank per line) costs every process that
counts tokens about 0.2 s for cl100k_base and 0.4 s for o200k_base; the same ranks stored as a
marshalled dict load several times faster. The copy lives in ``paths.cache_dir()/tokenizers``
and is only a cache: it is used when its header matches the source file (path, size, mtime),
the hash tiktoken expects of it and this Python's marshal format, and its payload's SHA-256
matches; anything else (missing, stale, truncated, corrupt, unreadable) falls back to parsing
the source, and the copy is rewritten. A cache folder that cannot be written only costs speed.

marshal is the format Python itself trusts for ``__pycache__``; the checksum keeps a damaged
file from being unmarshalled, and the file sits in the user's own folder as the .pyc files do.
"""

from __future__ import annotations

import hashlib
import json
import logging
import marshal
import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from workbench.core import paths

log = logging.getLogger(__name__)

MAGIC = b"workbench-ranks 1\n"
FOLDER = "tokenizers"

Ranks = dict[bytes, int]


def cache_file(source: Path) -> Path:
    """Where the copy of ``source`` (``NAME.tiktoken.gz``) is kept."""
    return paths.cache_dir() / FOLDER / f"{source.name.removesuffix('.gz')}.ranks"


def load_ranks(source: Path, expected_hash: str | None, parse: Callable[[], Ranks]) -> Ranks:
    """The ranks of ``source``: from the cached copy when it is valid, else ``parse()`` (which
    reads and checks the source itself), caching what it returns. ``parse``'s errors (a source
    with the wrong hash) propagate and nothing is cached."""
    key = _key(source, expected_hash)
    target = cache_file(source)
    cached = _read(target, key)
    if cached is not None:
        return cached
    ranks = parse()
    _write(target, key, ranks)
    return ranks


def _key(source: Path, expected_hash: str | None) -> dict[str, object]:
    """What the cached copy must have been made from to stand in for ``source`` now."""
    stat = source.stat()
    return {
        "source": str(source),
        "size": stat.st_size,
        "mtime_ns": stat.st_mtime_ns,
        "expected_hash": expected_hash,
        "python": sys.implementation.cache_tag,
        "marshal": marshal.version,
    }


def _read(target: Path, key: dict[str, object]) -> Ranks | None:
    try:
        data = target.read_bytes()
    except OSError:
        return None  # not cached yet (or unreadable): parse the source
    try:
        header, payload = _split(data)
        if {k: header.get(k) for k in key} != key:
            log.debug("tokenizer cache %s is stale: rebuilding it", target)
            return None
        if hashlib.sha256(payload).hexdigest() != header.get("sha256"):
            raise ValueError("checksum mismatch")
        ranks = marshal.loads(payload)
        if not isinstance(ranks, dict) or len(ranks) != header.get("count"):
            raise ValueError("not the ranks it says it holds")
    except (ValueError, TypeError, EOFError) as err:
        log.debug("tokenizer cache %s is damaged (%s): rebuilding it", target, err)
        return None
    return ranks


def _split(data: bytes) -> tuple[dict[str, object], bytes]:
    """``MAGIC``, one JSON header line, then the marshalled ranks."""
    if not data.startswith(MAGIC):
        raise ValueError("not a ranks cache file")
    header_line, newline, payload = data[len(MAGIC) :].partition(b"\n")
    header = json.loads(header_line) if newline else None
    if not isinstance(header, dict):
        raise ValueError("no header")
    return header, payload


def _write(target: Path, key: dict[str, object], ranks: Ranks) -> None:
    """Replace the cached copy in one step (a reader never sees half a file)."""
    payload = marshal.dumps(ranks)
    header = {**key, "count": len(ranks), "sha256": hashlib.sha256(payload).hexdigest()}
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(MAGIC + json.dumps(header).encode() + b"\n" + payload)
            os.replace(temporary, target)
        except BaseException:
            os.unlink(temporary)
            raise
    except OSError as err:
        log.debug("cannot cache the tokenizer in %s: %s", target.parent, err)
