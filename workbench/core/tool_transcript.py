"""A run's tool calls in order, each with its result: what compare shows side by side and its
exports write.

A run's calls are those of earlier turns (the assistant messages of its request: a playground
tool conversation's last turn holds them all, each answered by a ``tool`` message) and its own
(the turn it ended at). A call the run ended at has no result sent back; its tool's fixed mock,
the answer the playground would give, is shown instead and marked "not sent".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from workbench.core.models import RenderedMessage, RunResult
from workbench.core.tools import Tool, ToolCall, mock_for


@dataclass(frozen=True)
class ToolStep:
    """One call: the model turn that made it (from 1), and the result it got (None: none)."""

    step: int
    call: ToolCall
    result: str | None = None
    mocked: bool = False  # ``result`` is the tool's mock, not sent: the run ended at this call
    error: bool = False  # the result sent back is an error (a Python mock that failed)

    def as_dict(self) -> dict[str, Any]:
        """For JSON exports: the arguments as the model wrote them (they may not parse)."""
        return {"step": self.step, "tool": self.call.name, "arguments": self.call.arguments,
                "result": self.result, "sent": self.result is not None and not self.mocked,
                "error": self.error}

    def outcome(self) -> str:
        """The result in a few words: ``→ result``, ``→ result (mock, not sent)`` or ``not
        answered``."""
        if self.result is None:
            return "not answered"
        return f"→ {self.result}" + (" (mock, not sent)" if self.mocked else "")


def transcript_calls(result: RunResult) -> list[ToolCall]:
    """Every call of the run's transcript, in order: earlier turns', then its own."""
    earlier = [c for m in result.request.messages for c in m.tool_calls]
    return [*earlier, *result.tool_calls]


def tool_steps(result: RunResult, tools: Sequence[Tool] = ()) -> list[ToolStep]:
    """The run's calls with their step and result; ``tools`` (the template's, with their
    mocks) give the results of the calls the run ended at."""
    messages = result.request.messages
    steps: list[ToolStep] = []
    turn = 0
    for index, message in enumerate(messages):
        if not message.tool_calls:
            continue
        turn += 1
        # A turn's results are the tool messages right after it: ids are unique within a turn
        # only (a server may number each turn's calls from 0 again).
        answers: dict[str | None, RenderedMessage] = {}
        for following in messages[index + 1:]:
            if following.role != "tool":
                break
            answers.setdefault(following.tool_call_id, following)
        for call in message.tool_calls:
            sent = answers.get(call.id)
            steps.append(ToolStep(turn, call, sent.content if sent else None,
                                  error=sent is not None and sent.tool_error))
    for call in result.tool_calls:
        mock = mock_for(tools, call)  # a Python mock's result is only known by running it
        fixed = mock if isinstance(mock, str) else None
        steps.append(ToolStep(turn + 1, call, fixed, fixed is not None))
    return steps


def differing_rows(sequences: Sequence[Sequence[ToolStep]]) -> set[int]:
    """Positions (from 0) where the sequences do not all make the same call: another tool,
    other arguments (as JSON values), or a call some of them do not make at all."""
    rows = max((len(s) for s in sequences), default=0)
    return {
        row for row in range(rows)
        if any(len(s) <= row for s in sequences)
        or any(not s[row].call.same_as(sequences[0][row].call) for s in sequences[1:])
    }
