"""The grid runner: every cell committed with its cell reference, per-backend concurrency,
progress with time left, cancelling one cell or all, resume, and the estimate against reality."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from workbench.backends.base import Cancelled, Failed, Finished, Started, StreamEvent
from workbench.backends.config import BackendConfig
from workbench.core.experiments import ExperimentSpec, TestCase, Variant
from workbench.core.grid import (
    DEFAULT_MAX_TOKENS,
    CellKey,
    SweepSpec,
    TableCounter,
    TemplateChoice,
    estimate,
)
from workbench.core.models import Message, Params, PromptTemplate
from workbench.services.comparison import open_comparison, save_comparison, saved_or_new
from workbench.services.grid_runner import GridRunner, Progress, completed_keys, plan
from workbench.services.runner import Runner, build_request
from workbench.storage.repositories import Store
from workbench.storage.writer import StoreWriter

TEMPLATE = PromptTemplate(
    name="capital",
    messages=[
        Message(role="system", content="Answer with the city only."),
        Message(role="user", content="What is the capital of {{ country }}?"),
    ],
)
COUNTRIES = [TestCase(vars={"country": c}) for c in ("France", "Peru", "Japan")]
WAIT_S = 30  # generous upper bound for conditions; the tests never sleep


def scripted(name: str, *steps: dict[str, object], concurrency: int = 1) -> BackendConfig:
    return BackendConfig(
        name=name, backend="scripted", options={"script": list(steps), "concurrency": concurrency}
    )


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store.open(tmp_path / "runs.db") as store:
        yield store


def spec(*backends: str, repeats: int = 1, tests: list[TestCase] = COUNTRIES) -> ExperimentSpec:
    return ExperimentSpec(
        name="capitals",
        variants=[Variant(label=b, template=TEMPLATE, backend=b) for b in backends],
        tests=tests,
        repeats=repeats,
    )


def test_every_cell_is_committed_with_its_cell_reference(store: Store) -> None:
    configs = {"demo": scripted("demo", {"text": "Paris"}, concurrency=3)}
    stored = save_comparison(store, spec("demo", "demo", repeats=2))
    progress: list[Progress] = []
    with StoreWriter(store) as writer:
        runner = Runner(writer=writer, configs=configs)
        report = GridRunner(runner, store).run(stored, on_progress=progress.append)
        runner.close()
    assert report.counts == {"ok": 12, "error": 0, "cancelled": 0} and not report.skipped
    assert [p.done for p in progress] == list(range(1, 13))
    assert all(p.total == 12 for p in progress)
    assert progress[-1].eta_s == 0.0 and all(p.eta_s is not None for p in progress)
    runs = store.runs.for_experiment(stored.id)
    cells = Counter((r.ref.variant_id, r.ref.test_case_id, r.ref.repeat_index) for r in runs)
    assert len(cells) == 12 and set(cells.values()) == {1}
    # Reopened: every cell holds its run, with the variables it ran with.
    comparison = open_comparison(store, stored.id)
    assert comparison.complete
    run = comparison.latest(CellKey(1, 2, 1))
    assert run is not None and run.result.text == "Paris"
    assert run.ref.variables == {"country": "Japan"}
    assert "Japan" in run.result.request.messages[1].content
    assert comparison.outputs(0, 1) == ["Paris", "Paris"]
    assert comparison.stability(0, 1).agreement == 1.0


def _tracking(
    counts: dict[str, int],
    peaks: dict[str, int],
    lock: threading.Lock,
    started: threading.Condition,
):
    """An event sink that counts requests in flight per backend (Started .. terminal)."""

    def on_event(key: CellKey, event: StreamEvent, backend: str) -> None:
        with lock:
            if isinstance(event, Started):
                counts[backend] += 1
                peaks[backend] = max(peaks[backend], counts[backend])
            elif isinstance(event, (Finished, Failed, Cancelled)):
                counts[backend] -= 1
        with started:
            started.notify_all()

    return on_event


def test_each_backend_runs_up_to_its_own_concurrency_and_cancel_all_stops_them(
    store: Store,
) -> None:
    configs = {
        "local": scripted("local", {"text": "x"}, {"hang": True}, concurrency=1),
        "remote": scripted("remote", {"text": "x"}, {"hang": True}, concurrency=4),
    }
    experiment = save_comparison(store, spec("local", "remote", "remote", repeats=2))
    backend_of = {i: v.backend for i, v in enumerate(experiment.spec.variants)}
    counts: Counter[str] = Counter()
    peaks: Counter[str] = Counter()
    lock = threading.Lock()
    changed = threading.Condition()
    sink = _tracking(counts, peaks, lock, changed)
    with StoreWriter(store) as writer:
        runner = Runner(writer=writer, configs=configs)
        handle = GridRunner(runner, store).start(
            experiment, on_event=lambda key, event: sink(key, event, backend_of[key.variant])
        )
        with changed:
            assert changed.wait_for(
                lambda: counts["remote"] == 4 and counts["local"] == 1, timeout=WAIT_S
            )
        # Every slot is taken by a hanging run: nothing else may have started.
        assert peaks == {"remote": 4, "local": 1}
        handle.cancel_all()
        report = handle.wait(WAIT_S)
        runner.close()
    assert report.cancelled and report.counts == {"ok": 0, "error": 0, "cancelled": 18}
    # The 5 runs that had started are stored as cancelled, and so are cells that were already
    # waiting for a slot (the lanes' spare threads: 1 + 1); queued cells leave nothing behind.
    statuses = Counter(r.status for r in store.runs.for_experiment(experiment.id))
    assert set(statuses) == {"cancelled"} and 5 <= statuses["cancelled"] <= 7
    assert completed_keys(store, experiment) == set()


def test_cancel_one_cell_running_or_queued(store: Store) -> None:
    configs = {"one": scripted("one", {"text": "x"}, {"hang": True}, concurrency=1)}
    experiment = save_comparison(store, spec("one", tests=COUNTRIES))
    keys = [CellKey(0, t, 0) for t in range(3)]
    started: list[CellKey] = []
    changed = threading.Condition()

    def on_event(key: CellKey, event: StreamEvent) -> None:
        if isinstance(event, Started):
            with changed:
                started.append(key)
                changed.notify_all()

    with StoreWriter(store) as writer:
        runner = Runner(writer=writer, configs=configs)
        handle = GridRunner(runner, store).start(experiment, on_event=on_event)
        with changed:
            assert changed.wait_for(lambda: started == [keys[0]], timeout=WAIT_S)
        handle.cancel(keys[2])  # queued: it must never start
        handle.cancel(keys[0])  # running: it stops, then the next one starts
        with changed:
            assert changed.wait_for(lambda: len(started) == 2, timeout=WAIT_S)
        handle.cancel(keys[1])
        report = handle.wait(WAIT_S)
        runner.close()
    assert started == keys[:2]
    outcomes = report.by_key()
    assert {o.status for o in outcomes.values()} == {"cancelled"}
    assert outcomes[keys[0]].run_id is not None and outcomes[keys[2]].run_id is None
    assert not report.cancelled


def test_a_resumed_sweep_runs_only_the_cells_that_did_not_finish(store: Store) -> None:
    broken = {
        "good": scripted("good", {"text": "Lima"}, concurrency=2),
        "flaky": scripted("flaky", {"error": "server down", "error_kind": "ServerError"}),
    }
    experiment = save_comparison(store, spec("good", "flaky"))
    with StoreWriter(store) as writer:
        runner = Runner(writer=writer, configs=broken)
        first = GridRunner(runner, store).run(experiment)
        runner.close()
    assert first.counts == {"ok": 3, "error": 3, "cancelled": 0}
    assert all("server down" in (o.error or "") for o in first.outcomes if o.status == "error")
    done_before = {r.id for r in store.runs.for_experiment(experiment.id) if r.status == "ok"}

    fixed = {**broken, "flaky": scripted("flaky", {"text": "Tokyo"})}
    with StoreWriter(store) as writer:
        runner = Runner(writer=writer, configs=fixed)
        grid = GridRunner(runner, store)
        assert grid.estimate(experiment).calls == 3
        second = grid.run(experiment)
        runner.close()
    assert sorted(second.skipped) == [CellKey(0, t, 0) for t in range(3)]
    assert sorted(o.key for o in second.outcomes) == [CellKey(1, t, 0) for t in range(3)]
    assert second.counts["ok"] == 3
    runs = store.runs.for_experiment(experiment.id)
    ok = Counter((r.ref.variant_id, r.ref.test_case_id) for r in runs if r.status == "ok")
    assert len(ok) == 6 and set(ok.values()) == {1}
    assert done_before <= {r.id for r in runs}  # the finished runs are the same rows
    assert open_comparison(store, experiment.id).complete


def test_a_saved_sweep_is_found_again_by_its_contents(store: Store) -> None:
    sweep = SweepSpec(
        name="temps",
        base=Variant(template=TEMPLATE, backend="demo", params=Params(max_tokens=4)),
        parameters={"temperature": [0.0, 0.7]},
        variable_sets=COUNTRIES[:2],
    )
    first, created = saved_or_new(store, sweep.to_experiment())
    again, created_again = saved_or_new(store, sweep.to_experiment())
    assert created and not created_again and again.id == first.id
    changed = sweep.model_copy(update={"repeats": 2})
    other, created_other = saved_or_new(store, changed.to_experiment())
    assert created_other and other.id != first.id


def test_sweep_runs_record_the_library_version_they_ran(store: Store) -> None:
    """A sweep's runs (base or template axis) carry the template's library key and version
    number, and the saved sweep keeps them: restoring a run reopens its version."""
    configs = {"demo": scripted("demo", {"text": "Paris"}, concurrency=2)}
    v1 = TEMPLATE.model_copy(update={"name": "capital (first)"})
    sweep = SweepSpec(
        name="versions",
        base=Variant(template=TEMPLATE, template_key="geo/capital", template_version=2,
                     backend="demo"),
        templates=[
            TemplateChoice(template=v1, key="geo/capital", version=1),
            TemplateChoice(template=TEMPLATE, key="geo/capital", version=2),
        ],
        parameters={"seed": [1, 2]},
        variable_sets=COUNTRIES[:1],
    )
    stored = save_comparison(store, sweep.to_experiment())
    assert [(v.template_key, v.template_version) for v in store.experiments.get(
        stored.id).spec.variants] == [("geo/capital", 1)] * 2 + [("geo/capital", 2)] * 2
    with StoreWriter(store) as writer:
        runner = Runner(writer=writer, configs=configs)
        GridRunner(runner, store).run(stored)
        runner.close()
    runs = store.runs.for_experiment(stored.id)
    assert sorted((r.ref.template_key, r.ref.template_version) for r in runs) == [
        ("geo/capital", 1), ("geo/capital", 1), ("geo/capital", 2), ("geo/capital", 2)
    ]
    # The base alone (no template axis) records its own version too.
    alone = save_comparison(store, sweep.model_copy(update={"templates": []}).to_experiment())
    with StoreWriter(store) as writer:
        runner = Runner(writer=writer, configs=configs)
        GridRunner(runner, store).run(alone)
        runner.close()
    assert {(r.ref.template_key, r.ref.template_version)
            for r in store.runs.for_experiment(alone.id)} == {("geo/capital", 2)}


def test_a_cell_that_cannot_render_is_an_error_without_a_call(store: Store) -> None:
    configs = {"demo": scripted("demo", {"text": "ok"})}
    experiment = save_comparison(
        store, spec("demo", tests=[COUNTRIES[0], TestCase(vars={"city": "Lima"})])
    )
    with StoreWriter(store) as writer:
        runner = Runner(writer=writer, configs=configs)
        report = GridRunner(runner, store).run(experiment)
        backend = runner.backend("demo")
        runner.close()
    bad = report.by_key()[CellKey(0, 1, 0)]
    assert bad.status == "error" and "country" in (bad.error or "") and bad.run_id is None
    assert len(backend.requests) == 1  # type: ignore[attr-defined]


@pytest.mark.slow
def test_a_3x3_sweep_on_the_embedded_model_matches_its_estimate(store: Store) -> None:
    """Calls exactly; input tokens exactly with the backend's own count (chat template and
    tokenizer), and within 2 tokens per message with the generic count (the model's tokenizer,
    OpenAI's per-message overhead instead of ChatML's)."""
    from workbench.backends.local_models import EMBEDDED_ID

    sweep = SweepSpec(
        name="3x3",
        base=Variant(
            template=TEMPLATE,
            backend="llamacpp",
            model=EMBEDDED_ID,
            params=Params(max_tokens=3, seed=1),
        ),
        parameters={"temperature": [0.0, 0.7, 1.2]},
        variable_sets=COUNTRIES,
    )
    experiment = save_comparison(store, sweep.to_experiment())
    with StoreWriter(store) as writer:
        runner = Runner(writer=writer)
        grid = GridRunner(runner, store)
        est = grid.estimate(experiment)
        generic = estimate(plan(experiment.spec), TableCounter())
        report = grid.run(experiment)
        runner.close()
    runs = store.runs.for_experiment(experiment.id)
    assert report.counts["ok"] == 9
    assert est.calls == generic.calls == len(runs) == 9
    real_input = sum(r.result.usage.input_tokens or 0 for r in runs)
    real_output = sum(r.result.usage.output_tokens or 0 for r in runs)
    assert est.input_exact and est.input_tokens == real_input
    assert abs(generic.input_tokens - real_input) <= 2 * 2 * 9  # 2 messages per call
    assert est.output_tokens == 9 * 3 >= real_output  # max_tokens is an upper bound
    assert est.overflowing == [] and est.cells[0].context_window is not None
    assert est.costs == {"USD": 0.0} and est.unpriced_calls == 0  # a local model is free
    assert "cost:           free (the models run on this computer)" in est.lines()
    assert generic.unpriced_calls == 9  # the model table alone does not know it
    assert sum(r.result.cost or 0.0 for r in runs) == 0.0 and all(r.result.cost == 0 for r in runs)


def test_an_unset_max_tokens_is_budgeted_at_what_the_backend_sends(store: Store) -> None:
    """The embedded model answers up to its backend's default_max_tokens (1,024) when a run sets
    none: the estimate budgets that, not the generic 512 (a first-time user saw "assumed 512"
    beside runs whose record said max 1024); a backend that sends no limit keeps 512."""
    from workbench.backends.local_models import EMBEDDED_ID

    local = Variant(template=TEMPLATE, backend="llamacpp", model=EMBEDDED_ID)
    remote = Variant(template=TEMPLATE, backend="demo", model="demo")
    experiment = save_comparison(store, ExperimentSpec(name="limits", variants=[local, remote],
                                                       tests=COUNTRIES[:1]))
    runner = Runner(configs={"demo": scripted("demo", {"text": "ok"})})
    try:
        est = GridRunner(runner, store).estimate(experiment)
    finally:
        runner.close()
    assert [c.output_tokens for c in est.cells] == [1024, DEFAULT_MAX_TOKENS]
    assert est.output_tokens == 1024 + DEFAULT_MAX_TOKENS and est.assumed_output_calls == 2
    assert "2 calls set no max_tokens, assumed 512, 1,024 (the backend's own limit" in (
        est.lines()[2])


def test_the_estimate_names_cells_it_cannot_count(store: Store) -> None:
    experiment = save_comparison(store, spec("demo", "no-such-backend", tests=COUNTRIES[:1]))
    runner = Runner(configs={"demo": scripted("demo", {"text": "ok"})})
    est = GridRunner(runner, store).estimate(experiment)
    runner.close()
    assert est.calls == 2 and [str(c.key) for c in est.unrenderable] == ["v1.t0.r0"]
    assert "cannot count the prompt: no backend 'no-such-backend'" in (
        est.unrenderable[0].error or ""
    )
    assert est.input_tokens > 0  # the other cell is counted


def test_a_variants_parameters_refine_the_templates_own() -> None:
    template = TEMPLATE.model_copy(
        update={"parameters": Params(max_tokens=12, stop=["\n"], temperature=0.1)}
    )
    spec = ExperimentSpec(
        name="p",
        variants=[Variant(template=template, params=Params(temperature=0.9), backend="scripted")],
        tests=COUNTRIES[:1],
    )
    (cell,) = plan(spec)
    assert cell.request is not None
    assert cell.request.params == Params(max_tokens=12, stop=["\n"], temperature=0.9)


def test_planning_renders_a_shared_template_once_per_test_case_yet_each_cell_is_its_own() -> None:
    """A sweep's variants share a template: planning reuses its rendering, and every request is
    what building it alone gives — the variant's own backend, model and parameters."""
    other = TEMPLATE.model_copy(
        update={"messages": [Message(role="user", content="Where is {{ country }}?")]}
    )
    broken = TEMPLATE.model_copy(
        update={"messages": [Message(role="user", content="{{ country | nosuchfilter }}")]}
    )
    variants = [
        Variant(label="a", template=TEMPLATE, backend="x", params=Params(temperature=0.1)),
        Variant(label="b", template=TEMPLATE, backend="y", model="m", params=Params(top_p=0.5)),
        Variant(label="c", template=other, backend="x"),
        Variant(label="d", template=broken, backend="x"),
    ]
    spec = ExperimentSpec(name="s", variants=variants, tests=COUNTRIES)
    cells = plan(spec)
    assert len(cells) == 12
    for item in cells:
        v = variants[item.cell.key.variant]
        if v.label == "d":
            assert item.request is None and item.error and "nosuchfilter" in item.error
            continue
        alone = build_request(
            v.template,
            item.cell.values,
            backend=v.backend,
            model=v.model,
            params=v.template.parameters.merged(v.params),
        )
        assert item.request == alone
    by_key = {c.cell.key: c.request for c in cells}
    a, b = by_key[CellKey(0, 0, 0)], by_key[CellKey(1, 0, 0)]
    assert a is not None and b is not None and a.messages is not b.messages


