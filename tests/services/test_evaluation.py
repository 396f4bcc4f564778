"""Running evaluations: promptfoo fixtures as evaluations, error vs fail, resume, regressions."""

from __future__ import annotations

import threading
from collections import Counter
from pathlib import Path

import pytest

from workbench.backends.base import CancelToken
from workbench.backends.config import BackendConfig
from workbench.core.evaluation import EvaluationError
from workbench.core.experiments import AssertionSpec, ExperimentSpec, TestCase, Variant
from workbench.core.models import Message, Params, PromptTemplate, RunResult, SentRequest
from workbench.services.evaluation import Evaluation, outcomes_of, rerun
from workbench.services.evaluation_session import Progress
from workbench.services.experiment_lock import ExperimentBusy
from workbench.services.runner import Runner
from workbench.services.scorecard import CellResult, Criterion, Scorecard, compare
from workbench.services.suites import SuiteError, load_suite, with_backend
from workbench.storage.repositories import RunRef, Store
from workbench.storage.writer import StoreWriter

TRANSLATE = PromptTemplate(
    name="translate", messages=[Message(role="user", content="Translate {{ text }}")]
)


def scripted(name: str, *steps: dict[str, object], concurrency: int = 2) -> BackendConfig:
    return BackendConfig(
        name=name, backend="scripted", options={"script": list(steps), "concurrency": concurrency}
    )


CONFIGS = {
    "french": scripted("french", {"text": "Bonjour le monde! J'ai "}, {"text": "faim. Ahoy!"}),
    "spanish": scripted("spanish", {"text": "¿Dónde está la biblioteca?"}),
    "down": scripted("down", {"error": "connection refused", "error_kind": "ConnectError"}),
}


def promptfoo_spec(fixtures_dir: Path, name: str, backend: str) -> ExperimentSpec:
    suite = load_suite(fixtures_dir / "promptfoo" / name / "promptfooconfig.yaml")
    return with_backend(suite.spec, backend)


def test_getting_started_runs_as_an_evaluation_with_promptfoos_tests(
    fixtures_dir: Path, store: Store, runner: Runner
) -> None:
    spec = promptfoo_spec(fixtures_dir, "getting-started", "french")
    assert len(spec.variants) == 2 and len(spec.tests) == 2  # 2 prompts x 2 tests
    progress: list[Progress] = []
    evaluation = Evaluation.create(store, spec, runner)
    card = evaluation.run(on_progress=progress.append)
    assert len(card.cells) == 4
    assert [p.done for p in sorted(progress, key=lambda p: p.done)] == [1, 2, 3, 4]
    assert progress[-1].total == 4 and all(p.eta_s is not None for p in progress)
    for v in card.variants:
        # "Bonjour le monde" contains the French expectation, not the Spanish one.
        assert (v.overall.cases.passed, v.overall.cases.failed, v.overall.cases.errors) == (1, 1, 0)
        assert set(v.assertions) == {"contains", "icontains"}
        assert v.assertions["contains"].cases.rate == 1.0
        assert v.assertions["icontains"].cases.rate == 0.0
    # Every outcome is stored with the run, with its reason.
    failing = next(c for c in card.cells.values() if c.status == "fail")
    ((spec_, outcome),) = outcomes_of(store, failing.run_id or "")
    assert spec_.type == "icontains" and outcome.status == "fail"
    assert "Dónde está la biblioteca" in outcome.reason
    # Read back from the store, the scorecard is the same.
    again = evaluation.scorecard()
    assert {k: (c.status, c.score) for k, c in again.cells.items()} == {
        k: (c.status, c.score) for k, c in card.cells.items()
    }


def test_simple_csv_runs_2_prompts_by_4_tests(
    fixtures_dir: Path, store: Store, runner: Runner
) -> None:
    spec = promptfoo_spec(fixtures_dir, "simple-csv", "french")
    assert (len(spec.variants), len(spec.tests)) == (2, 4)
    card = Evaluation.create(store, spec, runner).run()
    assert len(card.cells) == 8
    statuses = {(c.variant, c.test): c.status for c in card.cells.values()}
    # icontains bonjour / faim / Ahoy pass; only "grub" is missing from the reply.
    assert [statuses[(0, t)] for t in range(4)] == ["pass", "pass", "pass", "fail"]
    assert [statuses[(1, t)] for t in range(4)] == ["pass", "pass", "pass", "fail"]
    # The first prompt's style line was rendered through the 'load' filter, as promptfoo does.
    run = store.runs.get(card.cells[(0, 0, 0)].run_id or "")
    assert "Tone: formal" in run.result.request.messages[0].content


