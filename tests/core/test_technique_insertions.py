"""Techniques applied to messages a person wrote: what each adds, where, and only once."""

from __future__ import annotations

import pytest

from workbench.core.errors import KnownError
from workbench.core.models import Components, Example, FewShot, Message, PromptTemplate, Variable
from workbench.core.prompt_body import Body, find_query
from workbench.core.scaffolds import ANSWER_FORMAT, DEFAULT_TRIGGER
from workbench.core.techniques import (
    TechniqueError,
    apply_technique,
    example_use,
    technique_warnings,
    techniques,
)
from workbench.core.templates import render

SYSTEM = "You are a careful analyst of product reviews."
QUERY = "Review: {{ review }}\nSentiment:"
EXAMPLES = [
    Example(input="Loved it, would buy again.", output="positive", rationale="'Loved' is praise."),
    Example(input="Broke after a day.", output="negative", rationale="Breaking is a defect."),
    Example(input="It arrived.", output="neutral", rationale="No opinion is given."),
]
#: What a person writes by hand: a system message and a query, then three examples.
HAND = PromptTemplate(
    name="by hand",
    messages=[Message(role="system", content=SYSTEM), Message(role="user", content=QUERY)],
    variables=[Variable(name="review", default="Great sound, weak battery.")],
    examples=EXAMPLES,
)
CUE = f"{ANSWER_FORMAT}\n{DEFAULT_TRIGGER}"


def _user(template: PromptTemplate) -> str:
    return template.messages[-1].content


def test_few_shot_inserts_the_examples_into_the_hand_written_message() -> None:
    few = apply_technique(HAND, "few-shot")
    assert few.messages[0] == HAND.messages[0]  # the system message is the person's own
    assert _user(few) == "{{ examples_block }}\n\nReview: {{ review }}\nSentiment:"
    # The examples continue the pattern the query is written in, and stop before a next one.
    assert few.few_shot.example_format == "Review: {{ input }}\nSentiment: {{ output }}"
    assert few.parameters.stop == ["\nReview:"]
    sent = render(few)[1].content
    assert sent.startswith("Review: Loved it, would buy again.\nSentiment: positive\n\n")
    assert sent.endswith("Review: It arrived.\nSentiment: neutral\n\n"
                         "Review: Great sound, weak battery.\nSentiment:")


def test_applying_few_shot_twice_does_not_duplicate_the_examples_block() -> None:
    once = apply_technique(HAND, "few-shot")
    assert apply_technique(once, "few-shot") == once
    assert _user(once).count("examples_block") == 1


def test_switching_technique_replaces_the_previous_insertion() -> None:
    few = apply_technique(HAND, "few-shot")
    cot = apply_technique(few, "chain-of-thought")
    assert _user(cot) == f"{QUERY}\n\n{CUE}"  # the examples block went; the cue came, once
    assert apply_technique(cot, "chain-of-thought") == cot
    assert cot.parameters.stop == []  # few-shot's untouched stop default went with it
    back = apply_technique(cot, "few-shot")
    assert _user(back) == _user(few) and back.parameters == few.parameters
    assert _user(apply_technique(back, "zero-shot")) == QUERY


@pytest.mark.parametrize("technique_id", [t.id for t in techniques()])
def test_every_technique_on_hand_written_messages_reapplies_and_goes_back(
    technique_id: str,
) -> None:
    options = {"output_schema": {"type": "string"}} if technique_id == "structured-json" else {}
    applied = apply_technique(HAND, technique_id, **options)
    assert applied.messages[0] == HAND.messages[0]
    assert apply_technique(applied, technique_id) == applied
    plain = apply_technique(applied, "zero-shot")
    assert plain.messages == HAND.messages  # every addition is taken out again
    assert render(applied)[1].content.strip()


def test_worked_examples_start_the_answer_with_the_reasoning() -> None:
    hand = HAND.model_copy(update={"messages": [
        Message(role="user", content="Solve it.\n\nQuestion: {{ review }}\nAnswer:"),
    ]})
    worked = apply_technique(hand, "few-shot-chain-of-thought")
    assert _user(worked) == (
        "Solve it.\n\n{{ examples_block }}\n\nQuestion: {{ review }}\nReasoning:"
    )
    assert worked.few_shot.example_format == (
        "Question: {{ input }}\nReasoning: {{ rationale }}\nAnswer: {{ output }}"
    )
    assert _user(apply_technique(worked, "few-shot")) == (
        "Solve it.\n\n{{ examples_block }}\n\nQuestion: {{ review }}\nAnswer:"
    )
    assert _user(apply_technique(worked, "zero-shot")) == _user(hand)


