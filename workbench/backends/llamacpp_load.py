"""How the ``llamacpp`` backend loads a model file: context size, threads, GPU layers and KV cache
type, with settings remembered per file over the backend's defaults.

Per-file settings live in the backend's own configuration (``backends.yaml``, the ``llamacpp``
entry's ``models`` option), so the CLI and the app load a file the same way.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from workbench.backends.gguf_files import KvCacheType
from workbench.backends.local_models import file_path

BACKEND_ID = "llamacpp"


class ModelLoadSettings(BaseModel):
    """One model file's own load settings; an unset value falls back to the backend's."""

    model_config = ConfigDict(extra="forbid")

    n_ctx: int | None = Field(default=None, ge=256, le=1_048_576)
    n_threads: int | None = Field(default=None, ge=1, le=256)
    n_gpu_layers: int | None = Field(default=None, ge=-1)
    kv_cache_type: KvCacheType | None = None


@dataclass(frozen=True)
class LoadSettings:
    """What a load actually uses (also the key of a loaded model: other settings, other load)."""

    n_ctx: int
    n_threads: int
    n_gpu_layers: int
    kv_cache_type: str

    def llama_extras(self) -> dict[str, Any]:
        """``llama_cpp.Llama`` keywords besides context and threads (a quantized V cache needs
        flash attention; GPU layers only where the build can offload)."""
        import gguf

        ggml_type = int(gguf.GGMLQuantizationType[self.kv_cache_type.upper()])
        return {
            "n_gpu_layers": self.n_gpu_layers if gpu_offload_supported() else 0,
            "type_k": ggml_type,
            "type_v": ggml_type,
            "flash_attn": self.kv_cache_type not in ("f16", "f32", "bf16"),
        }


def model_key(path: Path | str) -> str:
    """How a file is named in the per-model settings: its path as model listings give it."""
    return str(file_path(path))


def resolve(options: Any, path: Path | str | None) -> LoadSettings:
    """The backend ``options``' defaults with ``path``'s own settings over them."""
    own = options.models.get(model_key(path)) if path is not None else None
    own = own or ModelLoadSettings()
    return LoadSettings(
        n_ctx=own.n_ctx or options.n_ctx,
        n_threads=own.n_threads or options.n_threads,
        n_gpu_layers=options.n_gpu_layers if own.n_gpu_layers is None else own.n_gpu_layers,
        kv_cache_type=own.kv_cache_type or options.kv_cache_type,
    )


@functools.cache
def gpu_offload_supported() -> bool:
    """Whether this llama.cpp build can put layers on a GPU (else GPU layers are not offered)."""
    try:
        import llama_cpp
    except ImportError:
        return False
    return bool(llama_cpp.llama_supports_gpu_offload())


def _saved_options() -> dict[str, Any]:
    from workbench.backends.config import load_configs

    config = load_configs().get(BACKEND_ID)
    return dict(config.options) if config is not None else {}


def _save(options: dict[str, Any]) -> None:
    from workbench.backends.config import add_config

    add_config(BACKEND_ID, BACKEND_ID, options)


def remember(path: Path | str, settings: ModelLoadSettings) -> None:
    """Save ``settings`` as ``path``'s own (no values set: forget them)."""
    options = _saved_options()
    models = dict(options.get("models") or {})
    values = settings.model_dump(exclude_none=True)
    if values:
        models[model_key(path)] = values
    else:
        models.pop(model_key(path), None)
    options["models"] = models
    _save(options)


def choose(path: Path | str | None) -> None:
    """Make ``path`` the model the backend runs when a run names none (None: the embedded one)."""
    options = _saved_options()
    if path is None:
        options.pop("model_path", None)
    else:
        options["model_path"] = model_key(path)
    _save(options)
