"""A suite's history (trend, per-case matrix) and the baseline check: it fires on a real
regression, not on a reshuffle or on one case flipping."""

from __future__ import annotations

from pathlib import Path

import pytest

from workbench.backends.config import BackendConfig
from workbench.core.conversation_case import with_conversation
from workbench.core.experiments import AssertionSpec, ExperimentSpec, TestCase, Variant
from workbench.core.models import Message, PromptTemplate
from workbench.services.baseline import binomial_tail, check_baseline, mcnemar_exact
from workbench.services.eval_history import (
    Snapshot,
    by_version,
    case_key,
    case_keys,
    case_matrix,
    load_history,
    suite_key,
    trend,
)
from workbench.services.evaluation import Evaluation
from workbench.services.runner import Runner
from workbench.storage.db import NotFoundError
from workbench.storage.repositories import Store
from workbench.storage.writer import StoreWriter

ROWS = 12
KEY = "file:/suites/tags.yaml"
TAGS = PromptTemplate(name="tags", messages=[Message(role="user", content="Tag {{ n }}")])


def answering(*rows: int) -> BackendConfig:
    """A backend whose answer holds the tags [n] of ``rows``: those rows pass."""
    text = " ".join(f"[{n}]" for n in rows)
    return BackendConfig(name="b", backend="scripted", options={"script": [{"text": text}]})


ALL = range(1, ROWS + 1)
CONFIGS = {
    "all": answering(*ALL),
    "ten": answering(*range(1, 11)),  # rows 11, 12 fail
    "shuffled": answering(*range(3, 13)),  # rows 1, 2 fail instead: same pass count
    "one_off": answering(*range(2, 11)),  # row 1 flips too: noise
    "broken": answering(*range(7, 13)),  # rows 1-6 fail
}


def evaluate(
    store: Store, runner: Runner, backend: str, rows: int = ROWS, key: str = KEY
) -> Snapshot:
    spec = ExperimentSpec(
        name="tags",
        variants=[Variant(label="v", template=TAGS, backend=backend)],
        tests=[
            TestCase(
                vars={"n": str(n)}, assertions=[AssertionSpec(type="contains", value=f"[{n}]")]
            )
            for n in range(1, rows + 1)
        ],
    )
    evaluation = Evaluation.create(store, spec, runner)
    evaluation.run()
    store.suites.add(evaluation.id, key)
    return Snapshot.of(evaluation, store.experiments.get(evaluation.id).created_at)


def test_exact_tails() -> None:
    assert binomial_tail(0, 0) == 1.0 and binomial_tail(3, 3) == 1 / 8
    assert binomial_tail(2, 4) == 11 / 16
    assert mcnemar_exact(6, 0) == 1 / 64 and mcnemar_exact(1, 0) == 0.5


def test_a_real_regression_fires_and_lists_the_cases(store: Store, runner: Runner) -> None:
    base, now = evaluate(store, runner, "all"), evaluate(store, runner, "broken")
    result = check_baseline(base, now)
    assert (len(result.pass_to_fail), len(result.fail_to_pass), len(result.pairs)) == (6, 0, 12)
    assert result.p_pass == 1 / 64 and result.regressed
    assert [c.name for c in result.worse_cases()] == [f"n={n}" for n in range(1, 7)]
    assert "significant regression" in result.summary()


def test_a_reshuffle_and_one_flip_are_not_regressions(store: Store, runner: Runner) -> None:
    base = evaluate(store, runner, "ten")
    shuffled = check_baseline(base, evaluate(store, runner, "shuffled"))
    assert (len(shuffled.pass_to_fail), len(shuffled.fail_to_pass)) == (2, 2)
    assert shuffled.p_pass == 11 / 16 and not shuffled.regressed
    noise = check_baseline(base, evaluate(store, runner, "one_off"))
    assert (len(noise.pass_to_fail), len(noise.fail_to_pass)) == (1, 0)
    assert noise.p_pass == 0.5 and not noise.regressed
    assert "no significant regression" in noise.summary()


def test_history_trend_versions_and_case_matrix(store: Store, runner: Runner) -> None:
    evaluate(store, runner, "ten")
    evaluate(store, runner, "shuffled", rows=13)  # the suite gained a row: still its history
    evaluate(store, runner, "ten")
    snapshots = load_history(store, KEY, lambda i: Evaluation.open(store, i, runner))
    assert len(snapshots) == 3
    assert load_history(store, KEY, lambda i: Evaluation.open(store, i, runner), 2)[0] \
        .evaluation_id == snapshots[1].evaluation_id
    points = trend(snapshots)
    assert [(p.stats.cases.passed, p.stats.cases.judged) for p in points] == [
        (10, 12), (10, 13), (10, 12)
    ]
    low, high = points[0].stats.cases.ci or (0, 0)
    assert low < 10 / 12 < high
    [pooled] = by_version(snapshots)  # one inline prompt: one version, three evaluations
    assert len(pooled.evaluations) == 3 and pooled.stats.cases.judged == 37
    rows = {r.name: r for r in case_matrix(snapshots)}
    assert rows["n=1"].movement == "flaky"  # pass, fail, pass
    assert rows["n=11"].movement == "flaky"  # fail, pass, fail
    assert rows["n=5"].movement == "unchanged"
    assert [o is None for o in rows["n=5"].outcomes] == [False, False, False]
    assert "n=13" not in rows  # not in the latest run
    evaluate(store, runner, "all")
    rows = {r.name: r for r in case_matrix(load_history(store, KEY, lambda i: Evaluation.open(
        store, i, runner)))}
    assert rows["n=12"].movement == "flaky" and rows["n=5"].movement == "unchanged"
    assert "".join(o.mark if o else "·" for o in rows["n=12"].outcomes) == "✗✓✗✓"


