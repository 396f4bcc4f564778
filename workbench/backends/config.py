"""Configured backends: named instances with their options, saved as YAML in the config folder.

A configuration whose name is a backend id replaces that backend's defaults (e.g. ``llamacpp``
with extra model folders); other names add instances (``my-vllm`` of ``openai_compat``). The file
never holds a secret: options are validated before saving and secret-typed fields are refused
(API keys live in the OS keyring or the environment).
"""

from __future__ import annotations

import os
import tempfile
import typing
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, SecretBytes, SecretStr, ValidationError

from workbench.backends.base import Backend, BackendOptions
from workbench.backends.registry import BackendUnavailableError, Registry, default_registry
from workbench.core import paths, safe_yaml
from workbench.core.errors import ErrorCode, KnownError

CONFIG_FILE = "backends.yaml"
_HEADER = (
    "# Prompt Workbench backend settings. No secrets here: API keys live in the OS keyring or in\n"
    "# environment variables.\n"
)


class BackendConfigError(KnownError):
    """A backends.yaml that cannot be read or a configuration that cannot be saved."""

    code = ErrorCode.BACKEND_CONFIG


class BackendConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", max_length=64)
    backend: str
    options: dict[str, Any] = Field(default_factory=dict)


def config_path() -> Path:
    return paths.config_dir() / CONFIG_FILE


def load_configs(path: Path | None = None) -> dict[str, BackendConfig]:
    """The saved configurations by name (none when the file does not exist)."""
    path = path or config_path()
    try:
        data = safe_yaml.load(path.read_text(encoding="utf-8")) or {}
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError) as err:
        raise BackendConfigError(f"{path}: cannot read backend settings: {err}") from None
    except yaml.YAMLError as err:
        reason = safe_yaml.describe(err)
        raise BackendConfigError(f"{path}: cannot read backend settings: {reason}") from None
    try:
        items = [BackendConfig.model_validate(item) for item in data.get("backends", [])]
    except (ValidationError, AttributeError, TypeError) as err:
        raise BackendConfigError(f"{path}: not a valid backend settings file: {err}") from None
    return {item.name: item for item in items}


def save_configs(configs: dict[str, BackendConfig], path: Path | None = None) -> None:
    """Write all configurations atomically (a crash leaves the old file or the new one)."""
    path = path or config_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    body = yaml.safe_dump(
        {"backends": [c.model_dump() for c in configs.values()]},
        sort_keys=False,
        allow_unicode=True,
    )
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".backends-", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(_HEADER + body)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _is_secret(annotation: Any) -> bool:
    if annotation in (SecretStr, SecretBytes):
        return True
    return any(_is_secret(arg) for arg in typing.get_args(annotation))


def storable_options(options: BackendOptions) -> dict[str, Any]:
    """The options as saved: only values that differ from the defaults, never a secret field."""
    secret = [n for n, f in type(options).model_fields.items() if _is_secret(f.annotation)]
    if any(getattr(options, n) is not None for n in secret):
        raise BackendConfigError(
            f"refusing to save secret option(s) {', '.join(secret)} in plain text",
            hint="keep API keys in the OS keyring or an environment variable",
        )
    return options.model_dump(mode="json", exclude_defaults=True, exclude=set(secret))


def add_config(
    name: str,
    backend: str,
    options: dict[str, Any],
    *,
    registry: Registry | None = None,
    path: Path | None = None,
) -> BackendConfig:
    """Validate and save a configuration (replacing one of the same name)."""
    registry = registry or default_registry()
    if name in registry and name != backend:
        raise BackendConfigError(f"'{name}' is the id of another backend; choose another name")
    validated = registry.options(backend, options)
    key_field = type(validated).model_fields.get("api_key_name")
    if name != backend and key_field is not None and (
        getattr(validated, "api_key_name", None) in ("", key_field.get_default())
    ):
        # A configured server's own keyring entry ('workbench key set NAME'), not the type's
        # default one that every other server of the type would share and overwrite.
        validated = validated.model_copy(update={"api_key_name": name})
    config = BackendConfig(name=name, backend=backend, options=storable_options(validated))
    configs = load_configs(path)
    configs[name] = config
    save_configs(configs, path)
    return config


def remove_config(name: str, path: Path | None = None) -> None:
    configs = load_configs(path)
    if name not in configs:
        raise BackendConfigError(f"no configured backend '{name}'")
    del configs[name]
    save_configs(configs, path)


def open_backend(
    name: str,
    *,
    registry: Registry | None = None,
    configs: dict[str, BackendConfig] | None = None,
) -> Backend:
    """A ready backend: a configured instance by name, else a backend id with default options."""
    registry = registry or default_registry()
    configs = load_configs() if configs is None else configs
    config = configs.get(name)
    if config is not None:
        return registry.create(config.backend, config.options)
    if name not in registry:
        known = sorted({*registry.ids(), *configs})
        raise BackendUnavailableError(
            f"no backend '{name}'", hint=f"choose one of {', '.join(known)}"
        )
    return registry.create(name)


def status(
    name: str, *, registry: Registry | None = None, configs: dict[str, BackendConfig] | None = None
) -> str:
    """ "ok", "broken: <error>" or "not configured" for a backend id or configured name."""
    registry = registry or default_registry()
    configs = load_configs() if configs is None else configs
    config = configs.get(name)
    backend_id = config.backend if config is not None else name
    info = registry.info(backend_id)
    if not info.ok:
        return info.status
    try:
        registry.options(backend_id, config.options if config is not None else None)
    except BackendUnavailableError:
        return "not configured"
    except KnownError as err:
        return f"broken: {err}"
    return "ok"
