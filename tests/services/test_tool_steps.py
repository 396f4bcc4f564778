"""The playground's tool turns: mocks and the next turn's request."""

from __future__ import annotations

import pytest

from workbench.core.models import RenderedMessage, RunRequest, RunResult, SentRequest
from workbench.core.tools import Tool, ToolCall, mock_for
from workbench.services.tool_steps import next_turn

WEATHER = Tool(name="get_weather", mock='{"temp_c": 21}')
TIME = Tool(name="get_time")
CALLS = [ToolCall(id="a", name="get_weather", arguments='{"city": "Oslo"}'),
         ToolCall(id="b", name="get_time")]


def test_the_next_turn_carries_the_calls_then_one_result_each() -> None:
    ask = RenderedMessage(role="user", content="Weather and time in Oslo?")
    request = RunRequest(backend="scripted", messages=[ask], tools=[WEATHER, TIME],
                         tool_choice="required")
    result = RunResult(request=SentRequest(backend="scripted", model="m"), text="Let me see.",
                       finish_reason="tool_calls", tool_calls=CALLS)
    answers = [mock_for(request.tools, CALLS[0]) or "", "09:30"]
    following = next_turn(request, result, answers)
    assert following.messages == [
        ask,
        RenderedMessage(role="assistant", content="Let me see.", tool_calls=CALLS),
        RenderedMessage(role="tool", content='{"temp_c": 21}', tool_call_id="a"),
        RenderedMessage(role="tool", content="09:30", tool_call_id="b"),
    ]
    assert following.tool_choice == "auto"  # forcing a call again would never let it answer
    assert mock_for(request.tools, CALLS[1]) is None
    with pytest.raises(ValueError, match="take 2 answers"):
        next_turn(request, result, ["only one"])
