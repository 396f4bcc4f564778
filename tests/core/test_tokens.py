"""Token counting: offline encodings, tokenizer choice, spans, chat overhead, context fit."""

from __future__ import annotations

import logging
import socket
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.core.byte_tokenizer import ByteTokenizer
from workbench.core import tokens
from workbench.core.errors import KnownError
from workbench.core.models import RenderedMessage
from workbench.core.tokens import (
    BUNDLED_ENCODINGS,
    REPLY_PRIMING,
    TOKENS_PER_MESSAGE,
    TiktokenTokenizer,
    Tokenizer,
    UnknownEncodingError,
    count_chat,
    fit_context,
    format_count,
    get_encoding,
    load_encoding,
    register_tokenizer_factory,
    spans_from_token_bytes,
    tokenizer_for,
)

# --- offline encodings ---


def test_the_network_is_really_blocked(no_network: Path) -> None:
    with pytest.raises(OSError, match="unreachable"):
        socket.create_connection(("127.0.0.1", 9))


@pytest.mark.parametrize(
    ("name", "ids"),
    [
        ("cl100k_base", [15339, 1917]),
        ("o200k_base", [24912, 2375]),
        ("o200k_harmony", [24912, 2375]),
    ],
)
def test_bundled_encodings_load_offline_with_tiktokens_ids(
    no_network: Path, name: str, ids: list[int]
) -> None:
    encoding = load_encoding(name)  # uncached: really built here, with no network
    assert encoding.name == name
    assert encoding.encode("hello world") == ids
    assert encoding.decode(ids) == "hello world"
    assert list(no_network.iterdir()) == []  # nothing was downloaded or cached


def test_special_tokens_and_pattern_come_from_tiktoken(no_network: Path) -> None:
    cl100k = load_encoding("cl100k_base")
    assert cl100k.eot_token == 100257
    assert cl100k.encode("<|endofprompt|>", allowed_special="all") == [100276]
    harmony = load_encoding("o200k_harmony")
    assert harmony.encode("<|start|>", allowed_special="all") == [200006]


def test_encodings_are_loaded_once_per_process() -> None:
    assert get_encoding("cl100k_base") is get_encoding("cl100k_base")
    assert TiktokenTokenizer("o200k_base").encoding is get_encoding("o200k_base")


@pytest.mark.parametrize("name", ["nonsense", "r50k_base", "gpt2", ""])
def test_unknown_or_unbundled_encoding_is_a_clear_error(name: str) -> None:
    with pytest.raises(UnknownEncodingError, match="available offline: cl100k_base"):
        get_encoding(name)
    with pytest.raises(KnownError):
        tokenizer_for(encoding=name or "x")


def test_an_encoding_whose_file_is_missing_is_reported_not_downloaded(
    no_network: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tokens, "BUNDLED_ENCODINGS", (*BUNDLED_ENCODINGS, "p50k_base", "gpt2"))
    with pytest.raises(UnknownEncodingError, match="p50k_base"):
        load_encoding("p50k_base")
    with pytest.raises(UnknownEncodingError, match="gpt2"):
        load_encoding("gpt2")


def test_a_bundled_file_with_the_wrong_hash_is_refused() -> None:
    url = "https://example.invalid/encodings/cl100k_base.tiktoken"
    with pytest.raises(KnownError, match="corrupt"):
        tokens._bundled_ranks(url, expected_hash="0" * 64)


# --- the tiktoken tokenizer ---


def test_tiktoken_tokenizer_follows_the_protocol() -> None:
    tokenizer = TiktokenTokenizer("cl100k_base")
    assert isinstance(tokenizer, Tokenizer)
    assert isinstance(ByteTokenizer(), Tokenizer)
    assert tokenizer.encode("hello world") == [15339, 1917]
    assert tokenizer.count("hello world") == 2
    assert tokenizer.count("") == 0
    assert "cl100k_base" in repr(tokenizer)


def test_special_token_text_is_counted_as_text() -> None:
    tokenizer = TiktokenTokenizer("cl100k_base")
    assert 100257 not in tokenizer.encode("<|endoftext|>")
    assert tokenizer.count("<|endoftext|>") > 1


