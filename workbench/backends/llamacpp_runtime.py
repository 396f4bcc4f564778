"""llama.cpp models in this process: loading, keeping them loaded, and preparing prompts.

A ``LlamaHandle`` wraps one ``llama_cpp.Llama`` with the lock that serialises its use (a llama.cpp
context is not thread-safe). Full models live in a ``ModelPool`` owned by a backend; vocabulary-only
handles (metadata, chat template, tokenizer: no weights, ~0.1 s to open) are shared process-wide
so previews and token counts never wait for a model to load or a generation to finish.
"""

from __future__ import annotations

import atexit
import ctypes
import logging
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from workbench.backends.chat_template import ChatTemplate, for_model
from workbench.core.errors import BackendError, NotFoundError, TemplateError
from workbench.core.models import RenderedMessage
from workbench.core.tokens import TokenSpan, spans_from_token_bytes

Mode = Literal["auto", "completion"]


@dataclass(frozen=True)
class PreparedPrompt:
    """Exactly what a model reads: the raw text, its tokens and the end-of-turn stop strings."""

    raw_prompt: str
    tokens: list[int]
    mode: Literal["chat", "completion"]
    stops: tuple[str, ...] = ()
    template_origin: str | None = None


_llama_log = logging.getLogger("workbench.llamacpp")
_log_callback: Any = None
#: ggml's log levels (ggml.h: NONE 0, DEBUG 1, INFO 2, WARN 3, ERROR 4, CONT 5) as logging's.
#: Its warnings (e.g. "n_ctx_seq (512) > n_ctx_train (0)" for a vocabulary-only load) are about
#: its own tuning, so they go to the app's log as info, never to the CLI's terminal.
GGML_LEVELS = {4: logging.ERROR, 3: logging.INFO}
GGML_CONT = 5


class _LlamaLog:
    """Forwards ggml's messages; a continuation line keeps the level of the line it continues."""

    def __init__(self) -> None:
        self.level = logging.DEBUG

    def __call__(self, level: int, text: bytes, _user_data: Any = None) -> None:
        if level != GGML_CONT:
            self.level = GGML_LEVELS.get(level, logging.DEBUG)
        message = text.decode("utf-8", "replace").rstrip()
        if message:
            _llama_log.log(self.level, "%s", message)


def _route_llama_logs() -> None:
    """Send llama.cpp's own messages to logging instead of the terminal, where they would break
    the CLI's one-line errors."""
    global _log_callback
    if _log_callback is not None:
        return
    import llama_cpp

    forward = _LlamaLog()

    _log_callback = llama_cpp.llama_log_callback(forward)
    llama_cpp.llama_log_set(_log_callback, ctypes.c_void_p(0))


def open_llama(
    path: Path, *, n_ctx: int = 512, n_threads: int = 1, vocab_only: bool = False, **load: Any
) -> Any:
    """A ``llama_cpp.Llama`` for ``path``; a missing or unreadable file is a ``BackendError``.
    ``load``: more ``Llama`` keywords (GPU layers, KV cache type)."""
    if not path.is_file():
        raise NotFoundError(f"model file not found: {path}")
    from llama_cpp import Llama

    _route_llama_logs()
    try:
        return Llama(
            model_path=str(path),
            n_ctx=n_ctx,
            n_threads=n_threads,
            n_threads_batch=n_threads,
            vocab_only=vocab_only,
            verbose=False,
            **load,
        )
    except (ValueError, RuntimeError, OSError) as err:
        raise BackendError(f"cannot load {path.name}: not a usable GGUF model ({err})") from None


