"""Technique scaffolds: layouts, example selection, parameters, and switching techniques."""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Callable
from typing import Any

import pytest

from workbench.core.answers import (
    DEFAULT_ANSWER_PATTERN,
    NUMBER_ANSWER_PATTERN,
    SchemaDefinitionError,
    extract_answer,
    parse_json_output,
)
from workbench.core.errors import KnownError
from workbench.core.models import (
    Components,
    Example,
    Message,
    Params,
    PromptTemplate,
    Variable,
)
from workbench.core.scaffolds import (
    ANSWER_FORMAT,
    DEFAULT_TRIGGER,
    LEAST_TO_MOST_GUIDANCE,
    Shots,
)
from workbench.core.techniques import (
    TechniqueError,
    apply_technique,
    build,
    get_technique,
    technique_warnings,
    techniques,
)
from workbench.core.templates import discover, render, render_completion, select_examples
from workbench.core.tokens import TiktokenTokenizer

ALL_IDS = [t.id for t in techniques()]
COMPONENTS = Components(
    instruction="Classify the review as {{ labels }}.",
    context="Reviews come from an online shop.",
    input_data="{{ review }}",
    output_indicator="Reply with one word.",
)
VARIABLES = [
    Variable(name="labels", default="positive or negative"),
    Variable(name="review", default="Great phone"),
]
EXAMPLES = [
    Example(input="Loved it", output="positive", rationale="'Loved' is praise."),
    Example(input="Broke in a day", output="negative", rationale="Breaking is a defect."),
    Example(input="Works well", output="positive", rationale="'Works well' is praise."),
    Example(input="Never again", output="negative", rationale="Refusing to rebuy is blame."),
]
SCHEMA = {"type": "object", "properties": {"label": {"enum": ["positive", "negative"]}},
          "required": ["label"]}
#: Options a technique needs before it can be laid out at all.
REQUIRED: dict[str, dict[str, Any]] = {
    "role": {"system": "You are a careful {{ labels }} classifier."},
    "structured-json": {"output_schema": SCHEMA},
}


def _template(technique: str = "zero-shot", **options: Any) -> PromptTemplate:
    return build(technique, COMPONENTS, name="t", variables=VARIABLES, examples=EXAMPLES,
                 **options)


def _user(template: PromptTemplate, **values: str) -> str:
    return next(m.content for m in render(template, values) if m.role == "user")


# --- registry ------------------------------------------------------------------------------------


def test_registry_lists_every_technique_once_with_a_short_tooltip() -> None:
    assert len(ALL_IDS) == len(set(ALL_IDS))
    assert {"zero-shot", "one-shot", "few-shot", "chain-of-thought", "few-shot-chain-of-thought",
            "self-consistency", "least-to-most", "tree-of-thoughts", "role",
            "structured-json"} == set(ALL_IDS)
    for technique in techniques():
        assert technique.name and technique.description.endswith(".")
        assert len(re.findall(r"[.!?](?:\s|$)", technique.description)) <= 2
        assert len(technique.description) <= 200
        assert get_technique(technique.id) is technique


def test_unknown_technique_is_a_known_error_listing_the_choices() -> None:
    with pytest.raises(TechniqueError) as info:
        get_technique("telepathy")
    assert isinstance(info.value, KnownError)
    assert "few-shot" in info.value.hint


def test_bad_options_are_known_errors() -> None:
    template = _template()
    with pytest.raises(TechniqueError, match="option temperture"):
        apply_technique(template, "self-consistency", temperture=0.5)
    with pytest.raises(TechniqueError, match="option samples"):
        apply_technique(template, "self-consistency", samples=1)
    with pytest.raises(TechniqueError, match="option input_label"):
        apply_technique(template, "few-shot", input_label="{{ x }}")


# --- zero-shot -----------------------------------------------------------------------------------


def test_zero_shot_writes_the_components_in_order_as_plain_text() -> None:
    template = _template()
    assert [m.role for m in template.messages] == ["user"]
    assert template.messages[0].content == (
        "Classify the review as {{ labels }}.\n\nReviews come from an online shop.\n\n"
        "{{ review }}\n\nReply with one word."
    )
    assert template.components == Components()  # the messages read as what is sent
    assert _user(template, review="Too loud") == (
        "Classify the review as positive or negative.\n\nReviews come from an online shop.\n\n"
        "Too loud\n\nReply with one word."
    )
    assert discover(template).warnings == []


