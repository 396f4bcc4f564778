"""The scaffolds behind each prompting technique: options, example labels and plans.

Each ``plan_*`` function reads a template, the options given and the labels its query is written
with, and returns a ``Plan``: what the technique adds to the person's own message (the examples
block before the query, guidance before it, a reasoning cue after everything), the few-shot
settings (examples keep their data; the format reuses the query's labels), the parameters the
technique needs, and its answer pattern or output schema. ``insertions`` puts a plan into a
message and takes it out again.
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


# --- labels ------------------------------------------------------------------------------------

_DEFAULT_FORMAT = FewShot().example_format
_FORMAT = re.compile(
    r"(?P<i>[^\n\r{}]+): \{\{ input \}\}\n"
    r"(?:(?P<r>[^\n\r{}]+): \{\{ rationale \}\}\n)?"
    r"(?P<o>[^\n\r{}]+): \{\{ output \}\}"
)
PLAIN_LABELS = ("Input", "Output")
WORKED_LABELS = ("Question", "Answer")
JSON_LABELS = ("Input", "JSON")


@dataclass(frozen=True)
class Shots:
    """The labels examples are written with; the query uses the same labels."""

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


def scaffold_format(example_format: str) -> bool:
    """Whether an example format is the default or one a technique wrote (so a technique may
    write another); a person's own format is kept as it is."""
    return example_format == _DEFAULT_FORMAT or Shots.recover(example_format) is not None


def answer_pattern_for(label: str) -> str:
    """The answer pattern for an output label: "Answer" reads "The answer is X" too."""
    if label.casefold() == "answer":
        return DEFAULT_ANSWER_PATTERN
    return rf"(?im)^[\s*]*{re.escape(label)}\**\s*:\s*(.+)"


@dataclass
class Plan:
    """What a technique adds to a person's message and what it needs.

    ``shots``: the examples block goes before the query, with these labels (and the query's
    answer line becomes the rationale label for worked examples); ``lead``: paragraphs before
    the examples or the query; ``tail``: paragraphs after everything (the reasoning cue).
    """

    few_shot: FewShot
    shots: Shots | None = None
    lead: list[str] = field(default_factory=list)
    tail: list[str] = field(default_factory=list)
    defaults: Params = field(default_factory=Params)  # applied when switching to the technique
    overrides: Params = field(default_factory=Params)  # from options given explicitly
    answer_pattern: str = ""
    output_schema: dict[str, Any] | None = None


def _given(opts: BaseModel, name: str) -> bool:
    return name in opts.model_fields_set


def _shots(
    t: PromptTemplate,
    opts: ShotOptions,
    found: Shots | None,
    default: tuple[str, str],
    rationale: str | None = None,
) -> Shots:
    """Labels from the options, else the query's, else the examples', else the defaults."""
    known = Shots.recover(t.few_shot.example_format)
    input_label = opts.input_label or (found or known or Shots(*default)).input_label
    output_label = opts.output_label or (found or known or Shots(*default)).output_label
    rationale_label = ""
    if rationale is not None:
        chosen = getattr(opts, "rationale_label", None)
        rationale_label = chosen or (known.rationale_label if known else "") or rationale
    return Shots(input_label, output_label, rationale_label)


def _few_shot(t: PromptTemplate, opts: ShotOptions, shots: Shots, k: int | None) -> FewShot:
    data = t.few_shot.model_dump()
    data["k"] = k
    if scaffold_format(t.few_shot.example_format):
        data["example_format"] = shots.example_format()
    for name in ("order", "seed", "token_budget", "separator"):
        if _given(opts, name):
            data[name] = getattr(opts, name)
    return FewShot.model_validate(data)


def _keep_k(t: PromptTemplate, opts: ShotOptions) -> int | None:
    return opts.k if _given(opts, "k") else t.few_shot.k


def _with_examples(
    t: PromptTemplate,
    opts: ShotOptions,
    found: Shots | None,
    labels: tuple[str, str],
    k: int | None,
    *,
    rationale: str | None = None,
    lead: Iterable[str] = (),
) -> Plan:
    """Examples before the query; generation stops where a next example would start."""
    shots = _shots(t, opts, found, labels, rationale)
    few = _few_shot(t, opts, shots, k)
    ours = few.example_format == shots.example_format()
    return Plan(
        few,
        shots,
        lead=list(lead),
        defaults=Params(stop=[f"\n{shots.input_label}:"] if ours else []),
        answer_pattern=answer_pattern_for(shots.output_label) if rationale else "",
    )