class LlamaHandle:
    """One loaded ``Llama`` (full or vocabulary-only) with what is read from its metadata."""

    def __init__(self, llm: Any, path: Path, load_s: float, key: tuple[Any, ...] = ()) -> None:
        self.llm = llm
        self.path = path
        self.load_s = load_s
        self.key = key
        self.lock = threading.Lock()
        self.metadata: dict[str, str] = dict(llm.metadata)
        self.bos_id: int = llm.token_bos()
        self.eos_id: int = llm.token_eos()
        self.bos_token = self._piece(self.bos_id)
        self.eos_token = self._piece(self.eos_id)
        self._templates: dict[tuple[str | None, str | None], ChatTemplate | None] = {}
        self._vocab_ptr: Any = None
        self._closed = False

    def _piece(self, token: int) -> str:
        if token < 0:
            return ""
        return bytes(self.llm.detokenize([token], special=True)).decode("utf-8", errors="replace")

    @property
    def context_length(self) -> int | None:
        arch = self.metadata.get("general.architecture", "")
        value = self.metadata.get(f"{arch}.context_length")
        return int(value) if value and value.isdigit() else None

    def chat_template(
        self, chat_format: str | None = None, custom: str | None = None
    ) -> ChatTemplate | None:
        """The template chats are rendered with (compiled once per choice)."""
        key = (chat_format, custom)
        if key not in self._templates:
            self._templates[key] = for_model(
                self.metadata,
                bos_token=self.bos_token,
                eos_token=self.eos_token,
                chat_format=chat_format,
                chat_template=custom,
            )
        return self._templates[key]

    def is_end_of_generation(self, token: int) -> bool:
        """End of turn or of text, whichever tokens this model uses for them."""
        import llama_cpp

        if self._vocab_ptr is None:
            self._vocab_ptr = llama_cpp.llama_model_get_vocab(self.llm.model)
        return bool(llama_cpp.llama_vocab_is_eog(self._vocab_ptr, token))

    def tokenize(self, text: str, add_bos: bool = False) -> list[int]:
        """The model's own tokens for ``text``, special-token strings parsed as the chat path
        parses them (so a count here equals what a run reports)."""
        if self._closed:  # freed (unloaded, or at exit) while another thread held it: never read
            raise BackendError(f"{self.path.name} was unloaded; try again")
        return list(self.llm.tokenize(text.encode("utf-8"), add_bos=add_bos, special=True))

    def prepare(
        self,
        messages: list[RenderedMessage],
        prompt: str | None,
        *,
        mode: Mode = "auto",
        chat_format: str | None = None,
        custom_template: str | None = None,
        enable_thinking: bool | None = None,
    ) -> PreparedPrompt:
        """Render and tokenize a request exactly as it will be run (``enable_thinking``: the
        chat template's thinking switch, ``ChatTemplate.render``)."""
        if prompt is not None or mode == "completion":
            text = prompt if prompt is not None else "\n\n".join(m.content for m in messages)
            tokens = self.tokenize(text, add_bos=True)  # llama.cpp adds BOS only if the model asks
            bos = (
                self.bos_token
                if tokens[:1] == [self.bos_id] and not text.startswith(self.bos_token)
                else ""
            )
            return PreparedPrompt(bos + text, tokens, "completion")
        template = self.chat_template(chat_format, custom_template)
        if template is None:
            raise TemplateError(
                f"{self.path.name} has no chat template (a base model?)",
                hint="run a completion template, set the backend's mode to completion, "
                "or choose a chat format for this model",
            )
        rendered = template.render(messages, enable_thinking=enable_thinking)
        return PreparedPrompt(
            rendered.text,
            self.tokenize(rendered.text),
            "chat",
            rendered.stops,
            template.origin,
        )

    def close(self) -> None:
        """Free the model; call under ``lock``, which every tokenizing caller holds."""
        self.llm.close()
        self._closed = True


