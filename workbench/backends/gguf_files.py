"""What a GGUF model file is, read from its header: architecture, size, quantization, context
length, chat template, licence, and the memory it needs to run.

Read with the ``gguf`` package's reader, which memory-maps the file. Two of its steps are replaced
so a listing stays fast and never touches the weights: arrays in the metadata (a 150,000-token
vocabulary) are skipped by their lengths instead of being parsed item by item (2.8 s for
SmolLM2's 49,152 tokens otherwise), and tensors are described (type, element count, offset)
without making views of their data. Any file that is not a whole GGUF raises ``GgufError``
naming it.
"""

from __future__ import annotations

import struct
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal, get_args

from workbench.core.errors import KnownError

#: KV cache element types llama.cpp accepts for ``type_k``/``type_v`` (ggml type names;
#: quantized ones need flash attention).
KvCacheType = Literal["f16", "f32", "bf16", "q8_0", "q5_1", "q5_0", "q4_1", "q4_0", "iq4_nl"]
KV_CACHE_TYPES: tuple[str, ...] = get_args(KvCacheType)

#: Chat templates recognised by a phrase only their family uses (first match wins).
_TEMPLATE_MARKERS = (
    ("<|im_start|>", "ChatML"),
    ("<|start_header_id|>", "Llama 3"),
    ("<start_of_turn>", "Gemma"),
    ("[INST]", "Mistral/Llama 2"),
    ("<|user|>", "Zephyr/Phi-3"),
    ("<|start|>", "Harmony (gpt-oss)"),
    ("<｜User｜>", "DeepSeek"),
    ("### Instruction", "Alpaca"),
)
_STRING = 8  # GGUFValueType.STRING
_ARRAY = 9  # GGUFValueType.ARRAY


class GgufError(KnownError):
    """A file that is not a readable GGUF model (the message names the file)."""


@dataclass(frozen=True)
class TensorInfo:
    """One tensor as the header describes it; its data is never read."""

    name: str
    type_name: str
    n_elements: int
    n_bytes: int
    offset: int


@dataclass(frozen=True)
class GgufInfo:
    """A GGUF file's metadata, as shown in the model picker and by ``workbench models``."""

    path: Path
    size_bytes: int
    architecture: str
    name: str | None
    parameters: int
    size_label: str | None
    file_type: str  # e.g. "Q4_K_M", from general.file_type or the dominant tensor type
    context_length: int | None
    chat_template: bool
    chat_template_name: str | None  # "ChatML", "Llama 3", ... when recognised
    license: str | None
    n_layer: int | None
    n_embd_k_gqa: int | None  # key width per token per layer (head_dim x kv heads)
    n_embd_v_gqa: int | None
    weights_bytes: int

    def kv_cache_bytes(self, n_ctx: int, kv_type: str = "f16") -> int | None:
        """n_layer x n_ctx x (n_embd_k_gqa + n_embd_v_gqa) x bytes per element of ``kv_type``;
        None when the header lacks the attention shape (e.g. a recurrent model)."""
        if not (self.n_layer and self.n_embd_k_gqa and self.n_embd_v_gqa):
            return None
        width = self.n_embd_k_gqa + self.n_embd_v_gqa
        return int(self.n_layer * n_ctx * width * bytes_per_element(kv_type))

    def memory_estimate(self, n_ctx: int, kv_type: str = "f16") -> int:
        """Weights plus the KV cache for ``n_ctx`` tokens (llama.cpp's compute buffers, tens
        of MB, come on top)."""
        return self.weights_bytes + (self.kv_cache_bytes(n_ctx, kv_type) or 0)

    def to_json(self, n_ctx: int | None = None, kv_type: str = "f16") -> dict[str, Any]:
        data = asdict(self)
        data["path"] = str(self.path)
        ctx = n_ctx or self.context_length or 4096
        data["estimate"] = {
            "n_ctx": ctx,
            "kv_type": kv_type,
            "kv_cache_bytes": self.kv_cache_bytes(ctx, kv_type),
            "memory_bytes": self.memory_estimate(ctx, kv_type),
        }
        return data


def bytes_per_element(kv_type: str) -> float:
    """Bytes one cache element takes in ggml type ``kv_type`` (q8_0: 34 bytes per 32)."""
    import gguf

    try:
        block, size = gguf.GGML_QUANT_SIZES[gguf.GGMLQuantizationType[kv_type.upper()]]
    except KeyError:
        raise ValueError(f"unknown KV cache type '{kv_type}'") from None
    return size / block


def _skip_array(data: Any, offs: int, item_type: int, count: int, sizes: dict[int, int]) -> int:
    """The offset after an array of ``count`` items, read from lengths only."""
    if item_type in sizes:
        return offs + sizes[item_type] * count
    if item_type == _STRING:
        view = memoryview(data)
        unpack = struct.Struct("<Q").unpack_from
        for _ in range(count):
            offs += 8 + unpack(view, offs)[0]
        return offs
    if item_type == _ARRAY:
        for _ in range(count):
            inner, n = struct.unpack_from("<IQ", memoryview(data), offs)
            offs = _skip_array(data, offs + 12, inner, n, sizes)
        return offs
    raise ValueError(f"unknown array item type {item_type}")


