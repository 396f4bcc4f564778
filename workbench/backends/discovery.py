"""Find model servers already running on this computer (Ollama, LM Studio, llama.cpp, vLLM…).

Only loopback addresses are probed (127.0.0.1, then ::1), on the ports those servers use by
default: nothing leaves the machine, and no proxy from the environment is consulted. A server is
named by endpoints only it answers (Ollama's ``/api/version`` and ``/api/tags``, llama.cpp's
``/props``, LM Studio's ``/api/v0/models``…) with the JSON shape its documentation gives, never by
an open port alone: a web app on port 8080 that answers 200 to every path is not a model server.
Ports are probed in parallel with short timeouts under one deadline, so a closed port costs a
refused connect (well under a millisecond) and a silent one no more than the budget.
"""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import httpx

if TYPE_CHECKING:
    from workbench.backends.config import BackendConfig

#: Default ports and the servers that usually hold them (TGI: 3000 for text-generation-launcher,
#: 8080 for its Docker image's usual mapping, shared with llama.cpp's llama-server).
DEFAULT_PORTS: dict[int, str] = {
    11434: "Ollama",
    1234: "LM Studio",
    8080: "llama.cpp server or TGI",
    8000: "vLLM",
    5000: "text-generation-webui",
    5001: "KoboldCpp",
    1337: "Jan",
    3000: "TGI",
}
LOOPBACK = ("127.0.0.1", "::1")

#: Capability words shown with a model (each only where the server says so, or where the server
#: kind supports it for every model it serves).
CHAT_TEMPLATE, TOOLS, VISION, SCHEMA, REASONING, LOGPROBS = (
    "chat template", "tools", "vision", "schema", "reasoning", "logprobs"
)  # fmt: skip
#: Most /api/show calls made per Ollama (one per model, each a few ms on a local server).
_MAX_SHOWN = 24


@dataclass(frozen=True)
class FoundModel:
    id: str
    context_window: int | None = None
    capabilities: tuple[str, ...] = ()
    details: str = ""


@dataclass(frozen=True)
class FoundServer:
    """One identified server and how to add it as a configured backend."""

    kind: str  # ollama, lmstudio, llamacpp, llama_cpp_python, vllm, tgi, koboldcpp, tgwui, openai
    label: str  # "Ollama 0.5.7"
    url: str  # http://127.0.0.1:11434
    port: int
    version: str
    models: tuple[FoundModel, ...]
    backend: str  # the backend id an "Add" creates
    options: dict[str, Any] = field(default_factory=dict)
    #: Requests it says it runs at once (llama.cpp's slots; llama-cpp-python's server: one).
    slots: int | None = None

    @property
    def suggested_name(self) -> str:
        return f"{self.kind.replace('_', '-')}-{self.port}"

    def configured_as(self, configs: Mapping[str, BackendConfig]) -> str | None:
        """The name of the saved configuration that already points at this server's base URL
        (one of a pool's ``base_urls`` counts), so it is not offered for adding twice."""
        url = _same_url(self.options.get("base_url"))
        for name, config in configs.items():
            urls = [config.options.get("base_url"), *_list(config.options.get("base_urls"))]
            if url and url in (_same_url(u) for u in urls):
                return name
        return None

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["suggested_name"] = self.suggested_name
        return data


@dataclass(frozen=True)
class Discovery:
    servers: tuple[FoundServer, ...]
    elapsed_s: float
    #: Ports that accepted a connection but whose probes had not finished at the deadline.
    unfinished: tuple[int, ...] = ()


class _Probe:
    """The probes of one port: JSON GETs and POSTs bounded by the shared deadline."""

    def __init__(self, root: str, port: int, deadline: float, read_timeout: float) -> None:
        self.port = port
        self.root = root
        self.deadline = deadline
        self.read_timeout = read_timeout
        # trust_env=False: no proxy, .netrc or certificate setting from the environment.
        self.client = httpx.Client(trust_env=False, follow_redirects=False)

    def json(self, path: str, body: Any = None) -> Any:
        """The parsed JSON answer of a 200, else None (any error, any other status)."""
        left = self.deadline - time.monotonic()
        if left <= 0:
            return None
        timeout = min(self.read_timeout, left)
        try:
            if body is None:
                response = self.client.get(self.root + path, timeout=timeout)
            else:
                response = self.client.post(self.root + path, json=body, timeout=timeout)
        except httpx.HTTPError:
            return None
        if response.status_code != 200:
            return None
        try:
            return response.json()
        except ValueError:
            return None

    def close(self) -> None:
        self.client.close()


