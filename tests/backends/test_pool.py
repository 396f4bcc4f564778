"""Server pools: least-loaded dispatch, failover, draining and the cool-down's health check,
through the openai_compat backend against local servers speaking OpenAI's SSE chat stream."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.backends.conftest import stream_all
from tests.backends.pool_servers import ChatServer
from tests.waiting import wait_until
from workbench.backends.base import CancelToken
from workbench.backends.config import BackendConfig
from workbench.backends.openai_compat import OpenAICompatBackend, OpenAICompatOptions
from workbench.backends.pool import pool_urls
from workbench.core.models import RenderedMessage, RunRequest, RunResult
from workbench.services.egress import destination


def request(text: str) -> RunRequest:
    return RunRequest(
        backend="openai_compat", messages=[RenderedMessage(role="user", content=text)]
    )


def pool(*urls: str, **options: object) -> OpenAICompatBackend:
    return OpenAICompatBackend(
        OpenAICompatOptions(base_urls=list(urls), default_model="pool-model", **options)
    )


def dead_url() -> str:
    """A loopback port with nothing listening (connection refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"


@pytest.fixture
def servers() -> Iterator[list[ChatServer]]:
    made = [ChatServer(f"s{i}", delay=0.05) for i in range(3)]
    yield made
    for server in made:
        server.close()


def run(backend: OpenAICompatBackend, text: str) -> RunResult:
    return stream_all(backend, request(text), CancelToken())[1]


def test_least_loaded_dispatch_spreads_requests(servers: list[ChatServer]) -> None:
    backend = pool(*(s.url for s in servers))
    # All six in flight together, however slow the machine; a server notes an answer after its
    # last byte, which the client may read first (hence the waits on ``answered``).
    gate = threading.Barrier(6)
    for server in servers:
        server.gate = gate
    with ThreadPoolExecutor(6) as workers:
        results = list(workers.map(lambda i: run(backend, f"n{i}"), range(6)))
    for server in servers:
        server.gate = None
    assert all(r.error is None for r in results)
    wait_until(lambda: [len(s.answered) for s in servers] == [2, 2, 2])
    assert all(s.peak == 2 for s in servers)  # two at once each, never three on one
    # The record says which server answered; the answer names the same one.
    for result in results:
        server = next(s for s in servers if s.url == result.request.server)
        assert result.text.startswith(server.name)
    # Alone, requests take turns (ties are round-robin, not always the first server).
    for i in range(3):
        run(backend, f"seq{i}")
    wait_until(lambda: [len(s.answered) for s in servers] == [3, 3, 3])
    figures = backend.pool.figures() if backend.pool else []
    assert [(f.requests, f.failures, f.healthy) for f in figures] == [(3, 0, True)] * 3
    assert all(f.mean_latency_s is not None and f.mean_latency_s >= 0.1 for f in figures)


def test_a_dead_server_is_drained_and_the_request_goes_elsewhere(
    servers: list[ChatServer],
) -> None:
    down = dead_url()
    backend = pool(down, servers[0].url, pool_cooldown=60)
    results = [run(backend, f"n{i}") for i in range(4)]
    assert all(r.error is None for r in results)
    assert {r.request.server for r in results} == {servers[0].url}
    assert len(servers[0].answered) == 4
    assert backend.pool is not None
    dead, live = backend.pool.figures()
    # Tried once, drained: no further request went to it during the cool-down.
    assert (dead.url, dead.requests, dead.failures, dead.healthy) == (down, 1, 1, False)
    assert (live.requests, live.failures) == (4, 0)


def test_a_drained_server_comes_back_after_the_cool_down(servers: list[ChatServer]) -> None:
    first, second = servers[0], servers[1]
    first.failing = True  # answers 500
    backend = pool(first.url, second.url, pool_cooldown=0.3, max_retries=0)
    assert run(backend, "a").error is None  # failed over to the second
    assert first.received == 1
    run(backend, "b")
    assert first.received == 1  # drained
    first.failing = False
    drained = time.monotonic()
    wait_until(lambda: time.monotonic() >= drained + 0.35)  # the cool-down is over
    run(backend, "c")  # a health check starts in the background
    assert backend.pool is not None
    wait_until(lambda: backend.pool is not None and backend.pool.figures()[0].healthy, 5)
    for i in range(4):
        run(backend, f"after{i}")
    assert len(first.answered) >= 2  # back in the rotation


def test_a_stream_cut_mid_answer_is_not_sent_again(servers: list[ChatServer]) -> None:
    servers[0].break_after = 1
    backend = pool(servers[0].url, servers[1].url)
    result = run(backend, "once")
    assert result.error is not None and "broke off" in result.error
    assert result.text == "s0"  # the partial text is kept
    assert result.request.server == servers[0].url
    assert servers[0].received == 1 and servers[1].received == 0  # never sent twice
    assert backend.pool is not None and not backend.pool.figures()[0].healthy


def test_a_pool_all_down_fails_after_the_retry_policy() -> None:
    backend = pool(dead_url(), dead_url(), max_retries=1, retry_backoff=0.01)
    result = run(backend, "x")
    assert result.error is not None and "every server of the pool tried" in result.error
    assert backend.pool is not None
    assert [f.requests for f in backend.pool.figures()] == [2, 2]  # two rounds over both


def test_base_urls_setting_and_consent() -> None:
    assert pool_urls("http://a:1/v1, http://b:2/v1/\nhttp://a:1/v1") == [
        "http://a:1/v1",
        "http://b:2/v1",
    ]
    assert pool_urls(["http://a:1/v1,http://b:2/v1"]) == ["http://a:1/v1", "http://b:2/v1"]
    assert pool_urls("http://a:1/v1; http://b:2/v1") == ["http://a:1/v1", "http://b:2/v1"]
    with pytest.raises(ValueError):
        OpenAICompatOptions(base_urls="ftp://a")
    local = {"base_urls": "http://127.0.0.1:8001/v1,http://[::1]:8002/v1"}
    mixed = {"base_urls": "http://127.0.0.1:8001/v1,http://gpu-box.lan:8000/v1"}
    configs = {
        name: BackendConfig(name=name, backend="openai_compat", options=options)
        for name, options in (("local", local), ("mixed", mixed))
    }
    assert not destination("local", configs=configs).remote
    far = destination("mixed", configs=configs)
    assert far.remote and "gpu-box.lan:8000" in far.host


@pytest.mark.slow
def test_a_real_llama_cpp_server_in_a_pool_with_a_dead_url(llama_server: str) -> None:
    """llama-cpp-python's own server behind a URL where nothing listens: the model is listed
    and runs through the pool, the dead URL drained after its one failure."""
    down = dead_url()
    backend = OpenAICompatBackend(
        OpenAICompatOptions(
            base_urls=[down, llama_server],
            param_names={"repetition_penalty": "repeat_penalty"},
            concurrency=1,  # llama-cpp-python's server answers one request at a time
        )
    )
    try:
        assert [m.id for m in backend.list_models()] == ["smollm2"]
        results = [run(backend, "Name one colour.") for _ in range(2)]
    finally:
        backend.close()
    for result in results:
        assert result.error is None and result.text.strip()
        assert result.request.server == llama_server and result.request.model == "smollm2"
    assert backend.pool is not None
    dead, live = backend.pool.figures()
    assert (dead.requests, dead.failures, dead.healthy) == (1, 1, False)
    # Two model lists (ours, and the first run asking which model the server has) and two runs.
    assert live.requests == 4 and live.failures == 0


def test_an_adaptive_pool_starts_at_the_level_of_its_servers_together() -> None:
    from workbench.backends.adaptive import policy_for

    local = OpenAICompatOptions(base_urls="http://127.0.0.1:8001/v1,http://127.0.0.1:8002/v1")
    assert (policy_for(local).kind, policy_for(local).start) == ("local_server", 8)
    mixed = OpenAICompatOptions(base_urls="http://127.0.0.1:8001/v1,http://gpu.lan:8000/v1")
    assert (policy_for(mixed).kind, policy_for(mixed).start) == ("cloud", 16)
    one = OpenAICompatOptions(base_url="http://127.0.0.1:8001/v1")
    assert (policy_for(one).kind, policy_for(one).start) == ("local_server", 4)
    fixed = OpenAICompatOptions(base_urls=local.base_urls, concurrency=3)
    assert policy_for(fixed).start == 3


def test_an_ollama_pool_fails_over_and_spreads() -> None:
    from tests.backends.local_servers import OllamaServer
    from workbench.backends.ollama import OllamaBackend, OllamaOptions

    down = dead_url().removesuffix("/v1")
    with OllamaServer() as first, OllamaServer() as second:
        backend = OllamaBackend(OllamaOptions(base_urls=[down, first.url, second.url]))
        try:
            assert "tiny:latest" in [m.id for m in backend.list_models()]
            chat = RunRequest(
                backend="ollama",
                model="tiny:latest",
                messages=[RenderedMessage(role="user", content="Say the sentence.")],
            )
            results = [stream_all(backend, chat, CancelToken())[1] for _ in range(4)]
        finally:
            backend.close()
        assert all(r.error is None and r.text for r in results)
        assert {r.request.server for r in results} == {first.url, second.url}
        # Both took chats (the turn is shared with the model list and version requests).
        chats = [len(first.bodies("/api/chat")), len(second.bodies("/api/chat"))]
        assert sum(chats) == 4 and min(chats) >= 1
    assert backend.pool is not None
    dead = backend.pool.figures()[0]
    assert (dead.url, dead.failures, dead.healthy) == (down, 1, False)


def test_each_server_has_its_own_limit() -> None:
    """A server that takes one request at once answers 429 beyond: its own limit comes down
    and the refused requests go to the other server; none fails, and the backend's limit is
    not told (the pool as a whole had room)."""
    small, large = ChatServer("small", delay=0.05, capacity=1), ChatServer("large", delay=0.05)
    backend = pool(small.url, large.url, max_retries=0)
    try:
        with ThreadPoolExecutor(6) as workers:
            results = list(workers.map(lambda i: run(backend, f"n{i}"), range(18)))
    finally:
        small.close()
        large.close()
    assert all(r.error is None for r in results)
    assert small.refused >= 1 and small.peak == 1
    assert len(small.answered) + len(large.answered) == 18
    assert len(large.answered) > len(small.answered)
    assert backend.pool is not None
    limits = [f.limit for f in backend.pool.figures()]
    assert limits[0] < 4 <= limits[1]  # the small one's limit came down, the large one's not


def test_a_cancel_mid_answer_is_not_a_server_failure() -> None:
    from tests.backends.conftest import cancel_while_reading

    slow = ChatServer("slow", delay=1.0)
    backend = pool(slow.url)
    try:
        result = cancel_while_reading(backend, request("wait"), words=1, delay_s=0.1)
    finally:
        slow.close()
    assert result.finish_reason == "cancelled" and result.text == "slow"
    assert backend.pool is not None
    (figures,) = backend.pool.figures()
    assert (figures.in_flight, figures.failures, figures.healthy) == (0, 0, True)


def test_a_server_that_says_what_it_takes_is_held_to_it() -> None:
    """A llama.cpp server with one slot (and llama-cpp-python's, which cuts a running answer
    short when a second request arrives) gets no second request at once from the pool, however
    much room the pool as a whole has; an unidentified server still adapts from 4."""
    from tests.backends.local_servers import LocalServer, llama_server_routes
    from workbench.backends.http import HttpClient
    from workbench.backends.http_errors import ErrorContext
    from workbench.backends.pool import ServerPool

    options = OpenAICompatOptions()
    plain = ChatServer("plain")
    with (
        LocalServer(llama_server_routes(total_slots=1)) as one,
        LocalServer(llama_server_routes(total_slots=3)) as three,
    ):
        http = HttpClient(options.model_copy(update={"max_retries": 0}),
                          ErrorContext("pool", one.url))
        servers = ServerPool([one.url, three.url, plain.url], options, http, cooldown=15)
        try:
            servers.size()
            servers.size()  # asked once
            limits = [f.limit for f in servers.figures()]
            asked = [len(s.bodies("/props")) for s in (one, three)]
        finally:
            servers.close()
            http.close()
            plain.close()
    assert limits == [1, 3, 4]
    assert asked == [1, 1]
