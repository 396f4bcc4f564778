"""``workbench backends``: list the model backends with their status and models; add or
remove configured instances (settings only: API keys stay in the keyring or environment)."""

from __future__ import annotations

import argparse
import typing
from typing import TYPE_CHECKING, Any

from workbench.cli._common import assignment, parse_assignments, print_json

if TYPE_CHECKING:
    from workbench.backends.config import BackendConfig
    from workbench.backends.registry import Registry


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "backends",
        help="list model backends, their status and models",
        description="List the installed model backends and configured instances with their "
        "status and models. Listing the models checks each backend: ok, not answering, no API "
        "key, API key refused, not set up, not working (the reason follows); with --no-models "
        "nothing is contacted and a remote backend is 'configured, not contacted'. A remote "
        "backend that is not configured (a cloud API with its default settings) is never "
        "contacted: 'not configured, not contacted'. "
        "'broken: <error>' and 'not configured' mean it cannot be used as set up. 'add' and "
        "'remove' manage configured instances.",
    )
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--all", action="store_true", help="include backends for tests (scripted)")
    p.add_argument("--no-models", action="store_true", help="do not ask backends for their models")
    p.set_defaults(func=run_list)
    actions = p.add_subparsers(dest="action", metavar="ACTION")

    add = actions.add_parser(
        "add",
        help="save a configured backend",
        description="Save NAME as an instance of BACKEND with options (a name equal to a "
        "backend id changes that backend's defaults). A NAME already saved is refused unless "
        "--replace is given.",
    )
    add.add_argument("name", metavar="NAME")
    add.add_argument("backend", metavar="BACKEND")
    add.add_argument(
        "--replace", action="store_true", help="overwrite the saved configuration named NAME"
    )
    add.add_argument(
        "--option",
        type=assignment,
        action="append",
        metavar="KEY=VALUE",
        help="an option (repeat a key for a list)",
    )
    add.set_defaults(func=run_add)

    remove = actions.add_parser("remove", help="forget a configured backend")
    remove.add_argument("name", metavar="NAME")
    remove.set_defaults(func=run_remove)

    discover = actions.add_parser(
        "discover",
        help="find model servers running on this computer",
        description="Probe this computer's loopback addresses (127.0.0.1, ::1; nothing else is "
        "contacted) on the ports local model servers use by default: Ollama 11434, LM Studio "
        "1234, llama.cpp server 8080, vLLM 8000, text-generation-webui 5000, KoboldCpp 5001, Jan "
        "1337, TGI 3000/8080. Each server is identified by its own endpoints, not by an open "
        "port, and listed with its models, their context window and what they can do. Add one "
        "with the 'workbench backends add' line printed under it.",
    )
    discover.add_argument("--json", action="store_true", help="print JSON")
    discover.add_argument(
        "--port",
        type=int,
        action="append",
        metavar="PORT",
        help="probe this port instead of the default ones (repeat for several)",
    )
    discover.add_argument(
        "--timeout",
        type=float,
        default=2.0,
        metavar="SECONDS",
        help="longest the whole search may take (default 2)",
    )
    discover.set_defaults(func=run_discover)


def _entry(
    name: str,
    backend_id: str,
    registry: Registry,
    configs: dict[str, BackendConfig],
    with_models: bool,
) -> dict[str, Any]:
    from workbench.backends.config import open_backend, status
    from workbench.core.errors import KnownError
    from workbench.services.egress import destination

    state = status(name, registry=registry, configs=configs)
    info = registry.info(backend_id)
    entry: dict[str, Any] = {
        "name": name,
        "backend": backend_id,
        "display_name": info.display_name,
        "status": state,
        "configured": name in configs,
        "models": [],
        "models_error": None,
        "servers": [],
    }
    if state != "ok":
        return entry
    config = configs.get(name)
    no_key = _key_missing(registry, backend_id, config.options if config is not None else None)
    where = destination(name, registry=registry, configs=configs)
    if where.remote and not where.configured:
        # A cloud API nobody set up here: listing it would send a request (and wait for it)
        # to a host the user never chose. Only configured backends are contacted.
        entry["status"] = "not configured, not contacted" + (" (no API key set)" if no_key else "")
        return entry
    if with_models:
        backend = open_backend(name, registry=registry, configs=configs)
        try:
            entry["models"] = [m.model_dump(mode="json") for m in backend.list_models()]
        except KnownError as err:
            entry["models_error"] = str(err)
            entry["status"] = _failed_status(err, no_key)
        finally:
            pool = getattr(backend, "pool", None)
            if pool is not None:
                entry["servers"] = _pool_servers(name, pool)
            backend.close()
    elif not registry.load(backend_id).runs_locally:
        # Only asking it would tell whether it works: say what is known without a network call.
        entry["status"] = "configured, not contacted" + (" (no API key set)" if no_key else "")
    return entry


def _pool_servers(name: str, pool: Any) -> list[dict[str, Any]]:
    """A server pool's servers: each health-checked now, with its figures from history (runs
    it answered, failed runs, mean seconds per run)."""
    from workbench.cli._storage import open_store

    with open_store() as store:
        history = {url: rest for url, *rest in store.runs.by_server(name)}
    servers = []
    for figures in pool.check():
        runs, failed, mean = history.get(figures.url, (0, 0, None))
        servers.append(
            {"url": figures.url, "up": figures.healthy, "runs": runs, "failed": failed,
             "mean_s": mean}
        )
    return servers


def _key_missing(registry: Registry, backend_id: str, options: dict[str, Any] | None) -> bool:
    """Whether the backend's options name an API key (keyring entry or environment variable)
    and none is set; checked locally, without a request."""
    from workbench.backends.credentials import KeyRef, resolve

    values = registry.options(backend_id, options)
    name = getattr(values, "api_key_name", None)
    if not isinstance(name, str):
        return False
    return resolve(KeyRef(name, str(getattr(values, "api_key_env", "") or ""))) is None


