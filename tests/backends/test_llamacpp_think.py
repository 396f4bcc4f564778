"""A local reasoning model's <think> block on the real embedded model, split as it streams.

SmolLM2 is no reasoning model, so it is made to write one: greedy decoding after a few-shot
prompt whose answers start with a think block, and a chat template that opens the tag in the
prompt (as Qwen3's and DeepSeek-R1's can), so the output starts inside the block.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.backends.conftest import stream_all
from workbench.backends.llamacpp import LOCAL_THINKING, LlamaCppBackend, LlamaCppOptions
from workbench.core.models import Params, ReasoningEffort, RenderedMessage, RunRequest

pytestmark = pytest.mark.slow

FEW_SHOT = (
    "Q: What is 2+2?\n<think>Two plus two is four.</think>\nA: 4\n\n"
    "Q: What is 3+3?\n<think>Three plus three is six.</think>\nA: 6\n\n"
    "Q: What is 5+5?\n"
)
OPENS_THINK = (
    "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}"
    "<|im_start|>assistant\n<think>\n"
)
GREEDY = Params(temperature=0, max_tokens=30)


@pytest.fixture(scope="module")
def llama() -> Iterator[LlamaCppBackend]:
    backend = LlamaCppBackend(LlamaCppOptions(n_ctx=1024))
    yield backend
    backend.close()


def test_a_think_block_streams_as_reasoning_before_the_answer(llama: LlamaCppBackend) -> None:
    events, result = stream_all(llama, RunRequest(backend="llamacpp", prompt=FEW_SHOT,
                                                  params=GREEDY))
    kinds = [e.kind for e in events if e.kind in ("reasoning", "text")]
    assert kinds and kinds[0] == "reasoning" and "text" in kinds
    assert kinds == sorted(kinds)  # every reasoning piece before the first answer piece
    assert result.reasoning.strip() and "think>" not in result.reasoning
    assert result.text.startswith("A:") and "think>" not in result.text
    assert "".join(e.text for e in events if e.kind == "reasoning") == result.reasoning
    usage = result.usage
    assert usage.reasoning_tokens and usage.output_tokens
    assert 0 < usage.reasoning_tokens < usage.output_tokens


def test_a_template_that_opens_the_tag_makes_the_output_start_inside_it() -> None:
    backend = LlamaCppBackend(LlamaCppOptions(n_ctx=1024, chat_template=OPENS_THINK))
    try:
        question = [RenderedMessage(role="user", content="Name three colours of the rainbow.")]
        _events, result = stream_all(
            backend, RunRequest(backend="llamacpp", messages=question, params=GREEDY)
        )
    finally:
        backend.close()
    assert (result.request.raw_prompt or "").rstrip().endswith("<think>")
    # SmolLM2 never closes the block: everything it wrote is reasoning, no answer
    assert result.reasoning.strip() and result.text == ""
    assert result.usage.reasoning_tokens == result.usage.output_tokens


# Qwen3's switch, as its chat template writes it: thinking off is an empty think block.
SWITCHED = (
    "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n"
    "{% if enable_thinking is defined and enable_thinking is false %}<think>\n\n</think>\n\n"
    "{% endif %}{% endif %}"
)
QUESTION = [RenderedMessage(role="user", content="Name a colour.")]


def test_a_model_whose_template_writes_no_think_block_takes_no_reasoning(
    llama: LlamaCppBackend,
) -> None:
    caps = llama.model_capabilities("")  # SmolLM2, the embedded model
    for name in ("reasoning_effort", "thinking_budget"):
        assert caps.status(name) == "ignored"
        assert "chat template writes no <think> block: it does not reason" in (
            caps.params[name].note
        )
    _events, result = stream_all(llama, RunRequest(
        backend="llamacpp", messages=QUESTION,
        params=Params(reasoning_effort="high", max_tokens=2)))
    assert result.request.ignored_params["reasoning_effort"] == "high"


def test_a_reasoning_template_without_a_switch_thinks_as_trained() -> None:
    backend = LlamaCppBackend(LlamaCppOptions(n_ctx=512, chat_template=OPENS_THINK))
    caps = backend.model_capabilities("")
    assert caps.status("reasoning_effort") == "ignored"
    assert caps.params["reasoning_effort"].note == LOCAL_THINKING
    backend.close()


def test_a_templates_thinking_switch_takes_an_effort_minimal_turning_thinking_off() -> None:
    backend = LlamaCppBackend(LlamaCppOptions(n_ctx=512, chat_template=SWITCHED))
    try:
        caps = backend.model_capabilities("")
        assert caps.status("reasoning_effort") == "supported"
        assert "minimal turns thinking off" in caps.params["reasoning_effort"].note
        assert caps.status("thinking_budget") == "ignored"

        def raw(effort: ReasoningEffort | None) -> str:
            request = RunRequest(backend="llamacpp", messages=QUESTION,
                                 params=Params(reasoning_effort=effort, max_tokens=4))
            return str(backend.preview(request).raw_prompt)

        assert raw("minimal").endswith("<|im_start|>assistant\n<think>\n\n</think>\n\n")
        assert raw("high").endswith("<|im_start|>assistant\n") and raw(None) == raw("high")
        _events, result = stream_all(backend, RunRequest(
            backend="llamacpp", messages=QUESTION,
            params=Params(reasoning_effort="minimal", temperature=0, max_tokens=4)))
    finally:
        backend.close()
    assert result.request.sent_params["reasoning_effort"] == "minimal"
    assert (result.request.raw_prompt or "").endswith("</think>\n\n")  # what the model read
    assert result.reasoning == "" and result.finish_reason in ("stop", "length")
