"""Repositories round-trip every stored type exactly; history paging; full-text search; the
writer thread."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from tests.storage.factories import (
    completion_result,
    failed_result,
    make_result,
    make_spec,
    make_template,
)
from workbench.core.errors import KnownError
from workbench.core.experiments import AssertionSpec, TestCase
from workbench.core.models import RunResult
from workbench.storage.db import NotFoundError, default_path
from workbench.storage.repositories import EvaluationRecord, RunRef, Store
from workbench.storage.writer import StoreWriter


@pytest.fixture
def store(workbench_home: Path) -> Iterator[Store]:
    with Store.open() as opened:
        yield opened


def test_store_lives_in_the_data_folder(store: Store, workbench_home: Path) -> None:
    assert store.db.path == default_path()
    assert store.db.path.is_relative_to(workbench_home)
    assert store.db.path.exists()


@pytest.mark.parametrize(
    "result",
    [
        make_result(),
        failed_result(),
        completion_result(),
        make_result(answer="", finish_reason="cancelled"),
    ],
    ids=["ok", "error", "completion", "cancelled"],
)
def test_run_round_trips_exactly(store: Store, result: RunResult) -> None:
    run_id = store.runs.add(result)
    stored = store.runs.get(run_id)
    assert stored.result == result
    assert stored.result.request.raw_prompt == result.request.raw_prompt
    assert (
        stored.status
        == {"stop": "ok", "error": "error", "length": "ok", "cancelled": "cancelled"}[
            result.finish_reason
        ]
    )


def test_run_keeps_its_experiment_cell(store: Store) -> None:
    experiment = store.experiments.create(make_spec())
    ref = RunRef(experiment.id, experiment.variant_ids[1], experiment.test_ids[0], 2)
    run_id = store.runs.add(make_result(), ref)
    assert store.runs.get(run_id).ref == ref
    assert store.runs.completed_cells(experiment.id) == {(ref.variant_id, ref.test_case_id, 2)}
    store.runs.add(
        failed_result(), RunRef(experiment.id, experiment.variant_ids[0], experiment.test_ids[1], 0)
    )
    assert len(store.runs.completed_cells(experiment.id)) == 1  # a failed run is redone on resume
    assert store.runs.for_experiment(experiment.id)[0].id == run_id


def test_run_for_a_missing_experiment_is_refused(store: Store) -> None:
    with pytest.raises(NotFoundError):
        store.runs.add(make_result(), RunRef(experiment_id="01NOSUCHEXPERIMENT00000000"))
    assert store.runs.count() == 0


def test_add_many_is_all_or_nothing(store: Store) -> None:
    good = (make_result(), RunRef())
    bad = (make_result(), RunRef(experiment_id="missing"))
    with pytest.raises(NotFoundError):
        store.runs.add_many([good, good, bad])
    assert store.runs.count() == 0
    assert len(store.runs.add_many([good, good])) == 2


def test_history_pages_newest_first(store: Store) -> None:
    ids = [store.runs.add(make_result(f"question {i}?", f"answer {i}")) for i in range(7)]
    first = store.runs.recent(3)
    assert [r.id for r in first] == ids[::-1][:3]
    second = store.runs.recent(3, before=first[-1].id)
    assert [r.id for r in second] == ids[::-1][3:6]
    summary = first[0]
    assert summary.preview == "question 6?"
    assert summary.response_preview == "answer 6"
    assert (summary.backend, summary.model, summary.status) == (
        "llamacpp",
        "SmolLM2-135M-Instruct",
        "ok",
    )
    assert (summary.input_tokens, summary.output_tokens, summary.total_s) == (31, 4, 0.42)
    store.runs.add(failed_result())
    assert [r.status for r in store.runs.recent(10, status="error")] == ["error"]


def test_full_text_search_over_prompts_and_outputs(store: Store) -> None:
    danube = store.runs.add(make_result("Which river flows through Vienna?", "The Dánube, mostly."))
    store.runs.add(make_result("What is 2+2?", "4"))
    louvre = store.runs.add(make_result("Where is the Louvre?", "In Paris (France)."))
    assert [r.id for r in store.runs.search("vienna")] == [danube]  # prompt text
    assert [r.id for r in store.runs.search("danube")] == [danube]  # output, accents folded
    assert [r.id for r in store.runs.search("paris")] == [louvre]
    hit = store.runs.search("Louvre")[0]
    assert hit.snippet is not None and "[Louvre]" in hit.snippet
    assert store.runs.search("river paris") == []  # every word must match
    # What a person types is text, not query syntax.
    assert [r.id for r in store.runs.search('"Paris (France)." AND')] == []
    assert [r.id for r in store.runs.search("(France).")] == [louvre]
    assert [r.id for r in store.runs.search("louvre OR vienna", raw=True)] == [louvre, danube]
    with pytest.raises(KnownError, match="invalid search"):
        store.runs.search('"unbalanced', raw=True)
    with pytest.raises(KnownError, match="empty"):
        store.runs.search("   ")


def test_search_forgets_deleted_runs(store: Store) -> None:
    run_id = store.runs.add(make_result("Name a fjord", "Geirangerfjord"))
    assert store.runs.search("geirangerfjord")
    store.runs.delete(run_id)
    assert store.runs.search("geirangerfjord") == []
    with pytest.raises(NotFoundError):
        store.runs.get(run_id)


def test_experiment_round_trips_and_keeps_cell_ids_on_edit(store: Store) -> None:
    spec = make_spec()
    created = store.experiments.create(spec)
    assert created.spec == spec
    assert len(created.variant_ids) == 2 and len(created.test_ids) == 2
    edited = spec.model_copy(
        update={
            "name": "Capitals v2",
            "variants": [spec.variants[0].model_copy(update={"label": "terse!"})],
            "tests": [*spec.tests, TestCase(vars={"country": "Peru"})],
        }
    )
    updated = store.experiments.update(created.id, edited)
    assert updated.spec == edited
    assert updated.variant_ids == created.variant_ids[:1]
    assert updated.test_ids[:2] == created.test_ids
    more = store.experiments.add_tests(created.id, [TestCase(vars={"country": "Chad"})])
    assert store.experiments.get(created.id).test_ids[-1] == more[0]
    [summary] = store.experiments.summaries()
    assert (summary.name, summary.variants, summary.tests, summary.runs) == ("Capitals v2", 1, 4, 0)


def test_deleting_an_experiment_deletes_its_runs(store: Store) -> None:
    experiment = store.experiments.create(make_spec())
    run_id = store.runs.add(make_result(), RunRef(experiment.id, experiment.variant_ids[0]))
    loose = store.runs.add(make_result())
    store.experiments.delete(experiment.id)
    assert store.runs.count() == 1
    assert store.runs.get(loose).id == loose
    with pytest.raises(NotFoundError):
        store.runs.get(run_id)
    with pytest.raises(NotFoundError):
        store.experiments.get(experiment.id)


def test_ratings_merge_and_validate(store: Store) -> None:
    run_id = store.runs.add(make_result())
    store.ratings.rate(run_id, thumbs=-1)
    rating = store.ratings.rate(run_id, stars=5, comment="actually great")
    assert (rating.thumbs, rating.stars, rating.comment) == (-1, 5, "actually great")
    assert store.ratings.get(run_id) == rating
    with pytest.raises(KnownError):
        store.ratings.rate(run_id, stars=6)
    with pytest.raises(KnownError):
        store.ratings.rate(run_id, thumbs=0)
    with pytest.raises(NotFoundError):
        store.ratings.rate("nope", thumbs=1)
    store.ratings.clear(run_id)
    assert store.ratings.get(run_id) is None


def test_preferences_give_chosen_and_rejected_pairs(store: Store) -> None:
    experiment = store.experiments.create(make_spec())
    a = store.runs.add(make_result(answer="Paris."), RunRef(experiment.id))
    b = store.runs.add(make_result(answer="Lyon."), RunRef(experiment.id))
    c = store.runs.add(make_result(answer="Marseille?"))
    store.ratings.prefer(a, b, "a", "correct")
    store.ratings.prefer(c, a, "b")
    store.ratings.prefer(b, c, "tie")
    assert [p.choice for p in store.ratings.preferences()] == ["a", "b", "tie"]
    assert [p.run_a for p in store.ratings.preferences(experiment.id)] == [a, b]
    pairs = [
        (chosen.result.text, rejected.result.text)
        for chosen, rejected in store.ratings.preference_pairs()
    ]
    assert pairs == [("Paris.", "Lyon."), ("Paris.", "Marseille?")]
    with pytest.raises(KnownError):
        store.ratings.prefer(a, a, "a")
    with pytest.raises(KnownError):
        store.ratings.prefer(a, b, "maybe")  # type: ignore[arg-type]
    with pytest.raises(NotFoundError):
        store.ratings.prefer(a, "missing", "a")


def test_evaluations_round_trip_and_replace(store: Store) -> None:
    run_id = store.runs.add(make_result())
    other = store.runs.add(failed_result())
    results = [
        EvaluationRecord(AssertionSpec(type="icontains", value="paris"), "pass", 1.0, "found"),
        EvaluationRecord(
            AssertionSpec(type="similar", value="Paris", threshold=0.9, negate=True),
            "fail",
            0.42,
            "too similar",
        ),
        EvaluationRecord(
            AssertionSpec(type="llm-rubric", value={"rubric": "polite"}),
            "error",
            None,
            "grader timed out",
        ),
    ]
    store.evaluations.record(run_id, results)
    store.evaluations.record(other, results[2:])
    assert store.evaluations.for_run(run_id) == results
    store.evaluations.record(run_id, results[:1])
    assert store.evaluations.for_run(run_id) == results[:1]
    assert store.evaluations.for_runs([run_id, other, "none"]) == {
        run_id: results[:1],
        other: results[2:],
    }
    with pytest.raises(NotFoundError):
        store.evaluations.record("missing", results)


def test_evaluations_of_many_runs_replace_in_one_call(store: Store) -> None:
    """What an evaluation's batch writes: each run's results replaced, all or none."""
    first, second = store.runs.add(make_result()), store.runs.add(make_result())
    contains = AssertionSpec(type="contains", value="Paris")
    old = [EvaluationRecord(AssertionSpec(type="regex", value="x"), "fail", 0.0, "old")]
    store.evaluations.record(first, old)
    new = [
        EvaluationRecord(contains, "pass", 1.0, "found"),
        EvaluationRecord(contains, "fail", 0.0, "shared spec, serialised once"),
    ]
    store.evaluations.record_many([(first, new), (second, new[:1]), (second, new[1:])])
    assert store.evaluations.for_runs([first, second]) == {first: new, second: new[1:]}
    with pytest.raises(NotFoundError):
        store.evaluations.record_many([(first, old), ("missing", old)])
    assert store.evaluations.for_run(first) == new  # the failed batch changed nothing
    store.evaluations.record_many([])


def test_each_thread_gets_its_own_connection(store: Store) -> None:
    connections = {}

    def grab(name: str) -> None:
        connections[name] = store.db.connection()
        store.runs.add(make_result(f"from {name}"))
        store.db.release()

    threads = [threading.Thread(target=grab, args=(f"t{i}",)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert len({id(c) for c in connections.values()}) == 3
    assert store.runs.count() == 3


def test_writer_thread_commits_in_order(store: Store) -> None:
    reader_thread = threading.get_ident()
    seen_threads: set[int] = set()
    with StoreWriter(store) as writer:
        futures = [writer.add_run(make_result(f"q{i}", f"a{i}")) for i in range(20)]
        ids = [f.result(timeout=30) for f in futures]
        seen_threads.add(writer.submit(lambda s: threading.get_ident()).result(timeout=30))
        failing = writer.submit(lambda s: s.ratings.rate("missing", thumbs=1))
        with pytest.raises(NotFoundError):
            failing.result(timeout=30)
        # The writer survives a failed job.
        assert writer.submit(lambda s: s.runs.count()).result(timeout=30) == 20
    assert reader_thread not in seen_threads
    assert ids == sorted(ids)
    assert [r.id for r in store.runs.recent(20)] == ids[::-1]
    with pytest.raises(RuntimeError, match="closed"):
        writer.submit(lambda s: None)


def test_a_run_remembers_its_template_version_and_values(tmp_path: Path) -> None:
    with Store.open(tmp_path / "origin.db") as store:
        ref = RunRef(
            template_key="support/triage", template_version=7, variables={"ticket": "ü\n{{x}}"}
        )
        run_id = store.runs.add(make_result("q", "a"), ref)
        stored = store.runs.get(run_id)
    assert stored.ref == ref


def test_a_draft_runs_template_comes_back_and_joins_the_template_it_is_saved_as(
    store: Store,
) -> None:
    draft = make_template("Untitled")
    ref = RunRef(variables={"ticket": "Printer {{ on }} fire"}, template=draft,
                 template_file="/home/ana/prompts/triage.prompt.yaml")
    run_id = store.runs.add(make_result("q", "a"), ref)
    versioned = store.runs.add(make_result("q", "a"), RunRef(template_key="other",
                                                             template_version=2))
    assert store.runs.get(run_id).ref == ref
    assert store.runs.template_of(run_id) == draft
    assert store.runs.template_of(versioned) is None  # the library holds it
    store.runs.attach([run_id, versioned, "gone"], "summarize-ticket")
    assert store.runs.get(run_id).ref == replace(ref, template_key="summarize-ticket")
    same = store.runs.add(make_result("q", "a"), RunRef(template=draft))
    store.runs.attach([same], "summarize-ticket", 1)  # it ran just what v1 saved
    assert store.runs.get(same).ref.template_version == 1
    assert store.runs.get(versioned).ref.template_key == "other"  # never moved
    assert [s.template_key for s in store.runs.recent()] == [
        "summarize-ticket", "other", "summarize-ticket"]
    assert store.runs.recent()[-1].variables == {"ticket": "Printer {{ on }} fire"}


def test_a_cells_template_is_its_variants(store: Store) -> None:
    spec = make_spec()
    stored = store.experiments.create(spec)
    run_id = store.runs.add(make_result(), RunRef.of_cell(
        spec.variants[1], {}, experiment_id=stored.id, variant_id=stored.variant_ids[1]))
    assert store.runs.template_of(run_id) == spec.variants[1].template
    assert store.runs.get(run_id).ref.template is None  # kept once, with the variant


def test_history_rows_name_the_configured_backend(store: Store) -> None:
    named = make_result()
    named.request = named.request.model_copy(
        update={"backend": "openai_compat", "backend_name": "down"}
    )
    older = make_result()  # saved before runs kept the configured name
    store.runs.add(older)
    store.runs.add(named)
    newest, oldest = store.runs.recent(2)
    assert (newest.backend, newest.backend_name) == ("openai_compat", "down")
    assert oldest.backend_name is None
    hit = store.runs.search(named.text.split()[0])[0]
    assert hit.backend_name == "down" and hit.snippet  # the search rows keep their snippet


def test_history_filters_by_source_template_backend_and_rating(store: Store) -> None:
    """Runs keep where they came from (their experiment's kind, else by hand) and history narrows
    to one source, template, configured backend or rating, in the search too."""
    from workbench.storage.repositories.runs import RunFilter

    spec = make_spec()
    compare = store.experiments.create(spec.model_copy(update={"tests": []}), "compare")
    sweep = store.experiments.create(spec.model_copy(update={"tests": []}), "sweep")
    evaluation = store.experiments.create(spec)  # with test cases: an evaluation
    assert [s.kind for s in store.experiments.summaries()] == ["eval", "sweep", "compare"]
    named = make_result("Which river?", "The Danube.")
    named.request = named.request.model_copy(update={"backend_name": "box"})
    hand = store.runs.add(named, RunRef(template_key="geo/rivers", template_version=2))
    in_compare = store.runs.add(make_result(), RunRef(compare.id, compare.variant_ids[0]))
    in_sweep = store.runs.add(make_result(), RunRef(sweep.id, sweep.variant_ids[1]))
    in_eval = store.runs.add(
        make_result(), RunRef(evaluation.id, evaluation.variant_ids[0], evaluation.test_ids[0])
    )
    store.ratings.rate(in_compare, thumbs=1, stars=4)
    store.ratings.rate(in_sweep, thumbs=-1)

    def found(**where: object) -> list[str]:
        return [r.id for r in store.runs.recent(10, where=RunFilter(**where))]  # type: ignore[arg-type]

    assert found(source="hand") == [hand]
    assert found(source="compare") == [in_compare]
    assert found(source="sweep") == [in_sweep]
    assert found(source="eval") == [in_eval]
    assert found(template_key="geo/rivers") == [hand]
    assert found(backend="box") == [hand]
    assert found(backend="llamacpp") == [in_eval, in_sweep, in_compare]
    assert found(rating="rated") == [in_sweep, in_compare]
    assert found(rating="up") == [in_compare]
    assert found(rating="down") == [in_sweep]
    assert found(rating="unrated") == [in_eval, hand]
    assert found(rating="rated", source="compare") == [in_compare]
    assert store.runs.choices() == (["geo/rivers"], ["box", "llamacpp"])
    rows = {r.id: r for r in store.runs.recent(10)}
    assert (rows[in_compare].thumbs, rows[in_compare].stars) == (1, 4)
    assert rows[hand].params == {"temperature": 0.7, "max_tokens": 64, "stop": ["\n\n"]}
    assert rows[hand].source == "hand" and rows[in_eval].source == "eval"
    hits = store.runs.search("Danube", where=RunFilter(source="hand"))
    assert [h.id for h in hits] == [hand]
    assert store.runs.search("Danube", where=RunFilter(source="eval")) == []


def test_a_runs_tool_calls_and_tools_are_stored(store: Store) -> None:
    from workbench.core.tools import Tool, ToolCall

    calls = [ToolCall(id="call_0", name="get_weather", arguments='{"city": "Pa'),  # cut off
             ToolCall(id="call_1", name="get_time")]
    request = make_result().request.model_copy(
        update={"tools": [Tool(name="get_weather"), Tool(name="get_time")],
                "tool_choice": "required"})
    result = make_result(answer="").model_copy(
        update={"finish_reason": "tool_calls", "tool_calls": calls, "request": request})
    stored = store.runs.get(store.runs.add(result)).result
    assert stored.tool_calls == calls and stored.request.tools == request.tools
    assert stored.request.tool_choice == "required"
    assert store.runs.get(store.runs.add(make_result())).result.tool_calls == []
