"""Running a conversation row (``core.conversation_case``): its calls, one after another.

Every call goes through ``Runner.execute`` (the backend's limiter, pricing) without being stored
on its own; the conversation is stored once, as its last call with the cost, tokens and time of
all of them (the simulated user's included), so the run holds the whole transcript and a
resumed evaluation never mistakes a half-finished conversation for a done one.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from workbench.backends.base import CancelToken
from workbench.core.conversation import transcript_of
from workbench.core.conversation_case import (
    ConversationCase,
    evaluate_case,
    replies,
    transcript_text,
)
from workbench.core.errors import KnownError
from workbench.core.evaluation import AssertionContext, Outcome, evaluate
from workbench.core.experiments import AssertionSpec, TestCase
from workbench.core.models import (
    RenderedMessage,
    RunRequest,
    RunResult,
    SentRequest,
    Timings,
    Usage,
)
from workbench.core.outcome import RunOutcome
from workbench.core.templates import render_text
from workbench.services.runner import Runner
from workbench.storage.repositories import RunRef

#: Whether a reply ends the conversation (every ``stop_when`` assertion passes on it).
StopCheck = Callable[[RunResult], bool]


def stop_check(
    case: ConversationCase, context: Callable[[RunResult], AssertionContext]
) -> StopCheck | None:
    """``case``'s stop condition on a reply (``context``: the evaluation's for that reply)."""
    if not case.stop_when:
        return None
    return lambda result: all(o.status == "pass" for o in evaluate(case.stop_when, context(result)))


def evaluate_conversation(
    test: TestCase,
    defaults: Sequence[AssertionSpec],
    opening: Sequence[RenderedMessage],
    ctx: AssertionContext,
) -> list[Outcome]:
    """A conversation row's outcomes from its stored run (``ctx.result``), in the order
    ``assertions_for`` gives its checks; ``opening`` is the variant's rendered messages."""
    result = ctx.result
    assert result is not None
    opener = bool(opening) and opening[-1].role == "user"
    turns = replies(result.request.messages, len(opening) - opener, result.text)
    whole = [*defaults, *test.assertions]
    return evaluate_case(test, whole, transcript_of(result), turns, ctx, opener)


def summed(last: RunResult, calls: Sequence[RunResult]) -> RunResult:
    """``last`` carrying the cost, tokens and time of all ``calls`` (a conversation stored as
    its last call: this module's, and ``services.tool_steps.run_tool_conversation``'s)."""
    costs = [r.cost for r in calls if r.cost is not None]
    seconds = [r.timings.total_s for r in calls if r.timings.total_s is not None]

    def tokens(name: str) -> int | None:
        known = [getattr(r.usage, name) for r in calls]
        return None if any(n is None for n in known) else sum(known)

    return last.model_copy(
        update={
            "cost": sum(costs) if costs else None,
            "usage": Usage(
                input_tokens=tokens("input_tokens"), output_tokens=tokens("output_tokens")
            ),
            "timings": Timings(
                ttft_s=calls[0].timings.ttft_s, total_s=sum(seconds) if seconds else None
            ),
        }
    )


def _failed(result: RunResult) -> bool:
    return result.finish_reason in ("error", "cancelled") or result.error is not None


@dataclass
class _Conversation:
    """One conversation as it runs."""

    runner: Runner
    case: ConversationCase
    opening: RunRequest
    values: Mapping[str, str]
    cancel: CancelToken

    def __post_init__(self) -> None:
        self.messages = list(self.opening.messages)
        self.fixed = [
            render_text(t.content, self.values, f"conversation.turns[{i}]")
            for i, t in enumerate(self.case.turns)
        ]
        self.next_fixed = 0
        user = self.case.simulated_user
        self.persona = (
            render_text(user.persona, self.values, "simulated_user.persona") if user else ""
        )
        self.goal = render_text(user.goal, self.values, "simulated_user.goal") if user else ""
        self.calls: list[RunResult] = []  # every call, the simulated user's included
        self.last: RunResult | None = None  # the last reply
        self.failure: RunResult | None = None  # the simulated user's failed call

    def run(self, stop: StopCheck | None) -> RunResult:
        replies = 0
        while replies < self.case.max_turns:
            # The variant's own messages may end with the first user turn.
            if not (self.messages and self.messages[-1].role == "user"):
                user = self._next_user()
                if user is None:
                    break
                self.messages.append(RenderedMessage(role="user", content=user))
            request = self.opening.model_copy(update={"messages": list(self.messages)})
            self.last = self.runner.execute(request, self.cancel, keep=False).result
            self.calls.append(self.last)
            replies += 1
            if _failed(self.last):
                break
            self.messages.append(RenderedMessage(role="assistant", content=self.last.text))
            if stop is not None and stop(self.last):
                break
        return self._total()

    def _next_user(self) -> str | None:
        """The next user message: a fixed turn, else the simulated user's (None: the end)."""
        if self.next_fixed < len(self.fixed):
            self.next_fixed += 1
            return self.fixed[self.next_fixed - 1]
        user = self.case.simulated_user
        if user is None:
            return None
        context = {
            **self.values,
            "persona": self.persona,
            "goal": self.goal,
            "transcript": transcript_text([m for m in self.messages if m.role != "system"]),
            "stop_phrase": user.stop_phrase,
        }
        prompt = render_text(user.prompt, context, "simulated_user.prompt")
        request = RunRequest(
            backend=user.backend,
            model=user.model,
            messages=[RenderedMessage(role="user", content=prompt)],
            params=user.params,
        )
        result = self.runner.execute(request, self.cancel, keep=False).result
        self.calls.append(result)
        if _failed(result):
            self.failure = result
            return None
        text = result.text.strip()
        if not text or (user.stop_phrase and user.stop_phrase in text):
            return None
        return text

    def _total(self) -> RunResult:
        """The last reply carrying the cost, tokens and time of every call (a simulated user
        that failed makes it an error)."""
        last = self.last
        if self.failure is not None:
            failure = self.failure
            error = f"the simulated user failed: {failure.error or failure.finish_reason}"
            base = last if last is not None else failure
            last = base.model_copy(
                update={
                    "finish_reason": failure.finish_reason,
                    "error": error,
                    "error_kind": failure.error_kind,
                }
            )
        elif last is None:
            return RunResult(
                request=SentRequest(
                    backend=self.opening.backend, model=self.opening.model, messages=self.messages
                ),
                finish_reason="error",
                error="the conversation ended before its first reply",
            )
        return summed(last, self.calls)


def run_conversation(
    runner: Runner,
    case: ConversationCase,
    opening: RunRequest,
    values: Mapping[str, str],
    ref: RunRef,
    cancel: CancelToken,
    stop: StopCheck | None = None,
) -> RunOutcome:
    """Run the conversation ``opening`` (the variant's rendered request) starts, and store it.
    A turn or a simulated user's prompt that does not render makes an error cell."""
    try:
        result = _Conversation(runner, case, opening, values, cancel).run(stop)
    except KnownError as err:
        sent = SentRequest(backend=opening.backend, model=opening.model, messages=opening.messages)
        result = RunResult(request=sent, finish_reason="error", error=str(err), error_kind=err.code)
    writer = runner.writer
    run_id = writer.add_run(result, ref).result() if writer is not None else None
    return RunOutcome(result, run_id)