def test_empty_components_are_left_out_and_no_content_is_an_error() -> None:
    template = build("zero-shot", Components(input_data="{{ q }}"), name="t",
                     variables=[Variable(name="q", default="Why?")])
    assert template.messages[0].content == "{{ q }}"
    with pytest.raises(TechniqueError, match="no request"):
        build("zero-shot", Components(), name="t")


# --- one-shot and few-shot -----------------------------------------------------------------------


def test_few_shot_formats_examples_and_query_with_the_same_labels() -> None:
    template = _template(technique="few-shot", input_label="Review", output_label="Label")
    assert template.few_shot.example_format == "Review: {{ input }}\nLabel: {{ output }}"
    text = _user(template, review="Meh")
    assert text.endswith(
        "Reply with one word.\n\nReview: Loved it\nLabel: positive\n\nReview: Broke in a day\n"
        "Label: negative\n\nReview: Works well\nLabel: positive\n\nReview: Never again\n"
        "Label: negative\n\nReview: Meh\nLabel:"
    )
    assert template.parameters.stop == ["\nReview:"]


def test_one_shot_uses_exactly_one_example() -> None:
    template = _template(technique="one-shot")
    assert template.few_shot.k == 1
    text = _user(template)
    assert "Input: Loved it\nOutput: positive" in text
    assert "Broke in a day" not in text
    assert text.endswith("Input: Great phone\nOutput:")


def test_few_shot_k_picks_the_first_k_in_fixed_order() -> None:
    template = _template(technique="few-shot", k=2)
    text = _user(template)
    assert "Loved it" in text and "Broke in a day" in text
    assert "Works well" not in text and "Never again" not in text


def _shown(template: PromptTemplate) -> list[str]:
    return [ex.input for ex, _ in select_examples(template.examples, template)]


def test_seeded_shuffle_is_deterministic_and_the_seed_matters() -> None:
    first = _template(technique="few-shot", order="shuffle", seed=7, k=3)
    again = _template(technique="few-shot", order="shuffle", seed=7, k=3)
    assert _shown(first) == _shown(again)
    assert _user(first) == _user(again)
    assert len(_shown(first)) == 3
    orders = {tuple(_shown(apply_technique(first, "few-shot", seed=s))) for s in range(12)}
    assert len(orders) > 1
    inputs = {e.input for e in EXAMPLES}
    assert all(len(set(o)) == 3 and set(o) <= inputs for o in orders)  # 3 distinct real examples


def _user_counted(template: PromptTemplate, counter: Callable[[str], int]) -> str:
    return next(m.content for m in render(template, count_tokens=counter) if m.role == "user")


def test_token_budget_cuts_examples_with_a_real_tokenizer() -> None:
    counter = TiktokenTokenizer("cl100k_base").count
    template = _template(technique="few-shot")
    sep = template.few_shot.separator
    costs = [counter(text + sep) for _, text in select_examples(EXAMPLES, template)]
    budget = costs[0] + costs[1]  # exactly two fit; the third would overflow
    tight = apply_technique(template, "few-shot", token_budget=budget)
    shown = _user_counted(tight, counter)
    assert "Broke in a day" in shown and "Works well" not in shown
    # Without a counter the budget cannot be measured, so every example is kept.
    assert "Works well" in _user(tight)
    one_short = apply_technique(template, "few-shot", token_budget=budget - 1)
    assert "Broke in a day" not in _user_counted(one_short, counter)


def test_switching_one_shot_to_few_shot_uses_all_examples_again() -> None:
    one = _template(technique="one-shot", input_label="Q", output_label="A")
    few = apply_technique(one, "few-shot")
    assert few.few_shot.k is None
    assert few.few_shot.example_format == "Q: {{ input }}\nA: {{ output }}"  # labels survive
    assert "Never again" in _user(few)


def test_separator_is_literal_text() -> None:
    template = _template(technique="few-shot", separator="\n{{ ### }}\n", k=2)
    text = _user(template)
    assert "Output: positive\n{{ ### }}\nInput: Broke in a day" in text
    assert text.endswith("Output: negative\n{{ ### }}\nInput: Great phone\nOutput:")


# --- chain-of-thought family -------------------------------------------------------------------


