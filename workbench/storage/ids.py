"""Sortable ids: 26-character, time-ordered strings in the spirit of ULID.

The first 10 characters encode milliseconds since the epoch, the last 16 carry 80 random bits,
both in Crockford base32, so sorting ids as strings sorts them by creation time. Within one
process ids are strictly increasing even inside the same millisecond (the random part is
incremented), which keeps "most recent first" exact for runs written by one writer.
"""

from __future__ import annotations

import secrets
import threading
import time
from datetime import UTC, datetime

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_INDEX = {c: i for i, c in enumerate(_ALPHABET)}
_RANDOM_BITS = 80
_lock = threading.Lock()
_last_ms = -1
_last_random = 0


def _encode(value: int, length: int) -> str:
    chars = []
    for _ in range(length):
        value, digit = divmod(value, 32)
        chars.append(_ALPHABET[digit])
    return "".join(reversed(chars))


def new_id() -> str:
    """A new id, greater than every id this process made before."""
    global _last_ms, _last_random
    with _lock:
        ms = int(time.time() * 1000)
        if ms <= _last_ms:
            # Same millisecond (or the clock went back): stay ordered by counting on.
            ms = _last_ms
            random_part = _last_random + 1
            if random_part >= 1 << _RANDOM_BITS:
                ms += 1
                random_part = secrets.randbits(_RANDOM_BITS - 1)
        else:
            # Leave headroom so counting on within a millisecond never overflows in practice.
            random_part = secrets.randbits(_RANDOM_BITS - 1)
        _last_ms, _last_random = ms, random_part
    return _encode(ms, 10) + _encode(random_part, 16)


def id_time(value: str) -> datetime:
    """The creation time encoded in an id (UTC, millisecond precision)."""
    if len(value) != 26:
        raise ValueError(f"not an id: {value!r}")
    ms = 0
    for char in value[:10].upper():
        if char not in _INDEX:
            raise ValueError(f"not an id: {value!r}")
        ms = ms * 32 + _INDEX[char]
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


def is_id(value: str) -> bool:
    return len(value) == 26 and all(c in _INDEX for c in value.upper())


def now_iso() -> str:
    """The current UTC time as stored in the database: ISO 8601 with milliseconds and a Z."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
