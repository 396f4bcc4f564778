"""``workbench backends``: a status says whether the backend can work, not only whether its
settings are valid."""

from __future__ import annotations

import json
import socket
from typing import Any

import pytest

from workbench.backends.config import add_config
from workbench.cli import main


def _closed_port() -> int:
    """A port nothing listens on: bound, then released."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def no_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("ANTHROPIC_API_KEY", "OPENAI_API_KEY", "AWS_REGION", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")  # no profile region either
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.null.Keyring")


def _entries(capsys: pytest.CaptureFixture[str], *argv: str) -> dict[str, Any]:
    assert main(["backends", *argv, "--json"]) == 0
    return {e["name"]: e for e in json.loads(capsys.readouterr().out)}


@pytest.mark.usefixtures("no_credentials")
def test_statuses_say_what_stops_a_backend(capsys: pytest.CaptureFixture[str]) -> None:
    url = f"http://127.0.0.1:{_closed_port()}/v1"
    add_config("openai_compat", "openai_compat", {"base_url": url, "max_retries": 0})
    add_config("down", "openai_compat", {"base_url": url, "max_retries": 0})
    entries = _entries(capsys)
    assert entries["down"]["status"] == "not answering"
    assert "nothing is answering" in entries["down"]["models_error"]
    assert entries["anthropic"]["status"] == "not configured, not contacted (no API key set)"
    assert entries["bedrock"]["status"] == "not configured, not contacted"
    assert entries["llamacpp"]["status"] == "ok" and entries["llamacpp"]["models"]
    assert main(["backends"]) == 0
    text = capsys.readouterr().out
    assert "down (openai_compat) — OpenAI-compatible server: not answering\n" in text
    assert ": ok" not in text.replace("Local (llama.cpp): ok", "")


@pytest.mark.usefixtures("no_credentials")
def test_without_models_nothing_is_contacted_and_nothing_claims_ok(
    capsys: pytest.CaptureFixture[str],
) -> None:
    add_config("down", "openai_compat", {"base_url": f"http://127.0.0.1:{_closed_port()}/v1"})
    entries = _entries(capsys, "--no-models")
    assert entries["down"]["status"] == "configured, not contacted (no API key set)"
    assert entries["anthropic"]["status"] == "not configured, not contacted (no API key set)"
    assert entries["llamacpp"]["status"] == "ok"
    assert all(e["models"] == [] and e["models_error"] is None for e in entries.values())


@pytest.mark.usefixtures("no_credentials")
def test_cloud_backends_nobody_configured_are_never_contacted(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """With keys in the environment, listing used to call api.anthropic.com, api.openai.com and
    Bedrock (2.2 s offline, and requests to hosts the user never chose). Only configured
    backends, and local ones, are asked for their models."""
    from workbench.backends.registry import default_registry

    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    asked: list[str] = []
    registry = default_registry()
    for backend_id in ("anthropic", "openai_compat", "bedrock"):
        cls = registry.load(backend_id)
        monkeypatch.setattr(
            cls, "list_models", lambda self, _id=backend_id: asked.append(_id) or []
        )
    add_config("box", "openai_compat", {"base_url": f"http://127.0.0.1:{_closed_port()}/v1",
                                        "max_retries": 0})
    entries = _entries(capsys)
    assert asked == ["openai_compat"]  # the configured local server, under its name 'box'
    for name in ("anthropic", "openai_compat", "bedrock"):
        assert entries[name]["status"] == "not configured, not contacted", name
        assert entries[name]["models_error"] is None


def test_a_key_in_an_extra_header_is_refused_and_never_written(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from workbench.backends.config import config_path

    key = "AIzaSyA-planted-key-0123456789abcdef"
    option = f'extra_headers={{"X-Goog-Api-Key": "{key}"}}'
    argv = ["backends", "add", "gem", "openai_compat", "--option", option]
    assert main([*argv, "--option", "base_url=http://127.0.0.1:9/v1"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "X-Goog-Api-Key" in err and "keyring" in err
    assert key not in err
    assert not config_path().exists() or key not in config_path().read_text(encoding="utf-8")


def test_discover_lists_a_local_server_and_its_add_line_saves_it(
    capsys: pytest.CaptureFixture[str],
) -> None:
    import shlex

    from tests.backends.local_servers import LocalServer, lmstudio_routes
    from workbench.backends.config import load_configs

    with LocalServer(lmstudio_routes()) as server:
        port = str(server.port)
        assert main(["backends", "discover", "--port", port, "--json"]) == 0
        (found,) = json.loads(capsys.readouterr().out)["servers"]
        assert found["kind"] == "lmstudio" and found["url"] == server.url
        assert found["configured_as"] is None
        assert main(["backends", "discover", "--port", port]) == 0
        text = capsys.readouterr().out
        assert f"LM Studio at {server.url}\n" in text
        model = "    meta-llama-3.1-8b-instruct  context 131072  [chat template, schema, tools]"
        assert model in text
        (line,) = [x for x in text.splitlines() if x.strip().startswith("add: ")]
        argv = shlex.split(line.split("add: ", 1)[1])
        assert argv[:3] == ["workbench", "backends", "add"]
        name = found["suggested_name"]
        assert main(argv[1:]) == 0
        assert capsys.readouterr().out.startswith(f"saved '{name}'")
        saved = load_configs()[name]
        assert saved.backend == "openai_compat"
        assert saved.options["base_url"] == f"{server.url}/v1"
        # Once saved, discover says so instead of offering the add line again...
        assert main(["backends", "discover", "--port", port]) == 0
        text = capsys.readouterr().out
        assert f"    already configured as {name}\n" in text and "add: " not in text
        assert main(["backends", "discover", "--port", port, "--json"]) == 0
        assert json.loads(capsys.readouterr().out)["servers"][0]["configured_as"] == name
    # ...and the add line run again does not silently overwrite the saved configuration.
    assert main(argv[1:]) == 1
    assert f"'{name}' is already configured (openai_compat at {server.url}/v1)" in (
        capsys.readouterr().err
    )
    assert main([*argv[1:], "--replace"]) == 0
    assert capsys.readouterr().out.startswith(f"replaced '{name}'")


def test_discover_with_nothing_listening_says_so(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["backends", "discover", "--port", str(_closed_port())]) == 0
    assert capsys.readouterr().out.startswith("no model server found on this computer")
