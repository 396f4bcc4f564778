"""The per-token pieces of the OpenAI-compatible stream: the event decoder's shortcut must accept
and refuse exactly what ``json.loads`` does, and a text delta stays an immutable value."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from workbench.backends.base import TextDelta
from workbench.backends.openai_compat import _decode_event

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=8,
)


def _outcome(parse: Any, text: str) -> tuple[str, Any]:
    try:
        return "value", parse(text)
    except ValueError as err:
        return "error", str(err)


@given(
    JSON_VALUES,
    st.sampled_from(["", " ", "\n", "\t "]),
    st.sampled_from(["", " ", "\r\n", "x", "}", ",1", "{}"]),
)
def test_decoding_an_event_accepts_and_refuses_what_json_loads_does(
    value: Any, before: str, after: str
) -> None:
    text = before + json.dumps(value) + after
    assert _outcome(_decode_event, text) == _outcome(json.loads, text)


@pytest.mark.parametrize("text", ["", "{", '{"a": }', "[DONE]", "nan", "NaN", '"\\ud800"', "1 2"])
def test_decoding_odd_events_matches_json_loads(text: str) -> None:
    assert _outcome(_decode_event, text) == _outcome(json.loads, text)


def test_a_text_delta_is_an_immutable_value() -> None:
    delta = TextDelta(text="tok")
    assert (delta.text, delta.kind) == ("tok", "text")
    assert delta == TextDelta("tok") and hash(delta) == hash(TextDelta("tok"))
    with pytest.raises(AttributeError):
        delta.text = "other"  # type: ignore[misc]
