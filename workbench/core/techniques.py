"""Prompting techniques: the registry the editor lists, and applying one to a template.

A prompt is the messages a person wrote. A technique does not own or lay them out: it adds what it
needs to the person's own user message (the examples block before the query, a reasoning cue
after it, guidance such as the JSON schema) and takes out what any other technique added, so
switching from zero-shot to few-shot to chain-of-thought and back swaps one addition for another,
and re-applying a technique changes nothing (``insertions``). It also writes the example format,
the parameters and the answer pattern the technique needs (``scaffolds``). The prompt components
(instruction, context, input data, output indicator) are an optional structure: a template with
no request written yet gets a user message composed of them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import ValidationError

from workbench.core.answers import DEFAULT_ANSWER_PATTERN
from workbench.core.errors import KnownError
from workbench.core.insertions import compose, found_shots, insert, strip
from workbench.core.models import Components, Example, Message, Params, PromptTemplate, Variable
from workbench.core.prompt_body import Body, uses_examples
from workbench.core.scaffolds import (
    ChainOfThoughtOptions,
    FewShotChainOfThoughtOptions,
    LeastToMostOptions,
    Options,
    Plan,
    SelfConsistencyOptions,
    ShotOptions,
    Shots,
    StructuredOutputOptions,
    TechniqueError,
    TreeOfThoughtsOptions,
    answer_pattern_for,
    cue_lines,
    plan_chain_of_thought,
    plan_few_shot,
    plan_few_shot_chain_of_thought,
    plan_least_to_most,
    plan_one_shot,
    plan_role,
    plan_self_consistency,
    plan_structured_output,
    plan_tree_of_thoughts,
    plan_zero_shot,
)
from workbench.core.templates import bodies, literal

# --- registry ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Technique:
    """A prompting technique the editor can list: id, name, a one-sentence tooltip, a scaffold."""

    id: str
    name: str
    description: str
    options: type[Options]
    plan: Callable[[PromptTemplate, Any, Shots | None], Plan] = field(repr=False)
    chat_only: bool = False
    uses_examples: Literal["never", "always", "if-present"] = "never"


_TECHNIQUES: tuple[Technique, ...] = (
    Technique(
        "zero-shot", "Zero-shot",
        "The task with no example: the model relies on what it learned in pre-training. "
        "Start here; add examples when the format or behaviour is off.",
        Options, plan_zero_shot,
    ),
    Technique(
        "one-shot", "One-shot",
        "One input→output example in the prompt shows the model the wanted format and behaviour.",
        ShotOptions, plan_one_shot, uses_examples="always",
    ),
    Technique(
        "few-shot", "Few-shot",
        "A few input→output examples in the prompt (in-context learning) calibrate format and "
        "behaviour; choose how many, their order and a token budget.",
        ShotOptions, plan_few_shot, uses_examples="always",
    ),
    Technique(
        "chain-of-thought", "Chain-of-thought",
        "Asks the model to think step by step before the final answer, which is then extracted; "
        "helps arithmetic and multi-step reasoning.",
        ChainOfThoughtOptions, plan_chain_of_thought,
    ),
    Technique(
        "few-shot-chain-of-thought", "Few-shot chain-of-thought",
        "Worked examples show the reasoning that leads to each answer, so the model reasons the "
        "same way; the final answer is extracted.",
        FewShotChainOfThoughtOptions, plan_few_shot_chain_of_thought, uses_examples="always",
    ),
    Technique(
        "self-consistency", "Self-consistency",
        "Samples several chain-of-thought answers at a non-zero temperature and keeps the "
        "majority answer: more reliable, at N times the cost.",
        SelfConsistencyOptions, plan_self_consistency, uses_examples="if-present",
    ),
    Technique(
        "least-to-most", "Least-to-most",
        "Splits the problem into simpler sub-problems and solves them in order, each answer "
        "feeding the next; for problems harder than the examples.",
        LeastToMostOptions, plan_least_to_most, uses_examples="if-present",
    ),
    Technique(
        "tree-of-thoughts", "Tree-of-thoughts",
        "Explores several reasoning branches at once and drops the ones that go wrong before "
        "settling on an answer; for puzzles and planning.",
        TreeOfThoughtsOptions, plan_tree_of_thoughts,
    ),
    Technique(
        "role", "Role / system prompt",
        "A system message gives the model a persona (an expert, a reviewer) that sets its "
        "knowledge, tone and format for the whole conversation.",
        ShotOptions, plan_role, chat_only=True, uses_examples="if-present",
    ),
    Technique(
        "structured-json", "Structured JSON output",
        "Asks for JSON that matches a schema and checks every answer against it, so programs can "
        "use the output.",
        StructuredOutputOptions, plan_structured_output, uses_examples="if-present",
    ),
)
_BY_ID = {t.id: t for t in _TECHNIQUES}


def techniques() -> tuple[Technique, ...]:
    """Every technique, in the order a picker lists them (simplest first)."""
    return _TECHNIQUES


def get_technique(technique_id: str) -> Technique:
    try:
        return _BY_ID[technique_id]
    except KeyError:
        known = ", ".join(_BY_ID)
        raise TechniqueError(
            f"unknown technique '{technique_id}'", hint=f"one of: {known}"
        ) from None


# --- applying a technique ----------------------------------------------------------------------


def _options(technique: Technique, options: dict[str, Any]) -> Options:
    try:
        return technique.options.model_validate(options)
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "options"
        raise TechniqueError(f"{technique.name}: option {where}: {first['msg']}") from None


def _in_mode(t: PromptTemplate, mode: Literal["chat", "completion"]) -> PromptTemplate:
    """The template's messages as one completion text, or its text as one user message."""
    if mode == t.mode:
        return t
    if mode == "completion":
        text = "\n\n".join(literal(m.content) if m.literal else m.content for m in t.messages)
        return t.model_copy(update={"mode": mode, "messages": [], "text": text})
    messages = [Message(role="user", content=t.text)] if t.text.strip() else []
    return t.model_copy(update={"mode": mode, "messages": messages, "text": ""})


