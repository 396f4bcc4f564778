"""The wheel carries everything the app reads: built from a copy of the checkout, unpacked
outside it and run from there with nothing of the checkout on the path (as ``pip install .``,
pipx or an index install leave it), the built-in templates, presets and model table load and
``workbench render`` works."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SOURCES = ("pyproject.toml", "README.md", "workbench", "templates", "resources")

_CHECK = r"""
import json
import workbench
from workbench.core import judge_templates, paths
from workbench.core.model_table import load_model_table
from workbench.core.params import load_presets
from workbench.core.template_files import SUFFIX, read_template

templates = paths.builtin_templates_dir()
print(json.dumps({
    "package": workbench.__file__,
    "version": workbench.__version__,
    "templates": str(templates),
    "builtins": sorted(read_template(p).name for p in templates.glob(f"*{SUFFIX}")),
    "judges": sorted(judge_templates.load(t.name).name for t in judge_templates.judge_templates()),
    "presets": sorted(load_presets(paths.resources_dir() / "presets.yaml")),
    "models": [str(p) for p in load_model_table().sources],
    "icons": len(list((paths.resources_dir() / "icons").glob("*.svg"))),
}))
"""


def _tracked(folder: Path) -> set[str]:
    return {
        p.relative_to(folder).as_posix()
        for p in folder.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"
    }


def _build(tmp_path: Path) -> Path:
    """The wheel pip builds from a copy of the checkout (pip builds in the source folder)."""
    source = tmp_path / "source"
    for name in SOURCES:
        src = REPO / name
        if src.is_dir():
            shutil.copytree(src, source / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            source.mkdir(exist_ok=True)
            shutil.copy2(src, source / name)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            str(source),
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            "--quiet",
            "-w",
            str(tmp_path / "dist"),
        ],
        check=True,
        cwd=tmp_path,
        env={**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"},
    )
    (wheel,) = (tmp_path / "dist").glob("prompt_workbench-*.whl")
    return wheel


@pytest.mark.slow
def test_the_wheel_alone_runs_the_templates_presets_and_render(tmp_path: Path) -> None:
    wheel = _build(tmp_path)
    names = set(zipfile.ZipFile(wheel).namelist())
    expected = {f"workbench/{n}" for n in _tracked(REPO / "workbench")}
    for data in ("templates", "resources"):
        expected |= {f"workbench/_bundled/{data}/{n}" for n in _tracked(REPO / data)}
    missing = expected - names
    assert not missing, f"not in the wheel (a new package? list it in pyproject.toml): {missing}"
    # The screenshots are documentation (docs/images/): no picture travels in the wheel.
    assert not [n for n in names if n.endswith(".png")]

    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    away = tmp_path / "elsewhere"
    away.mkdir()
    # Only the unpacked wheel and the venv's dependencies: the checkout is not on the path, and
    # the venv's own editable install of it comes after the unpacked wheel.
    env = {**os.environ, "PYTHONPATH": str(site), "PYTHONSAFEPATH": "1"}
    check = subprocess.run(
        [sys.executable, "-c", _CHECK], cwd=away, env=env, capture_output=True, text=True
    )
    assert check.returncode == 0, check.stderr
    found = json.loads(check.stdout)
    assert Path(found["package"]).is_relative_to(site)
    assert Path(found["templates"]) == site / "workbench" / "_bundled" / "templates"
    assert found["version"] == wheel.name.split("-")[1]
    builtins = sorted(p.name.removesuffix(".prompt.yaml") for p in REPO.glob("templates/*.yaml"))
    assert found["builtins"] == builtins and "welcome" in builtins
    assert len(found["judges"]) == 4 and found["presets"]
    assert found["models"] == [str(site / "workbench" / "_bundled" / "resources" / "models.yaml")]
    assert found["icons"] == len(list((REPO / "resources" / "icons").glob("*.svg")))

    render = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from workbench.cli import main; sys.exit(main())",
            "render",
            "zero-shot-summarize",
            "--var",
            "text=Cats sleep a lot.",
            "--json",
        ],
        cwd=away,
        env=env,
        capture_output=True,
        text=True,
    )
    assert render.returncode == 0, render.stderr
    assert "Cats sleep a lot." in render.stdout
