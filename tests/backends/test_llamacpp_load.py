"""Choosing a model file and its remembered load settings, run for real on the embedded model's
file copied to a folder of its own."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from workbench.backends import llamacpp_load
from workbench.backends.base import run_to_result
from workbench.backends.config import load_configs, open_backend
from workbench.backends.llamacpp import LlamaCppBackend
from workbench.backends.llamacpp_load import LoadSettings, ModelLoadSettings
from workbench.backends.local_models import embedded_model_path
from workbench.core.models import Params, RenderedMessage, RunRequest

pytestmark = pytest.mark.slow


@pytest.fixture
def model_copy(tmp_path: Path) -> Path:
    source = embedded_model_path()
    assert source is not None
    target = tmp_path / "models" / "my-smollm2.gguf"
    target.parent.mkdir()
    shutil.copyfile(source, target)
    return target


def test_a_chosen_file_runs_with_its_own_settings(model_copy: Path) -> None:
    llamacpp_load.choose(model_copy)
    llamacpp_load.remember(model_copy, ModelLoadSettings(n_ctx=1024, kv_cache_type="q8_0"))
    saved = load_configs()["llamacpp"].options
    assert saved["model_path"] == str(model_copy)
    assert saved["models"] == {str(model_copy): {"n_ctx": 1024, "kv_cache_type": "q8_0"}}

    backend = open_backend("llamacpp")
    assert isinstance(backend, LlamaCppBackend)
    try:
        request = RunRequest(
            backend="llamacpp",
            messages=[RenderedMessage(role="user", content="Say hi.")],
            params=Params(greedy=True, max_tokens=4),
        )
        result = run_to_result(backend, request)
        assert result.error is None and result.text
        assert result.request.model == str(model_copy)
        (handle,) = backend._pool._models.values()
        assert handle.path == model_copy and handle.llm.n_ctx() == 1024
        listed = {m.id: m for m in backend.list_models()}
        assert listed[str(model_copy)].context_window == 1024
        assert listed["smollm2-135m-instruct"].context_window == 4096  # the default stays
    finally:
        backend.close()


def test_settings_fall_back_and_can_be_forgotten(model_copy: Path) -> None:
    llamacpp_load.remember(model_copy, ModelLoadSettings(n_threads=2))
    options = open_backend("llamacpp").options
    assert llamacpp_load.resolve(options, model_copy) == LoadSettings(4096, 2, 0, "f16")
    assert llamacpp_load.resolve(options, None) == LoadSettings(4096, 1, 0, "f16")
    llamacpp_load.remember(model_copy, ModelLoadSettings())
    assert load_configs()["llamacpp"].options.get("models", {}) == {}
    llamacpp_load.choose(model_copy)
    llamacpp_load.choose(None)
    assert "model_path" not in load_configs()["llamacpp"].options


def test_gpu_layers_only_where_the_build_offloads() -> None:
    extras = LoadSettings(4096, 1, -1, "q4_0").llama_extras()
    assert extras["n_gpu_layers"] == (-1 if llamacpp_load.gpu_offload_supported() else 0)
    assert extras["type_k"] == extras["type_v"] == 2 and extras["flash_attn"]  # GGML_TYPE_Q4_0
    assert not LoadSettings(4096, 1, 0, "f16").llama_extras()["flash_attn"]
