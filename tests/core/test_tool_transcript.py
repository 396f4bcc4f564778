"""A run's tool steps (what compare lists per column) and where two sequences part."""

from __future__ import annotations

from workbench.core.models import RenderedMessage, RunResult, SentRequest
from workbench.core.tool_transcript import ToolStep, differing_rows, tool_steps, transcript_calls
from workbench.core.tools import Tool, ToolCall

WEATHER = ToolCall(id="a", name="get_weather", arguments='{"city": "Oslo"}')
TIME = ToolCall(id="b", name="get_time")
TOOLS = [Tool(name="get_weather", mock='{"temp_c": 21}'), Tool(name="get_time")]


def run(*calls: ToolCall, earlier: tuple[ToolCall, ...] = (), text: str = "") -> RunResult:
    messages = [RenderedMessage(role="user", content="Oslo?")]
    if earlier:
        messages += [RenderedMessage(role="assistant", content="", tool_calls=list(earlier)),
                     *(RenderedMessage(role="tool", content=f"result {c.id}", tool_call_id=c.id)
                       for c in earlier)]
    return RunResult(request=SentRequest(backend="scripted", model="m", messages=messages),
                     text=text, finish_reason="tool_calls" if calls else "stop",
                     tool_calls=list(calls))


def test_a_finished_conversation_lists_each_call_with_the_result_sent_back() -> None:
    done = run(earlier=(WEATHER, TIME), text="21 °C at 09:30")
    assert tool_steps(done, TOOLS) == [ToolStep(1, WEATHER, "result a"),
                                       ToolStep(1, TIME, "result b")]
    assert transcript_calls(done) == [WEATHER, TIME]


def test_calls_the_run_ended_at_show_their_mock_marked_so() -> None:
    ended = run(TIME, WEATHER, earlier=(WEATHER,))
    steps = tool_steps(ended, TOOLS)
    assert [(s.step, s.call.name, s.result, s.mocked) for s in steps] == [
        (1, "get_weather", "result a", False),
        (2, "get_time", None, False),  # no mock: the user would have typed it
        (2, "get_weather", '{"temp_c": 21}', True),
    ]
    assert [s.outcome() for s in steps] == ["→ result a", "not answered",
                                            '→ {"temp_c": 21} (mock, not sent)']
    assert steps[2].as_dict() == {"step": 2, "tool": "get_weather",
                                  "arguments": '{"city": "Oslo"}', "result": '{"temp_c": 21}',
                                  "sent": False, "error": False}
    assert steps[0].as_dict()["sent"] is True
    assert tool_steps(ended)[2].result is None  # without the template's tools: no mock known


def test_results_pair_with_their_own_turns_calls_when_ids_repeat_across_turns() -> None:
    again = TIME.model_copy(update={"id": "a"})  # a server numbering each turn's calls anew
    done = run(earlier=(WEATHER,), text="done")
    done.request.messages += [
        RenderedMessage(role="assistant", content="", tool_calls=[again]),
        RenderedMessage(role="tool", content="09:30", tool_call_id="a"),
    ]
    assert [(s.step, s.call.name, s.result) for s in tool_steps(done)] == [
        (1, "get_weather", "result a"), (2, "get_time", "09:30")]


def test_a_failed_python_mock_is_an_error_step() -> None:
    failed = run(text="no weather")
    failed.request.messages += [
        RenderedMessage(role="assistant", content="", tool_calls=[WEATHER]),
        RenderedMessage(role="tool", content="error in the mock of get_weather, line 2: KeyError",
                        tool_call_id="a", tool_error=True),
    ]
    [step] = tool_steps(failed, TOOLS)
    assert step.error and step.as_dict()["error"] and str(step.result).startswith("error in")


def test_rows_differ_by_tool_by_arguments_as_json_and_by_length() -> None:
    spaced = WEATHER.model_copy(update={"arguments": '{ "city" :  "Oslo" }'})
    bergen = WEATHER.model_copy(update={"arguments": '{"city": "Bergen"}'})
    one = [ToolStep(1, WEATHER), ToolStep(2, TIME)]
    assert differing_rows([one, [ToolStep(1, spaced), ToolStep(2, TIME)]]) == set()
    assert differing_rows([one, [ToolStep(1, bergen), ToolStep(2, TIME)]]) == {0}
    assert differing_rows([one, [ToolStep(1, TIME)]]) == {0, 1}
    assert differing_rows([one, one, [ToolStep(1, WEATHER)]]) == {1}
    assert differing_rows([]) == set()
