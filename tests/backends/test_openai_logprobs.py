"""Token log-probabilities through the OpenAI-compatible backend, against llama-cpp-python's real
server (the embedded SmolLM2) and OpenAI's documented shapes."""

from __future__ import annotations

import pytest

from tests.backends.conftest import stream_all
from workbench.backends.base import TokenLogprobs
from workbench.backends.openai_compat import OpenAICompatBackend, OpenAICompatOptions
from workbench.backends.openai_logprobs import chat_logprobs, completion_logprobs
from workbench.core.logprobs import Alternative, probability
from workbench.core.models import Params, RenderedMessage, RunRequest, RunResult

MESSAGES = [RenderedMessage(role="user", content="Write one sentence about the sea.")]


def make(base_url: str, **options: object) -> OpenAICompatBackend:
    return OpenAICompatBackend(OpenAICompatOptions(base_url=base_url, **options))  # type: ignore[arg-type]


def chat(base_url: str, streaming: bool) -> tuple[list[object], RunResult]:
    request = RunRequest(backend="openai_compat", messages=MESSAGES,
                         params=Params(max_tokens=10, temperature=0, top_logprobs=3))
    return stream_all(make(base_url, streaming=streaming), request)  # type: ignore[return-value]


@pytest.mark.slow
def test_streamed_chat_logprobs_from_the_real_server(llama_server_logprobs: str) -> None:
    events, result = chat(llama_server_logprobs, streaming=True)
    tokens = result.logprobs
    assert tokens, "the server returned no logprobs"
    assert len([e for e in events if isinstance(e, TokenLogprobs)]) == len(tokens)
    assert "".join(t.token for t in tokens) == result.text
    for token in tokens:
        assert token.logprob <= 0
        assert 1 <= len(token.top) <= 4  # llama-cpp-python adds the sampled token to the top k
        assert sum(probability(a.logprob) for a in token.top) <= 1 + 1e-6
        assert token.top[0].token == token.token  # temperature 0 takes the most probable token
    assert result.request.sent_params["top_logprobs"] == 3


@pytest.mark.slow
def test_whole_chat_answer_logprobs_from_the_real_server(llama_server_logprobs: str) -> None:
    """Not streamed, llama-cpp-python (0.3) leaves out the first token's entry and its logits
    come from a batch decode, so only the shape is checked: what it sends is what is kept."""
    _events, result = chat(llama_server_logprobs, streaming=False)
    tokens = result.logprobs
    assert tokens and result.text.endswith("".join(t.token for t in tokens))
    for token in tokens:
        assert token.logprob <= 0
        assert sum(probability(a.logprob) for a in token.top) <= 1 + 1e-6
        assert any(a.token == token.token for a in token.top)


@pytest.mark.slow
def test_completion_logprobs_from_the_real_server(llama_server_logprobs: str) -> None:
    request = RunRequest(backend="openai_compat", prompt="The sea is",
                         params=Params(max_tokens=6, temperature=0, top_logprobs=2))
    _events, result = stream_all(make(llama_server_logprobs), request)
    assert result.logprobs and len(result.logprobs) == 6  # max_tokens, all written
    assert "".join(t.token for t in result.logprobs) == result.text
    assert all(t.logprob <= 0 and t.top for t in result.logprobs)


def test_openais_chat_shape_with_bytes() -> None:
    data = {"content": [{"token": "é", "logprob": -0.5, "bytes": [195, 169],
                         "top_logprobs": [{"token": "é", "logprob": -0.5, "bytes": [195, 169]},
                                          {"token": "e", "logprob": -1.5, "bytes": [101]}]}]}
    (token,) = chat_logprobs(data)
    assert token.raw == "é".encode() and token.logprob == -0.5
    assert token.top == (Alternative("é", -0.5), Alternative("e", -1.5))


def test_the_completions_shape_is_sorted_most_probable_first() -> None:
    data = {"tokens": [" a"], "token_logprobs": [-0.7],
            "top_logprobs": [{" b": -2.0, " a": -0.7}], "text_offset": [0]}
    (token,) = completion_logprobs(data)
    assert [a.token for a in token.top] == [" a", " b"]


def test_a_logprob_that_is_not_a_number_is_refused() -> None:
    with pytest.raises(TypeError):
        chat_logprobs({"content": [{"token": "a", "logprob": "high"}]})