def _with_system(t: PromptTemplate, system: str | None) -> PromptTemplate:
    """The persona given as an option: the system message (the first paragraph of a text)."""
    if system is None:
        return t
    if t.mode == "completion":
        if not system or t.text.startswith(system):
            return t
        return t.model_copy(update={"text": f"{system}\n\n{t.text}" if t.text else system})
    messages = list(t.messages)
    at = next((i for i, m in enumerate(messages) if m.role == "system"), None)
    if at is None and system:
        messages.insert(0, Message(role="system", content=system))
    elif at is not None and system:
        messages[at] = messages[at].model_copy(update={"content": system})
    elif at is not None:
        messages.pop(at)
    return t.model_copy(update={"messages": messages})


@dataclass(frozen=True)
class _Target:
    """The body a technique works on: the last user message (``index``), or the completion
    text (``index`` None)."""

    index: int | None
    source: str
    literal: bool = False


def _target(t: PromptTemplate) -> _Target:
    if t.mode == "completion":
        return _Target(None, t.text)
    for index in reversed(range(len(t.messages))):
        message = t.messages[index]
        if message.role == "user":
            return _Target(index, message.content, message.literal)
    return _Target(len(t.messages), "")  # a user message is added after the others


def _previous_defaults(
    t: PromptTemplate, previous: Technique | None, found: Shots | None
) -> dict[str, Any]:
    """The parameters the template's current technique set by default, if still unchanged."""
    if previous is None:
        return {}
    try:
        defaults = previous.plan(t, previous.options(), found).defaults
    except KnownError:
        return {}
    current = t.parameters.model_dump(exclude_defaults=True)
    return {
        k: v for k, v in defaults.model_dump(exclude_defaults=True).items() if current.get(k) == v
    }


