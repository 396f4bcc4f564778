"""Which calls leave the machine, and to where: the local-first rule in one place.

A backend that runs in this process (the embedded llama.cpp model, the scripted test backend)
or talks to a server on this machine (a loopback base URL) keeps everything local. Anything else
(a cloud API, a server elsewhere on the network, Bedrock) sends the prompt away. Before a run
that the user did not set up by hand in the window that starts it (an imported suite, a sweep,
a comparison reopened or built from a file) would send anything away, the app shows ``plan``'s
answer and asks; ``workbench backends`` contacts only the backends a person configured.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from workbench.backends.config import BackendConfig, load_configs
from workbench.backends.credentials import is_loopback
from workbench.backends.registry import Registry, default_registry
from workbench.core.errors import KnownError
from workbench.core.experiments import ExperimentSpec
from workbench.core.grid import CellEstimate, Estimate
from workbench.services.grid_runner import GridRunner
from workbench.services.runner import Runner


@dataclass(frozen=True)
class Destination:
    """Where one backend's calls go."""

    backend: str  # the configured name or backend id the run names
    backend_type: str  # the backend id ("anthropic")
    host: str  # "api.anthropic.com", "127.0.0.1:8080", "this computer"
    remote: bool
    configured: bool  # saved in Tools ▸ Backends (a bare backend id uses its defaults)


def _url_host(url: str) -> tuple[str, bool]:
    """``(host[:port], remote)`` of a base URL."""
    parts = urlsplit(url if "://" in url else f"http://{url}")
    host = parts.hostname or ""
    shown = f"{host}:{parts.port}" if parts.port else host
    return shown or url, not (host and is_loopback(host))


def destination(
    name: str,
    *,
    registry: Registry | None = None,
    configs: dict[str, BackendConfig] | None = None,
) -> Destination:
    """Where calls to the backend ``name`` (a configured name or a backend id) go."""
    registry = registry or default_registry()
    configs = load_configs() if configs is None else configs
    config = configs.get(name)
    backend_type = config.backend if config is not None else name
    configured = config is not None
    try:
        cls = registry.load(backend_type)
    except KnownError:
        return Destination(name, backend_type, "an unknown backend", True, configured)
    if cls.runs_locally or backend_type == "scripted":
        return Destination(name, backend_type, "this computer", False, configured)
    try:
        options = registry.options(backend_type, config.options if config else None)
    except KnownError:
        return Destination(name, backend_type, "not set up", True, configured)
    values = options.model_dump()
    if values.get("endpoint_url"):
        host, remote = _url_host(str(values["endpoint_url"]))
    elif values.get("base_urls"):  # a pool: remote when any of its servers is
        hosts = [_url_host(str(url)) for url in values["base_urls"]]
        host = ", ".join(shown for shown, _ in hosts)
        remote = any(far for _, far in hosts)
    elif values.get("base_url"):
        host, remote = _url_host(str(values["base_url"]))
    elif "region" in values:  # Bedrock without an endpoint: AWS's regional host
        region = values.get("region") or "the default AWS region"
        host, remote = f"AWS Bedrock ({region})", True
    else:
        host, remote = "elsewhere", True
    return Destination(name, backend_type, host, remote, configured)


def _calls(count: int) -> str:
    return f"{count:,} call{'' if count == 1 else 's'}"


@dataclass(frozen=True)
class RemoteShare:
    """The part of a run that goes to one remote destination."""

    destination: Destination
    calls: int
    input_tokens: int
    output_tokens: int
    cost: float | None  # None: no price known for some of its calls


@dataclass(frozen=True)
class EgressPlan:
    """What a run would send away: one share per remote destination (empty: all local)."""

    shares: tuple[RemoteShare, ...]
    local_calls: int

    @property
    def remote(self) -> bool:
        return bool(self.shares)

    @property
    def remote_calls(self) -> int:
        return sum(s.calls for s in self.shares)

    def lines(self) -> list[str]:
        """The estimate a person confirms: where, how many calls, tokens and cost."""
        lines = []
        for share in self.shares:
            d = share.destination
            cost = "cost unknown" if share.cost is None else f"≈ ${share.cost:.4f}"
            lines.append(
                f"{d.backend} → {d.host}: {_calls(share.calls)}, ≤ {share.input_tokens:,} "
                f"input + ≤ {share.output_tokens:,} output tokens, {cost}"
                + ("" if d.configured else " (not set up in Tools ▸ Backends: its defaults)")
            )
        if self.local_calls:
            lines.append(f"{_calls(self.local_calls)} stay on this computer")
        return lines


def plan(
    estimate: Estimate,
    *,
    registry: Registry | None = None,
    configs: dict[str, BackendConfig] | None = None,
) -> EgressPlan:
    """Split an estimate's calls (its cells) by where they go."""
    registry = registry or default_registry()
    configs = load_configs() if configs is None else configs
    by_backend: dict[str, list[CellEstimate]] = {}
    for cell in estimate.cells:
        by_backend.setdefault(cell.backend, []).append(cell)
    shares, local = [], 0
    for backend, cells in sorted(by_backend.items()):
        where = destination(backend, registry=registry, configs=configs)
        if not where.remote:
            local += len(cells)
            continue
        costs = [c.cost for c in cells]
        shares.append(RemoteShare(
            where, len(cells), sum(c.input_tokens or 0 for c in cells),
            sum(c.output_tokens for c in cells),
            None if any(c is None for c in costs) else sum(c or 0.0 for c in costs)))
    return EgressPlan(tuple(shares), local)


def remote_backends(
    names: Iterable[str],
    *,
    registry: Registry | None = None,
    configs: dict[str, BackendConfig] | None = None,
) -> list[Destination]:
    """The destinations of ``names`` that leave the machine."""
    found = [destination(n, registry=registry, configs=configs) for n in dict.fromkeys(names)]
    return [d for d in found if d.remote]


def plan_experiment(
    spec: ExperimentSpec,
    runner: Runner,
    *,
    registry: Registry | None = None,
    configs: dict[str, BackendConfig] | None = None,
) -> EgressPlan:
    """What running ``spec`` would send away, with the estimate of the remote cells only (a
    local model's tokenizer is not loaded for cells that stay here)."""
    registry = registry or default_registry()
    configs = configs if configs is not None else runner.configs
    configs = load_configs() if configs is None else configs
    away = {d.backend for d in remote_backends(
        (v.backend for v in spec.variants), registry=registry, configs=configs)}
    per_variant = max(len(spec.tests), 1) * spec.repeats
    local = sum(per_variant for v in spec.variants if v.backend not in away)
    if not away:
        return EgressPlan((), local)
    remote = spec.model_copy(update={"variants": [v for v in spec.variants if v.backend in away]})
    found = plan(GridRunner(runner).estimate(remote), registry=registry, configs=configs)
    return EgressPlan(found.shares, local)
