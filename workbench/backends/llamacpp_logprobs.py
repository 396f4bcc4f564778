"""Token log-probabilities for llama.cpp in process, read from the logits of each sampled step.

``Llama.generate`` samples inside llama.cpp's sampler chain and keeps no scores unless the model
was loaded with ``logits_all`` (which costs memory and time for every prompt token). When a token
is yielded, the context still holds the logits it was sampled from (the next decode has not run),
so one log-softmax over the vocabulary gives the token's log-probability and its top-k, at the
cost of one pass over the vocabulary per token, and only for runs that ask. These are the
model's own probabilities before temperature, penalties and grammar, as OpenAI-compatible servers
report them.
"""

from __future__ import annotations

from typing import Any

from workbench.core.logprobs import Alternative, TokenLogprob


class StepLogprobs:
    """Reads each sampled step's distribution from a ``Llama``'s context."""

    def __init__(self, llm: Any, top_k: int) -> None:
        import llama_cpp  # imported only when a model runs, as the backend does

        self._llm = llm
        self._get = llama_cpp.llama_get_logits_ith
        self._ctx = llm._ctx.ctx
        self._n_vocab = int(llm.n_vocab())
        self._top_k = top_k
        self._pieces: dict[int, str] = {}

    def _piece(self, token: int) -> str:
        piece = self._pieces.get(token)
        if piece is None:
            raw = bytes(self._llm.detokenize([token]))
            piece = self._pieces[token] = raw.decode("utf-8", errors="replace")
        return piece

    def step(self, token: int, raw: bytes) -> TokenLogprob:
        """The log-probability of ``token`` (sampled from the last logits) and the top-k."""
        import numpy as np  # here, not at the top: the backend module loads for every count

        pointer = self._get(self._ctx, -1)
        logits = np.ctypeslib.as_array(pointer, shape=(self._n_vocab,))
        peak = float(logits.max())
        log_total = peak + float(np.log(np.exp(logits - peak).sum()))
        top: tuple[Alternative, ...] = ()
        if self._top_k:
            best = np.argpartition(logits, -self._top_k)[-self._top_k :]
            best = best[np.argsort(logits[best])[::-1]]
            top = tuple(
                Alternative(self._piece(int(i)), float(logits[i]) - log_total) for i in best
            )
        logprob = float(logits[token]) - log_total
        return TokenLogprob(raw.decode("utf-8", errors="replace"), logprob, raw, top)
