"""Discovery of local model servers: each identified by its own endpoints on 127.0.0.1.

Real servers: llama-cpp-python's OpenAI-compatible server (the session fixture). Servers speaking
Ollama's and LM Studio's documented endpoints (tests/backends/local_servers.py). Servers that are
not model servers: a catch-all answering 200 (HTML, or JSON) on every path, and one that accepts
connections and never answers.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.backends.conftest import free_port, stream_all
from tests.backends.local_servers import (
    OLLAMA_VERSION,
    LocalServer,
    OllamaServer,
    catch_all_routes,
    json_routes,
    lmstudio_routes,
)
from workbench.backends.config import add_config, load_configs, open_backend
from workbench.backends.discovery import (
    CHAT_TEMPLATE,
    LOGPROBS,
    REASONING,
    SCHEMA,
    TOOLS,
    VISION,
    discover,
)
from workbench.backends.registry import default_registry
from workbench.core.models import Params, RenderedMessage, RunRequest


def test_ollama_is_identified_with_its_models_context_and_capabilities(tmp_path: Path) -> None:
    with OllamaServer() as server:
        (ollama,) = discover([server.port]).servers
        shown = {body["model"] for body in server.bodies("/api/show")}
        # "Add" makes an ollama backend (its native API), and it answers.
        path = tmp_path / "backends.yaml"
        add_config(ollama.suggested_name, ollama.backend, ollama.options, path=path)
        backend = open_backend(ollama.suggested_name, configs=load_configs(path))
        hello = [RenderedMessage(role="user", content="Hi")]
        _, result = stream_all(
            backend, RunRequest(backend="ollama", model="tiny:latest", messages=hello)
        )
        backend.close()
    assert result.error is None and result.text
    assert ollama.kind == "ollama" and ollama.version == OLLAMA_VERSION
    assert ollama.url == server.url and ollama.label == f"Ollama {OLLAMA_VERSION}"
    assert ollama.backend == "ollama" and ollama.options == {"base_url": server.url}
    models = {m.id: m for m in ollama.models}
    assert shown == set(models)
    assert models["tiny:latest"].context_window == 8192
    assert models["tiny:latest"].capabilities == (SCHEMA, CHAT_TEMPLATE, TOOLS)
    assert models["seeing:latest"].context_window == 131072
    assert set(models["seeing:latest"].capabilities) >= {VISION, REASONING}
    assert "Q4_K_M" in models["seeing:latest"].details


def test_a_server_listening_on_ipv6_loopback_only_is_found() -> None:
    with OllamaServer(host="::1") as server:
        (found,) = discover([server.port]).servers
    assert found.kind == "ollama" and found.url == f"http://[::1]:{server.port}"
    assert found.options["base_url"] == found.url


def test_lmstudio_is_identified_and_embedding_models_are_left_out() -> None:
    with LocalServer(lmstudio_routes()) as server:
        (found,) = discover([server.port]).servers
    assert found.kind == "lmstudio" and found.backend == "openai_compat"
    assert found.options == {"base_url": f"{server.url}/v1"}
    models = {m.id: m for m in found.models}
    assert set(models) == {"qwen2-vl-7b-instruct", "meta-llama-3.1-8b-instruct"}
    assert models["qwen2-vl-7b-instruct"].context_window == 32768
    assert VISION in models["qwen2-vl-7b-instruct"].capabilities
    assert TOOLS in models["meta-llama-3.1-8b-instruct"].capabilities
    assert TOOLS not in models["qwen2-vl-7b-instruct"].capabilities


def _openai_list(*models: dict[str, Any]) -> dict[str, Any]:
    return {"object": "list", "data": list(models)}


#: Each server's own endpoints with the answers its documentation shows (trimmed), and what
#: discovery must make of them: (kind, version, model, context window, capabilities).
SERVERS: dict[str, tuple[dict[str, Any], tuple[str, str, str, int | None, set[str]]]] = {
    "llama-server": (
        {
            "/props": {
                "default_generation_settings": {"n_ctx": 4096, "temperature": 0.8},
                "total_slots": 1,
                "model_path": "/models/qwen2.5-0.5b-instruct-q4_k_m.gguf",
                "chat_template": "{% for message in messages %}{{ message.content }}{% endfor %}",
                "chat_template_caps": {"supports_tools": True},
                "modalities": {"vision": False},
                "build_info": "b5123-1a2b3c4",
            },
            "/health": {"status": "ok"},
            "/v1/models": _openai_list(
                {"id": "qwen2.5-0.5b-instruct-q4_k_m.gguf", "object": "model",
                 "owned_by": "llamacpp", "meta": {"n_ctx_train": 32768}}
            ),
        },
        ("llamacpp", "b5123-1a2b3c4", "qwen2.5-0.5b-instruct-q4_k_m.gguf", 4096,
         {CHAT_TEMPLATE, SCHEMA, LOGPROBS, TOOLS}),
    ),
    "vllm": (
        {
            "/version": {"version": "0.8.4"},
            "/health": {},
            "/v1/models": _openai_list(
                {"id": "Qwen/Qwen2.5-1.5B-Instruct", "object": "model", "owned_by": "vllm",
                 "root": "Qwen/Qwen2.5-1.5B-Instruct", "max_model_len": 32768}
            ),
        },
        ("vllm", "0.8.4", "Qwen/Qwen2.5-1.5B-Instruct", 32768, {SCHEMA, LOGPROBS, TOOLS}),
    ),
    "tgi": (
        {
            "/info": {
                "model_id": "HuggingFaceH4/zephyr-7b-beta",
                "model_dtype": "torch.float16",
                "max_input_tokens": 4095,
                "max_total_tokens": 4096,
                "router": "text-generation-router",
                "version": "3.0.1",
            },
        },
        ("tgi", "3.0.1", "HuggingFaceH4/zephyr-7b-beta", 4096, {SCHEMA, TOOLS}),
    ),
    "koboldcpp": (
        {
            "/api/extra/version": {"result": "KoboldCpp", "version": "1.86.2"},
            "/api/v1/model": {"result": "koboldcpp/Mistral-7B-Instruct-v0.3.Q4_K_M"},
            "/api/extra/true_max_context_length": {"value": 8192},
        },
        ("koboldcpp", "1.86.2", "koboldcpp/Mistral-7B-Instruct-v0.3.Q4_K_M", 8192, set()),
    ),
    "text-generation-webui": (
        {
            "/v1/internal/model/info": {"model_name": "Meta-Llama-3-8B", "lora_names": []},
            "/v1/models": _openai_list({"id": "Meta-Llama-3-8B", "object": "model"}),
        },
        ("tgwui", "", "Meta-Llama-3-8B", None, set()),
    ),
    "lmstudio-v1": (
        {
            "/api/v1/models": {
                "models": [
                    {"type": "llm", "publisher": "qwen", "key": "qwen/qwen3-4b",
                     "display_name": "Qwen3 4B", "architecture": "qwen3",
                     "quantization": {"name": "Q4_K_M", "bits_per_weight": 4},
                     "loaded_instances": [], "max_context_length": 32768, "format": "gguf",
                     "capabilities": {"vision": False, "trained_for_tool_use": True}},
                    {"type": "embedding", "publisher": "nomic-ai",
                     "key": "text-embedding-nomic-embed-text-v1.5", "loaded_instances": [],
                     "max_context_length": 2048},
                ]
            },
        },
        ("lmstudio", "", "qwen/qwen3-4b", 32768, {TOOLS, SCHEMA}),
    ),
    "jan (OpenAI-compatible)": (
        {"/v1/models": _openai_list({"id": "llama3.2-3b-instruct", "object": "model",
                                     "owned_by": "jan"})},
        ("openai", "", "llama3.2-3b-instruct", None, set()),
    ),
}  # fmt: skip


@pytest.mark.parametrize("name", list(SERVERS))
def test_each_server_is_identified_by_its_own_endpoints(name: str) -> None:
    answers, (kind, version, model, window, caps) = SERVERS[name]
    with LocalServer(json_routes(answers)) as server:
        (found,) = discover([server.port]).servers
    assert (found.kind, found.version) == (kind, version)
    (only,) = found.models
    assert (only.id, only.context_window) == (model, window)
    assert caps <= set(only.capabilities)
    assert found.backend == "openai_compat"
    assert found.options["base_url"] == f"{server.url}/v1"
    assert found.options["default_model"] == model
    default_registry().options(found.backend, found.options)


def test_an_empty_openai_style_list_is_not_enough() -> None:
    with LocalServer(json_routes({"/v1/models": _openai_list()})) as server:
        assert discover([server.port]).servers == ()


@pytest.mark.slow
def test_a_real_llama_cpp_python_server_is_found_added_and_runs(
    llama_server: str, tmp_path: Path
) -> None:
    port = urlsplit(llama_server).port
    assert port is not None
    (found,) = discover([port]).servers
    assert found.kind == "llama_cpp_python"
    assert [m.id for m in found.models] == ["smollm2"]
    assert found.options["base_url"] == llama_server
    assert found.options["default_model"] == "smollm2"
    # "Add" saves exactly these options, and the saved backend answers.
    path = tmp_path / "backends.yaml"
    add_config(found.suggested_name, found.backend, found.options, path=path)
    backend = open_backend(found.suggested_name, configs=load_configs(path))
    try:
        request = RunRequest(
            backend=found.suggested_name,
            messages=[RenderedMessage(role="user", content="Say hi")],
            params=Params(max_tokens=4, temperature=0),
        )
        _, result = stream_all(backend, request)
    finally:
        backend.close()
    assert result.error is None and result.text


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"<!doctype html><title>My web app</title>", "text/html"),
        (b'{"ok": true, "status": "running"}', "application/json"),
    ],
)
def test_an_unrelated_http_server_answering_200_everywhere_is_not_a_model_server(
    body: bytes, content_type: str
) -> None:
    with LocalServer(catch_all_routes(body, content_type)) as server:
        found = discover([server.port])
        assert server.requests  # it was asked, and answered every probe with 200
    assert found.servers == () and found.unfinished == ()


def test_nothing_listening_finds_nothing_without_waiting_for_the_budget() -> None:
    ports = [free_port() for _ in range(8)]
    found = discover(ports, budget_s=30.0)
    assert found.servers == () and found.unfinished == ()
    assert found.elapsed_s < 5.0  # refused connects: it never waits out the 30 s budget


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts connections and never answers (a hung process)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.05)
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        thread.join(timeout=5)
        for sock in accepted:
            sock.close()
        listener.close()


def test_a_silent_server_is_given_up_at_the_deadline(silent_port: int) -> None:
    with OllamaServer() as ollama:
        found = discover([silent_port, ollama.port], budget_s=0.5)
    assert [s.kind for s in found.servers] == ["ollama"]
    assert found.unfinished in ((), (silent_port,))
    assert found.elapsed_s < 5.0


def test_found_options_are_valid_backend_options() -> None:
    registry = default_registry()
    with OllamaServer() as ollama, LocalServer(lmstudio_routes()) as lms:
        servers = discover([ollama.port, lms.port]).servers
    assert len(servers) == 2
    for server in servers:
        registry.options(server.backend, server.options)  # raises when Add would fail


def test_a_server_is_known_by_its_base_url_among_the_saved_configurations() -> None:
    """A configuration pointing at the server (with or without a trailing slash, or as one of a
    pool's servers) is the one it was added as; another server's is not."""
    from workbench.backends.config import BackendConfig
    from workbench.backends.discovery import FoundServer

    server = FoundServer(
        "llamacpp", "llama.cpp", "http://127.0.0.1:8080", 8080, "", (), "openai_compat",
        {"base_url": "http://127.0.0.1:8080/v1"},
    )

    def saved(**options: Any) -> dict[str, BackendConfig]:
        return {"mine": BackendConfig(name="mine", backend="openai_compat", options=options)}

    assert server.configured_as(saved(base_url="http://127.0.0.1:8080/v1/")) == "mine"
    pool = ["http://127.0.0.1:8081/v1", "http://127.0.0.1:8080/v1"]
    assert server.configured_as(saved(base_urls=pool)) == "mine"
    assert server.configured_as(saved(base_url="http://127.0.0.1:8081/v1")) is None
    assert server.configured_as({}) is None