def test_zero_shot_chain_of_thought_ends_with_the_trigger_and_extracts_the_answer() -> None:
    template = _template(technique="chain-of-thought")
    text = _user(template)
    assert text.endswith(f'"Answer: <answer>".\n{DEFAULT_TRIGGER}')
    assert "Loved it" not in text  # zero-shot: examples stay data, unused
    assert template.answer_pattern == DEFAULT_ANSWER_PATTERN
    model_output = "'Great' is praise, so it is positive.\nAnswer: positive"
    assert extract_answer(model_output, template.answer_pattern) == "positive"


def test_trigger_and_answer_format_are_literal_text() -> None:
    template = _template(technique="chain-of-thought", trigger="Think {{ hard }}.",
                         answer_format="End with {% raw %}.")
    assert _user(template).endswith("End with {% raw %}.\nThink {{ hard }}.")


def test_few_shot_chain_of_thought_shows_worked_rationales() -> None:
    template = _template(technique="few-shot-chain-of-thought", k=2)
    text = _user(template)
    assert "Question: Loved it\nReasoning: 'Loved' is praise.\nAnswer: positive" in text
    assert text.endswith("Question: Great phone\nReasoning:")
    assert template.parameters.stop == ["\nQuestion:"]
    output = "'Great' is praise.\nAnswer: positive\n"
    assert extract_answer(output, template.answer_pattern) == "positive"


def test_custom_output_label_gets_a_matching_answer_pattern() -> None:
    template = _template(technique="few-shot-chain-of-thought", output_label="Verdict")
    assert extract_answer("Reasoning: fine.\nVerdict: positive", template.answer_pattern) == (
        "positive"
    )


def test_self_consistency_samples_several_answers_at_non_zero_temperature() -> None:
    template = _template(technique="self-consistency")
    assert template.parameters.n == 5
    assert template.parameters.temperature == 0.7
    assert "Reasoning: 'Loved' is praise." in _user(template)  # worked examples, as present
    assert technique_warnings(template) == []
    bare = build("self-consistency", COMPONENTS, name="t", variables=VARIABLES, samples=9,
                 temperature=1.1)
    assert (bare.parameters.n, bare.parameters.temperature) == (9, 1.1)
    assert _user(bare).endswith(DEFAULT_TRIGGER)  # no examples: zero-shot chain-of-thought


def test_leaving_self_consistency_drops_its_defaults_but_not_the_users_changes() -> None:
    template = _template(technique="self-consistency")
    assert apply_technique(template, "few-shot-chain-of-thought").parameters.n is None
    tuned = template.model_copy(update={"parameters": template.parameters.merged(
        Params(temperature=1.0, max_tokens=99))})
    switched = apply_technique(tuned, "chain-of-thought")
    assert switched.parameters.n is None
    assert switched.parameters.temperature == 1.0  # the user's own value stays
    assert switched.parameters.max_tokens == 99


def test_least_to_most_decomposes_before_solving() -> None:
    bare = build("least-to-most", COMPONENTS, name="t", variables=VARIABLES)
    text = _user(bare)
    assert text.endswith(LEAST_TO_MOST_GUIDANCE + '\nWrite the final answer on the last line as '
                         '"Answer: <answer>".')
    worked = _template(technique="least-to-most")
    text = _user(worked)
    assert text.index(LEAST_TO_MOST_GUIDANCE) < text.index("Question: Loved it")
    assert "Sub-problems: 'Loved' is praise.\nAnswer: positive" in text
    assert text.endswith("Question: Great phone\nSub-problems:")


def test_tree_of_thoughts_names_the_number_of_branches() -> None:
    template = _template(technique="tree-of-thoughts", experts=4)
    text = _user(template)
    assert "Imagine four different experts" in text
    assert text.endswith('"Answer: <answer>".')
    assert template.answer_pattern == DEFAULT_ANSWER_PATTERN


# --- role and structured output ------------------------------------------------------------------


def test_role_puts_the_persona_in_a_system_message() -> None:
    template = _template(technique="role", system="You are a {{ labels }} oracle.")
    rendered = render(template)
    assert rendered[0].role == "system"
    assert rendered[0].content == "You are a positive or negative oracle."
    assert [m.role for m in rendered] == ["system", "user"]
    with pytest.raises(TechniqueError, match="persona"):
        _template(technique="role")


def test_a_persona_survives_switching_technique_unless_removed() -> None:
    template = _template(technique="role", system="You are terse.")
    cot = apply_technique(template, "chain-of-thought")
    assert cot.messages[0].content == "You are terse."
    assert apply_technique(cot, "role").messages[0].content == "You are terse."
    plain = apply_technique(template, "zero-shot", system="")
    assert [m.role for m in plain.messages] == ["user"]


