"""The adaptive concurrency controller, step by step on a fake clock, and its limiter."""

from __future__ import annotations

import math
import threading
from collections.abc import Iterator

import pytest

from tests.backends.local_servers import LocalServer, vllm_routes
from tests.waiting import wait_until
from workbench.backends.adaptive import (
    AimdController,
    Lease,
    Policy,
    current_lease,
    policy_for,
    report_failure,
    report_send,
    report_status,
)
from workbench.backends.base import BackendOptions, CancelToken
from workbench.backends.limits import Limits, RequestLimiter
from workbench.backends.openai_compat import OpenAICompatOptions
from workbench.core.errors import BackendTimeoutError, ServerError


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def controller(start: int = 4, ceiling: int = 64, probe_after: int = 8) -> AimdController:
    return AimdController(start, ceiling, probe_after=probe_after, clock=Clock())


def advance(c: AimdController, seconds: float) -> float:
    clock = c.clock
    assert isinstance(clock, Clock)
    clock.now += seconds
    return clock.now


def succeed(c: AimdController, times: int, *, latency: float = 0.05) -> None:
    for _ in range(times):
        sent = advance(c, latency) - latency
        c.succeeded(sent, saturated=True)


def test_slow_start_adds_one_per_success_until_the_first_push_back() -> None:
    c = controller(start=4)
    succeed(c, 5)
    assert c.current == 9


def test_an_unused_limit_does_not_grow() -> None:
    c = controller(start=4)
    for _ in range(20):
        sent = advance(c, 0.05) - 0.05
        c.succeeded(sent, saturated=False)
    assert c.current == 4


def test_the_limit_never_passes_its_ceiling() -> None:
    c = controller(start=4, ceiling=6)
    succeed(c, 50)
    assert c.current == 6


def test_a_push_back_decreases_once_per_overshoot() -> None:
    c = controller(start=16)
    sent_before = advance(c, 0.01)
    advance(c, 0.05)
    c.throttled(sent_before, None)
    assert c.current == 12  # 16 * 0.75
    # Three more requests sent before the decrease are refused too: the same overshoot.
    for _ in range(3):
        c.throttled(sent_before, None)
    assert c.current == 12 and c.throttles == 4


def test_after_a_push_back_the_increase_is_additive_and_waits_out_the_cooldown() -> None:
    c = controller(start=16)
    c.succeeded(advance(c, 0.2) - 0.2, saturated=False)  # a latency of 0.2 s measured
    sent = advance(c, 0.01)
    c.throttled(sent, retry_after=1.0)
    assert c.current == 12
    # Successes of requests sent before the decrease, and any within the cooldown, do not raise.
    c.succeeded(sent - 0.5, saturated=True)
    advance(c, 0.5)
    c.succeeded(c.clock() - 0.05, saturated=True)
    assert c.limit == pytest.approx(12.0)
    advance(c, 0.6)  # the Retry-After (1 s) has passed
    succeed(c, 12)  # one round at 12: +1, not +12
    assert c.current == 12 and c.limit > 12.9
    succeed(c, 1)
    assert c.current == 13


def successes_at(c: AimdController, level: int) -> int:
    """Successes until the limit reaches the level refused last (the probe), counting those
    that ended with the limit at ``level``."""
    refused, count = c.refused, 0
    for _ in range(1000):
        if c.current == refused:
            return count
        succeed(c, 1)
        count += c.current == level
    raise AssertionError("never probed")


def test_a_refused_level_is_probed_again_only_after_a_growing_wait() -> None:
    c = controller(start=4, probe_after=8)
    succeed(c, 1)  # 5 in flight: refused
    c.throttled(advance(c, 0.0), None)
    assert (c.current, c.refused) == (3, 5)
    advance(c, 1.0)
    assert successes_at(c, 4) >= 8  # climbs back to 4, waits there, then tries 5
    c.throttled(advance(c, 0.0), None)  # the probe is refused: the next one waits 4x as long
    assert c.probe_wait == 32 and c.current == 3
    advance(c, 1.0)
    assert successes_at(c, 4) >= 32
    succeed(c, 5)  # a round at 5 passes: the server takes more now, growth resumes
    assert c.refused is None
    succeed(c, 6)
    assert c.current == 6