def test_a_backend_error_is_an_error_never_a_fail(store: Store, runner: Runner) -> None:
    spec = ExperimentSpec(
        name="mixed",
        variants=[
            Variant(label="up", template=TRANSLATE, backend="spanish"),
            Variant(label="down", template=TRANSLATE, backend="down"),
        ],
        tests=[TestCase(vars={"text": "a"}), TestCase(vars={"text": "b"})],
        default_assertions=[AssertionSpec(type="icontains", value="biblioteca")],
    )
    card = Evaluation.create(store, spec, runner).run()
    up, down = card.variants
    assert (up.overall.cases.passed, up.overall.cases.failed, up.overall.cases.errors) == (2, 0, 0)
    assert (down.overall.cases.passed, down.overall.cases.failed) == (0, 0)
    assert down.overall.cases.errors == 2 and down.overall.cases.rate is None
    assert down.assertions["icontains"].cases.errors == 2
    cell = card.cells[(1, 0, 0)]
    ((_, outcome),) = outcomes_of(store, cell.run_id or "")
    assert outcome.status == "error" and "connection refused" in outcome.reason
    results = card.check([Criterion.parse("pass_rate >= 0.9"), Criterion.parse("error_rate <= 0")])
    assert [(r.variant_label, r.met) for r in results] == [
        ("up", True),
        ("down", False),
        ("up", True),
        ("down", False),
    ]
    assert "no judged cases" in results[1].detail


def test_a_row_the_template_cannot_render_is_an_error_cell(store: Store, runner: Runner) -> None:
    spec = ExperimentSpec(
        name="missing var",
        variants=[Variant(template=TRANSLATE, backend="spanish")],
        tests=[TestCase(vars={"other": "x"})],
        default_assertions=[AssertionSpec(type="contains", value="x")],
    )
    card = Evaluation.create(store, spec, runner).run()
    (cell,) = card.cells.values()
    assert cell.status == "error"
    stored = store.runs.get(cell.run_id or "")
    assert stored.status == "error" and "text" in (stored.result.error or "")


def test_an_unknown_assertion_type_stops_the_suite_before_any_run(
    store: Store, runner: Runner
) -> None:
    spec = ExperimentSpec(
        name="typo",
        variants=[Variant(template=TRANSLATE, backend="spanish")],
        tests=[TestCase(vars={"text": "x"}, assertions=[AssertionSpec(type="contians")])],
    )
    with pytest.raises(EvaluationError, match="unknown assertion type 'contians'"):
        Evaluation.create(store, spec, runner)
    assert store.runs.count() == 0


def spanish_spec(n: int) -> ExperimentSpec:
    return ExperimentSpec(
        name="resume",
        variants=[Variant(template=TRANSLATE, backend="spanish")],
        tests=[TestCase(vars={"text": str(i)}) for i in range(n)],
        default_assertions=[AssertionSpec(type="contains", value="biblioteca")],
    )


def test_an_interrupted_evaluation_resumes_without_rerunning_finished_cells(
    store: Store, runner: Runner
) -> None:
    evaluation = Evaluation.create(store, spanish_spec(6), runner, workers=1)
    cancel = CancelToken()
    seen: list[CellResult] = []

    def stop_after_two(cell: CellResult) -> None:
        seen.append(cell)
        if len(seen) == 2:
            cancel.cancel()

    first = evaluation.run(cancel, on_cell=stop_after_two)
    assert len(first.cells) == 2
    assert len(evaluation.pending()) == 4
    again = Evaluation.open(store, evaluation.id, runner)
    card = again.run()
    assert len(card.cells) == 6 and card.variants[0].overall.cases.passed == 6
    per_cell: dict[str | None, int] = {}
    for run in store.runs.for_experiment(evaluation.id):
        per_cell[run.ref.test_case_id] = per_cell.get(run.ref.test_case_id, 0) + 1
    assert sorted(per_cell.values()) == [1] * 6  # no finished cell ran twice
    assert again.pending() == []


def test_an_evaluation_resumed_while_it_runs_is_refused_or_waits_and_no_cell_runs_twice(
    store: Store, runner: Runner
) -> None:
    evaluation = Evaluation.create(store, spanish_spec(6), runner, workers=1)
    second = Evaluation.open(store, evaluation.id, runner)
    refused: list[BaseException] = []
    waited: list[Scorecard] = []

    def resume_twice(cell: CellResult) -> None:  # while the first run is under way
        if refused:
            return
        with pytest.raises(ExperimentBusy) as busy:
            second.run()
        refused.append(busy.value)
        waiter.start()

    waiter = threading.Thread(target=lambda: waited.append(second.run(wait=True)))
    card = evaluation.run(on_cell=resume_twice)
    waiter.join(30)
    assert "is already running in another window of this app" in str(refused[0])
    assert len(card.cells) == 6 and len(waited[0].cells) == 6
    per_cell = Counter(r.ref.test_case_id for r in store.runs.for_experiment(evaluation.id))
    assert sorted(per_cell.values()) == [1] * 6  # the waiter ran nothing twice