def _same_url(value: Any) -> str:
    """A base URL as compared with a saved one: no trailing slash."""
    return str(value).rstrip("/") if isinstance(value, str) else ""


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _openai_models(probe: _Probe) -> list[dict[str, Any]] | None:
    """``/v1/models`` when it has the OpenAI list shape (``data``: objects with an ``id``)."""
    data = probe.json("/v1/models")
    items = data.get("data") if isinstance(data, dict) else None
    if not isinstance(items, list):
        return None
    models = [m for m in items if isinstance(m, dict) and isinstance(m.get("id"), str)]
    return models if len(models) == len(items) else None


def _openai_server(
    probe: _Probe,
    kind: str,
    label: str,
    version: str,
    models: Iterable[FoundModel],
    slots: int | None = None,
    **options: Any,
) -> FoundServer:
    found = tuple(models)
    defaults: dict[str, Any] = {"base_url": f"{probe.root}/v1"}
    if len(found) == 1:
        defaults["default_model"] = found[0].id
    return FoundServer(
        kind,
        f"{label} {version}".strip(),
        probe.root,
        probe.port,
        version,
        found,
        "openai_compat",
        {**defaults, **options},
        slots,
    )


# --- one identifier per server kind: None when the port is not that server ------------------


def _ollama(probe: _Probe) -> FoundServer | None:
    version = probe.json("/api/version")
    if not (isinstance(version, dict) and isinstance(version.get("version"), str)):
        return None
    tags = probe.json("/api/tags")
    items = tags.get("models") if isinstance(tags, dict) else None
    if not isinstance(items, list):
        return None
    models = []
    for index, item in enumerate(i for i in items if isinstance(i, dict)):
        name = _str(item.get("name") or item.get("model"))
        if not name:
            continue
        details = _dict(item.get("details"))
        summary = " ".join(
            _str(details.get(k)) for k in ("family", "parameter_size", "quantization_level")
        ).strip()
        shown = probe.json("/api/show", {"model": name}) if index < _MAX_SHOWN else None
        models.append(_ollama_model(name, summary, shown))
    return FoundServer(
        "ollama",
        f"Ollama {version['version']}",
        probe.root,
        probe.port,
        version["version"],
        tuple(models),
        "ollama",  # its native API: num_ctx, format with a schema, think, load time apart
        {"base_url": probe.root, **({"default_model": models[0].id} if len(models) == 1 else {})},
    )


def _ollama_model(name: str, summary: str, shown: Any) -> FoundModel:
    """A model from /api/tags, with /api/show's capabilities and context length when it has
    them (``model_info`` holds ``<architecture>.context_length``)."""
    if not isinstance(shown, dict):
        return FoundModel(name, details=summary)
    info = _dict(shown.get("model_info"))
    arch = _str(info.get("general.architecture"))
    window = _int(info.get(f"{arch}.context_length")) if arch else None
    said = _list(shown.get("capabilities"))
    caps = [SCHEMA]  # `format` takes a JSON schema for every model
    if _str(shown.get("template")):
        caps.append(CHAT_TEMPLATE)
    named = (("tools", TOOLS), ("vision", VISION), ("thinking", REASONING))
    caps += [word for key, word in named if key in said]
    if "embedding" in said and "completion" not in said:
        summary = f"{summary} (embedding model)".strip()
    return FoundModel(name, window, tuple(caps), summary)


def _koboldcpp(probe: _Probe) -> FoundServer | None:
    data = probe.json("/api/extra/version")
    if not (isinstance(data, dict) and data.get("result") == "KoboldCpp"):
        return None
    version = _str(data.get("version"))
    model = probe.json("/api/v1/model")
    name = _str(model.get("result")) if isinstance(model, dict) else ""
    ctx = probe.json("/api/extra/true_max_context_length")
    window = _int(ctx.get("value")) if isinstance(ctx, dict) else None
    models = [FoundModel(name, window, (CHAT_TEMPLATE,))] if name else []
    return _openai_server(probe, "koboldcpp", "KoboldCpp", version, models)


def _tgi(probe: _Probe) -> FoundServer | None:
    info = probe.json("/info")
    if not (isinstance(info, dict) and isinstance(info.get("model_id"), str)):
        return None
    if info.get("router") != "text-generation-router" and "max_total_tokens" not in info:
        return None
    window = _int(info.get("max_total_tokens")) or _int(info.get("max_input_tokens"))
    caps = (CHAT_TEMPLATE, SCHEMA, TOOLS, LOGPROBS)  # TGI's Messages API: grammar, tools, details
    models = [FoundModel(info["model_id"], window, caps, _str(info.get("model_dtype")))]
    return _openai_server(probe, "tgi", "TGI", _str(info.get("version")), models)