def _parameters(
    t: PromptTemplate,
    plan: Plan,
    technique: Technique,
    previous: Technique | None,
    found: Shots | None,
) -> Params:
    """Switching technique: drop the old one's untouched defaults, add the new one's.

    Re-applying the same technique keeps the parameters as the user left them; options given
    explicitly (e.g. ``samples``) always win.
    """
    values = t.parameters.model_dump(exclude_defaults=True)
    if previous is None or previous.id != technique.id:
        for key in _previous_defaults(t, previous, found):
            values.pop(key)
        values.update(plan.defaults.model_dump(exclude_defaults=True))
    values.update(plan.overrides.model_dump(exclude_defaults=True))
    return Params.model_validate(values)


def _generated_patterns(t: PromptTemplate) -> set[str]:
    """Answer patterns a scaffold may have written for this template (so not the user's own)."""
    found = {"", DEFAULT_ANSWER_PATTERN}
    shots = Shots.recover(t.few_shot.example_format)
    if shots is not None:
        found.add(answer_pattern_for(shots.output_label))
    return found


def _answer_pattern(t: PromptTemplate, opts: Options, plan: Plan) -> str:
    if opts.answer_pattern is not None:
        return opts.answer_pattern
    if t.answer_pattern not in _generated_patterns(t):
        return t.answer_pattern  # the user's own pattern survives a change of technique
    return plan.answer_pattern


def _apply(
    t: PromptTemplate,
    technique: Technique,
    opts: Options,
    previous: Technique | None,
    *,
    inline: bool = False,
) -> PromptTemplate:
    """``t`` with ``technique``'s additions in place of any technique's; with no request written
    yet, the request is composed from the components (their text itself when ``inline``)."""
    mode = opts.mode or t.mode
    if mode == "completion" and technique.chat_only:
        raise TechniqueError(
            f"{technique.name} needs a chat template (it uses a system message)",
            hint="switch the template to chat mode",
        )
    t = _with_system(_in_mode(t, mode), opts.system)
    if technique.id == "role" and not any(
        m.role == "system" and m.content.strip() for m in t.messages
    ):
        raise TechniqueError(
            "role prompting needs a persona",
            hint="give a system message, e.g. 'You are an experienced copy editor.'",
        )
    target = _target(t)
    composing = not target.source.strip()
    if composing:
        target = _Target(target.index, compose(t.components, None, inline=inline))
    body = strip(target.source, t.few_shot, cue_lines(opts))
    found = found_shots(body)
    plan = technique.plan(t, opts, found)
    if composing and plan.shots is not None:
        body = Body.parse(compose(t.components, plan.shots, inline=inline))
    insert(body, plan)
    text = body.text()
    if target.literal and text != target.source:
        raise TechniqueError(
            f"{technique.name} cannot change the user message: it is sent literally",
            hint="untick 'literal' on the user message so that Jinja in it is read",
        )
    data = t.model_dump()
    data.update(
        technique=technique.id,
        few_shot=plan.few_shot.model_dump(),
        parameters=_parameters(t, plan, technique, previous, found).model_dump(),
        answer_pattern=_answer_pattern(t, opts, plan),
        output_schema=plan.output_schema if plan.output_schema is not None else t.output_schema,
    )
    if target.index is None:
        data["text"] = text
    elif target.index < len(t.messages):
        data["messages"][target.index]["content"] = text
    else:
        data["messages"].append(Message(role="user", content=text).model_dump())
    if inline:
        data["components"] = Components().model_dump()
    return PromptTemplate.model_validate(data)


def apply_technique(template: PromptTemplate, technique_id: str, **options: Any) -> PromptTemplate:
    """``template`` with ``technique_id``'s additions in the user's own message.

    The examples block, guidance and reasoning cue of whatever technique the message had are
    taken out and the new technique's put in; everything the person wrote stays as written, and
    variables and examples are kept. A template with no request yet gets one composed of its
    components. ``system`` sets the system message (the persona).
    """
    technique = get_technique(technique_id)
    previous = _BY_ID.get(template.technique)
    return _apply(template, technique, _options(technique, options), previous)