def test_a_refusal_lowers_the_limit_to_just_under_the_level_it_was_sent_at() -> None:
    """A server that takes 16 refuses the 17th: the limit becomes 16, not three quarters of
    the 18 slow start had reached by the time the refusal came back (it was 13 before)."""
    c = controller(start=4)
    succeed(c, 14)
    assert c.current == 18
    c.throttled(advance(c, 0.0), retry_after=1.0, level=17)
    assert (c.current, c.refused, c.pause_until) == (16, 17, -math.inf)


def test_refusals_of_the_same_overshoot_only_lower_it_to_a_lower_level() -> None:
    c = controller(start=20)
    sent = advance(c, 0.0)
    advance(c, 0.01)
    c.throttled(sent, 1.0, level=19)
    assert c.current == 18
    between = advance(c, 0.001)  # sent after that decrease, at the 18 it allowed
    c.throttled(sent, 1.0, level=20)  # sent with more at the server: says nothing new
    assert (c.current, c.refused) == (18, 19)
    c.throttled(sent, 1.0, level=17)  # with fewer: the cap is lower than the first said
    assert (c.current, c.refused) == (16, 17)
    # Refusals of those sent in between, above the 16 it has come down to since: the same
    # overshoot, not refusals under the lowered limit (taken for a rate limit, they paused
    # every request for a Retry-After, a second of a 4-second sweep).
    for level in (18, 17):
        advance(c, 0.001)
        c.throttled(between, 1.0, level=level)
    assert (c.current, c.again, c.pause_until) == (16, 0, -math.inf)
    assert c.throttles == 5


def test_refusals_that_go_on_below_the_lowered_level_are_a_rate_limit() -> None:
    """One more refusal within the cooldown is the cap being found (our count of a request
    ends a moment after the server's); the next is a rate limit: cut to three quarters, and
    nothing starts until its Retry-After passed."""
    c = controller(start=12)
    c.throttled(advance(c, 0.0), 1.0, level=12)
    assert c.current == 11
    c.throttled(advance(c, 0.1), 1.0, level=11)
    assert c.current == 10 and c.pause_until == -math.inf
    now = advance(c, 0.1)
    c.throttled(now, 1.0, level=10)
    assert c.current == 7 and c.pause_until == pytest.approx(now + 1.0)  # 10 * 0.75
    advance(c, 2.0)  # after the cooldown a refusal is a level found again
    c.throttled(advance(c, 0.0), 1.0, level=7)
    assert c.current == 6


def test_retry_after_pauses_new_requests_when_a_decrease_was_not_enough() -> None:
    c = controller(start=8)
    c.throttled(advance(c, 0.0), retry_after=2.0)
    assert c.pause_until < c.clock()  # a concurrency overshoot: the decrease answers it
    sent_after = advance(c, 0.1)
    c.throttled(sent_after, retry_after=2.0)  # refused again within the cooldown: rate limited
    assert c.pause_until == pytest.approx(c.clock() + 2.0)
    assert c.current == 4  # 8 -> 6 -> 4


def test_the_limiter_honours_the_pause_and_the_adaptive_limit() -> None:
    clock = Clock()
    c = AimdController(2, 8, clock=clock)
    limiter = RequestLimiter(controller=c, clock=clock)
    assert limiter.acquire(timeout=0) and limiter.acquire(timeout=0)
    assert not limiter.acquire(timeout=0)  # the limit is 2
    c.pause_until = clock.now + 5.0
    limiter.release()
    assert not limiter.acquire(timeout=0)  # a slot is free, but the server asked to wait
    clock.now += 5.0
    assert limiter.acquire(timeout=0)


