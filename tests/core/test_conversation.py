"""promptfoo threads as units of work, and chat prompts rendered then parsed."""

from __future__ import annotations

from workbench.core.conversation import (
    RENDERED_CHAT,
    Turn,
    parse_chat,
    render_messages,
    thread_units,
    whole_threads,
)
from workbench.core.experiments import ExperimentSpec, TestCase, Variant
from workbench.core.models import Message, PromptTemplate, RenderedMessage

LOOP = (
    '[{% for c in _conversation %}{"role": "user", "content": {{ c.input | tojson }}},'
    '{"role": "assistant", "content": {{ c.output | tojson }}},{% endfor %}'
    '{"role": "user", "content": {{ q | tojson }}}]'
)
THREADED = PromptTemplate(
    name="t", messages=[Message(role="user", content=LOOP)], metadata={RENDERED_CHAT: "json"}
)
PLAIN = PromptTemplate(name="p", messages=[Message(role="user", content="{{ q }}")])


def _spec(*threads: str, repeats: int = 1) -> ExperimentSpec:
    return ExperimentSpec(
        name="s",
        variants=[Variant(template=THREADED), Variant(template=PLAIN)],
        tests=[
            TestCase(vars={"q": str(i)}, metadata={"conversationId": t} if t else {})
            for i, t in enumerate(threads)
        ],
        repeats=repeats,
    )


def test_cells_of_a_thread_form_one_unit_in_test_order_per_variant_and_repeat() -> None:
    spec = _spec("a", "b", "a", "", "", repeats=2)
    cells = [(v, t, r) for t in range(5) for v in range(2) for r in range(2)]
    units = thread_units(spec, reversed(cells))
    threaded = sorted(u for u in units if u[0][0] == 0)
    assert threaded == sorted(
        [[(0, 0, r), (0, 2, r)] for r in range(2)]
        + [[(0, 1, r)] for r in range(2)]
        + [[(0, 3, r), (0, 4, r)] for r in range(2)]
    )
    assert all(len(u) == 1 for u in units if u[0][0] == 1)  # no _conversation: each cell alone
    assert sorted(k for u in units for k in u) == sorted(cells)


def test_a_pending_turn_reopens_its_whole_thread_only() -> None:
    spec = _spec("a", "a", "b")
    cells = [(0, t, 0) for t in range(3)] + [(1, t, 0) for t in range(3)]
    assert whole_threads(spec, cells, {(0, 1, 0), (1, 1, 0)}) == {(0, 0, 0), (0, 1, 0), (1, 1, 0)}


def test_each_turn_sees_the_earlier_inputs_and_outputs() -> None:
    first = render_messages(THREADED, {"q": "one"})
    assert [(m.role, m.content) for m in first] == [("user", "one")]
    history = [Turn.of(THREADED, first, 'said "1"\n')]
    second = render_messages(THREADED, {"q": "two"}, history)
    assert [(m.role, m.content) for m in second] == [
        ("user", "one"),
        ("assistant", 'said "1"\n'),
        ("user", "two"),
    ]


def test_a_rendered_text_that_is_no_message_list_is_sent_as_one_user_message() -> None:
    broken = THREADED.model_copy(
        update={
            "messages": [Message(role="user", content='[{"role": "user", "content": "{{ q }}"}]')]
        }
    )
    [message] = render_messages(broken, {"q": 'a "quote"'})  # invalid JSON after rendering
    assert message == RenderedMessage(
        role="user", content='[{"role": "user", "content": "a "quote""}]'
    )
    assert parse_chat('[{"role": "tool", "content": "x"}]') is None
    assert parse_chat("- role: developer\n  content: be brief\n") == [
        RenderedMessage(role="system", content="be brief")
    ]
