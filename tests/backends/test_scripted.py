"""The scripted backend: replays chunks, delays, errors and hangs; hidden from users."""

from __future__ import annotations

import threading

import pytest
from pydantic import ValidationError

from tests.backends.conftest import terminal_result
from workbench.backends.base import (
    Cancelled,
    CancelToken,
    Failed,
    Finished,
    Started,
    StreamEvent,
    TextDelta,
    TokenLogprobs,
    run_to_result,
)
from workbench.backends.registry import Registry
from workbench.backends.scripted import ScriptedBackend, ScriptedOptions, Step
from workbench.core.logprobs import Alternative, TokenLogprob
from workbench.core.models import Params, RenderedMessage, RunRequest

REQUEST = RunRequest(
    backend="scripted",
    messages=[RenderedMessage(role="user", content="hi")],
    params=Params(temperature=0.3, seed=5),
)


def backend(*steps: Step, **options: object) -> ScriptedBackend:
    return ScriptedBackend(ScriptedOptions(script=list(steps), **options))


def events_of(b: ScriptedBackend, cancel: CancelToken | None = None) -> list[StreamEvent]:
    return list(b.stream(REQUEST, cancel or CancelToken()))


def test_replays_chunks_in_order_and_finishes() -> None:
    events = events_of(backend(Step(text="Hel"), Step(text="lo")))
    assert isinstance(events[0], Started)
    assert [e.text for e in events if isinstance(e, TextDelta)] == ["Hel", "lo"]
    terminal_result(events)
    final = events[-1]
    assert isinstance(final, Finished)
    assert final.result.text == "Hello"
    assert final.result.finish_reason == "stop"
    assert final.result.request.sent_params == {"temperature": 0.3, "seed": 5}
    assert final.result.request.seed == 5


def test_scripted_error_is_a_failed_event_with_its_kind() -> None:
    events = events_of(
        backend(Step(text="par"), Step(error="slow down", error_kind="RateLimitError"))
    )
    terminal_result(events)
    failed = events[-1]
    assert isinstance(failed, Failed)
    assert failed.result.error == "slow down"
    assert failed.result.error_kind == "RateLimitError"
    assert failed.result.text == "par"
    assert failed.result.finish_reason == "error"


def test_cancel_during_a_delay_ends_cancelled_at_once() -> None:
    cancel = CancelToken()
    b = backend(Step(text="a"), Step(delay_s=3600), Step(text="never"))
    stream = b.stream(REQUEST, cancel)
    seen = []
    for event in stream:
        seen.append(event)
        if isinstance(event, TextDelta):
            cancel.cancel()
    terminal_result(seen)
    assert isinstance(seen[-1], Cancelled)
    assert seen[-1].result.text == "a"


def test_hang_waits_for_a_cancel_from_another_thread() -> None:
    cancel = CancelToken()
    b = backend(Step(text="x"), Step(hang=True))
    got: list[StreamEvent] = []
    hanging = threading.Event()

    def consume() -> None:
        for event in b.stream(REQUEST, cancel):
            got.append(event)
            if isinstance(event, TextDelta):
                hanging.set()

    thread = threading.Thread(target=consume)
    thread.start()
    assert hanging.wait(10)
    cancel.cancel()
    thread.join(10)
    assert not thread.is_alive()
    terminal_result(got)
    assert isinstance(got[-1], Cancelled)


def test_length_finish_and_recorded_requests() -> None:
    b = backend(Step(text="abc"), finish_reason="length")
    result = run_to_result(b, REQUEST)
    assert result.finish_reason == "length"
    assert b.requests == [REQUEST]


def test_a_step_has_exactly_one_action() -> None:
    with pytest.raises(ValidationError):
        Step(text="a", delay_s=1)
    with pytest.raises(ValidationError):
        Step()
    with pytest.raises(ValidationError):
        Step(error="x", error_kind="NoSuchError")


def test_a_scored_step_streams_its_token_log_probability_after_its_text() -> None:
    """What the live token inspector is tested with: a model's logprob events, kept in the
    result as a real backend keeps them."""
    events = events_of(backend(Step(text="Hi", logprob=-0.1, top=(("Hi", -0.1), ("Yo", -2.5))),
                               Step(text=" there")))
    kinds = [e.kind for e in events if isinstance(e, TextDelta | TokenLogprobs)]
    assert kinds == ["text", "logprobs", "text"]
    token = TokenLogprob("Hi", -0.1, b"Hi", (Alternative("Hi", -0.1), Alternative("Yo", -2.5)))
    assert next(e for e in events if isinstance(e, TokenLogprobs)).tokens == (token,)
    assert terminal_result(events).logprobs == [token]
    assert terminal_result(events_of(backend(Step(text="a")))).logprobs is None
    with pytest.raises(ValidationError):
        Step(delay_s=1, logprob=-1.0)  # only text is a token
    with pytest.raises(ValidationError):
        Step(text="a", logprob=0.5)  # a probability above 1


def test_scripted_is_registered_but_never_offered_as_a_model() -> None:
    registry = Registry()
    assert "scripted" in registry.ids()
    assert registry.load("scripted") is ScriptedBackend
    assert "scripted" not in [i.id for i in registry.infos()]
    assert "scripted" in [i.id for i in registry.infos(include_hidden=True)]


def test_a_scripted_tool_call_streams_in_pieces_and_the_turn_follows_the_results() -> None:
    from workbench.backends.base import ToolCallDelta
    from workbench.backends.scripted import ScriptedCall
    from workbench.core.tools import Tool, ToolCall

    call = Step(tool_call=ScriptedCall(name="add", arguments='{"a": 1, "b": 2}', pieces=3))
    backend = ScriptedBackend(ScriptedOptions(by_tool_results=[[call], [Step(text="3")]]))
    ask = RenderedMessage(role="user", content="1+2?")
    request = RunRequest(backend="scripted", messages=[ask], tools=[Tool(name="add")])
    events = list(backend.stream(request, CancelToken()))
    deltas = [e for e in events if isinstance(e, ToolCallDelta)]
    assert [d.arguments for d in deltas] == ['{"a": ', '1, "b"', ': 2}']
    assert deltas[0].id == "call_0" and deltas[1].id == ""
    first = terminal_result(events)
    assert first.finish_reason == "tool_calls"
    assert first.tool_calls == [ToolCall(id="call_0", name="add", arguments='{"a": 1, "b": 2}')]
    answered = [ask, RenderedMessage(role="assistant", content="", tool_calls=first.tool_calls),
                RenderedMessage(role="tool", content="3", tool_call_id="call_0")]
    second = terminal_result(list(backend.stream(
        request.model_copy(update={"messages": answered}), CancelToken())))
    assert second.finish_reason == "stop" and second.text == "3"