def _failed_status(err: Exception, no_key: bool) -> str:
    """The status of a backend whose model list failed: what stops it, in a word or three."""
    from workbench.core.errors import AuthError, BackendError, BackendTimeoutError, ConnectError

    if isinstance(err, AuthError):
        return "no API key" if no_key else "API key refused"
    if isinstance(err, ConnectError | BackendTimeoutError):
        return "not answering"
    if not isinstance(err, BackendError):
        return "not set up"  # a setting it needs before it can be asked (a region, a file)
    return "not working"


def run_list(args: argparse.Namespace) -> int:
    from workbench.backends.config import load_configs
    from workbench.backends.pool import figures_line
    from workbench.backends.registry import default_registry

    registry = default_registry()
    configs = load_configs()
    entries = [
        _entry(info.id, info.id, registry, configs, not args.no_models)
        for info in registry.infos(include_hidden=args.all)
    ]
    for name, config in configs.items():
        if name not in registry:
            entries.append(_entry(name, config.backend, registry, configs, not args.no_models))
    if args.json:
        print_json(entries)
        return 0
    for e in entries:
        title = e["name"] if e["name"] == e["backend"] else f"{e['name']} ({e['backend']})"
        label = f" — {e['display_name']}" if e["display_name"] else ""
        print(f"{title}{label}: {e['status']}")
        for m in e["models"]:
            print(f"    {m['id']}" + (f"  {m['description']}" if m["description"] else ""))
        if e["models_error"]:
            print(f"    models unavailable: {e['models_error']}")
        for server in e["servers"]:
            state = "up" if server["up"] else "not answering"
            print("    server " + figures_line(
                server["url"], server["runs"], server["failed"], server["mean_s"], state
            ))
    return 0


def _is_list_field(registry: Registry, backend_id: str, key: str) -> bool:
    field = registry.load(backend_id).Options.model_fields.get(key)
    if field is None:
        return False
    kinds = [field.annotation, *typing.get_args(field.annotation)]
    return any(typing.get_origin(k) is list or k is list for k in kinds)


def parse_options(items: list[str] | None, registry: Registry, backend_id: str) -> dict[str, Any]:
    """``KEY=VALUE`` options; values read as YAML scalars (numbers, booleans, lists)."""
    import yaml

    from workbench.core import safe_yaml

    values: dict[str, Any] = {}
    for item in items or []:
        ((key, raw),) = parse_assignments([item], "--option").items()
        try:
            value = safe_yaml.load(raw) if raw else raw
        except yaml.YAMLError:
            value = raw
        if _is_list_field(registry, backend_id, key):
            values.setdefault(key, []).extend(value if isinstance(value, list) else [raw])
        else:
            values[key] = value
    return values


def run_add(args: argparse.Namespace) -> int:
    from workbench.backends.config import add_config, config_path, load_configs
    from workbench.backends.registry import default_registry
    from workbench.core.errors import KnownError

    registry = default_registry()
    options = parse_options(args.option, registry, args.backend)
    existing = load_configs().get(args.name)
    if existing is not None and not args.replace:
        raise KnownError(
            f"'{args.name}' is already configured ({_where(existing)})",
            hint="add --replace to overwrite it, or choose another name",
        )
    config = add_config(args.name, args.backend, options, registry=registry)
    done = "saved" if existing is None else "replaced"
    print(f"{done} '{config.name}' ({config.backend}) in {config_path()}")
    return 0


def _where(config: BackendConfig) -> str:
    """A saved configuration in a few words: its backend and where it points."""
    url = config.options.get("base_url")
    return f"{config.backend}" + (f" at {url}" if url else "")


def run_remove(args: argparse.Namespace) -> int:
    from workbench.backends.config import remove_config

    remove_config(args.name)
    print(f"removed '{args.name}'")
    return 0


def add_command(server: Any, name: str | None = None) -> str:
    """The ``workbench backends add`` line that saves a found server."""
    import shlex

    parts = ["workbench", "backends", "add", name or server.suggested_name, server.backend]
    for key, value in server.options.items():
        if isinstance(value, dict):
            value = "{" + ", ".join(f"{k}: {v}" for k, v in value.items()) + "}"
        parts += ["--option", f"{key}={value}"]
    return shlex.join(parts)


def run_discover(args: argparse.Namespace) -> int:
    from workbench.backends.config import load_configs
    from workbench.backends.discovery import discover
    from workbench.core.errors import KnownError

    found = discover(args.port, budget_s=args.timeout)
    try:
        configs = load_configs()
    except KnownError:  # a broken backends.yaml: still list what runs here
        configs = {}
    if args.json:
        print_json(
            {
                "servers": [
                    {**s.to_json(), "configured_as": s.configured_as(configs)}
                    for s in found.servers
                ],
                "elapsed_s": round(found.elapsed_s, 3),
                "unfinished_ports": list(found.unfinished),
            }
        )
        return 0
    if not found.servers:
        print(f"no model server found on this computer ({found.elapsed_s * 1000:.0f} ms)")
    for server in found.servers:
        print(f"{server.label} at {server.url}")
        for model in server.models:
            window = f"  context {model.context_window}" if model.context_window else ""
            caps = f"  [{', '.join(model.capabilities)}]" if model.capabilities else ""
            print(f"    {model.id}{window}{caps}")
        if not server.models:
            print("    (no models)")
        name = server.configured_as(configs)
        if name is None:
            print(f"    add: {add_command(server)}")
        else:
            print(f"    already configured as {name}")
    for port in found.unfinished:
        print(f"port {port}: something answers but did not finish within {args.timeout:g} s")
    return 0
