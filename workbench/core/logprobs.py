"""Token log-probabilities: what the model thought of each token it wrote, and its runners-up.

Named tuples, not pydantic models: a backend makes one per generated token (with up to 20
alternatives each), and the token inspector reads thousands of them. Stored per run as one packed,
compressed blob (``pack``/``unpack``), not as JSON rows: ~2,000 tokens with top-5 alternatives take
a few tens of kilobytes instead of hundreds.
"""

from __future__ import annotations

import codecs
import math
import struct
import zlib
from collections.abc import Iterable, Sequence
from typing import Any, NamedTuple

#: Most alternatives a backend is asked for (OpenAI's limit for ``top_logprobs``).
MAX_TOP_LOGPROBS = 20
#: -inf (a token that could not be sampled) in JSON, which has no infinities.
LOWEST = -1e30
_PACK_VERSION = 1
_HEADER = struct.Struct("<BI")  # version, token count
_ENTRY = struct.Struct("<fHB")  # logprob, byte length, alternative count
_ALT = struct.Struct("<fH")  # logprob, byte length


class Alternative(NamedTuple):
    """A token the model could have written instead, with its log-probability."""

    token: str
    logprob: float


class TokenLogprob(NamedTuple):
    """One written token: its text, raw bytes (a token may hold part of a UTF-8 character),
    log-probability and the most probable tokens at that step (the sampled one may be among
    them)."""

    token: str
    logprob: float
    raw: bytes
    top: tuple[Alternative, ...] = ()


def probability(logprob: float) -> float:
    """``exp(logprob)``, 0 for -inf (a token the sampler could never have picked)."""
    return math.exp(logprob) if logprob > -math.inf else 0.0


def mean_logprob(tokens: Sequence[TokenLogprob]) -> float | None:
    """The mean log-probability of the written tokens (None for none); -inf stays -inf."""
    if not tokens:
        return None
    return math.fsum(t.logprob for t in tokens) / len(tokens)


def perplexity(tokens: Sequence[TokenLogprob]) -> float | None:
    """``exp(-mean logprob)``: 1 when every token was certain, the number of equally likely
    choices the model was effectively torn between otherwise."""
    mean = mean_logprob(tokens)
    if mean is None:
        return None
    return math.inf if mean == -math.inf else math.exp(-mean)


def token_texts(tokens: Iterable[TokenLogprob]) -> list[str]:
    """Each token's share of the decoded text: bytes decoded incrementally, so a character split
    over two tokens belongs to the one that completes it and the pieces join to the answer."""
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    pieces = [decoder.decode(t.raw) for t in tokens]
    rest = decoder.decode(b"", final=True)
    if rest and pieces:
        pieces[-1] += rest
    return pieces


def _raw(token: str, data: Any) -> bytes:
    """A token's bytes as sent (a list of ints), else its text's UTF-8."""
    if isinstance(data, list) and all(isinstance(b, int) and 0 <= b < 256 for b in data):
        return bytes(data)
    return token.encode("utf-8")


def logprob_number(value: Any) -> float:
    """A logprob read from JSON; null (llama-cpp-python's first completion token) reads as 0,
    not a crash."""
    if value is None:
        return 0.0
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"a logprob must be a number, not {value!r}")
    return float(value)


def from_openai(items: Iterable[Any]) -> tuple[TokenLogprob, ...]:
    """Tokens from OpenAI's chat shape, ``[{token, logprob, bytes, top_logprobs: [{token,
    logprob}]}]`` (``bytes`` may be null). ``TypeError``/``KeyError`` for a malformed one."""
    tokens: list[TokenLogprob] = []
    for item in items:
        token = str(item["token"])
        top = tuple(
            Alternative(str(alt["token"]), logprob_number(alt["logprob"]))
            for alt in item.get("top_logprobs") or ()
        )
        tokens.append(TokenLogprob(token, logprob_number(item["logprob"]),
                                   _raw(token, item.get("bytes")), top))
    return tuple(tokens)


def to_openai(tokens: Iterable[TokenLogprob]) -> list[dict[str, Any]]:
    """Tokens in OpenAI's chat shape (what ``from_openai`` reads): for exports."""
    return [
        {
            "token": t.token,
            "logprob": max(t.logprob, LOWEST),
            "bytes": list(t.raw),
            "top_logprobs": [{"token": a.token, "logprob": max(a.logprob, LOWEST)}
                             for a in t.top],
        }
        for t in tokens
    ]


def clip(tokens: list[TokenLogprob], chars: int) -> list[TokenLogprob]:
    """The tokens that wrote the first ``chars`` characters of the answer: those generated past
    a stop sequence (scanned for, then cut from the text) are dropped."""
    total = 0
    for index, piece in enumerate(token_texts(tokens)):
        if total >= chars and piece:
            return tokens[:index]
        total += len(piece)
    return tokens


def pack(tokens: Sequence[TokenLogprob]) -> bytes:
    """A compact blob of ``tokens`` (float32 logprobs, UTF-8 alternatives, zlib)."""
    parts = [_HEADER.pack(_PACK_VERSION, len(tokens))]
    for token in tokens:
        raw = token.raw[:0xFFFF]
        top = token.top[:255]
        parts.append(_ENTRY.pack(token.logprob, len(raw), len(top)))
        parts.append(raw)
        for alt in top:
            text = alt.token.encode("utf-8", "surrogatepass")[:0xFFFF]
            parts.append(_ALT.pack(alt.logprob, len(text)))
            parts.append(text)
    return zlib.compress(b"".join(parts), 6)


def unpack(blob: bytes) -> list[TokenLogprob]:
    """The tokens ``pack`` stored; a ``ValueError`` for a blob it did not write."""
    try:
        data = zlib.decompress(blob)
        version, count = _HEADER.unpack_from(data, 0)
        if version != _PACK_VERSION:
            raise ValueError(f"token data version {version} is not one this app reads")
        offset = _HEADER.size
        tokens: list[TokenLogprob] = []
        for _ in range(count):
            logprob, length, n_top = _ENTRY.unpack_from(data, offset)
            offset += _ENTRY.size
            raw = data[offset : offset + length]
            offset += length
            top: list[Alternative] = []
            for _ in range(n_top):
                alt_logprob, alt_length = _ALT.unpack_from(data, offset)
                offset += _ALT.size
                text = data[offset : offset + alt_length].decode("utf-8", "replace")
                offset += alt_length
                top.append(Alternative(text, alt_logprob))
            tokens.append(
                TokenLogprob(raw.decode("utf-8", "replace"), logprob, raw, tuple(top))
            )
    except (zlib.error, struct.error) as err:
        raise ValueError(f"unreadable token data: {err}") from None
    return tokens