def test_cases_that_got_better_or_worse(store: Store, runner: Runner) -> None:
    """The movement is the latest run's against the one before it."""
    for backend in ("broken", "broken", "ten"):
        evaluate(store, runner, backend, key="file:/other.yaml")
    snapshots = load_history(store, "file:/other.yaml", lambda i: Evaluation.open(store, i, runner))
    rows = {r.name: r.movement for r in case_matrix(snapshots)}
    assert rows["n=1"] == "better"  # ✗✗✓
    assert rows["n=11"] == "worse"  # ✓✓✗
    assert rows["n=8"] == "unchanged"  # ✓✓✓
    assert len(load_history(store, KEY, lambda i: Evaluation.open(store, i, runner))) == 0


def test_pinning_a_baseline_of_the_suite(store: Store, runner: Runner) -> None:
    first = evaluate(store, runner, "all")
    assert store.suites.baseline(KEY) is None
    store.suites.pin(KEY, first.evaluation_id)
    assert store.suites.baseline(KEY) == first.evaluation_id
    second = evaluate(store, runner, "ten")
    store.suites.pin(KEY, second.evaluation_id)  # pinning again moves it
    assert store.suites.baseline(KEY) == second.evaluation_id
    with pytest.raises(NotFoundError):
        store.suites.pin("file:/another.yaml", first.evaluation_id)


def test_the_suite_key_is_its_resolved_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert suite_key(Path("s.yaml")) == suite_key(tmp_path / "x" / ".." / "s.yaml")


def test_scores_lower_on_every_case_without_a_flip_is_a_regression_by_the_sign_test(
    store: Store, runner: Runner
) -> None:
    """contains-all with a threshold: every row still passes, each with a lower score."""
    configs = {
        "four": BackendConfig(name="four", backend="scripted",
                              options={"script": [{"text": "[a] [b] [c] [d]"}]}),
        "three": BackendConfig(name="three", backend="scripted",
                               options={"script": [{"text": "[a] [b] [c]"}]}),
    }
    with StoreWriter(store) as writer:
        scored = Runner(writer=writer, configs=configs)
        snaps = []
        try:
            for backend in ("four", "three", "four"):
                spec = ExperimentSpec(
                    name="scores",
                    variants=[Variant(label="v", template=TAGS, backend=backend)],
                    tests=[TestCase(vars={"n": str(n)}) for n in range(8)],
                    default_assertions=[AssertionSpec(
                        type="contains-all", value=["[a]", "[b]", "[c]", "[d]"], threshold=0.5)],
                )
                evaluation = Evaluation.create(store, spec, scored)
                evaluation.run()
                snaps.append(Snapshot.of(evaluation, "then"))
        finally:
            scored.close()
    lower = check_baseline(snaps[0], snaps[1])
    assert (len(lower.pass_to_fail), len(lower.fail_to_pass)) == (0, 0) and lower.p_pass == 1.0
    assert len(lower.scores_down) == 8 and lower.p_score == 1 / 256 and lower.regressed
    assert [c.score_delta for c in lower.worse_cases()] == [pytest.approx(-0.25)] * 8
    same = check_baseline(snaps[0], snaps[2])
    assert not same.scores_down and same.p_score == 1.0 and not same.regressed


def test_rows_that_read_the_same_are_still_separate_cases(store: Store, runner: Runner) -> None:
    """A plain row, a conversation row with the same values and a duplicate of the plain row
    are three cases in the history and the baseline; reordering the suite keeps each one's
    history, and an edited assertion is the same case."""
    check = [AssertionSpec(type="contains", value="[1]")]
    talk = with_conversation(TestCase(vars={"n": "1"}, assertions=check), {"turns": ["hi"]})
    plain = TestCase(vars={"n": "1"}, assertions=check)
    edited = plain.model_copy(update={"assertions": [AssertionSpec(type="contains", value="[")]})
    assert case_keys([plain, talk, plain]) == [
        case_key(plain), case_key(talk), case_key(plain) + "#2"
    ]
    assert case_key(edited) == case_key(plain) != case_key(talk)
    other = with_conversation(TestCase(vars={"n": "1"}), {"turns": ["bye"]})
    assert case_key(other) != case_key(talk)

    def run(tests: list[TestCase]) -> Snapshot:
        spec = ExperimentSpec(
            name="tags", variants=[Variant(label="v", template=TAGS, backend="all")], tests=tests
        )
        evaluation = Evaluation.create(store, spec, runner)
        evaluation.run()
        store.suites.add(evaluation.id, KEY)
        return Snapshot.of(evaluation, store.experiments.get(evaluation.id).created_at)

    base, now = run([plain, talk, plain]), run([talk, plain, edited])
    assert len(base.cases) == 3
    assert sorted(base.names.values()) == ["n=1", "n=1 #2", "n=1 (conversation)"]
    assert len(check_baseline(base, now).pairs) == 3
    rows = case_matrix([base, now])
    assert len(rows) == 3 and all(None not in r.outcomes for r in rows)
