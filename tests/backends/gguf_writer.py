"""GGUF files written by the ``gguf`` package's own writer, with the metadata a test chooses."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def write_gguf(
    path: Path,
    *,
    arch: str = "llama",
    name: str = "Test Model",
    context_length: int = 2048,
    n_layer: int = 4,
    n_embd: int = 64,
    n_head: int = 8,
    n_head_kv: int = 2,
    chat_template: str | None = "{% for m in messages %}<|im_start|>{{ m.content }}{% endfor %}",
    license: str | None = "mit",
    file_type: int | None = 0,  # LlamaFileType.ALL_F32
    vocab: int = 300,
) -> Path:
    """A small but complete GGUF: llama-style header keys, a vocabulary array, f32 tensors."""
    import gguf

    path.parent.mkdir(parents=True, exist_ok=True)
    writer = gguf.GGUFWriter(path, arch)
    writer.add_name(name)
    writer.add_context_length(context_length)
    writer.add_block_count(n_layer)
    writer.add_embedding_length(n_embd)
    writer.add_head_count(n_head)
    writer.add_head_count_kv(n_head_kv)
    if file_type is not None:
        writer.add_file_type(file_type)
    if license is not None:
        writer.add_license(license)
    if chat_template is not None:
        writer.add_chat_template(chat_template)
    writer.add_tokenizer_model("gpt2")
    writer.add_token_list([f"tok{i}" for i in range(vocab)])
    writer.add_token_types([1] * vocab)
    writer.add_tensor("token_embd.weight", np.ones((vocab, n_embd), dtype=np.float32))
    for layer in range(n_layer):
        writer.add_tensor(f"blk.{layer}.attn_q.weight", np.ones((n_embd, n_embd), np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path