def test_a_slot_is_the_threads_lease_and_the_http_reports_reach_it() -> None:
    clock = Clock()
    limiter = RequestLimiter(controller=AimdController(8, clock=clock), clock=clock)
    assert current_lease() is None
    with limiter.slot() as lease:
        assert current_lease() is lease
        clock.now += 0.1
        assert report_status(500, {"retry-after": "3"}) == 3.0  # not a push-back
        assert limiter.limit == 8
        assert report_status(429, {"retry-after": "2"}) == 2.0
        # refused when it was alone at the server: the server takes none of ours now
        assert limiter.limit == 1 and lease.pushed_back and lease.away
        assert limiter.in_flight == 0 and limiter.away == 1
        error = ServerError("boom")
        assert report_failure(error) is error
    assert current_lease() is None and limiter.away == 0  # it ended away: nothing to free
    seen: list[Lease | None] = []
    thread = threading.Thread(target=lambda: seen.append(current_lease()))
    with limiter.slot():
        thread.start()
        thread.join()
    assert seen == [None]  # another thread's request is not this one


def test_a_refused_request_gives_its_place_up_until_it_is_sent_again() -> None:
    """The limit counts requests at the server: one waiting out a Retry-After is not there, so
    another starts meanwhile, and the refused one waits for a place before it is sent anew."""
    clock = Clock()
    limiter = RequestLimiter(controller=AimdController(3, clock=clock), clock=clock)
    first, second = Lease(limiter, clock.now, 1), Lease(limiter, clock.now, 2)
    assert limiter.acquire(timeout=0) and limiter.acquire(timeout=0)
    clock.now += 1.0
    second.throttled(1.0, refused=True)  # sent with 2 at the server: the limit becomes 1
    assert (limiter.limit, limiter.in_flight, limiter.away) == (1, 1, 1)
    clock.now += 1.0
    rejoined = threading.Thread(target=limiter.rejoin, args=(second, CancelToken()))
    rejoined.start()
    wait_until(lambda: limiter.waiting == 1)  # the first is still at the server
    assert second.away
    limiter.release(first)
    rejoined.join(timeout=10)
    assert not second.away and second.level == 1 and second.sent_at == clock.now
    assert second.away_s == 1.0  # what the pace of its backend leaves out (it held no place)
    assert (limiter.in_flight, limiter.away) == (1, 0)
    limiter.release(second)
    assert limiter.in_flight == 0


def test_a_refusal_counts_the_requests_in_flight_when_it_was_sent() -> None:
    """A request took its slot first (level 1), two more after it, and they were sent before
    it: refused, it found the server with two others, so the limit becomes 2 (its level at its
    slot put it at 1, under what the server takes)."""
    clock = Clock()
    limiter = RequestLimiter(controller=AimdController(3, clock=clock), clock=clock)
    with limiter.slot() as lease:
        assert lease.level == 1
        assert limiter.acquire(timeout=0) and limiter.acquire(timeout=0)
        report_send()
        assert lease.level == 3
        clock.now += 0.01
        report_status(429, {})
        assert limiter.limit == 2


def test_a_refused_request_cancelled_while_it_waits_for_a_place_frees_nothing() -> None:
    clock = Clock()
    limiter = RequestLimiter(controller=AimdController(2, clock=clock), clock=clock)
    with limiter.slot() as lease:
        lease.level = 2
        assert limiter.acquire(timeout=0)  # another request, at the server
        lease.throttled(1.0, refused=True)
        cancel = CancelToken()
        cancel.cancel()
        lease.limiter.rejoin(lease, cancel)
        assert lease.away and limiter.in_flight == 1
    assert (limiter.in_flight, limiter.away) == (1, 0)


