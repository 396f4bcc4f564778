"""Token log-probabilities: packing round-trips, figures, text pieces, and storage with a run."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from tests.storage.factories import make_result
from workbench.core.logprobs import (
    Alternative,
    TokenLogprob,
    mean_logprob,
    pack,
    perplexity,
    token_texts,
    unpack,
)
from workbench.core.models import Params
from workbench.storage.repositories import RunRef, Store

# "é" split over two tokens, as byte-level tokenizers do.
TOKENS = [
    TokenLogprob("Caf", -0.25, b"Caf", (Alternative("Caf", -0.25), Alternative("The", -2.5))),
    TokenLogprob("\ufffd", -1.5, b"\xc3", (Alternative("\ufffd", -1.5),)),
    TokenLogprob("\ufffd", -0.0, b"\xa9", ()),
    TokenLogprob(" ok", -math.inf, b" ok", (Alternative(" fine", -0.1),)),
]


def test_pack_round_trips_bytes_and_float32_logprobs() -> None:
    back = unpack(pack(TOKENS))
    assert [t.raw for t in back] == [t.raw for t in TOKENS]
    assert back[0].top == TOKENS[0].top
    assert back[3].logprob == -math.inf
    assert back[3].top == (Alternative(" fine", pytest.approx(-0.1, abs=1e-6)),)


def test_pack_is_compact() -> None:
    many = [
        TokenLogprob(f" w{i % 50}", -0.5, f" w{i % 50}".encode(),
                     tuple(Alternative(f" a{j}", -1.0 - j) for j in range(5)))
        for i in range(2000)
    ]
    assert len(pack(many)) < 2000 * 20  # JSON of the same is ~150 bytes a token


def test_unpack_refuses_what_pack_did_not_write() -> None:
    with pytest.raises(ValueError, match="unreadable token data"):
        unpack(b"not a blob")


def test_token_texts_give_a_split_character_to_the_token_completing_it() -> None:
    assert token_texts(TOKENS) == ["Caf", "", "é", " ok"]


def test_mean_logprob_and_perplexity() -> None:
    tokens = [TokenLogprob("a", math.log(0.5), b"a"), TokenLogprob("b", math.log(0.5), b"b")]
    assert mean_logprob(tokens) == pytest.approx(math.log(0.5))
    assert perplexity(tokens) == pytest.approx(2.0)
    assert perplexity([]) is None
    assert perplexity(TOKENS) == math.inf


def test_top_logprobs_is_off_by_default_and_bounded() -> None:
    assert Params().top_logprobs is None
    assert "top_logprobs" not in Params().set_values()
    with pytest.raises(ValueError):
        Params(top_logprobs=21)


def test_a_run_keeps_its_tokens_in_storage(workbench_home: Path) -> None:
    result = make_result().model_copy(update={"logprobs": TOKENS})
    with Store.open() as store:
        with_tokens = store.runs.add(result)
        without = store.runs.add(make_result())
        assert store.runs.get(with_tokens).result.logprobs == unpack(pack(TOKENS))
        assert store.runs.get(without).result.logprobs is None
        store.runs.delete(with_tokens)
        count = store.db.connection().execute("SELECT count(*) FROM run_tokens").fetchone()
        assert count == (0,)


def test_a_branch_keeps_its_parent_and_token(workbench_home: Path) -> None:
    with Store.open() as store:
        parent = store.runs.add(make_result())
        child = store.runs.add(make_result(), RunRef(parent_run_id=parent, branch_token=4))
        stored = store.runs.get(child)
        assert (stored.ref.parent_run_id, stored.ref.branch_token) == (parent, 4)
        summaries = {s.id: s for s in store.runs.recent()}
        assert summaries[child].parent_run_id == parent
        assert summaries[parent].parent_run_id is None
        assert store.runs.search("capital")[0].snippet  # search rows still line up
        store.runs.delete(parent)
        assert store.runs.get(child).ref.parent_run_id is None  # the child stays, unlinked