def _lmstudio(probe: _Probe) -> FoundServer | None:
    """LM Studio's REST API v0 (0.3.6 on), else its v1 (0.4 on, which may need a token)."""
    data = probe.json("/api/v0/models")
    items = data.get("data") if isinstance(data, dict) else None
    if isinstance(items, list) and all(
        isinstance(i, dict) and "type" in i and "state" in i for i in items
    ):
        return _openai_server(probe, "lmstudio", "LM Studio", "", _lmstudio_v0(items))
    data = probe.json("/api/v1/models")
    items = data.get("models") if isinstance(data, dict) else None
    if isinstance(items, list) and all(
        isinstance(i, dict) and "key" in i and "loaded_instances" in i for i in items
    ):
        return _openai_server(probe, "lmstudio", "LM Studio", "", _lmstudio_v1(items))
    return None


def _lmstudio_v0(items: list[dict[str, Any]]) -> list[FoundModel]:
    models = []
    for item in items:
        if item.get("type") == "embeddings" or not isinstance(item.get("id"), str):
            continue
        caps = [CHAT_TEMPLATE, SCHEMA]
        if "tool_use" in _list(item.get("capabilities")):
            caps.append(TOOLS)
        if item.get("type") == "vlm":
            caps.append(VISION)
        summary = " ".join(
            _str(item.get(k)) for k in ("arch", "quantization", "compatibility_type", "state")
        ).strip()
        window = _int(item.get("max_context_length"))
        models.append(FoundModel(item["id"], window, tuple(caps), summary))
    return models


def _lmstudio_v1(items: list[dict[str, Any]]) -> list[FoundModel]:
    models = []
    for item in items:
        if item.get("type") != "llm" or not isinstance(item.get("key"), str):
            continue
        said = _dict(item.get("capabilities"))
        caps = [CHAT_TEMPLATE, SCHEMA]
        if said.get("trained_for_tool_use"):
            caps.append(TOOLS)
        if said.get("vision"):
            caps.append(VISION)
        state = "loaded" if item.get("loaded_instances") else "not-loaded"
        summary = " ".join([_str(item.get("architecture") or item.get("arch")), state]).strip()
        window = _int(item.get("max_context_length"))
        models.append(FoundModel(item["key"], window, tuple(caps), summary))
    return models


def _llamacpp(probe: _Probe) -> FoundServer | None:
    props = probe.json("/props")
    settings = props.get("default_generation_settings") if isinstance(props, dict) else None
    if not isinstance(settings, dict):
        return None
    assert isinstance(props, dict)
    caps = [SCHEMA, LOGPROBS]
    if _str(props.get("chat_template")):
        caps.insert(0, CHAT_TEMPLATE)
    if _dict(props.get("chat_template_caps")).get("supports_tools"):
        caps.append(TOOLS)
    if _dict(props.get("modalities")).get("vision"):
        caps.append(VISION)
    window = _int(settings.get("n_ctx")) or _int(props.get("n_ctx"))
    listed = _openai_models(probe) or []
    names = [m["id"] for m in listed] or [_str(props.get("model_path")).rsplit("/", 1)[-1]]
    models = [FoundModel(n, window, tuple(caps)) for n in names if n]
    version = _str(props.get("build_info"))
    slots = _int(props.get("total_slots"))
    return _openai_server(probe, "llamacpp", "llama.cpp server", version, models, slots)


def _vllm(probe: _Probe) -> FoundServer | None:
    version = probe.json("/version")
    if not (isinstance(version, dict) and isinstance(version.get("version"), str)):
        return None
    listed = _openai_models(probe)
    if not listed or not all(m.get("owned_by") == "vllm" for m in listed):
        return None
    caps = (CHAT_TEMPLATE, SCHEMA, TOOLS, LOGPROBS)
    models = [FoundModel(m["id"], _int(m.get("max_model_len")), caps) for m in listed]
    return _openai_server(probe, "vllm", "vLLM", version["version"], models)


def _tgwui(probe: _Probe) -> FoundServer | None:
    info = probe.json("/v1/internal/model/info")
    if not (isinstance(info, dict) and isinstance(info.get("model_name"), str)):
        return None
    models = [FoundModel(info["model_name"], None, (CHAT_TEMPLATE,))]
    return _openai_server(probe, "tgwui", "text-generation-webui", "", models)


