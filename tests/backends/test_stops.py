"""Stop sequences over streamed pieces: nothing of a stop string is ever shown."""

from __future__ import annotations

import itertools

from hypothesis import given
from hypothesis import strategies as st

from workbench.backends.stops import StopScanner


def _run(pieces: list[str], stops: list[str]) -> tuple[str, bool]:
    scanner = StopScanner(stops)
    shown = "".join(scanner.feed(p) for p in pieces)
    return shown + scanner.flush(), scanner.stopped


def test_stop_split_across_pieces_is_never_shown() -> None:
    scanner = StopScanner(["###"])
    assert scanner.feed("answer #") == "answer "
    assert scanner.feed("#") == ""
    assert scanner.feed("# more") == ""
    assert scanner.stopped


def test_held_text_that_is_not_a_stop_comes_out() -> None:
    scanner = StopScanner(["###"])
    assert scanner.feed("a ##") == "a "
    assert scanner.feed("b") == "##b"
    assert scanner.flush() == ""
    assert not scanner.stopped


def test_flush_releases_a_partial_match_at_the_end() -> None:
    assert _run(["x", "#"], ["##"]) == ("x#", False)


def test_earliest_of_several_stops_wins() -> None:
    assert _run(["one. two\n"], ["\n", "."]) == ("one", True)


def test_no_stops_passes_everything_through() -> None:
    assert _run(["a", "b"], []) == ("ab", False)


@given(
    st.text("ab#", max_size=30),
    st.lists(st.integers(0, 30), max_size=5),
    st.sampled_from(["#", "##", "a#b"]),
)
def test_any_split_gives_the_text_before_the_first_stop(
    text: str, cuts: list[int], stop: str
) -> None:
    bounds = sorted({0, len(text), *(c for c in cuts if c <= len(text))})
    pieces = [text[a:b] for a, b in itertools.pairwise(bounds)]
    expected = text.split(stop, 1)[0]
    assert _run(pieces, [stop]) == (expected, stop in text)
