"""Configured backends saved as YAML: validated, atomic, never a secret."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr

from workbench.backends import config
from workbench.backends.base import BackendOptions
from workbench.backends.llamacpp import LlamaCppBackend
from workbench.backends.registry import BackendUnavailableError, Registry
from workbench.backends.scripted import ScriptedBackend
from workbench.core.errors import KnownError


def test_save_load_and_open_a_named_instance(workbench_home: Path) -> None:
    saved = config.add_config(
        "flaky",
        "scripted",
        {"script": [{"text": "a"}, {"error": "boom", "error_kind": "ServerError"}]},
    )
    assert saved.options["script"][1]["error_kind"] == "ServerError"
    path = config.config_path()
    assert path.is_relative_to(workbench_home)
    assert path.read_text().startswith("# Prompt Workbench backend settings. No secrets here")
    assert list(path.parent.glob(".backends-*")) == []  # no temp file left behind
    loaded = config.load_configs()
    assert loaded["flaky"] == saved
    backend = config.open_backend("flaky")
    assert isinstance(backend, ScriptedBackend)
    assert [s.error for s in backend.options.script] == [None, "boom"]
    config.remove_config("flaky")
    assert config.load_configs() == {}


def test_a_config_named_like_a_backend_changes_its_defaults(tmp_path: Path) -> None:
    config.add_config("llamacpp", "llamacpp", {"model_dirs": [str(tmp_path)], "n_threads": 1})
    assert config.load_configs()["llamacpp"].options == {
        "model_dirs": [str(tmp_path)]
    }  # defaults dropped
    backend = config.open_backend("llamacpp")
    assert isinstance(backend, LlamaCppBackend)
    assert backend.options.model_dirs == [str(tmp_path)]
    plain = config.open_backend("llamacpp", configs={})
    assert plain.options.model_dirs == []


def test_bad_options_are_never_saved() -> None:
    with pytest.raises(KnownError, match="n_threads"):
        config.add_config("local", "llamacpp", {"n_threads": -3})
    with pytest.raises(KnownError, match="id of another backend"):
        config.add_config("scripted", "llamacpp", {})
    assert not config.config_path().exists()


def test_secret_fields_are_refused() -> None:
    class WithKey(BackendOptions):
        api_key: SecretStr | None = None

    assert config.storable_options(WithKey()) == {}
    with pytest.raises(config.BackendConfigError, match="refusing to save secret"):
        config.storable_options(WithKey(api_key=SecretStr("sk-live-123")))


def test_status_of_ids_and_names() -> None:
    registry = Registry()
    assert config.status("llamacpp", registry=registry, configs={}) == "ok"
    configs = {"x": config.BackendConfig(name="x", backend="llamacpp", options={"n_ctx": 5})}
    assert config.status("x", registry=registry, configs=configs).startswith(
        "broken: backend 'llamacpp' option n_ctx"
    )
    with pytest.raises(BackendUnavailableError, match="no backend 'missing'"):
        config.open_backend("missing", registry=registry, configs=configs)


def test_unreadable_file_is_a_clear_error() -> None:
    path = config.config_path()
    path.parent.mkdir(parents=True)
    path.write_text("backends:\n  - name: a\n    backend: scripted\n    colour: red\n")
    with pytest.raises(config.BackendConfigError, match="not a valid backend settings file"):
        config.load_configs()
    path.write_text("backends: [unclosed\n")
    with pytest.raises(config.BackendConfigError, match="cannot read backend settings"):
        config.load_configs()


def test_a_configured_server_gets_its_own_keyring_entry() -> None:
    """'workbench backends add my-server …' then 'workbench key set my-server' (the README's
    steps) must meet: the server's key was looked up under the type's shared default 'openai'."""
    saved = config.add_config("my-server", "openai_compat",
                              {"base_url": "http://127.0.0.1:8080/v1"})
    assert saved.options["api_key_name"] == "my-server"
    chosen = config.add_config("team", "openai_compat",
                               {"base_url": "http://127.0.0.1:8080/v1", "api_key_name": "shared"})
    assert chosen.options["api_key_name"] == "shared"
    builtin = config.add_config("openai_compat", "openai_compat", {"base_url": "http://x/v1"})
    assert "api_key_name" not in builtin.options  # the type's own entry keeps the default
