"""A tool conversation: the model calls tools, each call is answered (the tool's fixed mock, its
Python mock run in the sandbox, or a result the user types), and the next turn goes out with the
calls and their results, up to the template's ``max_tool_steps`` model turns.

In the playground each turn is a run of its own (saved, linked to the turn before by
``parent_run_id``). Without a person (``run_tool_conversation``: the CLI's run, evaluations and
sweeps) the conversation is stored once, as its last turn carrying the cost, tokens and time of
all of them; a call whose tool has no mock ends it there. Either way the last turn's request
holds the whole transcript: every message, call and result, in order.

A Python mock that fails (an exception, a timeout, a result that is not JSON, arguments that do
not parse) answers its call with an error saying why and at which line of its code; the
conversation goes on, as it would after a real tool's failure, and the result is flagged as an
error where the provider has a flag for it.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, Protocol

from workbench.backends.base import (
    Cancelled,
    CancelToken,
    Failed,
    Finished,
    Started,
    StreamEvent,
)
from workbench.core.models import RenderedMessage, RunRequest, RunResult
from workbench.core.outcome import RunOutcome
from workbench.core.tools import PythonMock, Tool, ToolCall, mock_for
from workbench.services.conversations import summed
from workbench.services.runner import EventSink, Runner
from workbench.storage.repositories import RunRef

if TYPE_CHECKING:
    from workbench.services.python_eval import PythonEvaluator


class MockRunner(Protocol):
    """Runs a Python mock's code on a call's arguments (``PythonEvaluator.mock``)."""

    def mock(self, code: str, args: Any, step: int) -> Any: ...


@dataclass(frozen=True)
class ToolAnswer:
    """A call's result as sent back. ``source``: who gave it; ``error``: a Python mock failed
    (``text`` says why, ``line`` is where in its code, when known)."""

    text: str
    source: Literal["mock", "python", "you"] = "you"
    error: bool = False
    line: int | None = None


def python_answer(mock: PythonMock, call: ToolCall, step: int, python: MockRunner) -> ToolAnswer:
    """``mock`` run in the sandbox on ``call``'s arguments: its value (text as it is, any other
    JSON value as JSON), or an error result saying why there is none."""
    from workbench.services.python_eval import MockError

    try:
        args = call.parsed_arguments()
    except ValueError as err:
        return ToolAnswer(f"error: the arguments of {call.name} are not JSON ({err}); its mock "
                          "was not run", "python", error=True)
    try:
        value = python.mock(mock.python, args, step)
    except MockError as err:
        where = f", line {err.line}" if err.line is not None else ""
        return ToolAnswer(f"error in the mock of {call.name}{where}: {err.text}", "python",
                          error=True, line=err.line)
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return ToolAnswer(text, "python")


def answer(
    tools: Sequence[Tool], call: ToolCall, step: int, python: MockRunner
) -> ToolAnswer | None:
    """The result ``call``'s tool mocks (None: it has no mock, a person must answer)."""
    mock = mock_for(tools, call)
    if isinstance(mock, PythonMock):
        return python_answer(mock, call, step, python)
    return None if mock is None else ToolAnswer(mock, "mock")


def next_turn(
    request: RunRequest, result: RunResult, answers: Sequence[str | ToolAnswer]
) -> RunRequest:
    """The request after ``result``'s calls were answered (``answers`` in the calls' order): the
    conversation so far, the assistant's turn with its calls, then one ``tool`` message per call.

    A tool choice that forces a call (required, or a tool's name) applies to the first turn
    only: kept, it would make the model call tools again at every turn, never answering."""
    calls = result.tool_calls
    if len(answers) != len(calls):
        raise ValueError(f"{len(calls)} tool calls take {len(calls)} answers, not {len(answers)}")
    given = [a if isinstance(a, ToolAnswer) else ToolAnswer(a) for a in answers]
    messages = [
        *request.messages,
        RenderedMessage(role="assistant", content=result.text, tool_calls=calls),
        *(
            RenderedMessage(role="tool", content=a.text, tool_call_id=call.id, tool_error=a.error)
            for call, a in zip(calls, given, strict=True)
        ),
    ]
    choice = "none" if request.tool_choice == "none" else "auto"
    return request.model_copy(update={"messages": messages, "tool_choice": choice})


_shared: PythonEvaluator | None = None
_shared_lock = threading.Lock()


def mock_evaluator() -> PythonEvaluator:
    """The sandbox Python mocks run in: one per process, its helper started on first use
    (a call costs a fork; calls run one at a time, each in a fresh child)."""
    global _shared
    with _shared_lock:
        if _shared is None:
            from workbench.services.python_eval import PythonEvaluator

            _shared = PythonEvaluator()
        return _shared


#: Told after each answered turn: its step (from 1), its result, and the answers sent back.
StepSink = Callable[[int, RunResult, list[ToolAnswer]], None]


def run_tool_conversation(
    runner: Runner,
    request: RunRequest,
    max_steps: int,
    cancel: CancelToken | None = None,
    *,
    ref: RunRef | None = None,
    python: MockRunner | None = None,
    on_event: EventSink | None = None,
    on_step: StepSink | None = None,
) -> RunOutcome:
    """Run ``request``'s tool conversation with no one to answer: each call by its tool's mock,
    for up to ``max_steps`` model turns; it ends at a turn without calls, a failed one, or a
    call whose tool has no mock. Stored once (see the module's note) under ``ref``.

    ``on_event`` sees the first turn's ``Started``, every turn's deltas, and one terminal
    event carrying the whole conversation's result."""
    cancel = cancel or CancelToken()
    python = python or mock_evaluator()
    ended: list[Finished | Failed | Cancelled] = []

    def relay(event: StreamEvent) -> None:
        if isinstance(event, (Finished, Failed, Cancelled)):
            ended.append(event)
        elif on_event is not None and not (isinstance(event, Started) and ended):
            on_event(event)

    turns: list[RunResult] = []
    for step in range(1, max_steps + 1):
        result = runner.execute(request, cancel, keep=False, on_event=relay).result
        turns.append(result)
        calls = result.tool_calls
        if (result.finish_reason != "tool_calls" or not calls or result.error is not None
                or step == max_steps or cancel.cancelled):
            break
        answers = [answer(request.tools, call, step, python) for call in calls]
        given = [a for a in answers if a is not None]
        if len(given) < len(answers):
            break
        if on_step is not None:
            on_step(step, result, given)
        request = next_turn(request, result, given)
    total = summed(turns[-1], turns)
    writer = runner.writer
    run_id = writer.add_run(total, ref or RunRef()).result() if writer is not None else None
    if on_event is not None and ended:
        on_event(type(ended[-1])(result=total))
    return RunOutcome(total, run_id)