def _llama_cpp_python(probe: _Probe) -> FoundServer | None:
    """llama-cpp-python's server names itself in its OpenAPI document's title."""
    spec = probe.json("/openapi.json")
    info = spec.get("info") if isinstance(spec, dict) else None
    if not (isinstance(info, dict) and "llama.cpp Python" in _str(info.get("title"))):
        return None
    listed = _openai_models(probe) or []
    models = [FoundModel(m["id"], None, (CHAT_TEMPLATE, SCHEMA)) for m in listed]
    return _openai_server(
        probe,
        "llama_cpp_python",
        "llama-cpp-python server",
        _str(info.get("version")),
        models,
        1,  # one request at a time (and by default a new one cuts off the one streaming)
        # It rejects json_schema and names repetition_penalty repeat_penalty.
        schema_format="json_object_schema",
        param_names={"repetition_penalty": "repeat_penalty"},
    )


def _openai_generic(probe: _Probe) -> FoundServer | None:
    """Any other server listing models the OpenAI way (Jan, LocalAI…), named by its port."""
    listed = _openai_models(probe)
    if not listed:  # an empty list is too weak a sign: any JSON API may answer {"data": []}
        return None
    usual = DEFAULT_PORTS.get(probe.port)
    label = f"OpenAI-compatible server (port of {usual})" if usual else "OpenAI-compatible server"
    models = [
        FoundModel(
            m["id"],
            _int(m.get("context_length")) or _int(m.get("max_model_len")),
            details=_str(m.get("owned_by")),
        )
        for m in listed
    ]
    return _openai_server(probe, "openai", label, "", models)


#: Most specific first: a server with its own endpoints before the OpenAI-shaped fallback.
IDENTIFIERS: tuple[Callable[[_Probe], FoundServer | None], ...] = (
    _ollama,
    _koboldcpp,
    _tgi,
    _lmstudio,
    _llamacpp,
    _vllm,
    _tgwui,
    _llama_cpp_python,
    _openai_generic,
)


def _listening_host(port: int, timeout: float) -> str | None:
    """The loopback address accepting connections on ``port`` (a refused one answers at once)."""
    for host in LOOPBACK:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        with contextlib.suppress(OSError), socket.socket(family, socket.SOCK_STREAM) as sock:
            sock.settimeout(timeout)
            if sock.connect_ex((host, port)) == 0:
                return host
    return None


def _identified(probe: _Probe) -> FoundServer | None:
    try:
        for identify in IDENTIFIERS:
            if time.monotonic() >= probe.deadline:
                return None
            found = identify(probe)
            if found is not None:
                return found
        return None
    finally:
        probe.close()


def _probe_port(
    port: int, deadline: float, connect_timeout: float, read_timeout: float
) -> FoundServer | None:
    host = _listening_host(port, connect_timeout)
    if host is None:
        return None
    bracketed = f"[{host}]" if ":" in host else host
    return _identified(_Probe(f"http://{bracketed}:{port}", port, deadline, read_timeout))


def identify(
    base_url: str,
    *,
    budget_s: float = 1.0,
    connect_timeout: float = 0.2,
    read_timeout: float = 0.5,
) -> FoundServer | None:
    """The server at ``base_url`` (its scheme, host and port; the path is ignored), identified as
    :func:`discover` does: None when it is none of the known kinds. ``OSError`` when nothing
    accepts a connection there (refused, or no answer within ``connect_timeout``)."""
    parts = urlsplit(base_url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    with socket.create_connection((parts.hostname or "", port), timeout=connect_timeout):
        pass  # OSError (a ConnectionError, a timeout) when nothing listens
    root = f"{parts.scheme}://{parts.netloc.rsplit('@', 1)[-1]}"
    return _identified(_Probe(root, port, time.monotonic() + budget_s, read_timeout))


def discover(
    ports: Iterable[int] | None = None,
    *,
    budget_s: float = 2.0,
    connect_timeout: float = 0.1,
    read_timeout: float = 0.5,
) -> Discovery:
    """Probe ``ports`` (default: :data:`DEFAULT_PORTS`) on loopback, in parallel, for at most
    ``budget_s``; return the servers identified, in port order."""
    chosen = sorted(set(DEFAULT_PORTS if ports is None else ports))
    start = time.monotonic()
    deadline = start + budget_s
    pool = ThreadPoolExecutor(max_workers=max(1, len(chosen)), thread_name_prefix="discover")
    futures = {
        port: pool.submit(_probe_port, port, deadline, connect_timeout, read_timeout)
        for port in chosen
    }
    wait(futures.values(), timeout=max(0.0, deadline - time.monotonic()) + 0.05)
    pool.shutdown(wait=False, cancel_futures=True)  # a straggler ends at its own timeout
    servers = [f.result() for f in futures.values() if f.done() and f.result() is not None]
    unfinished = tuple(port for port, f in futures.items() if not f.done())
    return Discovery(
        tuple(s for s in servers if s is not None), time.monotonic() - start, unfinished
    )
