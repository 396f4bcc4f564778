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

from workbench.core.logprobs import Alternative, TokenLogprob, from_openai, logprob_number


def request_fields(top_logprobs: int, chat: bool) -> dict[str, Any]:
    """The body fields asking for log-probabilities with ``top_logprobs`` alternatives."""
    if chat:
        return {"logprobs": True, "top_logprobs": top_logprobs}
    return {"logprobs": top_logprobs}


def chat_logprobs(data: Any) -> tuple[TokenLogprob, ...]:
    """The tokens of a chat choice's ``logprobs`` (None or empty: none). ``TypeError`` or
    ``KeyError`` for a malformed one, which the caller reports as a protocol error."""
    if not data:
        return ()
    return from_openai(data.get("content") or ())


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
            (Alternative(str(t), logprob_number(v)) for t, v in (top or {}).items()),
            key=lambda alt: alt.logprob,
            reverse=True,
        )
        tokens.append(TokenLogprob(str(token), logprob_number(value), str(token).encode("utf-8"),
                                   tuple(alternatives)))
    return tuple(tokens)