def test_a_set_concurrency_keeps_a_refused_requests_slot() -> None:
    limiter = RequestLimiter(2)
    with limiter.slot() as lease:
        lease.throttled(1.0, refused=True)
        assert not lease.away and limiter.in_flight == 1
    assert limiter.in_flight == 0


def test_a_timeout_or_a_rate_limited_failure_pushes_back_once() -> None:
    clock = Clock()
    limiter = RequestLimiter(controller=AimdController(8, clock=clock), clock=clock)
    with limiter.slot():
        report_failure(BackendTimeoutError("slow"))
    assert limiter.limit == 6
    clock.now += 1
    with limiter.slot() as lease:
        lease.failed("RateLimitError")
        lease.failed("RateLimitError")
    assert limiter.limit == 4  # 6 * 0.75, once
    clock.now += 1
    with limiter.slot() as lease:
        lease.failed("AuthError")  # not the server being busy
    assert limiter.limit == 4


def test_successes_in_a_busy_limiter_raise_its_limit() -> None:
    clock = Clock()
    limiter = RequestLimiter(controller=AimdController(2, clock=clock), clock=clock)
    first, second = Lease(limiter, clock.now), Lease(limiter, clock.now)
    assert limiter.acquire(timeout=0) and limiter.acquire(timeout=0)
    clock.now += 0.05
    first.succeeded()
    limiter.release(first)  # both slots were in use: the limit was needed
    assert limiter.limit == 3
    second.succeeded()
    limiter.release(second)  # one in flight of three: not needed, no growth
    assert limiter.limit == 3


def test_the_default_depends_on_the_kind_of_backend() -> None:
    local = OpenAICompatOptions(base_url="http://127.0.0.1:8080/v1")
    cloud = OpenAICompatOptions(base_url="https://api.openai.com/v1")
    assert policy_for(local) == Policy("local_server", 4, 64)
    assert policy_for(OpenAICompatOptions(base_url="http://localhost:1234/v1")).kind == (
        "local_server"
    )
    assert policy_for(OpenAICompatOptions(base_url="http://[::1]:8000/v1")).kind == "local_server"
    assert policy_for(cloud) == Policy("cloud", 8, 64)
    assert policy_for(BackendOptions(), runs_locally=True) == Policy("in_process", 1, 1)
    assert policy_for(BackendOptions(), runs_locally=False).kind == "cloud"  # Bedrock
    assert policy_for(cloud.model_copy(update={"concurrency": 3})) == Policy("set", 3, 3)
    assert not Policy("set", 3, 3).adaptive and policy_for(local).adaptive


@pytest.fixture(scope="module")
def vllm() -> Iterator[OpenAICompatOptions]:
    """A local server identified as a vLLM (it batches: adaptive from the local default)."""
    with LocalServer(vllm_routes()) as server:
        yield OpenAICompatOptions(base_url=f"{server.url}/v1")


def test_limits_keep_an_adaptive_limiter_and_what_it_learned(vllm: OpenAICompatOptions) -> None:
    limits = Limits()
    options = vllm
    limiter = limits.for_backend("local", options)
    assert limiter.controller is not None and limiter.limit == 4
    limiter.controller.limit = 11.0
    assert limits.for_backend("local", options) is limiter and limiter.limit == 11
    fixed = limits.for_backend("local", options.model_copy(update={"concurrency": 2}))
    assert fixed is not limiter and fixed.controller is None and fixed.limit == 2
    assert limits.peek("local") is fixed and limits.peek("other") is None


def test_an_adaptive_limiter_starts_where_the_last_run_left_it(
    vllm: OpenAICompatOptions,
) -> None:
    options = vllm
    assert Limits().for_backend("local", options, learned=12).limit == 12
    assert Limits().for_backend("local", options, learned=500).limit == 64  # its ceiling
    fixed = options.model_copy(update={"concurrency": 3})
    assert Limits().for_backend("local", fixed, learned=12).limit == 3  # a set number stays
