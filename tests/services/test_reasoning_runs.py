"""Reasoning in the run contract: streamed, stored and priced apart; exported on request."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from workbench.backends.base import CancelToken, ReasoningDelta, TextDelta
from workbench.backends.config import BackendConfig
from workbench.backends.llamacpp import LlamaCppBackend
from workbench.core.model_table import Price, cost_of, load_model_table
from workbench.core.models import Message, Params, PromptTemplate, RunResult, SentRequest, Usage
from workbench.services.runner import Runner, _with_cost, build_request
from workbench.storage.finetune import finetune_jsonl
from workbench.storage.formats.runs import RunRecord, read_runs_jsonl, runs_to_csv, runs_to_jsonl
from workbench.storage.repositories import Store
from workbench.storage.writer import StoreWriter

TEMPLATE = PromptTemplate(name="t", messages=[Message(role="user", content="What is 2+2?")])
THINKING = [
    {"text": "<think>\nTwo and"}, {"text": " two make"}, {"text": " four.</th"},
    {"text": "ink>\n\nThe answer"}, {"text": " is 4."},
]


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store.open(tmp_path / "runs.db") as store:
        yield store


def _thinker(*, hang_after: bool = False) -> dict[str, BackendConfig]:
    script: list[dict[str, object]] = list(THINKING)
    if hang_after:
        script = [*script[:2], {"hang": True}]
    return {"r1": BackendConfig(name="r1", backend="scripted",
                                options={"script": script, "think_tags": True})}


def test_reasoning_streams_apart_and_is_stored_apart_from_the_answer(store: Store) -> None:
    events: list[object] = []
    with StoreWriter(store) as writer:
        runner = Runner(writer=writer, configs=_thinker())
        outcome = runner.execute(build_request(TEMPLATE, {}, backend="r1"),
                                 on_event=events.append)
        runner.close()
    thought = "".join(e.text for e in events if isinstance(e, ReasoningDelta))
    answer = "".join(e.text for e in events if isinstance(e, TextDelta))
    assert (thought, answer) == ("Two and two make four.", "The answer is 4.")
    assert outcome.result.text == "The answer is 4."
    assert outcome.result.reasoning == "Two and two make four."
    assert outcome.result.usage.reasoning_tokens == 3
    stored = store.runs.get(outcome.run_id or "").result
    assert (stored.text, stored.reasoning) == (outcome.result.text, outcome.result.reasoning)
    assert stored.usage == outcome.result.usage


def test_a_cancelled_run_keeps_the_reasoning_it_streamed(store: Store) -> None:
    cancel = CancelToken()

    def on_event(event: object) -> None:
        if isinstance(event, ReasoningDelta) and "two" in event.text:
            cancel.cancel()

    runner = Runner(configs=_thinker(hang_after=True))
    outcome = runner.execute(build_request(TEMPLATE, {}, backend="r1"), cancel, on_event=on_event)
    runner.close()
    assert outcome.status == "cancelled"
    assert outcome.result.reasoning.startswith("Two and")
    assert outcome.result.text == ""


def _result(**extra: object) -> RunResult:
    base: dict[str, object] = {
        "request": SentRequest(backend="openai_compat", model="o4-mini", messages=[]),
        "text": "4", "reasoning": "2+2 is 4", "finish_reason": "stop",
        "usage": Usage(input_tokens=10, output_tokens=100, reasoning_tokens=80),
    }
    return RunResult.model_validate({**base, **extra})


def test_reasoning_tokens_are_priced_apart_at_the_output_price() -> None:
    price = Price(input=1.0, output=4.0)
    cost = cost_of(price, 10, 100, reasoning_tokens=80)
    assert cost is not None
    assert cost.output == pytest.approx(20 * 4.0 / 1e6)
    assert cost.reasoning == pytest.approx(80 * 4.0 / 1e6)
    plain = cost_of(price, 10, 100)
    assert plain is not None and cost.total == pytest.approx(plain.total)
    assert Usage(output_tokens=100, reasoning_tokens=80).answer_tokens == 20
    # the runner prices a run's usage with its reasoning part
    priced = _with_cost(_result(request=SentRequest(backend="anthropic",
                                                    model="claude-sonnet-4-5")))
    info = load_model_table().lookup("claude-sonnet-4-5")
    listed = cost_of(info.price if info else None, 10, 100)
    assert listed is not None and priced.cost == pytest.approx(listed.total)


def test_exports_keep_reasoning_and_fine_tuning_leaves_it_out_unless_asked() -> None:
    result = _result(request=SentRequest(
        backend="openai_compat", model="m",
        messages=[{"role": "user", "content": "What is 2+2?"}]))
    records = [RunRecord(id="r1", result=result)]
    back, problems = read_runs_jsonl(runs_to_jsonl(records))
    assert not problems.items and back[0].result.reasoning == "2+2 is 4"
    assert back[0].result.usage.reasoning_tokens == 80
    csv_text = runs_to_csv(records)
    assert "reasoning,reasoning_tokens" in csv_text.splitlines()[0]
    assert "2+2 is 4,80" in csv_text
    plain = json.loads(finetune_jsonl([result]).text)
    assert plain["messages"][-1] == {"role": "assistant", "content": "4"}
    told = json.loads(finetune_jsonl([result], include_reasoning=True).text)
    assert told["messages"][-1]["content"] == "<think>\n2+2 is 4\n</think>\n\n4"


def test_reasoning_settings_are_parameters_a_backend_may_ignore() -> None:
    params = Params(reasoning_effort="high", thinking_budget=2048, max_tokens=4096)
    caps = LlamaCppBackend().capabilities()
    assert "<think>" in caps.params["thinking_budget"].note
    sent, ignored = caps.split(params)
    assert ignored == {"reasoning_effort": "high", "thinking_budget": 2048}
    assert sent == {"max_tokens": 4096}
    with pytest.raises(ValueError, match="reasoning_effort"):
        Params.model_validate({"reasoning_effort": "extreme"})