def build(
    technique_id: str,
    components: Components,
    *,
    name: str,
    description: str = "",
    tags: Iterable[str] = (),
    variables: Iterable[Variable] = (),
    examples: Iterable[Example] = (),
    parameters: Params | None = None,
    **options: Any,
) -> PromptTemplate:
    """A new template with its messages written from ``components`` (their text, not references
    to them, so the messages read as what is sent) and a technique. ``parameters`` win over the
    technique's defaults."""
    technique = get_technique(technique_id)
    base = PromptTemplate(
        name=name,
        description=description,
        tags=list(tags),
        technique=technique_id,
        components=components,
        variables=list(variables),
        examples=list(examples),
    )
    template = _apply(base, technique, _options(technique, options), None, inline=True)
    if parameters is not None:
        merged = template.parameters.merged(parameters)
        template = PromptTemplate.model_validate({**template.model_dump(), "parameters": merged})
    return template


@dataclass(frozen=True)
class ExampleUse:
    """How many examples a template has and how many it sends."""

    total: int
    chosen: int  # after the order and k; a token budget may send fewer
    placed: bool  # some body places them ({{ examples_block }} or a loop over examples)
    token_budget: int | None = None

    @property
    def sent(self) -> int:
        return self.chosen if self.placed else 0


def example_use(template: PromptTemplate) -> ExampleUse:
    """What the examples counter says: examples only count as sent when a body places them."""
    total = len(template.examples)
    k = template.few_shot.k
    return ExampleUse(
        total=total,
        chosen=total if k is None else min(k, total),
        placed=examples_placed(template),
        token_budget=template.few_shot.token_budget,
    )


def examples_placed(template: PromptTemplate) -> bool:
    return any(
        uses_examples(source)
        for where, source in bodies(template)
        if where != "few_shot.example_format"
    )


def technique_warnings(template: PromptTemplate) -> list[str]:
    """What keeps a template from working as its technique intends (for the editor to show)."""
    technique = _BY_ID.get(template.technique)
    if technique is None:
        return [f"unknown technique '{template.technique}'"]
    warnings: list[str] = []
    if technique.uses_examples == "always" and not template.examples:
        warnings.append(f"{technique.name} needs at least one example")
    shows = technique.uses_examples == "always" or (
        technique.uses_examples == "if-present" and bool(template.examples)
    )
    if shows and template.examples and not examples_placed(template):
        warnings.append(
            "no message places the examples ({{ examples_block }}), so none are sent: "
            "press Apply to insert them"
        )
    worked = technique.id == "few-shot-chain-of-thought" or (
        technique.id in ("self-consistency", "least-to-most") and template.examples
    )
    if worked:
        missing = [str(i) for i, ex in enumerate(template.examples, 1) if not ex.rationale.strip()]
        if missing:
            which = (
                f"examples {', '.join(missing)} have" if len(missing) > 1
                else f"example {missing[0]} has"
            )
            warnings.append(f"{which} no worked rationale to show the reasoning")
    if technique.id == "self-consistency":
        p = template.parameters
        if (p.n or 1) < 2:
            warnings.append("self-consistency needs several samples: set n to 2 or more")
        if p.greedy or not p.temperature:
            warnings.append("self-consistency needs a temperature above 0, or all samples agree")
    if technique.id in ("chain-of-thought", "few-shot-chain-of-thought", "self-consistency",
                        "least-to-most", "tree-of-thoughts") and not template.answer_pattern:
        warnings.append("no answer pattern: the whole output counts as the answer")
    if technique.id == "structured-json" and template.output_schema is None:
        warnings.append("structured JSON output needs an output schema")
    if technique.id == "role" and not any(m.role == "system" for m in template.messages):
        warnings.append("role prompting needs a system message with the persona")
    return warnings
