"""A local server with no concurrency set is asked what it takes at once, once per base URL: the
real llama-cpp-python server (one; by default it cuts off the answer streaming when another
request arrives), servers speaking llama-server's, vLLM's and Ollama's own endpoints
(tests/backends/local_servers.py), an unidentified one and a closed port."""

from __future__ import annotations

import pytest

from tests.backends.conftest import free_port
from tests.backends.local_servers import (
    LocalServer,
    OllamaServer,
    catch_all_routes,
    json_routes,
    llama_server_routes,
    vllm_routes,
)
from workbench.backends.adaptive import Policy
from workbench.backends.capacity import UNREACHABLE, Capacities
from workbench.backends.limits import Limits
from workbench.backends.openai_compat import OpenAICompatOptions


def options(*urls: str, **more: object) -> OpenAICompatOptions:
    if len(urls) == 1:
        return OpenAICompatOptions(base_url=f"{urls[0]}/v1", **more)
    return OpenAICompatOptions(base_urls=[f"{u}/v1" for u in urls], **more)


def test_a_llama_server_starts_at_its_parallel_slots_asked_once() -> None:
    with LocalServer(llama_server_routes(total_slots=3)) as server:
        limits = Limits()
        limiter = limits.for_backend("slots", options(server.url), learned=12)
        policy = limits.policy(options(server.url))
        assert limits.for_backend("slots", options(server.url)) is limiter
        asked = len(server.bodies("/props"))
    assert policy == Policy("local_server", 3, 3, "llama.cpp server: 3 parallel slots")
    assert limiter.controller is not None and limiter.limit == 3  # not the 12 learned: 3 slots
    assert asked == 1


@pytest.mark.slow
def test_the_llama_cpp_python_server_gets_one_request_at_a_time_never_more(
    llama_server: str,
) -> None:
    limits = Limits()
    served = OpenAICompatOptions(base_url=llama_server)
    assert limits.policy(served) == Policy(
        "local_server", 1, 1, "llama-cpp-python server: one request at a time"
    )
    limiter = limits.for_backend("server", served, learned=8)
    assert limiter.controller is not None and limiter.controller.ceiling == 1
    assert limiter.limit == 1
    assert limits.policy(served).describe() == "llama-cpp-python server: one request at a time"


def test_batching_and_queueing_servers_adapt_from_their_kinds_start() -> None:
    with LocalServer(vllm_routes()) as vllm, OllamaServer() as ollama:
        capacities = Capacities()
        batching = capacities.policy(options(vllm.url))
        queueing = capacities.policy(OpenAICompatOptions(base_url=ollama.url))
    assert (batching.start, batching.ceiling) == (4, 64)
    assert batching.describe() == "adaptive up to 64, vLLM, which batches requests"
    assert (queueing.start, queueing.ceiling) == (2, 64)
    assert queueing.describe() == "adaptive up to 64, Ollama, which queues what it cannot run"


def test_an_unidentified_or_silent_server_gets_one_at_a_time() -> None:
    web_app = catch_all_routes(b'{"ok": true}', "application/json")
    openai_like = json_routes({"/v1/models": {"object": "list", "data": [{"id": "m"}]}})
    with LocalServer(web_app) as app, LocalServer(openai_like) as other:
        capacities = Capacities()
        for url in (app.url, other.url):
            assert capacities.policy(options(url)) == Policy(
                "local_server", 1, 1,
                "an unidentified server: one request at a time; set its concurrency to run more",
            )
    closed = f"http://127.0.0.1:{free_port()}"
    assert capacities.of(f"{closed}/v1") == UNREACHABLE
    assert capacities.policy(options(closed)).start == 1


def test_a_pool_asks_each_server_and_gives_none_more_than_it_takes() -> None:
    """Least-loaded dispatch spreads the limit evenly: its size times the least any takes."""
    with (
        LocalServer(llama_server_routes(total_slots=3)) as three,
        LocalServer(llama_server_routes(total_slots=2)) as two,
        LocalServer(llama_server_routes(total_slots=3)) as also_three,
    ):
        capacities = Capacities()
        mixed = capacities.policy(options(three.url, two.url))
        same = capacities.policy(options(three.url, also_three.url))
        asked = [len(s.bodies("/props")) for s in (three, two, also_three)]
    assert (mixed.start, mixed.ceiling) == (4, 4)
    assert mixed.reason == "llama.cpp server: 3 parallel slots; llama.cpp server: 2 parallel slots"
    assert same == Policy("local_server", 6, 6, "2 × llama.cpp server: 3 parallel slots")
    assert asked == [1, 1, 1]


def test_a_concurrency_set_by_the_user_stays_and_asks_nothing() -> None:
    with LocalServer(llama_server_routes(total_slots=3)) as server:
        limiter = Limits().for_backend("slots", options(server.url, concurrency=5))
        assert server.requests == []
    assert limiter.controller is None and limiter.limit == 5