def test_text_around_the_insertions_is_kept_byte_for_byte() -> None:
    odd = "  Be brief.\n \n\n\nText:\n{{ review }}\t\n\nSummary:\n\n"
    hand = HAND.model_copy(update={"messages": [Message(role="user", content=odd)]})
    few = apply_technique(hand, "few-shot")
    assert _user(few) == "  Be brief.\n \n\n\n{{ examples_block }}\n\nText:\n{{ review }}\t\n\n" \
        "Summary:\n\n"
    assert few.few_shot.example_format == "Text: {{ input }}\nSummary: {{ output }}"
    cot = apply_technique(few, "chain-of-thought")
    assert _user(cot) == f"  Be brief.\n \n\n\nText:\n{{{{ review }}}}\t\n\nSummary:\n\n{CUE}\n\n"
    assert _user(apply_technique(cot, "zero-shot")) == odd


def test_a_query_without_labels_keeps_the_examples_format() -> None:
    hand = HAND.model_copy(update={"messages": [
        Message(role="user", content="Classify this review: {{ review }}"),
    ]})
    few = apply_technique(hand, "few-shot")
    assert _user(few) == "{{ examples_block }}\n\nClassify this review: {{ review }}"
    assert few.few_shot.example_format == FewShot().example_format


def test_a_persons_own_example_format_and_placement_are_kept() -> None:
    own = "{% for e in examples %}- {{ e.input }} => {{ e.output }}\n{% endfor %}\n" + QUERY
    hand = HAND.model_copy(update={
        "messages": [Message(role="user", content=own)],
        "few_shot": FewShot(example_format="{{ input }} => {{ output }}"),
    })
    few = apply_technique(hand, "few-shot")
    assert _user(few) == own  # the examples are already placed: nothing is added
    assert few.few_shot.example_format == "{{ input }} => {{ output }}"
    assert few.parameters.stop == []


def test_label_options_rewrite_the_query_labels() -> None:
    few = apply_technique(HAND, "few-shot", input_label="Text", output_label="Label")
    assert _user(few) == "{{ examples_block }}\n\nText: {{ review }}\nLabel:"
    assert few.few_shot.example_format == "Text: {{ input }}\nLabel: {{ output }}"


def test_a_custom_separator_also_comes_before_the_query() -> None:
    few = apply_technique(HAND, "few-shot", separator="\n###\n")
    assert _user(few) == "{{ examples_block }}\n###\nReview: {{ review }}\nSentiment:"
    assert render(few)[1].content.endswith(
        "Sentiment: neutral\n###\nReview: Great sound, weak battery.\nSentiment:"
    )
    assert apply_technique(few, "few-shot") == few
    assert _user(apply_technique(few, "zero-shot")) == QUERY


def test_a_literal_user_message_is_not_changed() -> None:
    literal = HAND.model_copy(update={"messages": [
        Message(role="user", content=QUERY, literal=True),
    ]})
    with pytest.raises(TechniqueError, match="literal"):
        apply_technique(literal, "few-shot")
    assert apply_technique(literal, "zero-shot").messages == literal.messages


def test_no_request_anywhere_says_what_to_write() -> None:
    empty = PromptTemplate(name="t", messages=[Message(role="system", content=SYSTEM)])
    with pytest.raises(KnownError, match="no request") as info:
        apply_technique(empty, "few-shot")
    assert "user message" in info.value.hint


def test_components_without_a_request_compose_a_visible_user_message() -> None:
    parts = PromptTemplate(
        name="t",
        messages=[Message(role="system", content=SYSTEM)],
        components=Components(instruction="Classify the review.", input_data="{{ review }}"),
        variables=[Variable(name="review", default="Fine.")],
        examples=EXAMPLES,
    )
    few = apply_technique(parts, "few-shot")
    assert [m.role for m in few.messages] == ["system", "user"]
    assert _user(few) == (
        "{{ parts.instruction }}\n\n{{ examples_block }}\n\nInput: {{ parts.input_data }}\nOutput:"
    )
    assert few.components == parts.components
    assert apply_technique(few, "few-shot") == few