def test_spans_of_a_split_multibyte_character() -> None:
    spans = TiktokenTokenizer("cl100k_base").spans("héllo 🎉!")
    assert [s.text for s in spans] == ["h", "él", "lo", " 🎉", "", "", "!"]
    party = spans[3:6]
    assert all(s.partial for s in party)
    # The emoji belongs to the token holding its first byte; the others hold trailing bytes.
    assert [(s.start, s.end) for s in party] == [(5, 7), (7, 7), (7, 7)]
    assert not spans[0].partial and not spans[-1].partial


TEXTS = st.text(
    alphabet=st.sampled_from([*"ab Z9\n\r\t.,'/-_", "é", "中", "🎉", "\u0301", "ß", "😀"]),
    max_size=60,
)


@settings(max_examples=200, deadline=None)
@given(TEXTS)
def test_spans_tile_the_text_exactly(text: str) -> None:
    for name in ("cl100k_base", "o200k_base"):
        tokenizer = TiktokenTokenizer(name)
        spans = tokenizer.spans(text)
        assert [s.id for s in spans] == tokenizer.encode(text)
        assert "".join(s.text for s in spans) == text
        position = 0
        for span in spans:
            assert span.start == position <= span.end
            assert span.text == text[span.start : span.end]
            position = span.end
        assert position == len(text)


def test_spans_from_another_tokenizer() -> None:
    spans = ByteTokenizer().spans("aé")
    assert [(s.text, s.partial) for s in spans] == [("a", False), ("é", True), ("", True)]


def test_spans_refuse_bytes_that_do_not_spell_the_text() -> None:
    with pytest.raises(ValueError, match="do not spell"):
        spans_from_token_bytes("ab", [1, 2], [b"a", b"c"])
    with pytest.raises(ValueError):
        spans_from_token_bytes("ab", [1], [b"a", b"b"])


# --- choosing a tokenizer ---


@pytest.mark.parametrize(
    ("model", "encoding"),
    [
        ("gpt-4o", "o200k_base"),
        ("gpt-4o-2024-08-06", "o200k_base"),  # alias
        ("gpt-4o-2099-01-01", "o200k_base"),  # unlisted snapshot: family prefix
        ("gpt-4", "cl100k_base"),
        ("gpt-3.5-turbo", "cl100k_base"),
        ("gpt-35-turbo", "cl100k_base"),  # not in our table: tiktoken's own map
        ("text-embedding-3-small", "cl100k_base"),
        ("openai/gpt-4.1-mini", "o200k_base"),
        ("ft:gpt-4o-mini:acme::abc123", "o200k_base"),
        ("gpt-oss-20b", "o200k_harmony"),
    ],
)
def test_openai_models_are_counted_exactly(model: str, encoding: str) -> None:
    tokenizer = tokenizer_for(model)
    assert isinstance(tokenizer, TiktokenTokenizer)
    assert (tokenizer.name, tokenizer.exact) == (encoding, True)
    assert model in tokenizer.note and encoding in tokenizer.note


@pytest.mark.parametrize(
    ("model", "why"),
    [
        ("llama-3-8b-instruct", "unknown model 'llama-3-8b-instruct'"),
        ("claude-sonnet-4-20250514", "not available offline"),
        ("text-davinci-003", "p50k_base, which is not bundled"),
    ],
)
def test_other_models_are_named_estimates(model: str, why: str) -> None:
    tokenizer = tokenizer_for(model)
    assert tokenizer.exact is False
    assert tokenizer.name == "o200k_base"
    assert why in tokenizer.note and "estimated with o200k_base" in tokenizer.note
    assert format_count(tokenizer.count("hello world"), tokenizer.exact) == "≈ 2"


def test_without_a_model_the_count_is_an_estimate() -> None:
    tokenizer = tokenizer_for()
    assert (tokenizer.name, tokenizer.exact) == ("o200k_base", False)
    assert "no model chosen" in tokenizer.note


def test_an_encoding_by_name_is_exact() -> None:
    tokenizer = tokenizer_for(encoding="cl100k_base")
    assert (tokenizer.name, tokenizer.exact) == ("cl100k_base", True)


