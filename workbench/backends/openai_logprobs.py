"""Token log-probabilities in OpenAI's two wire shapes, asked for and read back.

Chat completions take ``logprobs: true, top_logprobs: k`` and answer, per choice,
``logprobs.content``: a list of ``{token, logprob, bytes, top_logprobs: [{token, logprob,
bytes}]}`` (``bytes`` may be null, as llama-cpp-python's server sends it). The legacy
completions endpoint takes ``logprobs: k`` and answers parallel lists ``tokens``,
``token_logprobs`` and ``top_logprobs`` (one ``{token: logprob}`` mapping per token).
Both become ``TokenLogprob`` tuples.
"""

from __future__ import annotations

from typing import Any

from workbench.core.logprobs import Alternative, TokenLogprob


def request_fields(top_logprobs: int, chat: bool) -> dict[str, Any]:
    """The body fields asking for log-probabilities with ``top_logprobs`` alternatives."""
    if chat:
        return {"logprobs": True, "top_logprobs": top_logprobs}
    return {"logprobs": top_logprobs}


def _raw(token: str, data: Any) -> bytes:
    """A token's bytes as sent (a list of ints), else its text's UTF-8."""
    if isinstance(data, list) and all(isinstance(b, int) and 0 <= b < 256 for b in data):
        return bytes(data)
    return token.encode("utf-8")


def _number(value: Any) -> float:
    """A logprob; null (llama-cpp-python's first completion token) reads as 0, not a crash."""
    if value is None:
        return 0.0
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"a logprob must be a number, not {value!r}")
    return float(value)


def chat_logprobs(data: Any) -> tuple[TokenLogprob, ...]:
    """The tokens of a chat choice's ``logprobs`` (None or empty: none). ``TypeError`` or
    ``KeyError`` for a malformed one, which the caller reports as a protocol error."""
    if not data:
        return ()
    content = data.get("content") or ()
    tokens: list[TokenLogprob] = []
    for item in content:
        token = str(item["token"])
        top = tuple(
            Alternative(str(alt["token"]), _number(alt["logprob"]))
            for alt in item.get("top_logprobs") or ()
        )
        tokens.append(TokenLogprob(token, _number(item["logprob"]),
                                   _raw(token, item.get("bytes")), top))
    return tuple(tokens)


def completion_logprobs(data: Any) -> tuple[TokenLogprob, ...]:
    """The tokens of a completions choice's ``logprobs`` (parallel lists)."""
    if not data:
        return ()
    names = data.get("tokens") or ()
    values = data.get("token_logprobs") or ()
    tops = data.get("top_logprobs") or [None] * len(names)
    tokens: list[TokenLogprob] = []
    for token, value, top in zip(names, values, tops, strict=True):
        alternatives = sorted(
            (Alternative(str(t), _number(v)) for t, v in (top or {}).items()),
            key=lambda alt: alt.logprob,
            reverse=True,
        )
        tokens.append(TokenLogprob(str(token), _number(value), _raw(str(token), None),
                                   tuple(alternatives)))
    return tuple(tokens)