class ModelPool:
    """Full models kept loaded for reuse, least recently used first out."""

    def __init__(self, keep_loaded: int = 2) -> None:
        self.keep_loaded = keep_loaded
        self._models: OrderedDict[tuple[Any, ...], LlamaHandle] = OrderedDict()
        self._lock = threading.Lock()

    def get(
        self, path: Path, *, n_ctx: int, n_threads: int, **load: Any
    ) -> tuple[LlamaHandle, float]:
        """The loaded model and the seconds this call spent loading it (0.0 if it was loaded);
        other load settings, another load."""
        key = (path, n_ctx, n_threads, *sorted(load.items()))
        with self._lock:
            handle = self._models.get(key)
            if handle is not None:
                self._models.move_to_end(key)
                return handle, 0.0
            start = time.perf_counter()
            llm = open_llama(path, n_ctx=n_ctx, n_threads=n_threads, **load)
            handle = LlamaHandle(llm, path, time.perf_counter() - start, key)
            self._models[key] = handle
            self._evict()
            return handle, handle.load_s

    def _evict(self) -> None:
        for key, handle in list(self._models.items())[:-1]:
            if len(self._models) <= self.keep_loaded:
                return
            if handle.lock.acquire(blocking=False):  # never unload a model mid-generation
                try:
                    del self._models[key]
                    handle.close()
                finally:
                    handle.lock.release()

    def loaded(self) -> list[Path]:
        with self._lock:
            return [h.path for h in self._models.values()]

    def close(self) -> None:
        with self._lock:
            for handle in self._models.values():
                with handle.lock:
                    handle.close()
            self._models.clear()


_MAX_VOCABS = 8
_vocabs: OrderedDict[Path, LlamaHandle] = OrderedDict()
_vocabs_lock = threading.Lock()
_vocabs_closed = threading.Event()


def vocab(path: Path) -> LlamaHandle:
    """A shared vocabulary-only handle for ``path`` (metadata, chat template, tokenizer)."""
    path = path.resolve()
    with _vocabs_lock:
        if _vocabs_closed.is_set():  # at exit: a new handle would outlive llama's C bindings
            raise BackendError(f"{path.name}: not opened, the app is quitting")
        handle = _vocabs.get(path)
        if handle is None:
            start = time.perf_counter()
            handle = LlamaHandle(
                open_llama(path, vocab_only=True), path, time.perf_counter() - start
            )
            _vocabs[path] = handle
            while len(_vocabs) > _MAX_VOCABS:
                # Dropped, not closed: a tokenizer may still hold it; llama frees it when unused.
                _vocabs.popitem(last=False)
        _vocabs.move_to_end(path)
        return handle


@atexit.register
def _close_vocabs() -> None:
    """Free the shared handles before interpreter teardown, when llama's own finaliser would
    find its C bindings already gone. Each under its lock: a preview still tokenizing on a pool
    thread when the app quits would otherwise read a freed vocabulary (a segfault at exit)."""
    with _vocabs_lock:
        _vocabs_closed.set()
        for handle in _vocabs.values():
            with handle.lock:
                handle.close()
        _vocabs.clear()


class GgufTokenizer:
    """Exact token counts from a GGUF model's own tokenizer (no weights loaded); satisfies
    ``workbench.core.tokens.Tokenizer``."""

    exact = True

    def __init__(self, path: Path, model: str = "") -> None:
        self._handle = vocab(path)
        self.name = model or path.name
        self.note = f"exact: {path.name}'s own tokenizer"

    def encode(self, text: str) -> list[int]:
        with self._handle.lock:
            return self._handle.tokenize(text)

    def count(self, text: str) -> int:
        return len(self.encode(text))

    def spans(self, text: str) -> list[TokenSpan]:
        llm = self._handle.llm
        with self._handle.lock:
            ids = self._handle.tokenize(text)
            pieces = [bytes(llm.detokenize([t], special=True)) for t in ids]
            if b"".join(pieces) != text.encode("utf-8"):
                # Tokenizers that add a space before a word piece detokenize it alone: take
                # each token's bytes as the difference of growing prefixes instead.
                prefixes = [
                    bytes(llm.detokenize(ids[: i + 1], special=True)) for i in range(len(ids))
                ]
                pieces = [p[len(q) :] for p, q in zip(prefixes, [b"", *prefixes], strict=False)]
        return spans_from_token_bytes(text, ids, pieces)