def test_model_and_encoding_together_are_refused() -> None:
    with pytest.raises(KnownError, match="not both"):
        tokenizer_for("gpt-4o", "cl100k_base")


def test_format_count() -> None:
    assert format_count(1234567, True) == "1,234,567"
    assert format_count(12, False) == "≈ 12"


def test_the_user_table_decides_encodings_and_the_fallback(workbench_home: Path) -> None:
    config = workbench_home / "config"
    config.mkdir(parents=True)
    (config / "models.yaml").write_text(
        "fallback_encoding: cl100k_base\nmodels:\n  my-finetune:\n    encoding: o200k_base\n",
        encoding="utf-8",
    )
    assert (tokenizer_for("my-finetune").name, tokenizer_for("my-finetune").exact) == (
        "o200k_base",
        True,
    )
    unknown = tokenizer_for("something-else")
    assert (unknown.name, unknown.exact) == ("cl100k_base", False)


# --- the tokenizer hook ---

Undo = list[Callable[[], None]]


@pytest.fixture
def factories() -> Iterator[list[Callable[[], None]]]:
    """Unregisters whatever a test registered."""
    undo: list[Callable[[], None]] = []
    yield undo
    for unregister in undo:
        unregister()


def test_a_registered_factory_supplies_an_exact_tokenizer(factories: Undo) -> None:
    byte = ByteTokenizer("local-bytes")
    factories.append(register_tokenizer_factory(lambda m: byte if m.endswith(".gguf") else None))
    assert tokenizer_for("/models/tiny.gguf") is byte
    assert tokenizer_for("gpt-4o").name == "o200k_base"  # not its model: asked, declined


def test_unregistering_a_factory(factories: Undo) -> None:
    byte = ByteTokenizer()
    unregister = register_tokenizer_factory(lambda m: byte)
    assert tokenizer_for("anything") is byte
    unregister()
    unregister()  # twice is harmless
    assert tokenizer_for("anything") is not byte


def test_the_latest_exact_factory_wins(factories: Undo) -> None:
    first, second = ByteTokenizer("first"), ByteTokenizer("second")
    factories.append(register_tokenizer_factory(lambda m: first))
    factories.append(register_tokenizer_factory(lambda m: second))
    assert tokenizer_for("local") is second


def test_an_exact_table_encoding_beats_a_factory_estimate(factories: Undo) -> None:
    guess = ByteTokenizer("guess", exact=False)
    factories.append(register_tokenizer_factory(lambda m: guess))
    assert tokenizer_for("gpt-4o").name == "o200k_base"
    assert tokenizer_for("my-local-model") is guess  # better than the generic fallback


