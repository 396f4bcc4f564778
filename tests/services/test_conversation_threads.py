"""promptfoo's ``_conversation`` threads, imported and run: each turn of a thread sees the earlier
turns' real outputs in its rendered messages; threads are apart."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from workbench.backends.config import BackendConfig
from workbench.core.conversation import is_rendered_chat
from workbench.core.experiments import ExperimentSpec
from workbench.core.models import Params
from workbench.services.evaluation import Evaluation
from workbench.services.runner import Runner
from workbench.services.scorecard import Scorecard
from workbench.services.suites import load_suite, with_backend
from workbench.storage.repositories import Store
from workbench.storage.writer import StoreWriter

CONFIG = Path(__file__).parent.parent / "fixtures/promptfoo/multiple-turn-conversation"
THREADS = {"facebook_thread": 3, "weather_thread": 2, "food_thread": 2}
CONFIGS = {
    "quoting": BackendConfig(
        name="quoting",
        backend="scripted",
        options={"script": [{"text": 'He said "hi"\nand left.'}], "concurrency": 3},
    )
}


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store.open(tmp_path / "eval.db") as store:
        yield store


def _spec(backend: str) -> ExperimentSpec:
    suite = load_suite(CONFIG / "promptfooconfig.yaml")
    return with_backend(suite.spec, backend)


def _run(
    store: Store, spec: ExperimentSpec, configs: dict[str, BackendConfig] | None
) -> tuple[Evaluation, Scorecard]:
    with StoreWriter(store) as writer:
        runner = Runner(writer=writer, configs=configs)
        try:
            evaluation = Evaluation.create(store, spec, runner)
            card = evaluation.run()
        finally:
            runner.close()
    return evaluation, card


def _threads(store: Store, evaluation: Evaluation) -> dict[str, list[tuple[int, list, str]]]:
    """Each thread's turns in test order: (test index, messages sent, reply)."""
    out: dict[str, list[tuple[int, list, str]]] = {}
    runs = [store.runs.get(r) for r in store.runs.ids(experiment_id=evaluation.id)]
    index = {tid: i for i, tid in enumerate(evaluation.experiment.test_ids)}
    for run in sorted(runs, key=lambda r: index[r.ref.test_case_id or ""]):
        t = index[run.ref.test_case_id or ""]
        thread = evaluation.spec.tests[t].metadata["conversationId"]
        out.setdefault(thread, []).append((t, run.result.request.messages, run.result.text))
    return out


def _check_structure(threads: dict[str, list[tuple[int, list, str]]], spec: ExperimentSpec) -> None:
    assert {name: len(turns) for name, turns in threads.items()} == THREADS
    for turns in threads.values():
        for n, (test, messages, _) in enumerate(turns):
            # system, then (user, assistant) per earlier turn, then this turn's question
            assert [m.role for m in messages] == ["system", *["user", "assistant"] * n, "user"]
            assert messages[0].content == "You are a helpful assistant"
            assert messages[-1].content == spec.tests[test].vars["question"]
            for earlier, (e_test, _, e_reply) in enumerate(turns[:n]):
                assert messages[1 + 2 * earlier].content == spec.tests[e_test].vars["question"]
                assert messages[2 + 2 * earlier].content == e_reply  # the real output


def test_the_multi_turn_prompt_is_imported_as_a_chat_rendered_first() -> None:
    spec = _spec("quoting")
    [variant] = spec.variants
    assert is_rendered_chat(variant.template)
    assert [v.name for v in variant.template.variables] == ["question", "system_message"]
    assert len(spec.tests) == 7


def test_threads_run_in_order_and_each_turn_sees_the_earlier_replies(store: Store) -> None:
    spec = _spec("quoting")  # a reply with quotes and a newline stays valid JSON (| dump)
    evaluation, card = _run(store, spec, CONFIGS)
    assert len(card.cells) == 7 and all(c.status == "pass" for c in card.cells.values())
    _check_structure(_threads(store, evaluation), spec)


def test_a_resumed_thread_runs_again_from_its_first_turn(store: Store) -> None:
    spec = _spec("quoting")
    evaluation, _ = _run(store, spec, CONFIGS)
    last_food = max(
        i for i, t in enumerate(spec.tests) if t.metadata["conversationId"] == "food_thread"
    )
    test_id = evaluation.experiment.test_ids[last_food]
    doomed = next(
        r
        for r in store.runs.ids(experiment_id=evaluation.id)
        if store.runs.get(r).ref.test_case_id == test_id
    )
    with store.db.transaction() as conn:
        conn.execute("UPDATE runs SET status = 'error' WHERE id = ?", (doomed,))
    before = set(store.runs.ids(experiment_id=evaluation.id))
    with StoreWriter(store) as writer:
        runner = Runner(writer=writer, configs=CONFIGS)
        try:
            Evaluation.open(store, evaluation.id, runner).run()
        finally:
            runner.close()
    new = set(store.runs.ids(experiment_id=evaluation.id)) - before
    tests = sorted(store.runs.get(r).ref.test_case_id for r in new)
    food = [
        tid
        for tid, t in zip(evaluation.experiment.test_ids, spec.tests, strict=True)
        if t.metadata["conversationId"] == "food_thread"
    ]
    assert tests == sorted(food)  # both food turns again, no other thread


@pytest.mark.slow
def test_three_threads_on_the_embedded_model(store: Store) -> None:
    spec = _spec("llamacpp")
    for v in spec.variants:
        v.params = Params(max_tokens=16, greedy=True, seed=1)
    evaluation, card = _run(store, spec, None)
    assert len(card.cells) == 7 and all(c.status != "error" for c in card.cells.values())
    threads = _threads(store, evaluation)
    _check_structure(threads, spec)
    replies = [reply for turns in threads.values() for _, _, reply in turns]
    assert all(replies) and len(set(replies)) > 1  # real, differing outputs were threaded
