"""``workbench models``: GGUF files found or given, with their header metadata and memory needs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.backends.gguf_writer import write_gguf
from workbench.backends import llamacpp_load
from workbench.backends.llamacpp_load import ModelLoadSettings
from workbench.cli import main


@pytest.fixture(autouse=True)
def empty_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "user"
    home.mkdir()
    for var in ("HF_HOME", "HF_HUB_CACHE", "XDG_CACHE_HOME", "XDG_DATA_HOME"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HOME", str(home))
    return home


def _json(capsys: pytest.CaptureFixture[str], *argv: str, code: int = 0) -> list[dict[str, Any]]:
    assert main(["models", "--json", *argv]) == code
    return json.loads(capsys.readouterr().out)  # type: ignore[no-any-return]


def test_found_files_with_metadata_and_their_load_settings(
    capsys: pytest.CaptureFixture[str], empty_home: Path
) -> None:
    lm = write_gguf(empty_home / ".lmstudio/models/org/repo/tiny.gguf", n_layer=2)
    llamacpp_load.remember(lm, ModelLoadSettings(n_ctx=300, kv_cache_type="q8_0"))
    entries = {Path(e["id"]).name: e for e in _json(capsys)}
    embedded = entries["smollm2-135m-instruct"]
    assert (embedded["source"], embedded["file_type"], embedded["context_length"]) == (
        "embedded",
        "Q4_1",
        8192,
    )
    assert embedded["estimate"]["kv_cache_bytes"] == 30 * 4096 * 384 * 2  # backend n_ctx 4096
    tiny = entries["tiny.gguf"]
    assert tiny["app"] == "LM Studio" and tiny["load"]["n_ctx"] == 300
    # head_dim 64/8 = 8, 2 KV heads: 16 + 16 wide; q8_0 is 34 bytes per 32 elements.
    assert tiny["estimate"]["kv_cache_bytes"] == 2 * 300 * 32 * 34 // 32
    assert _json(capsys, "--no-apps", "--ctx", "100", "--kv-type", "f32")[0]["estimate"] == {
        "n_ctx": 100,
        "kv_type": "f32",
        "kv_cache_bytes": 30 * 100 * 384 * 4,
        "memory_bytes": embedded["weights_bytes"] + 30 * 100 * 384 * 4,
    }
    assert "tiny.gguf" not in {Path(e["id"]).name for e in _json(capsys, "--no-apps")}
    assert main(["models", "--no-apps"]) == 0  # the file's name, then what else it is called
    assert ("SmolLM2-135M-Instruct.Q4_1.gguf  (embedded, model id smollm2-135m-instruct)\n"
            "    named 'Smollm2 135M") in capsys.readouterr().out


def test_given_files_and_folders_and_an_unreadable_one(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    folder = tmp_path / "mine"
    write_gguf(folder / "sub" / "a.gguf", name="Model A", chat_template=None)
    fake = tmp_path / "fake.gguf"
    fake.write_text("not a model")
    assert main(["models", str(folder), str(fake)]) == 1
    out = capsys.readouterr().out
    assert "a.gguf  (folder)" in out and "chat template: none" in out and "licence: mit" in out
    assert "named 'Model A' in the file" in out
    assert f"fake.gguf  (given)\n    unreadable: {fake}" in out  # named here, not configured
    assert "memory at 4,096 tokens:" in out
    assert f"unreadable: {fake}: not a GGUF model file" in out
    assert main(["models", str(folder)]) == 0