def test_a_failing_factory_is_logged_and_skipped(
    factories: Undo, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(model: str) -> Tokenizer | None:
        raise RuntimeError("plugin bug")

    factories.append(register_tokenizer_factory(broken))
    with caplog.at_level(logging.ERROR, logger="workbench.core.tokens"):
        tokenizer = tokenizer_for("gpt-4o")
    assert tokenizer.name == "o200k_base"
    assert "plugin bug" in caplog.text


def test_a_factorys_known_error_reaches_the_user(factories: Undo) -> None:
    def needs_file(model: str) -> Tokenizer | None:
        raise KnownError(f"cannot open {model}")

    factories.append(register_tokenizer_factory(needs_file))
    with pytest.raises(KnownError, match=r"cannot open missing\.gguf"):
        tokenizer_for("missing.gguf")


# --- chat overhead ---

#: The example conversation of OpenAI's cookbook "How to count tokens with tiktoken", whose
#: prompt_tokens the API reported as 129 for gpt-3.5-turbo/gpt-4 and 124 for gpt-4o.
COOKBOOK = [
    {
        "role": "system",
        "content": "You are a helpful, pattern-following assistant that translates "
        "corporate jargon into plain English.",
    },
    {
        "role": "system",
        "name": "example_user",
        "content": "New synergies will help drive top-line growth.",
    },
    {
        "role": "system",
        "name": "example_assistant",
        "content": "Things working well together will increase revenue.",
    },
    {
        "role": "system",
        "name": "example_user",
        "content": "Let's circle back when we have more "
        "bandwidth to touch base on opportunities for increased leverage.",
    },
    {
        "role": "system",
        "name": "example_assistant",
        "content": "Let's talk later when we're less busy about how to do better.",
    },
    {
        "role": "user",
        "content": "This late pivot means we don't have time to boil the ocean for the "
        "client deliverable.",
    },
]


@pytest.mark.parametrize(
    ("model", "total"), [("gpt-4", 129), ("gpt-3.5-turbo", 129), ("gpt-4o", 124)]
)
def test_chat_count_matches_the_api_figures_of_the_cookbook(model: str, total: int) -> None:
    chat = count_chat(COOKBOOK, tokenizer_for(model))
    assert chat.total == total
    assert chat.exact


def test_chat_overhead_arithmetic() -> None:
    tokenizer = tokenizer_for(encoding="cl100k_base")
    messages = [
        RenderedMessage(role="system", content="hello world"),
        RenderedMessage(role="user", content=""),
    ]
    chat = count_chat(messages, tokenizer)
    # "system" and "user" are one token each; "hello world" is two.
    assert [(m.role, m.content, m.tokens) for m in chat.messages] == [
        ("system", 2, TOKENS_PER_MESSAGE + 1 + 2),
        ("user", 0, TOKENS_PER_MESSAGE + 1),
    ]
    assert chat.reply_priming == REPLY_PRIMING == 3
    assert chat.total == 6 + 4 + 3
    named = count_chat([{"role": "user", "name": "bob", "content": "hello world"}], tokenizer)
    assert named.messages[0].tokens == 3 + 1 + 1 + 1 + 2  # overhead, role, name + 1, content
    assert count_chat([], tokenizer).total == REPLY_PRIMING


def test_a_tool_conversation_is_counted() -> None:
    from workbench.core.tools import ToolCall

    tokenizer = tokenizer_for(encoding="cl100k_base")
    call = ToolCall(id="call_1", name="weather", arguments='{"city": "Paris"}')
    chat = count_chat(
        [
            RenderedMessage(role="user", content="weather?"),
            RenderedMessage(role="assistant", content="", tool_calls=[call]),
            RenderedMessage(role="tool", content="sunny", tool_call_id="call_1"),
        ],
        tokenizer,
    )
    plain = count_chat([RenderedMessage(role="user", content="weather?")], tokenizer)
    assert chat.messages[0].tokens == plain.messages[0].tokens  # no tool parts: no cost
    assert chat.messages[1].tokens > TOKENS_PER_MESSAGE + 1 + 5  # the call's JSON counted
    count = tokenizer.count
    assert chat.messages[2].tokens == (
        TOKENS_PER_MESSAGE + count("tool") + count("sunny") + count("call_1")
    )


def test_chat_totals_are_estimates_unless_the_formula_is_openais() -> None:
    messages = [RenderedMessage(role="user", content="hi")]
    assert count_chat(messages, tokenizer_for("some-local-model")).exact is False
    exact_other = count_chat(messages, ByteTokenizer())
    assert exact_other.exact is False  # exact content, estimated chat-template overhead
    assert exact_other.messages[0].content == 2
    assert count_chat(messages, tokenizer_for("gpt-oss-20b")).exact is False  # harmony format
    assert count_chat(messages, tokenizer_for(encoding="o200k_base")).exact is True


# --- context fit ---


def test_context_fit() -> None:
    fit = fit_context(1000, 8192, 512)
    assert (fit.needed, fit.fits, fit.overflow, fit.remaining) == (1512, True, 0, 6680)
    over = fit_context(8000, 8192, 512)
    assert (over.fits, over.overflow, over.remaining) == (False, 320, 0)
    exact = fit_context(8000, 8192, 192)
    assert (exact.fits, exact.overflow, exact.remaining) == (True, 0, 0)
    no_budget = fit_context(100, 128, None)
    assert (no_budget.max_tokens, no_budget.remaining) == (0, 28)
    with pytest.raises(ValueError):
        fit_context(1, 0)