def test_structured_output_embeds_the_schema_and_validates_answers() -> None:
    template = build("structured-json", COMPONENTS, name="t", variables=VARIABLES,
                     output_schema=SCHEMA)
    text = _user(template)
    fenced = re.search(r"```json\n(.*?)\n```", text, re.DOTALL)
    assert fenced is not None and json.loads(fenced.group(1)) == SCHEMA
    assert template.output_schema == SCHEMA
    assert template.parameters.greedy
    assert parse_json_output('```json\n{"label": "positive"}\n```', template.output_schema) == {
        "label": "positive"}
    with pytest.raises(KnownError, match="does not match the schema"):
        parse_json_output('{"label": "meh"}', template.output_schema)


def test_structured_output_needs_a_valid_schema() -> None:
    with pytest.raises(TechniqueError, match="needs a JSON schema"):
        build("structured-json", COMPONENTS, name="t", variables=VARIABLES)
    with pytest.raises(SchemaDefinitionError):
        build("structured-json", COMPONENTS, name="t", variables=VARIABLES,
              output_schema={"type": 12})


def test_schema_text_with_jinja_markers_is_shown_verbatim() -> None:
    schema = {"type": "string", "description": "{{ not a variable }} {% nor a tag %}"}
    template = build("structured-json", COMPONENTS, name="t", variables=VARIABLES,
                     output_schema=schema)
    assert '"description": "{{ not a variable }} {% nor a tag %}"' in _user(template)


# --- completion mode -----------------------------------------------------------------------------


def test_completion_mode_writes_one_text() -> None:
    template = build("few-shot", Components(input_data="Capital of {{ c }}?"), name="t",
                     variables=[Variable(name="c", default="Peru")],
                     examples=[Example(input="Capital of Chile?", output="Santiago")],
                     mode="completion", input_label="Q", output_label="A")
    assert template.messages == [] and template.mode == "completion"
    assert render_completion(template) == (
        "Q: Capital of Chile?\nA: Santiago\n\nQ: Capital of Peru?\nA:"
    )


def test_switching_a_persona_template_to_completion_keeps_the_persona_as_text() -> None:
    template = _template(technique="role", system="You are terse.")
    with pytest.raises(TechniqueError, match="chat"):
        apply_technique(template, "role", mode="completion")
    text = apply_technique(template, "zero-shot", mode="completion")
    assert render_completion(text).startswith("You are terse.\n\nClassify the review")


# --- applying techniques -------------------------------------------------------------------------


@pytest.mark.parametrize("technique_id", ALL_IDS)
def test_apply_keeps_content_and_reapplying_changes_nothing(technique_id: str) -> None:
    template = _template(answer_pattern=NUMBER_ANSWER_PATTERN)
    applied = apply_technique(template, technique_id, **REQUIRED.get(technique_id, {}))
    assert applied.technique == technique_id
    assert applied.components == template.components
    assert applied.variables == template.variables
    assert applied.examples == template.examples
    assert applied.name == template.name
    assert applied.answer_pattern == NUMBER_ANSWER_PATTERN  # the user's own pattern survives
    assert discover(applied).warnings == []
    assert render(applied)  # renders with the declared defaults
    assert apply_technique(applied, technique_id) == applied


@pytest.mark.parametrize("start", ALL_IDS)
def test_any_technique_to_zero_shot_and_back(start: str) -> None:
    original = _template(technique=start, **REQUIRED.get(start, {}))
    there = apply_technique(original, "zero-shot")
    back = apply_technique(there, start)
    assert back == original


def test_a_generated_answer_pattern_is_dropped_when_the_technique_has_none() -> None:
    cot = _template(technique="chain-of-thought")
    assert apply_technique(cot, "zero-shot").answer_pattern == ""
    assert apply_technique(cot, "zero-shot", answer_pattern="x(.)").answer_pattern == "x(.)"


# --- warnings ------------------------------------------------------------------------------------


