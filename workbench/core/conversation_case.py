"""A test case that is a conversation: fixed user turns, or a simulated user.

A suite row with a ``conversation`` runs as one cell of several model calls. The variant's
rendered messages open it (a trailing user message is the first user turn); then each user turn
is sent with every message before it, and the reply joins the transcript. User turns come from
``turns`` (rendered with the row's values) and then, if there is one, from a *simulated user*: a
model given a persona, a goal and the transcript so far, asked for the user's next message. The
conversation ends when the turns run out, after ``max_turns`` replies, when the simulated user
writes its stop phrase, or when every ``stop_when`` assertion passes on a reply.

Assertions: the row's own (and the suite's) judge the whole conversation, given as text
(``user: …`` / ``assistant: …`` blocks); ``turn_assert`` judges every reply (the case passes when
each reply does; the score is their mean); a turn's own ``assert`` judges the reply to it. The
case is kept in the row's ``metadata["conversation"]``; the stored run is the last call, whose
request holds the whole transcript, so everything is re-evaluated from the store.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from workbench.core.datasets import assertion_from_mapping
from workbench.core.evaluation import (
    AssertionContext,
    EvaluationError,
    Outcome,
    evaluate,
    evaluate_one,
    validate,
)
from workbench.core.experiments import AssertionSpec, TestCase
from workbench.core.models import Params, RenderedMessage

KEY = "conversation"  # the row's metadata key

#: What the simulated user is asked (Jinja; ``persona``, ``goal``, ``transcript``, ``stop_phrase``
#: and the row's values). A suite may give its own ``prompt``.
USER_PROMPT = """You are role-playing a user talking to an AI assistant.
Persona: {{ persona }}
{% if goal %}Your goal: {{ goal }}
{% endif %}{% if transcript %}The conversation so far:

{{ transcript }}

