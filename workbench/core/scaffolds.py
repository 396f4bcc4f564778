"""The scaffolds behind each prompting technique: options, example labels and layout plans.

Each ``plan_*`` function reads a template's components, examples and the options given, and
returns a ``Plan``: the blocks of the user message in component order, the few-shot settings
(examples keep their data; the scaffold writes their format with labels the final query reuses),
the parameters the technique needs, and its answer pattern or output schema. ``techniques``
turns a plan into messages.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from workbench.core.answers import DEFAULT_ANSWER_PATTERN, check_schema
from workbench.core.errors import KnownError
from workbench.core.models import FewShot, Params, PromptTemplate
from workbench.core.templates import literal

DEFAULT_TRIGGER = "Let's think step by step."
ANSWER_FORMAT = 'Write the final answer on the last line as "Answer: <answer>".'
LEAST_TO_MOST_GUIDANCE = (
    "First break the problem into simpler sub-problems, listed from the easiest to the hardest. "
    "Then solve them one by one, in order, using each answer to solve the next."
)
TREE_OF_THOUGHTS_GUIDANCE = (
    "Imagine {experts} different experts are answering this question. Each expert writes down "
    "one step of their thinking, then shares it with the group. Then all the experts go on to the "
    "next step, and so on. If any expert realises they are wrong at any point, they leave."
)
JSON_GUIDANCE = "Reply with only a JSON value that matches this JSON schema, and no other text:"
_NUMBER_WORDS = {2: "two", 3: "three", 4: "four", 5: "five"}


class TechniqueError(KnownError):
    """A technique that cannot be applied to a template as it stands."""


# --- options -------------------------------------------------------------------------------------

Label = Annotated[str, Field(min_length=1, max_length=40, pattern=r"^[^\n\r{}]+$")]

_PATTERN_HELP = "Regex whose first group is the final answer (unset: the default)."
_FORMAT_HELP = "The instruction that says how to write the final answer."
_TRIGGER_HELP = "The phrase that asks for reasoning."


class Options(BaseModel):
    """Options every technique takes. ``None`` keeps what the template already has."""

    model_config = ConfigDict(extra="forbid")

    system: str | None = Field(
        default=None,
        description="System message (a Jinja body): the persona. Empty removes it; "
        "leave unset to keep the template's.",
    )
    mode: Literal["chat", "completion"] | None = Field(
        default=None, description="Chat messages, or one completion text for base models."
    )
    answer_pattern: str | None = Field(default=None, description=_PATTERN_HELP)


class ShotOptions(Options):
    """How examples are chosen and laid out (unset: keep the template's choice)."""

    k: Annotated[int | None, Field(ge=0)] = Field(
        default=None, description="How many examples to use (empty: all)."
    )
    order: Literal["fixed", "shuffle"] | None = Field(
        default=None, description="Examples in their given order, or shuffled with the seed."
    )
    seed: int | None = Field(
        default=None, description="Seed of the shuffle: same seed, same order."
    )
    token_budget: Annotated[int | None, Field(ge=1)] = Field(
        default=None, description="Use only the examples that fit in this many tokens."
    )
    separator: str | None = Field(default=None, description="Text between two examples.")
    input_label: Label | None = Field(
        default=None, description="Label before each input, e.g. 'Q'."
    )
    output_label: Label | None = Field(
        default=None, description="Label before each output, e.g. 'A'."
    )


class AnswerOptions(BaseModel):
    """How the model is told to write its final answer (the answer pattern must match it)."""

    answer_format: str = Field(default=ANSWER_FORMAT, description=_FORMAT_HELP)


class ChainOfThoughtOptions(Options, AnswerOptions):
    trigger: str = Field(default=DEFAULT_TRIGGER, description=_TRIGGER_HELP)


class FewShotChainOfThoughtOptions(ShotOptions):
    rationale_label: Label | None = Field(
        default=None, description="Label before each worked rationale, e.g. 'Reasoning'."
    )


class SelfConsistencyOptions(FewShotChainOfThoughtOptions, AnswerOptions):
    trigger: str = Field(default=DEFAULT_TRIGGER, description=_TRIGGER_HELP)
    samples: Annotated[int | None, Field(ge=2, le=128)] = Field(
        default=None, description="How many answers to sample and vote on (n)."
    )
    temperature: Annotated[float | None, Field(gt=0.0, le=2.0)] = Field(
        default=None, description="Sampling temperature: above 0, or every sample is the same."
    )


class LeastToMostOptions(FewShotChainOfThoughtOptions, AnswerOptions):
    pass


class TreeOfThoughtsOptions(Options, AnswerOptions):
    experts: Annotated[int, Field(ge=2, le=5)] = Field(
        default=3, description="How many reasoning branches (imagined experts) to explore."
    )


class StructuredOutputOptions(ShotOptions):
    output_schema: dict[str, Any] | None = Field(
        default=None, description="JSON schema the answer must match (unset: keep the template's)."
    )


# --- layout --------------------------------------------------------------------------------------

_DEFAULT_FORMAT = FewShot().example_format
_FORMAT = re.compile(
    r"(?P<i>[^\n\r{}]+): \{\{ input \}\}\n"
    r"(?:(?P<r>[^\n\r{}]+): \{\{ rationale \}\}\n)?"
    r"(?P<o>[^\n\r{}]+): \{\{ output \}\}"
)


@dataclass(frozen=True)
class Shots:
    """The labels examples are written with; the query at the end uses the same labels."""

    input_label: str
    output_label: str
    rationale_label: str = ""

    @classmethod
    def recover(cls, example_format: str) -> Shots | None:
        """The labels of a format a scaffold wrote (``None`` for the model default or custom)."""
        if example_format == _DEFAULT_FORMAT:
            return None
        match = _FORMAT.fullmatch(example_format)
        if match is None:
            return None
        return cls(match["i"], match["o"], match["r"] or "")

    def example_format(self) -> str:
        lines = [f"{self.input_label}: {{{{ input }}}}"]
        if self.rationale_label:
            lines.append(f"{self.rationale_label}: {{{{ rationale }}}}")
        lines.append(f"{self.output_label}: {{{{ output }}}}")
        return "\n".join(lines)

    def query(self) -> str:
        """The input in the examples' format, ending where the model's answer starts."""
        start = self.rationale_label or self.output_label
        return f"{self.input_label}: {{{{ parts.input_data }}}}\n{start}:"


def answer_pattern_for(label: str) -> str:
    """The answer pattern for an output label: "Answer" reads "The answer is X" too."""
    if label.casefold() == "answer":
        return DEFAULT_ANSWER_PATTERN
    return rf"(?im)^[\s*]*{re.escape(label)}\**\s*:\s*(.+)"


@dataclass
class Plan:
    """What a technique lays out: the user message's blocks, examples and what it needs."""

    blocks: list[str]
    few_shot: FewShot
    defaults: Params = field(default_factory=Params)  # applied when switching to the technique
    overrides: Params = field(default_factory=Params)  # from options given explicitly
    answer_pattern: str = ""
    output_schema: dict[str, Any] | None = None


def _given(opts: BaseModel, name: str) -> bool:
    return name in opts.model_fields_set


def _shots(
    t: PromptTemplate,
    opts: ShotOptions,
    default: tuple[str, str],
    rationale: str | None = None,
) -> Shots:
    """Labels from the options, else those the template's examples already use, else defaults."""
    found = Shots.recover(t.few_shot.example_format)
    input_label = opts.input_label or (found.input_label if found else default[0])
    output_label = opts.output_label or (found.output_label if found else default[1])
    rationale_label = ""
    if rationale is not None:
        chosen = getattr(opts, "rationale_label", None)
        rationale_label = chosen or (found.rationale_label if found else "") or rationale
    return Shots(input_label, output_label, rationale_label)


def _few_shot(t: PromptTemplate, opts: ShotOptions, shots: Shots, k: int | None) -> FewShot:
    data = t.few_shot.model_dump()
    data["k"] = k
    data["example_format"] = shots.example_format()
    for name in ("order", "seed", "token_budget", "separator"):
        if _given(opts, name):
            data[name] = getattr(opts, name)
    return FewShot.model_validate(data)


def _keep_k(t: PromptTemplate, opts: ShotOptions) -> int | None:
    return opts.k if _given(opts, "k") else t.few_shot.k


def _blocks(
    t: PromptTemplate,
    shots: Shots | None,
    separator: str,
    *,
    lead: Iterable[str] = (),
    tail: Iterable[str] = (),
) -> list[str]:
    """The user message in component order: instruction, context, [lead], input, indicator, [tail].

    With examples, the output indicator (format guidance) comes before them and the input is
    written in the examples' format, so the model continues the pattern.
    """
    c = t.components
    if not (c.instruction or c.context or c.input_data or c.output_indicator):
        raise TechniqueError(
            "the template has no content to lay out",
            hint="fill in at least the instruction or the input data",
        )
    blocks = [f"{{{{ parts.{name} }}}}" for name in ("instruction", "context") if getattr(c, name)]
    blocks.extend(lead)
    if shots is None:
        blocks.extend(
            f"{{{{ parts.{name} }}}}"
            for name in ("input_data", "output_indicator")
            if getattr(c, name)
        )
    else:
        if c.output_indicator:
            blocks.append("{{ parts.output_indicator }}")
        blocks.append("{{ examples_block }}" + literal(separator) + shots.query())
    blocks.extend(tail)
    return blocks


def _with_examples(
    t: PromptTemplate,
    opts: ShotOptions,
    labels: tuple[str, str],
    k: int | None,
    *,
    rationale: str | None = None,
    lead: Iterable[str] = (),
) -> Plan:
    """A layout with examples before the query; generation stops where a next example would."""
    shots = _shots(t, opts, labels, rationale)
    few = _few_shot(t, opts, shots, k)
    return Plan(
        _blocks(t, shots, few.separator, lead=lead),
        few,
        defaults=Params(stop=[f"\n{shots.input_label}:"]),
        answer_pattern=answer_pattern_for(shots.output_label) if rationale else "",
    )


# --- the techniques ----------------------------------------------------------------------------


def plan_zero_shot(t: PromptTemplate, opts: Options) -> Plan:
    return Plan(_blocks(t, None, ""), t.few_shot)


def plan_one_shot(t: PromptTemplate, opts: ShotOptions) -> Plan:
    return _with_examples(t, opts, ("Input", "Output"), 1)


def plan_few_shot(t: PromptTemplate, opts: ShotOptions) -> Plan:
    k = opts.k if _given(opts, "k") else (None if t.technique == "one-shot" else t.few_shot.k)
    return _with_examples(t, opts, ("Input", "Output"), k)


def plan_chain_of_thought(t: PromptTemplate, opts: ChainOfThoughtOptions) -> Plan:
    tail = [literal(opts.answer_format) + "\n" + literal(opts.trigger)]
    return Plan(_blocks(t, None, "", tail=tail), t.few_shot, answer_pattern=DEFAULT_ANSWER_PATTERN)


def plan_few_shot_chain_of_thought(t: PromptTemplate, opts: FewShotChainOfThoughtOptions) -> Plan:
    return _with_examples(t, opts, ("Question", "Answer"), _keep_k(t, opts), rationale="Reasoning")


def plan_self_consistency(t: PromptTemplate, opts: SelfConsistencyOptions) -> Plan:
    """Chain-of-thought (worked examples if the template has any) sampled N times."""
    if t.examples:
        plan = plan_few_shot_chain_of_thought(t, opts)
    else:
        plan = plan_chain_of_thought(
            t,
            ChainOfThoughtOptions(trigger=opts.trigger, answer_format=opts.answer_format),
        )
    plan.defaults = plan.defaults.merged(Params(n=5, temperature=0.7))
    overrides: dict[str, Any] = {}
    if opts.samples is not None:
        overrides["n"] = opts.samples
    if opts.temperature is not None:
        overrides["temperature"] = opts.temperature
    plan.overrides = Params.model_validate(overrides)
    return plan


def plan_least_to_most(t: PromptTemplate, opts: LeastToMostOptions) -> Plan:
    """Decompose, then solve the sub-problems in order; worked decompositions if examples exist."""
    guidance = literal(LEAST_TO_MOST_GUIDANCE)
    if not t.examples:
        tail = [guidance + "\n" + literal(opts.answer_format)]
        blocks = _blocks(t, None, "", tail=tail)
        return Plan(blocks, t.few_shot, answer_pattern=DEFAULT_ANSWER_PATTERN)
    # The worked examples show where the answer goes, so no separate answer-format line.
    return _with_examples(
        t, opts, ("Question", "Answer"), _keep_k(t, opts), rationale="Sub-problems", lead=[guidance]
    )


def plan_tree_of_thoughts(t: PromptTemplate, opts: TreeOfThoughtsOptions) -> Plan:
    guidance = TREE_OF_THOUGHTS_GUIDANCE.format(experts=_NUMBER_WORDS[opts.experts])
    tail = [literal(guidance) + "\n" + literal(opts.answer_format)]
    return Plan(_blocks(t, None, "", tail=tail), t.few_shot, answer_pattern=DEFAULT_ANSWER_PATTERN)


def plan_role(t: PromptTemplate, opts: ShotOptions) -> Plan:
    """The persona is the system message (checked by ``apply_technique``); examples if any."""
    if not t.examples:
        return Plan(_blocks(t, None, ""), t.few_shot)
    return _with_examples(t, opts, ("Input", "Output"), _keep_k(t, opts))


def compact_json(value: Any, width: int = 72, indent: str = "") -> str:
    """JSON indented by structure, but with any part that fits in ``width`` kept on one line.

    A schema in a prompt costs tokens on every call: this is as readable as ``indent=2`` at
    about half the lines.
    """
    flat = json.dumps(value, ensure_ascii=False)
    if len(indent) + len(flat) <= width or not isinstance(value, dict | list) or not value:
        return flat
    inner = indent + "  "
    if isinstance(value, dict):
        items = [
            f"{inner}{json.dumps(k, ensure_ascii=False)}: {compact_json(v, width, inner).lstrip()}"
            for k, v in value.items()
        ]
        return "{\n" + ",\n".join(items) + f"\n{indent}}}"
    items = [inner + compact_json(v, width, inner).lstrip() for v in value]
    return "[\n" + ",\n".join(items) + f"\n{indent}]"


def plan_structured_output(t: PromptTemplate, opts: StructuredOutputOptions) -> Plan:
    schema = opts.output_schema if opts.output_schema is not None else t.output_schema
    if schema is None:
        raise TechniqueError(
            "structured output needs a JSON schema",
            hint='give an output schema, e.g. {"type": "object", "properties": {...}}',
        )
    check_schema(schema)
    schema_text = compact_json(schema)
    lead = [literal(f"{JSON_GUIDANCE}\n```json\n{schema_text}\n```")]
    if t.examples:
        plan = _with_examples(t, opts, ("Input", "JSON"), _keep_k(t, opts), lead=lead)
    else:
        plan = Plan(_blocks(t, None, "", lead=lead), t.few_shot)
    plan.defaults = plan.defaults.merged(Params(greedy=True))
    plan.output_schema = schema
    return plan