def test_a_message_laid_out_from_components_switches_like_any_other() -> None:
    legacy = HAND.model_copy(update={
        "technique": "few-shot",
        "messages": [Message(role="user", content=(
            "{{ parts.instruction }}\n\n{{ examples_block }}\n\n"
            "Review: {{ parts.input_data }}\nSentiment:\n\n{{ parts.output_indicator }}"
        ))],
        "components": Components(instruction="Classify.", input_data="{{ review }}",
                                 output_indicator="One word."),
        "few_shot": FewShot(example_format="Review: {{ input }}\nSentiment: {{ output }}"),
    })
    plain = apply_technique(legacy, "zero-shot")
    assert _user(plain) == (
        "{{ parts.instruction }}\n\nReview: {{ parts.input_data }}\nSentiment:\n\n"
        "{{ parts.output_indicator }}"
    )
    assert _user(apply_technique(plain, "few-shot")) == _user(legacy)


def test_the_counter_counts_only_examples_that_are_sent() -> None:
    assert example_use(HAND).sent == 0 and example_use(HAND).total == 3  # zero-shot: none
    few = apply_technique(HAND, "few-shot")
    assert example_use(few).sent == 3
    assert example_use(apply_technique(few, "few-shot", k=2)).sent == 2
    assert example_use(apply_technique(few, "one-shot")).sent == 1
    assert example_use(apply_technique(few, "chain-of-thought")).sent == 0


def test_a_few_shot_template_whose_messages_do_not_place_the_examples_is_warned() -> None:
    unplaced = HAND.model_copy(update={"technique": "few-shot"})
    assert any("none are sent" in w for w in technique_warnings(unplaced))
    assert not any("none are sent" in w for w in technique_warnings(
        apply_technique(HAND, "few-shot")))


@pytest.mark.parametrize("text", [
    "", "a", "a\n\nb", "\n\na\n \n\nb\n\n", "a\nb\n\n\n\nc\t\n\n", "\n",
])
def test_paragraphs_join_back_exactly_and_insert_undoes_remove(text: str) -> None:
    body = Body.parse(text)
    assert body.text() == text
    for index in range(len(body.paragraphs) + 1):
        probe = Body.parse(text)
        if not probe.filled():
            continue
        probe.insert(index, "NEW")
        probe.remove(index)
        assert probe.text() == text


def test_the_query_is_the_input_paragraph() -> None:
    def query(text: str) -> tuple[int, str, str] | None:
        found = find_query(Body.parse(text))
        return None if found is None else (found.index, found.input_label, found.output_label)

    assert query("Task.\n\nReview: {{ r }}\nSentiment:") == (1, "Review", "Sentiment")
    assert query("Task {{ n }}.\n\nText:\n{{ t }}\n\nSummary:") == (1, "Text", "Summary")
    assert query("{{ parts.input_data }}\n\n{{ parts.output_indicator }}") == (0, "", "")
    assert query("Say hi to {{ name }}.\n\nBe brief.") == (0, "", "")
    assert query("What is 2 + 2?") == (0, "", "")
    assert query("Is {{ x }} spam?\nAnswer:") == (0, "", "Answer")
    assert query("\n\n") is None


def test_a_hand_written_completion_text_takes_techniques_the_same_way() -> None:
    text = PromptTemplate(
        name="c", mode="completion", text="Capitals.\n\nQ: {{ country }}?\nA:",
        variables=[Variable(name="country", default="Peru")],
        examples=[Example(input="Chile?", output="Santiago")],
    )
    few = apply_technique(text, "few-shot")
    assert few.text == "Capitals.\n\n{{ examples_block }}\n\nQ: {{ country }}?\nA:"
    assert few.few_shot.example_format == "Q: {{ input }}\nA: {{ output }}"
    cot = apply_technique(few, "chain-of-thought")
    assert cot.text == f"Capitals.\n\nQ: {{{{ country }}}}?\nA:\n\n{CUE}"
    assert apply_technique(cot, "zero-shot").text == text.text