{% else %}The conversation has not started yet.
{% endif %}Write only the user's next message, in the persona's voice.{% if stop_phrase %} \
If the goal is met or the conversation is over, write only {{ stop_phrase }}.{% endif %}"""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


def _assertions(value: Any) -> Any:
    if isinstance(value, list):
        return [a if isinstance(a, AssertionSpec) else assertion_from_mapping(a) for a in value]
    return value


class UserTurn(_Strict):
    """One fixed user message (Jinja, rendered with the row's values) and checks on its reply."""

    content: str
    assert_: list[AssertionSpec] = Field(default_factory=list, alias="assert")

    @field_validator("assert_", mode="before")
    @classmethod
    def _read(cls, value: Any) -> Any:
        return _assertions(value)


class SimulatedUser(_Strict):
    """A model playing the user."""

    persona: str
    goal: str = ""
    backend: str = "llamacpp"
    model: str = ""
    params: Params = Field(default_factory=Params)
    prompt: str = USER_PROMPT
    stop_phrase: str = "[DONE]"


class ConversationCase(_Strict):
    turns: list[UserTurn] = Field(default_factory=list)
    simulated_user: SimulatedUser | None = None
    max_turns: int = Field(10, ge=1, le=200)
    stop_when: list[AssertionSpec] = Field(default_factory=list)
    turn_assert: list[AssertionSpec] = Field(default_factory=list)

    @field_validator("stop_when", "turn_assert", mode="before")
    @classmethod
    def _read(cls, value: Any) -> Any:
        return _assertions(value)

    @field_validator("turns", mode="before")
    @classmethod
    def _texts(cls, value: Any) -> Any:
        if isinstance(value, list):
            return [{"content": t} if isinstance(t, str) else t for t in value]
        return value

    @model_validator(mode="after")
    def _has_users(self) -> ConversationCase:
        if not self.turns and self.simulated_user is None:
            raise ValueError("a conversation needs 'turns', a 'simulated_user', or both")
        return self


def conversation_of(test: TestCase) -> ConversationCase | None:
    data = test.metadata.get(KEY)
    return None if data is None else ConversationCase.model_validate(data)


def with_conversation(test: TestCase, value: Any) -> TestCase:
    """``test`` carrying the conversation ``value`` (a suite's mapping); ValueError naming the
    first problem (an unknown assertion type included) if it is not one."""
    try:
        case = ConversationCase.model_validate(value)
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ValueError(f"conversation: {where + ': ' if where else ''}{first['msg']}") from None
    try:
        for spec in [
            *case.stop_when,
            *case.turn_assert,
            *(a for t in case.turns for a in t.assert_),
        ]:
            validate(spec)
    except EvaluationError as err:
        raise ValueError(f"conversation: {err.message}") from None
    data = case.model_dump(mode="json", by_alias=True, exclude_defaults=True)
    return test.model_copy(update={"metadata": {**test.metadata, KEY: data}})


def stop_assertions(test: TestCase) -> list[AssertionSpec]:
    case = conversation_of(test)
    return [] if case is None else list(case.stop_when)


def case_assertions(test: TestCase) -> list[AssertionSpec]:
    """The per-turn checks of a conversation row, labelled by the turns they judge."""
    case = conversation_of(test)
    if case is None:
        return []
    out = [_labelled(a, "each turn") for a in case.turn_assert]
    for n, turn in enumerate(case.turns, 1):
        out += [_labelled(a, f"turn {n}") for a in turn.assert_]
    return out


def _labelled(spec: AssertionSpec, where: str) -> AssertionSpec:
    written = ("not-" if spec.negate else "") + spec.type
    return spec.model_copy(update={"metric": f"{where}: {spec.metric or written}"})


def transcript_text(messages: Sequence[RenderedMessage]) -> str:
    return "\n\n".join(f"{m.role}: {m.content}" for m in messages)


def replies(messages: Sequence[RenderedMessage], opening: int, last: str) -> list[str]:
    """The assistant's replies of a stored conversation: its request's messages after the
    ``opening`` ones (the variant's own, few-shot included) and the last reply."""
    return [m.content for m in messages[opening:] if m.role == "assistant"] + [last]


def evaluate_case(
    test: TestCase,
    whole: Sequence[AssertionSpec],
    transcript: Sequence[RenderedMessage],
    turn_replies: Sequence[str],
    ctx: AssertionContext,
    has_opener: bool,
) -> list[Outcome]:
    """Outcomes in the order ``whole`` + ``case_assertions(test)``: the whole conversation's,
    then every reply's, then each fixed turn's own."""
    case = conversation_of(test)
    assert case is not None
    outcomes = evaluate(whole, _with_output(ctx, transcript_text(transcript)))
    for spec in case_assertions(test)[: len(case.turn_assert)]:
        per_reply = [evaluate_one(spec, _with_output(ctx, r)) for r in turn_replies]
        outcomes.append(_all_of(spec, per_reply))
    first = 1 if has_opener else 0  # the reply to turns[0]
    labelled = iter(case_assertions(test)[len(case.turn_assert) :])
    for n, turn in enumerate(case.turns):
        for _ in turn.assert_:
            spec = next(labelled)
            if first + n < len(turn_replies):
                outcomes.append(evaluate_one(spec, _with_output(ctx, turn_replies[first + n])))
            else:
                outcomes.append(_outcome(spec, "fail", 0.0, "the conversation ended before it"))
    return outcomes


def _with_output(ctx: AssertionContext, output: str) -> AssertionContext:
    return dataclasses.replace(ctx, output=output)


def _all_of(spec: AssertionSpec, per_reply: Sequence[Outcome]) -> Outcome:
    """Every reply's outcome as one: the worst status, the mean score, the first bad reason."""
    if not per_reply:
        return _outcome(spec, "fail", 0.0, "no reply")
    bad = next((i for i, o in enumerate(per_reply) if o.status != "pass"), None)
    status = (
        "error"
        if any(o.status == "error" for o in per_reply)
        else ("pass" if bad is None else "fail")
    )
    scores = [o.score for o in per_reply if o.score is not None]
    score = sum(scores) / len(scores) if scores else None
    reason = (
        f"all {len(per_reply)} replies pass"
        if bad is None
        else f"reply {bad + 1} of {len(per_reply)}: {per_reply[bad].reason}"
    )
    return _outcome(spec, status, score, reason)


def _outcome(spec: AssertionSpec, status: Any, score: float | None, reason: str) -> Outcome:
    return Outcome(
        status,
        score,
        reason,
        type=("not-" if spec.negate else "") + spec.type,
        metric=spec.metric or spec.type,
        weight=spec.weight,
    )
