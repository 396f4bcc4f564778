"""Repeated cases: flaky detection, pass@k and pass^k, on a scripted backend that alternates
answers and on the embedded model with a fixed seed."""

from __future__ import annotations

from math import comb

import pytest

from workbench.backends.config import BackendConfig
from workbench.core.experiments import AssertionSpec, ExperimentSpec, TestCase, Variant
from workbench.core.models import Message, Params, PromptTemplate
from workbench.services.evaluation import Evaluation
from workbench.services.flaky import case_repeats, pass_at_k, pass_hat_k, summarise
from workbench.services.runner import Runner
from workbench.storage.repositories import Store
from workbench.storage.writer import StoreWriter

ASK = PromptTemplate(name="ask", messages=[Message(role="user", content="Is {{ q }} true?")])
#: Each distinct prompt is answered "yes", "no", "yes", "no", … in turn.
CONFIGS = {
    "coin": BackendConfig(
        name="coin",
        backend="scripted",
        options={"alternate": [[{"text": "yes"}], [{"text": "no"}]], "concurrency": 2},
    )
}


def coin_spec(repeats: int) -> ExperimentSpec:
    return ExperimentSpec(
        name="coin",
        variants=[Variant(template=ASK, backend="coin")],
        tests=[
            TestCase(vars={"q": "a"}, assertions=[AssertionSpec(type="icontains", value="yes")]),
            TestCase(vars={"q": "b"}, assertions=[AssertionSpec(type="icontains", value="maybe")]),
            TestCase(vars={"q": "c"}, assertions=[AssertionSpec(type="regex", value="^(yes|no)$")]),
        ],
        repeats=repeats,
    )


def test_estimators_match_their_definitions() -> None:
    # n = 5 samples, c = 2 passed: pass@2 = 1 - C(3,2)/C(5,2), pass^2 = C(2,2)/C(5,2)
    assert pass_at_k(5, 2, 2) == pytest.approx(1 - 3 / 10)
    assert pass_hat_k(5, 2, 2) == pytest.approx(1 / 10)
    assert pass_at_k(5, 2, 4) == 1.0  # fewer than 4 failures: some sample of 4 passes
    assert pass_at_k(4, 0, 2) == 0.0 and pass_hat_k(4, 4, 3) == 1.0
    for n in range(1, 7):  # k = n: exactly "one passed" and "all passed"
        for c in range(n + 1):
            assert pass_at_k(n, c, n) == float(c > 0)
            assert pass_hat_k(n, c, n) == float(c == n)
            assert pass_at_k(n, c, 1) == pytest.approx(c / n) == pass_hat_k(n, c, 1)
    with pytest.raises(ValueError):
        pass_at_k(3, 1, 4)


def test_alternating_answers_make_a_flaky_case_and_a_stable_failure_is_failing(
    store: Store, runner: Runner
) -> None:
    card = Evaluation.create(store, coin_spec(4), runner).run()
    assert len(card.cells) == 12
    cases = {c.test: c for c in case_repeats(card)}
    assert (cases[0].verdict, cases[0].passed, cases[0].failed) == ("flaky", 2, 2)
    assert (cases[1].verdict, cases[1].passed, cases[1].failed) == ("failing", 0, 4)
    assert (cases[2].verdict, cases[2].passed) == ("passing", 4)
    # exact figures for the flaky case: n = 4, c = 2
    assert cases[0].at_k(2) == (1 - comb(2, 2) / comb(4, 2), comb(2, 2) / comb(4, 2))
    assert cases[0].at_k(4) == (1.0, 0.0)
    [summary] = summarise(card, 2)
    assert (summary.passing, summary.flaky, summary.failing, summary.errors) == (1, 1, 1, 0)
    assert summary.pass_at_k == pytest.approx((5 / 6 + 0 + 1) / 3)
    assert summary.pass_hat_k == pytest.approx((1 / 6 + 0 + 1) / 3)


def test_repeats_are_stored_and_a_resumed_evaluation_keeps_them(
    store: Store, runner: Runner
) -> None:
    from workbench.backends.base import CancelToken

    evaluation = Evaluation.create(store, coin_spec(4), runner, workers=1)
    cancel = CancelToken()
    seen = []

    def stop_after_five(cell: object) -> None:
        seen.append(cell)
        if len(seen) == 5:
            cancel.cancel()

    evaluation.run(cancel, on_cell=stop_after_five)
    assert len(evaluation.pending()) == 7
    card = Evaluation.open(store, evaluation.id, runner).run()
    assert len(store.runs.ids(experiment_id=evaluation.id)) == 12  # no repeat ran twice
    reread = Evaluation.open(store, evaluation.id, runner).scorecard()
    assert reread.cells.keys() == card.cells.keys()
    assert [c.verdict for c in case_repeats(reread)] == ["flaky", "failing", "passing"]


@pytest.mark.slow
def test_the_embedded_model_with_a_fixed_seed_has_no_flaky_case(store: Store) -> None:
    spec = ExperimentSpec(
        name="seeded",
        variants=[
            Variant(
                template=ASK,
                backend="llamacpp",
                params=Params(max_tokens=8, temperature=0.9, seed=7),
            )
        ],
        tests=[
            TestCase(vars={"q": q}, assertions=[AssertionSpec(type="icontains", value="yes")])
            for q in ("the sky blue", "water wet")
        ],
        repeats=3,
    )
    with StoreWriter(store) as writer:
        runner = Runner(writer=writer)
        try:
            card = Evaluation.create(store, spec, runner).run()
        finally:
            runner.close()
    texts = {}
    for (_v, t, _r), cell in card.cells.items():
        texts.setdefault(t, set()).add(store.runs.get(cell.run_id or "").result.text)
    assert all(len(found) == 1 for found in texts.values())  # the same answer every repeat
    assert [c.flaky for c in case_repeats(card)] == [False, False]
    assert all(c.judged == 3 for c in case_repeats(card))
