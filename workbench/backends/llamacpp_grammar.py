"""Grammar-constrained sampling that checks the grammar only where it matters.

llama-cpp-python puts the grammar first in its sampler chain, so every token the grammar is run
over the whole vocabulary (49k tokens for SmolLM2): about a third of the decode rate on the
embedded model (bench/bench_structured.py). llama.cpp's own ``common_sampler`` does better, and
so does this: sample as if unconstrained, ask the grammar about that one token, and only when it
is refused sample again with the grammar applied to every candidate. Greedy decoding gives the
same tokens either way (the most probable token the grammar allows is the same token); sampling
differs as llama.cpp's does, only in the random draws of refused steps.

``Llama.generate`` builds its sampler with ``_init_sampler`` and calls only ``sample(ctx, idx)``
on it, so ``lazy_grammar`` substitutes one while a generation runs (llama-cpp-python 0.3.x).
"""

from __future__ import annotations

import ctypes
import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from workbench.core.errors import ParameterError
from workbench.core.gbnf import check


class LazyGrammarSampler:
    """Samples with ``free`` (the chain without the grammar), falling back to ``constrained`` (the
    same chain with it) when ``check`` (the grammar alone) refuses the token; every grammar state
    is advanced with the token finally chosen."""

    def __init__(self, free: Any, constrained: Any, check: Any) -> None:
        import llama_cpp

        self._llama = llama_cpp
        self.free, self.constrained, self.check = free, constrained, check
        self._one = (llama_cpp.llama_token_data * 1)()
        self._array = llama_cpp.llama_token_data_array(
            data=self._one, size=1, selected=-1, sorted=False
        )
        self.fallbacks = 0  # steps the grammar refused the free token (for tests and benches)

    def allows(self, token: int) -> bool:
        """Whether the grammar, in its current state, accepts ``token`` next."""
        self._one[0] = self._llama.llama_token_data(token, 0.0, 0.0)
        self._array.size, self._array.selected = 1, -1
        self._llama.llama_sampler_apply(self.check.sampler, ctypes.byref(self._array))
        return not math.isinf(self._one[0].logit)

    def sample(self, ctx: Any, idx: int = -1) -> int:
        lib = self._llama
        token = int(lib.llama_sampler_sample(self.free.sampler, ctx.ctx, idx))
        if self.allows(token):
            lib.llama_sampler_accept(self.constrained.sampler, token)
        else:
            self.fallbacks += 1
            token = int(lib.llama_sampler_sample(self.constrained.sampler, ctx.ctx, idx))
        lib.llama_sampler_accept(self.check.sampler, token)
        return token

    def close(self) -> None:
        for sampler in (self.free, self.constrained, self.check):
            sampler.close()


@contextmanager
def lazy_grammar(llm: Any, grammar: Any) -> Iterator[list[LazyGrammarSampler]]:
    """While inside, ``llm.generate(..., grammar=None)`` samples under ``grammar`` lazily; yields
    the samplers made (one per generation) so a caller can read their ``fallbacks``."""
    from llama_cpp import _internals

    made: list[LazyGrammarSampler] = []
    original = llm._init_sampler

    def init_sampler(**kwargs: Any) -> LazyGrammarSampler:
        kwargs.pop("grammar", None)
        check = _internals.LlamaSampler()
        check.add_grammar(llm._model, grammar)
        sampler = LazyGrammarSampler(
            original(**kwargs), original(**kwargs, grammar=grammar), check
        )
        made.append(sampler)
        return sampler

    llm._init_sampler = init_sampler
    try:
        yield made
    finally:
        del llm._init_sampler  # the class's own again
        for sampler in made:
            sampler.close()


def check_tokens(grammar: str, tokenize: Callable[[str], list[int]]) -> None:
    """Refuse a grammar naming a ``<token>`` the model's vocabulary does not have as one token:
    llama.cpp would refuse the grammar and crash (only the model can tell; ``core.gbnf`` checks
    the rest). ``tokenize`` is the model's, special tokens parsed as llama.cpp's parser does."""
    for token in check(grammar).tokens:
        count = len(tokenize(token.text))
        if count != 1:
            raise ParameterError(
                f"grammar {token.line}:{token.column}: {token.text} is not one token of this "
                f"model ({count} tokens)",
                hint="name a special token of this model, or its id as <[123]>",
            )
