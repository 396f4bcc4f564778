"""Batch jobs in the experiment database: a job, its parts and cells round-trip, answers land
once as runs of their cells, and a job read by a second store object (a restart) is whole."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.storage.factories import failed_result, make_request, make_result, make_spec
from workbench.storage.db import NotFoundError
from workbench.storage.repositories import RunRef, Store
from workbench.storage.repositories.batch_jobs import NewBatchCell


@pytest.fixture
def store(workbench_home: Path) -> Iterator[Store]:
    with Store.open() as opened:
        yield opened


def _job(store: Store) -> tuple[str, str]:
    experiment = store.experiments.create(make_spec())
    cells = [
        NewBatchCell("v0.t0.r0", 0, (0, 0, 0), make_request("France?")),
        NewBatchCell("v0.t1.r0", 0, (0, 1, 0), make_request("Italy?")),
        NewBatchCell("v1.t0.r0", 1, (1, 0, 0), make_request("Spain?", model="gpt-4o-mini")),
    ]
    job_id = store.batches.create(
        experiment.id, backend_name="openai", provider="openai", completion_window="24h",
        cells=cells,
    )
    return experiment.id, job_id


def test_a_job_round_trips_through_a_second_store(store: Store) -> None:
    experiment_id, job_id = _job(store)
    store.batches.submitted(job_id, 0, remote_id="batch_a", input_file_id="file_a",
                            extra={"region": "eu"})
    store.batches.polled(job_id, 0, state="in_progress", total=2, succeeded=1, failed=0)
    store.batches.set_status(job_id, "running")
    with Store.open(store.db.path) as again:
        job = again.batches.get(job_id[:8])
        cells = again.batches.cells(job_id)
    assert (job.id, job.experiment_id, job.provider, job.completion_window, job.status) == (
        job_id, experiment_id, "openai", "24h", "running")
    first, second = job.parts
    assert (first.remote_id, first.input_file_id, first.extra, first.state) == (
        "batch_a", "file_a", {"region": "eu"}, "in_progress")
    assert (first.total, first.succeeded, first.failed, first.fetched) == (2, 1, 0, False)
    assert (second.remote_id, second.state, second.submitted_at) == (None, "pending", None)
    assert job.remote_ids == ["batch_a"]
    assert job.models == ["SmolLM2-135M-Instruct", "gpt-4o-mini"]
    assert [(c.custom_id, c.part, c.key, c.outcome) for c in cells] == [
        ("v0.t0.r0", 0, (0, 0, 0), None),
        ("v0.t1.r0", 0, (0, 1, 0), None),
        ("v1.t0.r0", 1, (1, 0, 0), None),
    ]
    assert cells[1].sent == make_request("Italy?")
    assert [j.id for j in store.batches.jobs(unfinished=True)] == [job_id]
    store.batches.set_status(job_id, "ended")
    assert store.batches.jobs(unfinished=True) == []
    assert [j.id for j in store.batches.jobs(experiment_id=experiment_id)] == [job_id]


def test_an_answer_lands_once_and_the_rest_of_a_fetched_part_is_missing(store: Store) -> None:
    experiment_id, job_id = _job(store)
    experiment = store.experiments.get(experiment_id)
    ref = RunRef(experiment_id, experiment.variant_ids[0], experiment.test_ids[0])
    run_id = store.batches.land(job_id, "v0.t0.r0", make_result(), ref)
    assert run_id is not None
    assert store.batches.land(job_id, "v0.t0.r0", make_result(answer="again"), ref) is None
    assert store.batches.land(job_id, "nobody", make_result(), ref) is None
    failed = store.batches.land(job_id, "v1.t0.r0", failed_result(), RunRef(experiment_id))
    store.batches.fetched(job_id, 0)
    outcomes = {c.custom_id: (c.outcome, c.run_id) for c in store.batches.cells(job_id)}
    assert outcomes == {
        "v0.t0.r0": ("ok", run_id),
        "v0.t1.r0": ("missing", None),
        "v1.t0.r0": ("error", failed),
    }
    assert [r.result.text for r in store.runs.for_experiment(experiment_id)].count("Paris.") == 1
    assert store.batches.get(job_id).parts[0].fetched


def test_deleting_the_experiment_deletes_its_jobs(store: Store) -> None:
    experiment_id, job_id = _job(store)
    store.experiments.delete(experiment_id)
    with pytest.raises(NotFoundError):
        store.batches.get(job_id)
    with pytest.raises(NotFoundError):
        store.batches.create("missing", backend_name="x", provider="openai",
                             completion_window="24h", cells=[])


def test_one_part_is_one_model(store: Store) -> None:
    experiment = store.experiments.create(make_spec())
    cells = [
        NewBatchCell("a", 0, (0, 0, 0), make_request()),
        NewBatchCell("b", 0, (1, 0, 0), make_request(model="gpt-4o")),
    ]
    with pytest.raises(ValueError, match="mixes models"):
        store.batches.create(experiment.id, backend_name="openai", provider="openai",
                             completion_window="24h", cells=cells)
    assert store.batches.jobs() == []


def test_a_job_never_sent_can_be_discarded_but_not_one_at_the_provider(store: Store) -> None:
    _, job_id = _job(store)
    store.batches.submitted(job_id, 1, remote_id="batch_b")
    assert not store.batches.discard(job_id)
    _, unsent = _job(store)
    assert store.batches.discard(unsent)
    assert [j.id for j in store.batches.jobs()] == [job_id]


@pytest.mark.parametrize("mark", ["sending", "unknown"])
def test_a_job_whose_create_may_be_at_the_provider_is_not_discarded(
    store: Store, mark: str
) -> None:
    """A part marked before its create went out (and not unmarked after a clear refusal) may be
    a batch at the provider: forgetting it would free its cells to be paid for twice."""
    _, job_id = _job(store)
    assert store.batches.sending(job_id, 0)
    if mark == "unknown":
        store.batches.unconfirmed(job_id, 0, "check the console")
    assert not store.batches.discard(job_id)
    part = store.batches.get(job_id).parts[0]
    assert (part.state, part.remote_id) == (mark, None) and part.submitted_at
    store.batches.unsent(job_id, 0)  # a refusal: nothing was created
    assert store.batches.discard(job_id)
    assert store.batches.jobs() == []


def test_a_poll_keeps_how_the_batch_was_found(store: Store) -> None:
    _, job_id = _job(store)
    store.batches.submitted(job_id, 0, remote_id="b", message="found after a 502")
    store.batches.polled(job_id, 0, state="in_progress", total=2, succeeded=0, failed=0)
    assert store.batches.get(job_id).parts[0].message == "found after a 502"
    store.batches.polled(job_id, 0, state="failed", total=2, succeeded=0, failed=0,
                         message="token limit")
    assert store.batches.get(job_id).parts[0].message == "token limit"


def test_many_answers_land_in_chunks_each_once(store: Store) -> None:
    experiment_id, job_id = _job(store)
    ref = RunRef(experiment_id)
    store.batches.land(job_id, "v0.t1.r0", make_result(answer="first"), ref)
    items = [(cid, make_result(answer=cid), ref) for cid in ("v0.t0.r0", "v0.t1.r0", "v1.t0.r0")]
    assert store.batches.land_many(job_id, iter(items), chunk=2) == 2  # one had landed already
    texts = sorted(r.result.text for r in store.runs.for_experiment(experiment_id))
    assert texts == ["first", "v0.t0.r0", "v1.t0.r0"]
    assert store.batches.land_many(job_id, iter(items)) == 0


def test_a_part_is_claimed_for_sending_once(store: Store, tmp_path: Path) -> None:
    """The claim is one compare-and-set in the database: of two stores on the file (two
    processes), the first to claim a pending part sends it; the other gets False, as does
    any claim once the part has its batch or the job is cancelled. A resend claims an
    unknown part the same way."""
    _, job_id = _job(store)
    with Store.open(store.db.path) as other:
        assert store.batches.sending(job_id, 0)
        assert not other.batches.sending(job_id, 0)
        assert not store.batches.sending(job_id, 0)
        store.batches.submitted(job_id, 0, remote_id="batch_a")
        store.batches.unconfirmed(job_id, 0, "check the console")  # a late look elsewhere
        assert store.batches.get(job_id).parts[0].state == "validating"  # keeps its batch
        assert not other.batches.sending(job_id, 0, was="validating")

        assert other.batches.sending(job_id, 1)
        other.batches.unconfirmed(job_id, 1, "check the console")
        assert not store.batches.sending(job_id, 1)  # unknown: only a resend claims it
        assert store.batches.sending(job_id, 1, was="unknown")
        assert not other.batches.sending(job_id, 1, was="unknown")
        part = other.batches.get(job_id).parts[1]
        assert (part.state, part.message, part.remote_id) == ("sending", "", None)

    _, cancelled = _job(store)
    store.batches.set_status(cancelled, "cancelling")
    assert not store.batches.sending(cancelled, 0)
    store.batches.set_status(cancelled, "running", was="submitting")  # not what it is
    assert store.batches.get(cancelled).status == "cancelling"
