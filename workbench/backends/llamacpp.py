"""``llamacpp``: any GGUF model, run in this process by llama-cpp-python.

The chat template embedded in the GGUF is used (and shown: ``SentRequest.raw_prompt`` is the exact
text after it); a GGUF without one runs completion prompts only, never a guessed format. A model
is loaded on first use, kept loaded, and runs one generation at a time. A seeded run resets the
prompt cache first, which is what makes it reproducible.
"""

from __future__ import annotations

import codecs
import functools
import secrets
import time
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import replace
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as dist_version
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, model_validator

from workbench.backends import local_models
from workbench.backends.base import (
    Backend,
    BackendOptions,
    Cancelled,
    CancelToken,
    Failed,
    Finished,
    ModelInfo,
    ReasoningDelta,
    Started,
    StreamEvent,
    TextDelta,
    TokenLogprobs,
    UsageUpdate,
)
from workbench.backends.chat_template import NAMED_FORMATS, has_thinking_switch, reasons
from workbench.backends.gguf_files import KvCacheType
from workbench.backends.llamacpp_grammar import check_tokens, lazy_grammar
from workbench.backends.llamacpp_load import LoadSettings, ModelLoadSettings, resolve
from workbench.backends.llamacpp_logprobs import StepLogprobs
from workbench.backends.llamacpp_runtime import (
    GgufTokenizer,
    LlamaHandle,
    ModelPool,
    PreparedPrompt,
    vocab,
)
from workbench.backends.local_models import LocalModel
from workbench.backends.stops import StopScanner
from workbench.backends.structured import gbnf
from workbench.backends.think import OPEN, Piece, ThinkSplitter
from workbench.core.errors import BackendError, KnownError
from workbench.core.logprobs import TokenLogprob, clip
from workbench.core.models import (
    FinishReason,
    Params,
    RunRequest,
    RunResult,
    SentRequest,
    Timings,
    Usage,
)
from workbench.core.params import Capabilities, ParamCapability

#: llama-cpp-python's own sampling defaults, sent explicitly so every result records them.
SAMPLING_DEFAULTS: dict[str, float | int] = {
    "temperature": 0.8,
    "top_p": 0.95,
    "top_k": 40,
    "min_p": 0.05,
    "presence_penalty": 0.0,
    "frequency_penalty": 0.0,
    "repetition_penalty": 1.0,
}
#: Common parameter name -> ``Llama.create_completion`` keyword.
_LLAMA_NAMES = {"repetition_penalty": "repeat_penalty"}


class LlamaCppOptions(BackendOptions):
    model_path: str | None = Field(
        default=None,
        description="A GGUF file to run when a run names no model (default: the embedded SmolLM2)",
    )
    model_dirs: list[str] = Field(
        default_factory=list,
        description="Folders searched for GGUF files, besides the app's own models folder",
    )
    n_ctx: int = Field(
        default=4096,
        ge=256,
        le=1_048_576,
        description="Context window in tokens: prompt plus answer",
    )
    n_threads: int = Field(
        default=1,
        ge=1,
        le=256,
        description="CPU threads. 1 is the safe default: with 2 threads on a busy 2-core machine "
        "generation collapses to a few tokens/s",
    )
    chat_format: str | None = Field(
        default=None,
        description="Use a named chat format instead of the GGUF's template: "
        + ", ".join(NAMED_FORMATS),
    )
    chat_template: str | None = Field(
        default=None, description="Use this Jinja chat template instead of the GGUF's"
    )
    mode: Literal["auto", "completion"] = Field(
        default="auto",
        description="auto: chat templates through the model's chat template, completion templates "
        "as raw text; completion: chat messages too are sent as raw text (for base models)",
    )
    default_max_tokens: int = Field(
        default=1024, ge=1, description="Answer length limit for runs that set no max_tokens"
    )
    keep_loaded: int = Field(default=2, ge=1, le=16, description="Models kept in memory for reuse")
    n_gpu_layers: int = Field(
        default=0,
        ge=-1,
        description="Layers put on the GPU (-1: all) when llama.cpp is built with GPU support",
    )
    kv_cache_type: KvCacheType = Field(
        default="f16",
        description="KV cache element type: f16, or q8_0/q4_0 etc. for a smaller cache (uses "
        "flash attention)",
    )
    models: dict[str, ModelLoadSettings] = Field(
        default_factory=dict,
        description="Load settings per GGUF file (absolute path -> n_ctx, n_threads, "
        "n_gpu_layers, kv_cache_type), over the defaults above; the model picker saves them",
    )

    @model_validator(mode="after")
    def _one_template_choice(self) -> LlamaCppOptions:
        if self.chat_format is not None and self.chat_format not in NAMED_FORMATS:
            raise ValueError(f"chat_format must be one of {', '.join(NAMED_FORMATS)}")
        if self.chat_format and self.chat_template:
            raise ValueError("set chat_format or chat_template, not both")
        return self


