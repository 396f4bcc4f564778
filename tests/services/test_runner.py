"""The runner: every run limited, priced and committed the same way."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.backends.fault_server import OPENAI_SCENARIOS, WORDS, ScriptedServer
from workbench.backends.base import (
    Cancelled,
    CancelToken,
    Failed,
    Finished,
    Started,
    StreamEvent,
    TextDelta,
)
from workbench.backends.config import BackendConfig
from workbench.backends.scripted import ScriptedBackend
from workbench.core.errors import ParameterError
from workbench.core.models import (
    Message,
    Params,
    PromptTemplate,
    RunRequest,
    RunResult,
    SentRequest,
    Usage,
)
from workbench.services.runner import (
    PriceTable,
    Runner,
    _with_cost,
    build_request,
    choose_params,
)
from workbench.storage.repositories import RunRef, Store
from workbench.storage.writer import StoreWriter

TEMPLATE = PromptTemplate(
    name="t",
    messages=[Message(role="user", content="Say {{ word }}.")],
    parameters=Params(temperature=0.5, max_tokens=64),
)


def scripted(name: str, *steps: dict[str, object], concurrency: int = 1) -> BackendConfig:
    return BackendConfig(
        name=name, backend="scripted", options={"script": list(steps), "concurrency": concurrency}
    )


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store.open(tmp_path / "runs.db") as store:
        yield store


def test_a_run_streams_and_is_committed_before_its_end_is_announced(store: Store) -> None:
    configs = {"demo": scripted("demo", {"text": "Hello "}, {"text": "world"})}
    seen: list[str] = []
    with StoreWriter(store) as writer:
        runner = Runner(writer=writer, configs=configs)

        def on_event(event: object) -> None:
            seen.append(type(event).__name__)
            if isinstance(event, Finished):  # already in the database when announced
                assert store.runs.count() == 1

        request = build_request(TEMPLATE, {"word": "hi"}, backend="demo")
        outcome = runner.execute(request, on_event=on_event)
        runner.close()
    assert outcome.result.text == "Hello world"
    assert seen[0] == "Started" and seen[-1] == "Finished"
    assert seen.count("TextDelta") == 2
    stored = store.runs.get(outcome.run_id or "")
    assert stored.result.text == "Hello world"
    assert stored.result.request.messages[0].content == "Say hi."
    assert stored.result.request.requested_params == request.params


def test_failures_and_cancels_are_saved_with_their_reason(store: Store) -> None:
    configs = {
        "bad": scripted("bad", {"error": "key rejected", "error_kind": "AuthError"}),
        "slow": scripted("slow", {"text": "a"}, {"hang": True}),
    }
    with StoreWriter(store) as writer:
        runner = Runner(writer=writer, configs=configs)
        failed = runner.execute(build_request(TEMPLATE, {"word": "x"}, backend="bad"))
        cancel = CancelToken()
        events: list[object] = []

        def on_event(event: object) -> None:
            events.append(event)
            if isinstance(event, TextDelta):
                cancel.cancel()

        cancelled = runner.execute(
            build_request(TEMPLATE, {"word": "x"}, backend="slow"), cancel, on_event=on_event
        )
    assert failed.result.finish_reason == "error" and "key rejected" in (failed.result.error or "")
    assert cancelled.result.finish_reason == "cancelled"
    assert sum(isinstance(e, (Finished, Failed, Cancelled)) for e in events) == 1
    assert {s.status for s in store.runs.recent()} == {"error", "cancelled"}


def test_runs_queue_under_the_backends_concurrency_limit() -> None:
    configs = {"one": scripted("one", {"text": "x"}, {"delay_s": 0.05}, concurrency=1)}
    runner = Runner(configs=configs)
    in_flight = 0
    peak = 0
    lock = threading.Lock()

    def on_event(event: object) -> None:
        nonlocal in_flight, peak
        with lock:
            if isinstance(event, Started):
                in_flight += 1
                peak = max(peak, in_flight)
            elif isinstance(event, (Finished, Failed, Cancelled)):
                in_flight -= 1

    request = build_request(TEMPLATE, {"word": "x"}, backend="one")
    threads = [
        threading.Thread(target=runner.execute, args=(request,), kwargs={"on_event": on_event})
        for _ in range(4)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert peak == 1


def test_a_cancel_while_waiting_for_a_slot_ends_cancelled_without_sending() -> None:
    runner = Runner(configs={"one": scripted("one", {"hang": True})})
    first_cancel = CancelToken()
    started = threading.Event()
    request = build_request(TEMPLATE, {"word": "x"}, backend="one")
    holder = threading.Thread(
        target=runner.execute,
        args=(request, first_cancel),
        kwargs={"on_event": lambda e: started.set() if isinstance(e, Started) else None},
    )
    holder.start()
    assert started.wait(10)
    waiting = CancelToken()
    waiting.cancel()
    outcome = runner.execute(request, waiting)
    first_cancel.cancel()
    holder.join(10)
    assert outcome.result.finish_reason == "cancelled"
    assert outcome.result.request.messages[0].content == "Say x."


def test_choose_params_layers_template_preset_and_overrides() -> None:
    params = choose_params(TEMPLATE, "creative", Params(max_tokens=10))
    assert (params.temperature, params.top_k, params.max_tokens) == (1.0, 50, 10)
    with pytest.raises(ParameterError, match="no preset named 'Nope'"):
        choose_params(TEMPLATE, "Nope", Params())


def test_cost_is_added_only_when_model_and_usage_are_known() -> None:
    def result(model: str, usage: Usage) -> RunResult:
        sent = SentRequest(backend="openai_compat", model=model)
        return RunResult(request=sent, finish_reason="stop", usage=usage)

    priced = _with_cost(result("gpt-4o", Usage(input_tokens=1_000_000, output_tokens=0)))
    assert priced.cost is not None and priced.cost > 0
    assert _with_cost(result("my-local-model", Usage(input_tokens=5, output_tokens=5))).cost is None
    assert _with_cost(result("gpt-4o", Usage(input_tokens=5))).cost is None
    local = _with_cost(result("my-local-model", Usage(input_tokens=5, output_tokens=5)), local=True)
    assert local.cost == 0.0  # a model on this computer is free, not "cost unknown"


def test_prices_follow_an_edited_model_table_within_the_recheck_interval(
    workbench_home: Path,
) -> None:
    def price_file(input_price: int, stamp: int) -> None:
        table = config / "models.yaml"
        table.write_text(
            "models:\n  house-model:\n    encoding: cl100k_base\n"
            f"    price: {{input: {input_price}, output: 0, currency: EUR}}\n",
            encoding="utf-8",
        )
        os.utime(table, ns=(stamp, stamp))  # a distinct mtime, however coarse the filesystem's

    def cost(prices: PriceTable) -> float | None:
        sent = SentRequest(backend="openai_compat", model="house-model")
        usage = Usage(input_tokens=1_000_000, output_tokens=0)
        return _with_cost(RunResult(request=sent, finish_reason="stop", usage=usage), prices).cost

    config = workbench_home / "config"
    config.mkdir(parents=True)
    price_file(2, 10**18)
    now = [100.0]
    prices = PriceTable(recheck_s=1.0, clock=lambda: now[0])
    assert cost(prices) == 2.0
    price_file(5, 2 * 10**18)
    now[0] += 0.5
    assert cost(prices) == 2.0  # not re-checked yet: no stat calls per run
    now[0] += 0.5
    assert cost(prices) == 5.0


@pytest.mark.slow
def test_the_embedded_model_runs_through_the_runner(store: Store) -> None:
    with StoreWriter(store) as writer:
        runner = Runner(writer=writer)
        request = build_request(
            TEMPLATE, {"word": "hello"}, backend="llamacpp", params=Params(max_tokens=8, seed=1)
        )
        outcome = runner.execute(request, ref=RunRef(repeat_index=2))
        runner.close()
    assert outcome.result.finish_reason in ("stop", "length")
    assert outcome.result.text
    assert outcome.result.request.raw_prompt and "<|im_start|>" in outcome.result.request.raw_prompt
    assert outcome.result.cost == 0.0
    assert store.runs.get(outcome.run_id or "").ref.repeat_index == 2


class _Deaf(ScriptedBackend):
    """A backend that ignores the cancel token and keeps streaming."""

    def stream(self, request: RunRequest, cancel: CancelToken) -> Iterator[StreamEvent]:
        yield Started(request=SentRequest(backend=self.id, model="deaf"))
        for i in range(1000):
            yield TextDelta(text=f"{i} ")
        yield Finished(
            result=RunResult(
                request=SentRequest(backend=self.id, model="deaf"), text="all", finish_reason="stop"
            )
        )


def test_a_backend_that_ignores_cancel_is_stopped_and_the_run_saved(store: Store) -> None:
    deaf = _Deaf()
    cancel = CancelToken()

    def on_event(event: object) -> None:
        if isinstance(event, TextDelta) and event.text == "2 ":
            cancel.cancel()

    with StoreWriter(store) as writer:
        runner = Runner(writer=writer)
        runner._backends["deaf"] = deaf
        request = build_request(TEMPLATE, {"word": "x"}, backend="deaf")
        outcome = runner.execute(request, cancel, on_event=on_event)
    assert outcome.result.finish_reason == "cancelled"
    assert outcome.result.text == "0 1 2 "
    assert store.runs.get(outcome.run_id or "").status == "cancelled"


class _FailsWhenCancelled(ScriptedBackend):
    """Streams three words, then, once cancelled, ends the way a stopped stream can: a Failed
    event, an exception, no terminal event at all, or its own Cancelled event whose text lags
    what it streamed (fault injection)."""

    def __init__(self, how: str, *, wait_for_cancel: bool = True) -> None:
        super().__init__()
        self.how = how
        self.wait_for_cancel = wait_for_cancel

    def stream(self, request: RunRequest, cancel: CancelToken) -> Iterator[StreamEvent]:
        sent = SentRequest(backend=self.id, model="faulty")
        yield Started(request=sent)
        for word in ("one ", "two ", "three "):
            yield TextDelta(text=word)
        if self.wait_for_cancel:
            cancel.wait(30)
        if self.how == "failed":
            yield Failed(
                result=RunResult(
                    request=sent,
                    text="one two three ",
                    finish_reason="error",
                    error="the stream ended before the answer was complete",
                    error_kind="ProtocolError",
                )
            )
        elif self.how == "raises":
            raise OSError("Bad file descriptor")
        elif self.how == "cancelled-lagging":  # its own copy a delta behind what it streamed
            yield Cancelled(result=RunResult(request=sent, text="one two ",
                                             finish_reason="cancelled"))


@pytest.mark.parametrize("how", ["failed", "raises", "no-terminal", "cancelled-lagging"])
def test_a_cancel_wins_over_whatever_the_stream_does_after_it(store: Store, how: str) -> None:
    cancel = CancelToken()

    def on_event(event: object) -> None:
        if isinstance(event, TextDelta) and event.text == "three ":
            threading.Timer(0.05, cancel.cancel).start()

    with StoreWriter(store) as writer:
        runner = Runner(writer=writer)
        runner._backends["faulty"] = _FailsWhenCancelled(how)
        request = build_request(TEMPLATE, {"word": "x"}, backend="faulty")
        outcome = runner.execute(request, cancel, on_event=on_event)
    result = outcome.result
    assert (result.finish_reason, result.error, result.error_kind) == ("cancelled", None, None)
    assert result.text == "one two three "
    assert store.runs.get(outcome.run_id or "").status == "cancelled"


def test_a_failure_without_a_cancel_is_still_a_failure(store: Store) -> None:
    with StoreWriter(store) as writer:
        runner = Runner(writer=writer)
        runner._backends["faulty"] = _FailsWhenCancelled("failed", wait_for_cancel=False)
        request = build_request(TEMPLATE, {"word": "x"}, backend="faulty")
        outcome = runner.execute(request, CancelToken())
    assert outcome.result.finish_reason == "error"
    assert outcome.result.error_kind == "ProtocolError"


def test_a_real_server_stream_cancelled_mid_read_is_saved_cancelled(store: Store) -> None:
    """The openai_compat backend on a body that ends when the connection closes: the cancel
    shuts the socket under a read, which reads as a clean, early end of the stream."""
    server = ScriptedServer(OPENAI_SCENARIOS)
    cancel = CancelToken()

    def on_event(event: object) -> None:
        if isinstance(event, TextDelta) and event.text == WORDS[2]:
            threading.Timer(0.2, cancel.cancel).start()

    config = BackendConfig(
        name="unframed",
        backend="openai_compat",
        options={"base_url": server.url("slow-unframed"), "default_model": "fault-model"},
    )
    try:
        with StoreWriter(store) as writer:
            runner = Runner(writer=writer, configs={"unframed": config})
            request = build_request(TEMPLATE, {"word": "x"}, backend="unframed")
            outcome = runner.execute(request, cancel, on_event=on_event)
            runner.close()
    finally:
        server.close()
    saved = store.runs.get(outcome.run_id or "")
    assert (saved.status, saved.result.error_kind) == ("cancelled", None)
    assert saved.result.text == "".join(WORDS[:3])