def test_warnings_say_what_a_technique_is_missing() -> None:
    no_examples = build("few-shot", COMPONENTS, name="t", variables=VARIABLES)
    assert technique_warnings(no_examples) == ["Few-shot needs at least one example"]
    unworked = [Example(input="a", output="b"), Example(input="c", output="d", rationale="e"),
                Example(input="f", output="g")]
    cot = build("few-shot-chain-of-thought", COMPONENTS, name="t", variables=VARIABLES,
                examples=unworked)
    assert technique_warnings(cot) == [
        "examples 1, 3 have no worked rationale to show the reasoning"
    ]
    sc = _template(technique="self-consistency")
    greedy = sc.model_copy(update={"parameters": Params(greedy=True)})
    assert technique_warnings(greedy) == [
        "self-consistency needs several samples: set n to 2 or more",
        "self-consistency needs a temperature above 0, or all samples agree",
    ]
    unknown = _template().model_copy(update={"technique": "mind-reading"})
    assert technique_warnings(unknown) == ["unknown technique 'mind-reading'"]


def test_labels_are_recovered_only_from_scaffold_formats() -> None:
    assert Shots.recover("Q: {{ input }}\nA: {{ output }}") == Shots("Q", "A")
    assert Shots.recover("Q: {{ input }}\nWhy: {{ rationale }}\nA: {{ output }}") == Shots(
        "Q", "A", "Why")
    assert Shots.recover("Input: {{ input }}\nOutput: {{ output }}") is None  # the plain default
    assert Shots.recover("{{ input }} => {{ output }}") is None


# --- every combination ---------------------------------------------------------------------------

PARTS = {
    "instruction": "Do {{ task }}.",
    "context": "Background: {{ task }} matters.",
    "input_data": "{{ text }}",
    "output_indicator": "Be brief.",
}
COMPONENT_SETS = [
    {name: PARTS[name] for name in names}
    for size in range(1, 5)
    for names in itertools.combinations(PARTS, size)
]
#: Options for the combination test, whose only variables are ``task`` and ``text``.
COMBO_OPTIONS = {**REQUIRED, "role": {"system": "You are terse."}}


@pytest.mark.parametrize("technique_id", ALL_IDS)
def test_every_component_set_example_choice_and_mode_renders_and_reapplies(
    technique_id: str,
) -> None:
    modes = ["chat"] if get_technique(technique_id).chat_only else ["chat", "completion"]
    for parts, with_examples, mode in itertools.product(COMPONENT_SETS, [False, True], modes):
        case = (parts, with_examples, mode)
        used = {"task"} if {"instruction", "context"} & parts.keys() else set()
        used |= {"text"} if "input_data" in parts else set()
        template = build(
            technique_id,
            Components(**parts),
            name="p",
            variables=[Variable(name=n, default=n.upper()) for n in sorted(used)],
            examples=EXAMPLES if with_examples else [],
            mode=mode,
            **COMBO_OPTIONS.get(technique_id, {}),
        )
        assert discover(template).warnings == [], case
        text = render_completion(template) if mode == "completion" else _user(template)
        assert ("Be brief." in text) == ("output_indicator" in parts), case
        assert ("Loved it" in text) == (
            with_examples and get_technique(technique_id).uses_examples != "never"
        ), case
        assert apply_technique(template, technique_id) == template, case
        there = apply_technique(template, "zero-shot")
        assert apply_technique(there, technique_id) == template, case


@pytest.mark.parametrize("typed", [" Keep it under 20 words.", "\nKeep it under 20 words."])
@pytest.mark.parametrize("then", [i for i in ALL_IDS if i != "structured-json"])  # needs a schema
def test_words_typed_on_after_a_cue_keep_it_recognised(typed: str, then: str) -> None:
    """A cue the person typed on after (same line or next) is still the technique's: switching
    replaces it and keeps their words, once."""
    request = "Write a {{ style }} blurb for {{ product }}."
    start = PromptTemplate(
        name="blurb",
        messages=[Message(role="system", content="You are a copywriter."),
                  Message(role="user", content=request)],
        examples=[Example(input="a scarf", output="Cozy.", rationale="Warm things are cozy.")],
    )
    cot = apply_technique(start, "chain-of-thought")
    edited = cot.model_copy(
        update={"messages": [cot.messages[0], Message(role="user",
                                                      content=cot.messages[1].content + typed)]}
    )
    text = apply_technique(edited, then).messages[-1].content
    assert text.count(ANSWER_FORMAT) <= 1 and text.count(DEFAULT_TRIGGER) <= 1
    assert text.count("Keep it under 20 words.") == 1
    assert request in text
    if then in ("zero-shot", "one-shot", "few-shot", "role"):
        assert DEFAULT_TRIGGER not in text and ANSWER_FORMAT not in text