def _reader_class() -> type:
    """``gguf.GGUFReader`` with array skipping and data-free tensors (see the module doc)."""
    import gguf
    import numpy as np

    class HeaderReader(gguf.GGUFReader):
        def _get_field_parts(self, orig_offs: int, raw_type: int) -> Any:
            if raw_type != _ARRAY:
                return super()._get_field_parts(orig_offs, raw_type)
            item_type = self._get(orig_offs, np.uint32)
            count = self._get(orig_offs + 4, np.uint64)
            sizes = {int(t): np.dtype(d).itemsize for t, d in self.gguf_scalar_to_np.items()}
            end = _skip_array(self.data, orig_offs + 12, int(item_type[0]), int(count[0]), sizes)
            # The item type and length only (the contents are never needed here).
            types = [gguf.GGUFValueType.ARRAY, gguf.GGUFValueType(int(item_type[0]))]
            return end - orig_offs, [item_type, count], [], types

        def _build_tensors(self, start_offs: int, fields: list[Any]) -> None:
            self.tensor_infos = []
            for field in fields:
                _len, name, _n_dims, dims, raw_dtype, offset = field.parts
                kind = gguf.GGMLQuantizationType(int(raw_dtype[0]))
                n_elements = int(np.prod(dims, dtype=np.uint64))
                block, size = gguf.GGML_QUANT_SIZES[kind]
                self.tensor_infos.append(
                    TensorInfo(
                        bytes(name).decode("utf-8", "replace"),
                        kind.name,
                        n_elements,
                        n_elements * size // block,
                        int(start_offs + int(offset[0])),
                    )
                )

    return HeaderReader


def read_info(path: Path | str) -> GgufInfo:
    """The metadata of GGUF file ``path``; ``GgufError`` for anything that is not one whole."""
    path = Path(path).expanduser()
    try:
        size = path.stat().st_size
        if size < 24:
            raise GgufError(f"{path}: not a GGUF model file ({size} bytes)")
        with path.open("rb") as f:
            magic = f.read(4)
        if magic != b"GGUF":
            raise GgufError(f"{path}: not a GGUF model file (it does not start with 'GGUF')")
        reader = _reader_class()(path)
    except GgufError:
        raise
    except OSError as err:
        raise GgufError(f"{path}: cannot read: {err.strerror or err}") from None
    except (ValueError, IndexError, KeyError, struct.error, UnicodeDecodeError) as err:
        # A header cut short reads past the end of the map (short arrays, failed unpacks).
        raise GgufError(f"{path}: not a readable GGUF file, damaged or truncated ({err})") from None
    tensors: list[TensorInfo] = reader.tensor_infos
    end = max((t.offset + t.n_bytes for t in tensors), default=reader.data_offset)
    if end > size:
        raise GgufError(
            f"{path}: truncated GGUF file: {size:,} bytes, the header describes {end:,}",
            hint="the download or copy may be incomplete",
        )
    return _info(path, size, reader, tensors)


def _info(path: Path, size: int, reader: Any, tensors: list[TensorInfo]) -> GgufInfo:
    import gguf

    def value(key: str) -> Any:
        field = reader.fields.get(key)
        if field is None or not field.data:  # arrays are skipped: no data
            return None
        return field.contents()

    arch = str(value("general.architecture") or "unknown")

    def arch_int(key: str) -> int | None:
        found = value(f"{arch}.{key}")
        return int(found) if isinstance(found, (int, float)) else None

    n_embd, n_head = arch_int("embedding_length"), arch_int("attention.head_count")
    n_head_kv = arch_int("attention.head_count_kv") or n_head
    head_dim = n_embd // n_head if n_embd and n_head else None
    key_len = arch_int("attention.key_length") or head_dim
    value_len = arch_int("attention.value_length") or head_dim
    template = value("tokenizer.chat_template")
    file_type = value("general.file_type")
    try:
        quant = gguf.LlamaFileType(int(file_type)).name.removeprefix("MOSTLY_").removeprefix("ALL_")
    except (TypeError, ValueError):
        by_type: dict[str, int] = {}
        for t in tensors:
            by_type[t.type_name] = by_type.get(t.type_name, 0) + t.n_bytes
        quant = max(by_type, key=by_type.__getitem__, default="unknown")
    return GgufInfo(
        path=path,
        size_bytes=size,
        architecture=arch,
        name=value("general.name"),
        parameters=sum(t.n_elements for t in tensors),
        size_label=value("general.size_label"),
        file_type=quant,
        context_length=arch_int("context_length"),
        chat_template=bool(template),
        chat_template_name=template_name(template) if template else None,
        license=value("general.license"),
        n_layer=arch_int("block_count"),
        n_embd_k_gqa=key_len * n_head_kv if key_len and n_head_kv else None,
        n_embd_v_gqa=value_len * n_head_kv if value_len and n_head_kv else None,
        weights_bytes=sum(t.n_bytes for t in tensors),
    )


def template_name(source: str) -> str | None:
    """The family of a Jinja chat template, when a marker phrase says it."""
    return next((name for marker, name in _TEMPLATE_MARKERS if marker in source), None)


def human_bytes(n: int | None) -> str:
    """1.2 GB, 98 MB, 512 KB: sizes as the picker and the CLI show them (decimal units)."""
    if n is None:
        return "?"
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("KB", 1e3)):
        if n >= scale:
            return f"{n / scale:,.1f} {unit}" if n < 10 * scale else f"{n / scale:,.0f} {unit}"
    return f"{n} B"


def human_count(n: int) -> str:
    """135M, 1.5B: parameter counts as model names give them."""
    for unit, scale in (("T", 1e12), ("B", 1e9), ("M", 1e6), ("K", 1e3)):
        if n >= scale:
            return f"{n / scale:.1f}{unit}" if n < 10 * scale else f"{n / scale:.0f}{unit}"
    return str(n)