def cue_lines(opts: Options) -> frozenset[str]:
    """Every line a technique may add as a cue, so it can be recognised and taken out again."""
    lines = {ANSWER_FORMAT, DEFAULT_TRIGGER, LEAST_TO_MOST_GUIDANCE}
    lines |= {TREE_OF_THOUGHTS_GUIDANCE.format(experts=word) for word in _NUMBER_WORDS.values()}
    for name in ("trigger", "answer_format"):
        given = getattr(opts, name, None)
        if given:
            lines.update(given.split("\n"))
    return frozenset(literal(line) for line in lines)


def is_json_guidance(paragraph: str) -> bool:
    return paragraph.strip().split("\n", 1)[0] == literal(JSON_GUIDANCE)


# --- the techniques ----------------------------------------------------------------------------


def plan_zero_shot(t: PromptTemplate, opts: Options, found: Shots | None) -> Plan:
    return Plan(t.few_shot)


def plan_one_shot(t: PromptTemplate, opts: ShotOptions, found: Shots | None) -> Plan:
    return _with_examples(t, opts, found, PLAIN_LABELS, 1)


def plan_few_shot(t: PromptTemplate, opts: ShotOptions, found: Shots | None) -> Plan:
    k = opts.k if _given(opts, "k") else (None if t.technique == "one-shot" else t.few_shot.k)
    return _with_examples(t, opts, found, PLAIN_LABELS, k)


def _cue(*lines: str) -> str:
    return "\n".join(literal(line) for line in lines)


def plan_chain_of_thought(
    t: PromptTemplate, opts: ChainOfThoughtOptions, found: Shots | None
) -> Plan:
    return Plan(
        t.few_shot,
        tail=[_cue(opts.answer_format, opts.trigger)],
        answer_pattern=DEFAULT_ANSWER_PATTERN,
    )


def plan_few_shot_chain_of_thought(
    t: PromptTemplate, opts: FewShotChainOfThoughtOptions, found: Shots | None
) -> Plan:
    return _with_examples(
        t, opts, found, WORKED_LABELS, _keep_k(t, opts), rationale="Reasoning"
    )


def plan_self_consistency(
    t: PromptTemplate, opts: SelfConsistencyOptions, found: Shots | None
) -> Plan:
    """Chain-of-thought (worked examples if the template has any) sampled N times."""
    if t.examples:
        plan = plan_few_shot_chain_of_thought(t, opts, found)
    else:
        plan = plan_chain_of_thought(
            t,
            ChainOfThoughtOptions(trigger=opts.trigger, answer_format=opts.answer_format),
            found,
        )
    plan.defaults = plan.defaults.merged(Params(n=5, temperature=0.7))
    overrides: dict[str, Any] = {}
    if opts.samples is not None:
        overrides["n"] = opts.samples
    if opts.temperature is not None:
        overrides["temperature"] = opts.temperature
    plan.overrides = Params.model_validate(overrides)
    return plan


def plan_least_to_most(t: PromptTemplate, opts: LeastToMostOptions, found: Shots | None) -> Plan:
    """Decompose, then solve the sub-problems in order; worked decompositions if examples exist."""
    if not t.examples:
        return Plan(
            t.few_shot,
            tail=[_cue(LEAST_TO_MOST_GUIDANCE, opts.answer_format)],
            answer_pattern=DEFAULT_ANSWER_PATTERN,
        )
    # The worked examples show where the answer goes, so no separate answer-format line.
    return _with_examples(
        t, opts, found, WORKED_LABELS, _keep_k(t, opts), rationale="Sub-problems",
        lead=[_cue(LEAST_TO_MOST_GUIDANCE)],
    )


def plan_tree_of_thoughts(
    t: PromptTemplate, opts: TreeOfThoughtsOptions, found: Shots | None
) -> Plan:
    guidance = TREE_OF_THOUGHTS_GUIDANCE.format(experts=_NUMBER_WORDS[opts.experts])
    return Plan(
        t.few_shot,
        tail=[_cue(guidance, opts.answer_format)],
        answer_pattern=DEFAULT_ANSWER_PATTERN,
    )


def plan_role(t: PromptTemplate, opts: ShotOptions, found: Shots | None) -> Plan:
    """The persona is the system message (checked by ``apply_technique``); examples if any."""
    if not t.examples:
        return Plan(t.few_shot)
    return _with_examples(t, opts, found, PLAIN_LABELS, _keep_k(t, opts))


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


def plan_structured_output(
    t: PromptTemplate, opts: StructuredOutputOptions, found: Shots | None
) -> Plan:
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
        plan = _with_examples(t, opts, found, JSON_LABELS, _keep_k(t, opts), lead=lead)
    else:
        plan = Plan(t.few_shot, lead=lead)
    plan.defaults = plan.defaults.merged(Params(greedy=True))
    plan.output_schema = schema
    return plan