def test_the_estimate_says_a_model_ignores_what_its_backend_carries(store: Store) -> None:
    """A reasoning effort swept over a model that does not reason sends the same request: the
    backend's API takes the field, the model does not (it was checked per backend only)."""
    def effort(model: str, level: str) -> Variant:
        return Variant(template=TEMPLATE, backend="cloud", model=model,
                       params=Params(reasoning_effort=level))  # type: ignore[arg-type]

    experiment = save_comparison(store, ExperimentSpec(name="effort", variants=[
        effort("gpt-4o", "low"), effort("gpt-4o", "high"),
        effort("o3-mini", "low"), effort("o3-mini", "high")], tests=COUNTRIES[:1]))
    options = {"base_url": "http://127.0.0.1:9/v1", "default_model": "gpt-4o"}
    runner = Runner(configs={"cloud": BackendConfig(name="cloud", backend="openai_compat",
                                                    options=options)})
    try:
        est = GridRunner(runner, store).estimate(experiment)
    finally:
        runner.close()
    (effort_found,) = est.effects.no_effect
    assert effort_found.name == "reasoning_effort" and effort_found.where == (0, 1)
    assert effort_found.reasons == ("cloud · gpt-4o ignores reasoning_effort",)
    assert est.effects.same_requests == ((0, 1),)  # o3-mini's two efforts differ
