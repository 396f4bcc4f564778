"""The streaming ``<think>`` splitter: the same reasoning and answer whatever the chunking."""

from __future__ import annotations

import itertools

from hypothesis import given
from hypothesis import strategies as st

from workbench.backends.think import ThinkSplitter, split_think

CASES = [
    # (stream, starts_inside, reasoning, answer)
    ("<think>\nLet me add: 2+2=4.\n</think>\n\nThe answer is 4.", False,
     "Let me add: 2+2=4.\n", "The answer is 4."),
    ("  <think>short</think>ok", False, "short", "ok"),
    ("No thinking here, <think> is text.", False, "", "No thinking here, <think> is text."),
    ("<think>ran out of tokens while thin", False, "ran out of tokens while thin", ""),
    ("<thi", False, "", "<thi"),
    ("Thought inside the prompt's tag.\n</think>\n\nAnswer.", True,
     "Thought inside the prompt's tag.\n", "Answer."),
    ("<think></think>\n\nEmpty thinking.", False, "", "Empty thinking."),
    ("<think>a < b and </thin are not the end</think>end", False,
     "a < b and </thin are not the end", "end"),
    ("  plain answer with leading space", False, "", "  plain answer with leading space"),
    ("", False, "", ""),
]


def _run(chunks: list[str], starts_inside: bool) -> tuple[str, str, list[str]]:
    splitter = ThinkSplitter(starts_inside=starts_inside)
    pieces = [p for chunk in chunks for p in splitter.feed(chunk)] + splitter.flush()
    kinds = [kind for kind, _ in pieces]
    reasoning = "".join(text for kind, text in pieces if kind == "reasoning")
    answer = "".join(text for kind, text in pieces if kind == "text")
    assert all(text for _, text in pieces), "no empty pieces"
    return reasoning, answer, kinds


def _cuts(text: str, cuts: list[int]) -> list[str]:
    points = sorted({min(c, len(text)) for c in cuts})
    bounds = [0, *points, len(text)]
    return [text[a:b] for a, b in itertools.pairwise(bounds)]


def test_every_two_chunk_cut_of_every_case_splits_the_same() -> None:
    for stream, inside, reasoning, answer in CASES:
        assert split_think(stream, starts_inside=inside) == (reasoning, answer), stream
        for cut in range(len(stream) + 1):
            got = _run([stream[:cut], stream[cut:]], inside)
            assert got[:2] == (reasoning, answer), (stream, cut)


def test_one_character_at_a_time_streams_reasoning_before_any_answer() -> None:
    stream, inside, reasoning, answer = CASES[0]
    got_reasoning, got_answer, kinds = _run(list(stream), inside)
    assert (got_reasoning, got_answer) == (reasoning, answer)
    first_text = kinds.index("text")
    assert set(kinds[:first_text]) == {"reasoning"} and set(kinds[first_text:]) == {"text"}


def test_reasoning_streams_live_not_only_at_the_close_tag() -> None:
    splitter = ThinkSplitter()
    assert splitter.feed("<think>step one, ") == [("reasoning", "step one, ")]
    assert splitter.feed("step two </th") == [("reasoning", "step two ")]
    assert splitter.feed("ink>Done") == [("text", "Done")]
    assert splitter.answering


@given(
    case=st.sampled_from(CASES),
    cuts=st.lists(st.integers(min_value=0, max_value=80), max_size=12),
)
def test_any_chunking_gives_the_whole_text_split(
    case: tuple[str, bool, str, str], cuts: list[int]
) -> None:
    stream, inside, reasoning, answer = case
    assert _run(_cuts(stream, cuts), inside)[:2] == (reasoning, answer)


@given(
    thought=st.text(alphabet="ab<>/thinkx \n", max_size=30).filter(lambda t: "</think>" not in t),
    answer=st.text(alphabet="ab<>/thinkx \n", max_size=30),
    cuts=st.lists(st.integers(min_value=0, max_value=80), max_size=10),
)
def test_any_thought_and_answer_come_back_apart(thought: str, answer: str, cuts: list[int]) -> None:
    stream = f"<think>{thought}</think>{answer}"
    whole = split_think(stream)
    assert _run(_cuts(stream, cuts), False)[:2] == whole
    assert whole == (thought.lstrip("\n"), answer.lstrip("\n"))


def test_line_breaks_after_the_close_tag_are_dropped_when_they_come_alone() -> None:
    splitter = ThinkSplitter()
    assert splitter.feed("<think>a</think>") == [("reasoning", "a")]
    assert not splitter.answering and not splitter.thinking  # a line break may follow
    assert splitter.feed("\n") == []
    assert splitter.feed("\nA") == [("text", "A")]
    assert splitter.answering
