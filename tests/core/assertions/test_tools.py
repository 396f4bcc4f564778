"""tool-call and tool-call-f1 read every call of a run's transcript."""

from __future__ import annotations

from tests.core.assertions.support import check
from workbench.core.models import RenderedMessage, RunResult, SentRequest
from workbench.core.tools import ToolCall

WEATHER = ToolCall(id="a", name="get_weather", arguments='{"city": "Oslo", "days": 2}')
TIME = ToolCall(id="b", name="get_time", arguments="{}")
SCHEMA = {"type": "object", "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
          "required": ["city"]}


def result(*calls: ToolCall, earlier: tuple[ToolCall, ...] = ()) -> RunResult:
    messages = [RenderedMessage(role="user", content="Oslo?")]
    if earlier:
        messages += [RenderedMessage(role="assistant", content="", tool_calls=list(earlier)),
                     *(RenderedMessage(role="tool", content="ok", tool_call_id=c.id)
                       for c in earlier)]
    return RunResult(request=SentRequest(backend="scripted", model="m", messages=messages),
                     finish_reason="tool_calls" if calls else "stop", tool_calls=list(calls))


def test_tool_call_by_name_values_and_schema() -> None:
    assert check("tool-call", "", result=result(WEATHER)).status == "pass"
    none = check("tool-call", "answer", result=result())
    assert none.status == "fail" and none.reason == "no tool was called"
    assert check("tool-call", "", "get_weather", result=result(TIME, WEATHER)).status == "pass"
    assert check("tool-call", "", "get_news", result=result(WEATHER)).status == "fail"
    oslo = {"name": "get_weather", "arguments": {"city": "Oslo"}}
    assert check("tool-call", "", oslo, result=result(WEATHER)).status == "pass"
    bergen = check("tool-call", "", {"arguments": {"city": "Bergen"}}, result=result(WEATHER))
    assert bergen.status == "fail" and "'Oslo', not 'Bergen'" in bergen.reason
    assert check("tool-call", "", {"schema": SCHEMA}, result=result(WEATHER)).status == "pass"
    wrong = ToolCall(id="c", name="get_weather", arguments='{"days": "two"}')
    assert check("tool-call", "", {"schema": SCHEMA}, result=result(wrong)).status == "fail"
    assert check("not-tool-call", "", "get_time", result=result(WEATHER)).status == "pass"
    # a playground conversation: the call was made in an earlier turn
    assert check("tool-call", "done", "get_time", result=result(earlier=(TIME,))).status == "pass"
    assert check("tool-call", "", {"nme": "x"}, result=result(WEATHER)).status == "error"
    assert check("tool-call", "").status == "error"  # no run result


def test_tool_call_f1_is_promptfoos_score_on_names() -> None:
    both = result(WEATHER, earlier=(TIME,))
    exact = check("tool-call-f1", "", ["get_weather", "get_time"], result=both)
    assert exact.status == "pass" and exact.score == 1.0
    half = check("tool-call-f1", "", "get_weather, get_news", result=result(WEATHER, TIME))
    assert half.status == "fail" and half.score == 0.5  # precision 1/2, recall 1/2
    assert check("tool-call-f1", "", "get_weather, get_news", threshold=0.5,
                 result=result(WEATHER, TIME)).status == "pass"
    assert check("tool-call-f1", "", ["get_time"], result=result()).score == 0.0
