"""GGUF metadata: the embedded model's real file and files written with the ``gguf`` writer."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.backends.gguf_writer import write_gguf
from workbench.backends import gguf_files
from workbench.backends.gguf_files import GgufError, read_info
from workbench.backends.local_models import embedded_model_path


def test_the_embedded_models_real_file() -> None:
    path = embedded_model_path()
    assert path is not None
    info = read_info(path)
    assert info.architecture == "llama"
    assert info.file_type == "Q4_1"
    assert info.size_label == "135M"
    assert 130e6 < info.parameters < 140e6  # 134,515,008 summed over the 272 tensors
    assert info.context_length == 8192
    assert info.chat_template and info.chat_template_name == "ChatML"
    assert info.license == "apache-2.0"
    assert info.size_bytes == path.stat().st_size
    assert info.weights_bytes <= info.size_bytes
    # SmolLM2: 30 layers, 3 KV heads of 64 dims -> 192 wide keys and values.
    assert (info.n_layer, info.n_embd_k_gqa, info.n_embd_v_gqa) == (30, 192, 192)
    # 30 layers x 4096 tokens x (192 + 192) x 2 bytes (f16) = 90 MiB, what llama.cpp allocates.
    assert info.kv_cache_bytes(4096) == 30 * 4096 * 384 * 2 == 90 * 2**20
    assert info.kv_cache_bytes(4096, "q8_0") == 30 * 4096 * 384 * 34 // 32
    assert info.memory_estimate(4096) == info.weights_bytes + 90 * 2**20


def test_a_written_file_reports_the_chosen_metadata(tmp_path: Path) -> None:
    path = write_gguf(
        tmp_path / "m.gguf",
        arch="qwen2",
        name="Tiny Qwen",
        context_length=32768,
        n_layer=3,
        n_embd=64,
        n_head=8,
        n_head_kv=2,
        license="apache-2.0",
        vocab=5000,
    )
    info = read_info(path)
    assert (info.architecture, info.name, info.context_length) == ("qwen2", "Tiny Qwen", 32768)
    assert (info.file_type, info.license) == ("F32", "apache-2.0")
    assert info.chat_template_name == "ChatML"
    assert info.parameters == 5000 * 64 + 3 * 64 * 64
    assert info.weights_bytes == info.parameters * 4
    # head_dim 64/8 = 8, two KV heads -> 16 wide.
    assert (info.n_layer, info.n_embd_k_gqa, info.n_embd_v_gqa) == (3, 16, 16)
    assert info.kv_cache_bytes(1000) == 3 * 1000 * 32 * 2
    assert info.to_json(1000)["estimate"]["memory_bytes"] == info.weights_bytes + 3 * 1000 * 32 * 2


def test_no_template_no_licence_no_file_type(tmp_path: Path) -> None:
    path = write_gguf(tmp_path / "base.gguf", chat_template=None, license=None, file_type=None)
    info = read_info(path)
    assert not info.chat_template and info.chat_template_name is None and info.license is None
    assert info.file_type == "F32"  # the tensors' own type when the header names none


def test_an_unknown_template_is_present_without_a_name(tmp_path: Path) -> None:
    info = read_info(write_gguf(tmp_path / "x.gguf", chat_template="{{ messages[0].content }}"))
    assert info.chat_template and info.chat_template_name is None


@pytest.mark.parametrize("keep", [10, 200, 3000, -8])
def test_a_truncated_file_is_a_clear_error(tmp_path: Path, keep: int) -> None:
    """Cut in the fixed header, in the vocabulary, in the tensor infos, and in the weights."""
    whole = write_gguf(tmp_path / "whole.gguf").read_bytes()
    cut = tmp_path / "cut.gguf"
    cut.write_bytes(whole[:keep])
    with pytest.raises(GgufError) as err:
        read_info(cut)
    assert str(cut) in str(err.value)
    assert "truncated" in str(err.value) or "not a GGUF" in str(err.value)


def test_a_file_that_is_not_gguf(tmp_path: Path) -> None:
    fake = tmp_path / "model.gguf"
    fake.write_text("<html>404 Not Found</html>\n" * 10)
    with pytest.raises(GgufError, match="not a GGUF model file") as err:
        read_info(fake)
    assert str(fake) in str(err.value)
    with pytest.raises(GgufError, match="cannot read"):
        read_info(tmp_path / "missing.gguf")


def test_tensor_data_is_described_not_mapped(tmp_path: Path) -> None:
    """The reader makes no views of the weights: only offsets and sizes from the header."""
    reader = gguf_files._reader_class()(write_gguf(tmp_path / "m.gguf"))
    assert reader.tensors == [] and len(reader.tensor_infos) == 5
    assert all(t.offset >= reader.data_offset for t in reader.tensor_infos)


def test_sizes_for_people() -> None:
    assert gguf_files.human_bytes(98_362_432) == "98 MB"
    assert gguf_files.human_bytes(4_100_000_000) == "4.1 GB"
    assert gguf_files.human_count(134_515_008) == "135M"
    assert gguf_files.human_count(1_540_000_000) == "1.5B"
    with pytest.raises(ValueError, match="unknown KV cache type"):
        gguf_files.bytes_per_element("q3")
    assert all(gguf_files.bytes_per_element(t) > 0 for t in gguf_files.KV_CACHE_TYPES)
