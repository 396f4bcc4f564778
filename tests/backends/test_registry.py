"""Entry-point discovery: lazy imports, and broken plugins that never break anything else."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from workbench.backends.registry import BackendUnavailableError, Registry
from workbench.core.errors import KnownError
from workbench.core.models import Message, PromptTemplate
from workbench.core.template_files import dumps

REPO = Path(__file__).resolve().parents[2]
PLUGIN = """
from workbench.backends.base import Backend, BackendOptions, ModelInfo
from workbench.backends.scripted import ScriptedBackend
from workbench.core.params import Capabilities
from pydantic import Field


class NeedsUrlOptions(BackendOptions):
    base_url: str = Field(description="server address")


class GoodBackend(ScriptedBackend):
    id = "good"
    display_name = "Good third-party backend"
    user_visible = True


class NeedsUrl(ScriptedBackend):
    id = "needsurl"
    display_name = "Needs a URL"
    user_visible = True
    Options = NeedsUrlOptions

    def list_models(self):
        return [ModelInfo(id="m")]


def helper():
    return 1
"""


def make_plugin_site(root: Path) -> Path:
    """A folder that looks like site-packages holding one installed third-party distribution."""
    site = root / "site"
    info = site / "wb_demo_plugins-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: wb-demo-plugins\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(
        textwrap.dedent(
            """\
            [workbench.backends]
            brokenimport = wb_broken_plugin:Backend
            notabackend = wb_good_plugin:helper
            good = wb_good_plugin:GoodBackend
            wrongid = wb_good_plugin:GoodBackend
            needsurl = wb_good_plugin:NeedsUrl
            """
        )
    )
    (site / "wb_broken_plugin.py").write_text('raise ImportError("needs libfoo 2.0")\n')
    (site / "wb_good_plugin.py").write_text(PLUGIN)
    return site


@pytest.fixture
def plugin_site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    site = make_plugin_site(tmp_path)
    monkeypatch.syspath_prepend(str(site))
    return site


def test_builtins_are_registered_through_the_entry_point_group() -> None:
    ids = Registry().ids()
    for builtin in ("llamacpp", "openai_compat", "anthropic", "bedrock", "ollama", "scripted"):
        assert builtin in ids


def test_broken_plugins_are_listed_with_their_error(plugin_site: Path) -> None:
    registry = Registry()
    assert {"brokenimport", "notabackend", "good", "wrongid"} <= set(registry.ids())
    infos = {i.id: i for i in registry.infos()}
    assert infos["brokenimport"].status == "broken: ImportError: needs libfoo 2.0"
    assert infos["brokenimport"].distribution == "wb-demo-plugins"
    assert infos["notabackend"].status == "broken: wb_good_plugin:helper is not a Backend subclass"
    assert infos["wrongid"].status.startswith("broken: wb_good_plugin:GoodBackend has id 'good'")
    assert infos["good"].status == "ok"
    assert infos["good"].display_name == "Good third-party backend"
    assert infos["scripted"].ok if "scripted" in infos else True  # hidden by default
    with pytest.raises(BackendUnavailableError, match="needs libfoo"):
        registry.load("brokenimport")
    # Asked again: the same error, not a crash and not a silent success.
    with pytest.raises(BackendUnavailableError, match="needs libfoo"):
        registry.create("brokenimport")
    assert registry.create("good").id == "good"


def test_unknown_backend_names_what_is_installed() -> None:
    with pytest.raises(BackendUnavailableError, match="no backend 'nope'") as err:
        Registry().load("nope")
    assert "llamacpp" in err.value.hint


def test_duplicate_ids_are_reported_not_guessed(plugin_site: Path) -> None:
    import importlib.metadata

    eps = list(importlib.metadata.entry_points(group="workbench.backends"))
    clash = importlib.metadata.EntryPoint("good", "wb_good_plugin:NeedsUrl", "workbench.backends")
    registry = Registry([*eps, clash])
    assert registry.info("good").status.startswith("broken: two plugins register 'good'")


def test_options_are_validated_and_required_ones_mean_not_configured(plugin_site: Path) -> None:
    registry = Registry()
    assert registry.needs_configuration("needsurl")
    assert not registry.needs_configuration("llamacpp")
    with pytest.raises(BackendUnavailableError, match="not configured: base_url must be set"):
        registry.create("needsurl")
    assert registry.create("needsurl", {"base_url": "http://127.0.0.1:1"}).options.base_url  # type: ignore[attr-defined]
    with pytest.raises(KnownError, match="option n_threads"):
        registry.create("llamacpp", {"n_threads": 0})
    with pytest.raises(KnownError, match="option nonsense"):
        registry.create("llamacpp", {"nonsense": 1})


def _env_with(site: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(site), env.get("PYTHONPATH", "")])
    return env


def test_listing_ids_imports_no_backend_module() -> None:
    code = textwrap.dedent(
        """
        import sys
        from workbench.backends.registry import Registry
        r = Registry()
        r.ids()
        watched = ("workbench.backends.", "llama_cpp")
        before = sorted(m for m in sys.modules if m.startswith(watched))
        r.load("scripted")
        after = sorted(m for m in sys.modules if m.startswith(watched))
        print(before, after)
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO
    )
    before, after = out.stdout.strip().split("] [")
    assert "scripted" not in before and "llamacpp" not in before and "llama_cpp" not in before
    assert "workbench.backends.scripted" in after and "llama_cpp" not in after


def test_cli_lists_a_broken_plugin_and_keeps_working(tmp_path: Path) -> None:
    site = make_plugin_site(tmp_path)
    workbench = Path(sys.executable).parent / "workbench"
    env = _env_with(site) | {"WORKBENCH_HOME": str(tmp_path / "home")}
    listed = subprocess.run(
        [str(workbench), "backends", "--json", "--no-models"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert listed.returncode == 0, listed.stderr
    entries = {e["name"]: e for e in json.loads(listed.stdout)}
    assert entries["brokenimport"]["status"] == "broken: ImportError: needs libfoo 2.0"
    assert entries["needsurl"]["status"] == "not configured"
    assert entries["llamacpp"]["status"] == "ok"
    template = tmp_path / "t.prompt.yaml"
    template.write_text(
        dumps(PromptTemplate(name="t", messages=[Message(role="user", content="hi")]))
    )
    ran = subprocess.run(
        [str(workbench), "run", str(template), "--backend", "brokenimport"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert ran.returncode == 1
    assert ran.stderr.strip().splitlines() == [
        "workbench run: backend 'brokenimport' is broken: ImportError: needs libfoo 2.0"
    ]
