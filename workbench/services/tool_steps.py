"""A tool conversation in the playground: the model calls tools, each call is answered (the
tool's fixed mock, or a result the user types), and the next turn goes out with the calls and
their results, up to the template's ``max_tool_steps`` model turns.

Each turn is a run of its own (saved, linked to the turn before by ``parent_run_id``); the last
turn's request holds the whole transcript: every message, call and result, in order.
"""

from __future__ import annotations

from collections.abc import Sequence

from workbench.core.models import RenderedMessage, RunRequest, RunResult


def next_turn(request: RunRequest, result: RunResult, answers: Sequence[str]) -> RunRequest:
    """The request after ``result``'s calls were answered (``answers`` in the calls' order): the
    conversation so far, the assistant's turn with its calls, then one ``tool`` message per call.

    A tool choice that forces a call (required, or a tool's name) applies to the first turn
    only: kept, it would make the model call tools again at every turn, never answering."""
    calls = result.tool_calls
    if len(answers) != len(calls):
        raise ValueError(f"{len(calls)} tool calls take {len(calls)} answers, not {len(answers)}")
    messages = [
        *request.messages,
        RenderedMessage(role="assistant", content=result.text, tool_calls=calls),
        *(
            RenderedMessage(role="tool", content=answer, tool_call_id=call.id)
            for call, answer in zip(calls, answers, strict=True)
        ),
    ]
    choice = "none" if request.tool_choice == "none" else "auto"
    return request.model_copy(update={"messages": messages, "tool_choice": choice})