#: Why a local model's reasoning settings are greyed out.
#: Why the in-process model gets no tools.
#: Why images are greyed on the embedded model (llama-cpp-python's vision needs a separate
#: projector file and chat handler, which this backend does not load).
NO_VISION = "the embedded model cannot see images"
LOCAL_TOOLS = (
    "the in-process model's chat template is run without tools (SmolLM2's has none): serve a "
    "tool-calling model with llama-server --jinja and use it as an OpenAI-compatible server"
)
LOCAL_THINKING = (
    "a local model thinks as it was trained to; its <think> block is shown apart from the answer"
)
LOCAL_SWITCH = (
    "the chat template's enable_thinking switch: minimal turns thinking off (an empty <think> "
    "block), low, medium and high let the model think as it was trained to"
)


class LlamaCppBackend(Backend):
    id = "llamacpp"
    display_name = "Local (llama.cpp)"
    Options = LlamaCppOptions
    runs_locally = True
    continues_answers = True
    options: LlamaCppOptions

    def __init__(self, options: BackendOptions | None = None) -> None:
        super().__init__(options)
        self._pool = ModelPool(self.options.keep_loaded)

    # --- description --------------------------------------------------------------------------

    def capabilities(self) -> Capabilities:
        return Capabilities.supporting(
            "temperature",
            "top_p",
            "top_k",
            "min_p",
            "max_tokens",
            "stop",
            "presence_penalty",
            "frequency_penalty",
            "repetition_penalty",
            "seed",
            n=ParamCapability(supported=False, note="one answer per run"),
            reasoning_effort=ParamCapability(supported=False, note=LOCAL_THINKING),
            thinking_budget=ParamCapability(supported=False, note=LOCAL_THINKING),
            best_of=ParamCapability(supported=False, note="one answer per run"),
            top_logprobs=ParamCapability(
                maximum=20, note="from the model's logits at each step, before sampling"
            ),
        ).with_formats(
            json_object=ParamCapability(note="grammar-constrained decoding"),
            json_schema=ParamCapability(note="grammar-constrained decoding"),
            grammar=ParamCapability(note="grammar-constrained decoding"),
        ).with_tools(LOCAL_TOOLS, supported=False).with_vision(NO_VISION, supported=False
        ).with_defaults({**SAMPLING_DEFAULTS, "max_tokens": self.options.default_max_tokens})

    def model_capabilities(self, model: str) -> Capabilities:
        """Reasoning by the model's chat template: one writing no ``<think>`` block is no
        reasoning model; one with a thinking switch (Qwen3's ``enable_thinking``) takes an
        effort, "minimal" turning thinking off."""
        table = self.capabilities()
        try:
            found = self.find_model(model)
            source = self.chat_template_source(model)
        except KnownError:
            return table  # running it says why
        if source is None or not reasons(source[1]):
            note = f"{found.id}'s chat template writes no <think> block: it does not reason"
            return table.with_overrides(dict.fromkeys(
                ("reasoning_effort", "thinking_budget"), ParamCapability(supported=False, note=note)
            ))
        if has_thinking_switch(source[1]):
            return table.with_overrides({"reasoning_effort": ParamCapability(note=LOCAL_SWITCH)})
        return table

    def default_max_tokens(self) -> int | None:
        return self.options.default_max_tokens

    def version(self) -> str:
        return _runtime_version()

    def available_models(self) -> list[LocalModel]:
        return local_models.discover(self.options.model_path, self.options.model_dirs)

    def list_models(self) -> list[ModelInfo]:
        # The window a run gets is the configured n_ctx (llama.cpp allocates exactly that).
        return [
            ModelInfo(id=m.id, description=m.description, context_window=self.load(m).n_ctx)
            for m in self.available_models()
        ]

    def load(self, model: LocalModel) -> LoadSettings:
        """How ``model`` is loaded: its own remembered settings over the defaults."""
        return resolve(self.options, model.path)

    def find_model(self, model: str) -> LocalModel:
        return local_models.find(model, self.options.model_path, self.options.model_dirs)

    def model_vocab(self, model: str) -> LlamaHandle:
        """Metadata, chat template and tokenizer of a model, without loading its weights."""
        return vocab(self.find_model(model).resolved_path())

    def chat_template_source(self, model: str) -> tuple[str, str] | None:
        """``(origin, Jinja source)`` of the template chats run with, for the UI to show;
        None when the model has none."""
        template = self.model_vocab(model).chat_template(
            self.options.chat_format, self.options.chat_template
        )
        return None if template is None else (template.origin, template.source)

    def preview(self, request: RunRequest) -> PreparedPrompt:
        """The raw prompt and its exact tokens for ``request``, without loading the weights."""
        handle = self.model_vocab(request.model)
        with handle.lock:
            return self._prepare(handle, request)

    def tokenizer(self, model: str) -> GgufTokenizer:
        found = self.find_model(model)
        return GgufTokenizer(found.resolved_path(), found.id)

    # --- running --------------------------------------------------------------------------------

    def _prepare(self, handle: LlamaHandle, request: RunRequest) -> PreparedPrompt:
        return handle.prepare(
            list(request.messages),
            request.prompt,
            mode=self.options.mode,
            chat_format=self.options.chat_format,
            custom_template=self.options.chat_template,
            enable_thinking=self._thinking_switch(handle, request.params),
        )

    def _thinking_switch(self, handle: LlamaHandle, params: Params) -> bool | None:
        """The chat template's thinking switch for a run's reasoning effort (None: untouched,
        no effort asked or no switch to set)."""
        template = handle.chat_template(self.options.chat_format, self.options.chat_template)
        effort = params.reasoning_effort
        if effort is None or template is None or not has_thinking_switch(template.source):
            return None
        return effort != "minimal"

    def sampling(
        self, params: Params, capabilities: Capabilities | None = None
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """``(sent, ignored)``: every sampling value this run uses, defaults included
        (``capabilities``: the model's, ``model_capabilities``; default the backend's)."""
        chosen, ignored = (capabilities or self.capabilities()).split(params)
        sent: dict[str, Any] = {**SAMPLING_DEFAULTS, "max_tokens": self.options.default_max_tokens}
        sent.update(chosen)
        return sent, ignored

    def stream(self, request: RunRequest, cancel: CancelToken) -> Iterator[StreamEvent]:
        sent = SentRequest(
            backend=self.id,
            backend_version=self.version(),
            model=request.model,
            messages=request.messages,
            prompt=request.prompt,
            seed=request.params.seed,
        )
        load_s: float | None = None
        try:
            self.capabilities().check_images(request)  # before loading: no model to wait for
            sent_params, ignored = self.sampling(
                request.params, self.model_capabilities(request.model)
            )
            response_format, dropped = self.capabilities().split_format(request.response_format)
            grammar = None if response_format is None else gbnf(response_format)
            _tools, _choice, unsent_tools = self.capabilities().split_tools(request)
            sent = sent.model_copy(update={
                "sent_params": sent_params,
                "ignored_params": {**ignored, **dropped, **unsent_tools},
                "response_format": response_format,
            })
            model = self.find_model(request.model)
            sent = sent.model_copy(update={"model": model.id})
            load = self.load(model)
            handle, load_s = self._pool.get(
                model.resolved_path(),
                n_ctx=load.n_ctx,
                n_threads=load.n_threads,
                **load.llama_extras(),
            )
        except KnownError as err:
            yield _failed(sent, err, Timings(load_s=load_s))
            return
        if not _acquire(handle, cancel):
            yield Cancelled(
                result=RunResult(
                    request=sent, finish_reason="cancelled", timings=Timings(load_s=load_s)
                )
            )
            return
        try:
            yield from self._run_locked(handle, request, sent, load_s, cancel, grammar)
        finally:
            handle.lock.release()

    def _run_locked(
        self,
        handle: LlamaHandle,
        request: RunRequest,
        sent: SentRequest,
        load_s: float,
        cancel: CancelToken,
        grammar: str | None = None,
    ) -> Iterator[StreamEvent]:
        start = time.perf_counter()  # time to first token includes rendering and tokenizing
        lead = request.continue_from or ""
        try:
            prepared = self._prepare(handle, request)
            opens_think = prompt_opens_think(prepared.raw_prompt) and not lead
            if lead:  # a branch: the answer so far is read as if the model had written it
                prepared = replace(prepared, raw_prompt=prepared.raw_prompt + lead,
                                   tokens=[*prepared.tokens, *handle.tokenize(lead)])
            if grammar is not None:
                check_tokens(grammar, handle.tokenize)
            if len(prepared.tokens) >= handle.llm.n_ctx():
                raise BackendError(
                    f"the prompt is {len(prepared.tokens):,} tokens but the context window is "
                    f"{handle.llm.n_ctx():,}",
                    hint="shorten the prompt or raise n_ctx in the backend settings",
                )
        except KnownError as err:
            yield _failed(sent, err, Timings(load_s=load_s))
            return
        sent = sent.model_copy(
            update={"raw_prompt": prepared.raw_prompt, "continue_from": lead or None}
        )
        yield Started(request=sent)
        if lead:
            yield TextDelta(lead)

        sampling = dict(sent.sent_params)
        stops = [*sampling.pop("stop", []), *prepared.stops]
        top_logprobs = sampling.pop("top_logprobs", None)
        seed = sampling.pop("seed", None)
        limit = min(sampling.pop("max_tokens"), handle.llm.n_ctx() - len(prepared.tokens))
        llm = handle.llm
        steps = None if top_logprobs is None else StepLogprobs(llm, top_logprobs)
        scored: list[TokenLogprob] = []
        if seed is None:
            llm.set_seed(secrets.randbits(32))
        else:
            llm.reset()  # a warm prompt cache changes the numbers; reproducible needs it cold
            llm.set_seed(seed)

        scanner = StopScanner(stops)
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        # A reasoning model's <think> block, split from the answer (one whose chat template
        # opens the tag in the prompt starts inside it).
        splitter = ThinkSplitter(starts_inside=opens_think)
        text: list[str] = [lead] if lead else []
        thought: list[str] = []
        reasoning_tokens = 0
        output_tokens = 0
        finish: FinishReason = "length"
        cancelled = False
        error: KnownError | None = None
        first: float | None = None
        constrained = ExitStack()
        if grammar is not None:
            constrained.enter_context(lazy_grammar(llm, _llama_grammar(grammar)))
        tokens = llm.generate(
            prepared.tokens,
            temp=sampling["temperature"],
            top_p=sampling["top_p"],
            top_k=sampling["top_k"],
            min_p=sampling["min_p"],
            presence_penalty=sampling["presence_penalty"],
            frequency_penalty=sampling["frequency_penalty"],
            repeat_penalty=sampling["repetition_penalty"],
        )
        try:
            for token in tokens:
                if handle.is_end_of_generation(token):  # sampled, but not part of the answer
                    finish = "stop"
                    break
                output_tokens += 1
                raw = llm.detokenize([token])
                piece = scanner.feed(decoder.decode(raw))
                inside = splitter.thinking
                if piece:
                    first = first if first is not None else time.perf_counter()
                    if splitter.answering:
                        text.append(piece)
                        yield TextDelta(piece)
                    else:
                        yield from _split(splitter.feed(piece), text, thought)
                thinking = inside or splitter.thinking  # the token was (or opened) reasoning
                reasoning_tokens += thinking
                if steps is not None and not thinking:  # the answer's tokens only
                    scored.append(steps.step(token, raw))
                    yield TokenLogprobs((scored[-1],))
                if scanner.stopped:
                    finish = "stop"
                    break
                if output_tokens >= limit:
                    break
                if cancel.cancelled:
                    cancelled = True
                    break
            if not (scanner.stopped or cancelled):
                rest = scanner.feed(decoder.decode(b"", final=True)) + scanner.flush()
                if rest:
                    first = first if first is not None else time.perf_counter()
                    yield from _split(splitter.feed(rest), text, thought)
            yield from _split(splitter.flush(), text, thought)
        except (RuntimeError, ValueError) as err:  # llama.cpp decode failures
            error = BackendError(f"llama.cpp failed while generating: {err}")
        finally:
            tokens.close()
            constrained.close()
        end = time.perf_counter()

        usage = Usage(
            input_tokens=len(prepared.tokens),
            output_tokens=output_tokens,
            reasoning_tokens=reasoning_tokens if thought else None,
        )
        timings = Timings(
            load_s=load_s,
            ttft_s=None if first is None else first - start,
            total_s=end - start,
            tokens_per_s=decode_rate(output_tokens, first, end),
        )
        yield UsageUpdate(usage=usage)
        answer = "".join(text)
        result = RunResult(
            request=sent, text=answer, reasoning="".join(thought), finish_reason=finish,
            usage=usage, timings=timings,
            logprobs=clip(scored, len(answer) - len(lead)) if steps is not None else None,
        )
        if error is not None:
            yield _failed(sent, error, timings, text=result.text, usage=usage,
                          reasoning=result.reasoning)
        elif cancelled:
            yield Cancelled(result=result.model_copy(update={"finish_reason": "cancelled"}))
        else:
            yield Finished(result=result)

    def close(self) -> None:
        self._pool.close()


@functools.cache
def _runtime_version() -> str:
    try:
        return f"llama-cpp-python {dist_version('llama-cpp-python')}"
    except PackageNotFoundError:
        return "llama-cpp-python (not installed)"


def _llama_grammar(text: str) -> Any:
    """A ``LlamaGrammar`` for GBNF ``text`` (llama.cpp is imported only when a model runs)."""
    from llama_cpp import LlamaGrammar

    return LlamaGrammar.from_string(text, verbose=False)


def decode_rate(output_tokens: int, first: float | None, end: float) -> float | None:
    """Tokens per second after the first one: the first token's wait is TTFT, not throughput."""
    if first is None or output_tokens < 2 or end <= first:
        return None
    return (output_tokens - 1) / (end - first)


def prompt_opens_think(raw_prompt: str | None) -> bool:
    """Whether the chat template opened a think block in the prompt (Qwen3's and DeepSeek-R1's
    templates can), so the model's output starts inside it."""
    return raw_prompt is not None and raw_prompt.rstrip().endswith(OPEN)


def _split(
    pieces: list[Piece], text: list[str], thought: list[str]
) -> Iterator[TextDelta | ReasoningDelta]:
    """Events for the splitter's pieces, each kept in its list."""
    for kind, piece in pieces:
        if kind == "reasoning":
            thought.append(piece)
            yield ReasoningDelta(piece)
        else:
            text.append(piece)
            yield TextDelta(piece)


def _acquire(handle: LlamaHandle, cancel: CancelToken) -> bool:
    """Wait for the model to be free (one generation at a time); False if cancelled first."""
    while not handle.lock.acquire(timeout=0.05):
        if cancel.cancelled:
            return False
    if cancel.cancelled:
        handle.lock.release()
        return False
    return True


def _failed(
    sent: SentRequest,
    err: KnownError,
    timings: Timings,
    *,
    text: str = "",
    reasoning: str = "",
    usage: Usage | None = None,
) -> Failed:
    return Failed(
        result=RunResult(
            request=sent,
            text=text,
            reasoning=reasoning,
            finish_reason="error",
            usage=usage or Usage(),
            timings=timings,
            error=str(err),
            error_kind=err.code,
        )
    )


def _tokenizer_factory(model: str) -> GgufTokenizer | None:
    """Exact counts for the packaged models and GGUF paths (core.tokens asks every factory)."""
    for found in local_models.packaged_models():
        if found.id == model and found.path is not None:
            return GgufTokenizer(found.path, found.id)
    if model.lower().endswith(".gguf") and Path(model).expanduser().is_file():
        return GgufTokenizer(Path(model).expanduser(), model)
    return None


def register_tokenizers() -> None:
    """Offer GGUF tokenizers to ``workbench.core.tokens`` (once per process)."""
    global _unregister
    if _unregister is None:
        from workbench.core.tokens import register_tokenizer_factory

        _unregister = register_tokenizer_factory(_tokenizer_factory)


_unregister: Any = None
register_tokenizers()