def test_a_run_stored_without_its_outcomes_is_evaluated_on_resume(
    store: Store, runner: Runner
) -> None:
    """A crash between committing a run and writing its outcomes loses no model call."""
    evaluation = Evaluation.create(store, spanish_spec(2), runner)
    experiment = evaluation.experiment
    result = RunResult(
        request=SentRequest(backend="scripted", model="scripted"),
        text="la biblioteca",
        finish_reason="stop",
    )
    run_id = store.runs.add(
        result, RunRef(experiment.id, experiment.variant_ids[0], experiment.test_ids[0], 0)
    )
    card = evaluation.run()
    assert card.cells[(0, 0, 0)].run_id == run_id and card.cells[(0, 0, 0)].status == "pass"
    assert [r.outcome for r in store.evaluations.for_run(run_id)] == ["pass"]
    assert store.runs.count() == 2  # only the second row was run


def test_regression_check_on_a_new_template_version(store: Store, runner: Runner) -> None:
    spec = ExperimentSpec(
        name="regression",
        variants=[Variant(template=TRANSLATE, backend="french")],
        tests=[
            TestCase(
                vars={"text": "hi"}, assertions=[AssertionSpec(type="icontains", value="bonjour")]
            ),
            TestCase(
                vars={"text": "?"}, assertions=[AssertionSpec(type="icontains", value="biblioteca")]
            ),
            TestCase(
                vars={"text": "x"},
                assertions=[AssertionSpec(type="contains", value="xyz", negate=True)],
            ),
        ],
    )
    baseline = Evaluation.create(store, spec, runner)
    before = baseline.run()
    v2 = TRANSLATE.model_copy(update={"parameters": Params(temperature=0.0)})
    candidate = rerun(
        baseline, template=v2, template_key="translate", template_version=2, backend="spanish"
    )
    assert candidate.id != baseline.id
    assert candidate.spec.tests == baseline.spec.tests
    assert candidate.spec.variants[0].template_version == 2
    after = candidate.run()
    # Every evaluation run records the library version it ran (a typed number), so restoring
    # one from the history reopens that version.
    refs = {(r.ref.template_key, r.ref.template_version) for r in store.runs.for_experiment(
        candidate.id)}
    assert refs == {("translate", 2)}
    report = compare(before, after)
    assert [c.key[1] for c in report.improved] == [1]
    assert [c.key[1] for c in report.regressed] == [0]
    assert [c.key[1] for c in report.unchanged] == [2]
    # The saved baseline reads back and compares the same way.
    assert compare(baseline.scorecard(), candidate.scorecard()).summary() == report.summary()


def test_cost_preview_counts_the_pending_cells(store: Store, runner: Runner) -> None:
    spec = spanish_spec(3)
    spec.variants[0].model = "gpt-4o-mini"
    spec.variants[0].params = Params(max_tokens=10)
    evaluation = Evaluation.create(store, spec, runner)
    preview = evaluation.cost_preview()
    assert preview.calls == 3 and preview.output_tokens == 30
    assert preview.input_tokens > 0 and preview.unpriced_calls == 0
    assert preview.costs["USD"] > 0


@pytest.mark.slow
def test_getting_started_on_the_embedded_local_model(fixtures_dir: Path, store: Store) -> None:
    spec = promptfoo_spec(fixtures_dir, "getting-started", "llamacpp")
    for v in spec.variants:
        v.params = Params(max_tokens=24, greedy=True, seed=1)
    with StoreWriter(store) as writer:
        runner = Runner(writer=writer)
        try:
            card = Evaluation.create(store, spec, runner).run()
        finally:
            runner.close()
    assert len(card.cells) == 4
    for cell in card.cells.values():
        assert cell.status in ("pass", "fail")  # the model answered; the check judged it
        stored = store.runs.get(cell.run_id or "")
        assert stored.status == "ok" and stored.result.text
        assert [r.assertion.type for r in store.evaluations.for_run(cell.run_id or "")] in (
            ["contains"],
            ["icontains"],
        )


def test_a_variant_can_set_the_response_format_of_its_template(tmp_path: Path) -> None:
    """One template compared with and without enforced structured output: the variant's
    response_format wins over the template's; json_schema needs the template's schema."""
    suite = tmp_path / "formats.yaml"
    suite.write_text(
        "tests: [{vars: {text: 'Ada, 36'}}]\n"
        "variants:\n"
        "  - {label: asked, template: structured-json-extraction, response_format: text}\n"
        "  - {label: enforced, template: structured-json-extraction,"
        " response_format: json_schema}\n",
        encoding="utf-8",
    )
    asked, enforced = load_suite(suite).spec.variants
    assert asked.template.response_format == "text"
    assert asked.template.response_format_request() is None
    assert enforced.template.response_format == "json_schema"
    assert enforced.template.output_schema == asked.template.output_schema is not None
    suite.write_text(
        "tests: [{vars: {x: '1'}}]\n"
        "variants: [{prompt: 'Say {{ x }}', response_format: json_schema}]\n",
        encoding="utf-8",
    )
    with pytest.raises(SuiteError, match="json_schema needs a template with an output_schema"):
        load_suite(suite)
    suite.write_text(suite.read_text(encoding="utf-8").replace("json_schema", "grammar"),
                     encoding="utf-8")
    with pytest.raises(SuiteError, match="grammar needs a template with a grammar"):
        load_suite(suite)
