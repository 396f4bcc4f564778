"""``workbench history``: list, search and show stored runs."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest

from tests.storage.factories import failed_result, make_result, make_spec
from workbench.cli import main
from workbench.core.experiments import AssertionSpec
from workbench.storage.repositories import EvaluationRecord, RunRef, Store


@pytest.fixture
def run_ids() -> list[str]:
    with Store.open() as store:
        experiment = store.experiments.create(make_spec())
        ids = [
            store.runs.add(make_result("Which river flows through Vienna?", "The Danube.")),
            store.runs.add(failed_result()),
            store.runs.add(
                make_result("Where is the Louvre?", "In Paris."),
                RunRef(experiment.id, experiment.variant_ids[0]),
            ),
        ]
        store.ratings.rate(ids[2], thumbs=1, comment="right")
        store.evaluations.record(
            ids[2], [EvaluationRecord(AssertionSpec(type="contains", value="Paris"), "pass", 1.0)]
        )
    return ids


def _json(capsys: pytest.CaptureFixture[str], argv: list[str]) -> Any:
    assert main(argv) == 0
    return json.loads(capsys.readouterr().out)


def test_list_newest_first_with_paging(
    run_ids: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    rows = _json(capsys, ["history", "list", "--json"])
    assert [r["id"] for r in rows] == run_ids[::-1]
    page = _json(capsys, ["history", "list", "--limit", "1", "--before", run_ids[2], "--json"])
    assert [r["id"] for r in page] == [run_ids[1]]
    errors = _json(capsys, ["history", "list", "--status", "error", "--json"])
    assert [r["error_kind"] for r in errors] == ["RateLimitError"]
    assert main(["history", "list"]) == 0
    text = capsys.readouterr().out
    assert "Where is the Louvre?" in text and "In Paris." in text and "RateLimitError" in text


def test_search_prompts_and_outputs(run_ids: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    hits = _json(capsys, ["history", "search", "danube", "--json"])
    assert [h["id"] for h in hits] == [run_ids[0]]
    assert "[Danube]" in hits[0]["snippet"]
    assert _json(capsys, ["history", "search", "Louvre", "vienna", "--json"]) == []
    raw = _json(capsys, ["history", "search", "--fts", "louvre OR vienna", "--json"])
    assert [h["id"] for h in raw] == [run_ids[2], run_ids[0]]
    assert main(["history", "search", "louvre"]) == 0
    assert "[Louvre]" in capsys.readouterr().out


def test_show_prints_the_exact_request(
    run_ids: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    data = _json(capsys, ["history", "show", run_ids[2], "--json"])
    assert data["result"]["request"]["raw_prompt"].startswith("<|im_start|>system")
    assert data["result"]["request"]["seed"] == 42
    assert data["rating"]["thumbs"] == 1
    assert data["evaluations"][0]["outcome"] == "pass"
    assert data["experiment_id"] is not None
    assert main(["history", "show", run_ids[2]]) == 0
    out = capsys.readouterr().out
    assert "ignored: best_of=2" in out and "--- output ---\nIn Paris." in out


def test_missing_run_and_bad_query_are_one_line_errors(run_ids: list[str]) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "workbench", "history", "show", "01NOPE"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert done.stderr.strip() == "workbench history: no run with id 01NOPE"
    done = subprocess.run(
        [sys.executable, "-m", "workbench", "history", "search", "--fts", '"x'],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1 and "invalid search syntax" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_a_failed_or_cancelled_run_reads_without_nones(capsys: pytest.CaptureFixture[str]) -> None:
    from workbench.core.models import RenderedMessage, RunResult, SentRequest

    cancelled = RunResult(
        request=SentRequest(
            backend="openai", model="gpt-4o", messages=[RenderedMessage(role="user", content="hi")]
        ),
        finish_reason="cancelled",
    )
    with Store.open() as store:
        failed_id = store.runs.add(failed_result())
        cancelled_id = store.runs.add(cancelled)
    assert main(["history", "list"]) == 0
    listing = capsys.readouterr().out
    assert "< RateLimitError: HTTP 429: slow down" in listing
    for run_id in (failed_id, cancelled_id):
        assert main(["history", "show", run_id]) == 0
        out = capsys.readouterr().out
        assert "None" not in out, out
        assert "tokens in –  out –  total –  first token –  cost –" in out
    assert "seed" not in out  # the cancelled request had none
    assert main(["history", "show", make_and_add_ok_run()]) == 0
    out = capsys.readouterr().out
    # as the app says durations (format_duration), never a raw float
    assert "tokens in 12  out 3  total 500 ms  first token 100 ms  cost 0.000123 USD" in out


def make_and_add_ok_run() -> str:
    from workbench.core.models import Timings, Usage

    result = make_result("Where is the Louvre?", "In Paris.").model_copy(
        update={
            "usage": Usage(input_tokens=12, output_tokens=3),
            "timings": Timings(total_s=0.5, ttft_s=0.1),
            "cost": 0.000123,
        }
    )
    with Store.open() as store:
        return store.runs.add(result)


def test_list_and_search_take_the_history_panels_filters(
    run_ids: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    hand = _json(capsys, ["history", "list", "--source", "hand", "--json"])
    assert [r["id"] for r in hand] == [run_ids[1], run_ids[0]]
    assert {r["source"] for r in hand} == {"hand"}
    liked = _json(capsys, ["history", "list", "--rating", "up", "--json"])
    assert [(r["id"], r["source"], r["thumbs"]) for r in liked] == [(run_ids[2], "eval", 1)]
    found = _json(capsys, ["history", "search", "Paris", "--source", "hand", "--json"])
    assert found == []
    assert [r["id"] for r in _json(capsys, ["history", "list", "--backend", "llamacpp",
                                            "--rating", "unrated", "--json"])] == run_ids[1::-1]


def test_show_gives_a_branchs_parent_and_its_tokens_figures(
    capsys: pytest.CaptureFixture[str],
) -> None:
    import math

    from workbench.core.logprobs import Alternative, TokenLogprob

    half = math.log(0.5)
    tokens = [TokenLogprob(" a", half, b" a", (Alternative(" a", half),)),
              TokenLogprob(" b", half, b" b", ())]
    with Store.open() as store:
        parent = store.runs.add(make_result())
        child = store.runs.add(make_result().model_copy(update={"logprobs": tokens}),
                               RunRef(parent_run_id=parent, branch_token=3))
    assert main(["history", "show", child]) == 0
    out = capsys.readouterr().out
    assert "2 tokens with log-probabilities: mean logprob -0.693  perplexity 2.00" in out
    assert f"branched from run {parent} at token 3" in out
    data = _json(capsys, ["history", "show", child, "--json"])
    assert data["parent_run_id"] == parent and data["branch_token"] == 3
    (alternative,) = data["logprobs"][0]["top_logprobs"]
    assert alternative["token"] == " a"
    assert alternative["logprob"] == pytest.approx(half, abs=1e-6)  # stored as float32
