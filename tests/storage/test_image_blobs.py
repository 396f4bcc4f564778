"""Images stored once per database: runs and variants name them by hash, reading gives the
whole image back, and a blob goes with the last run or variant that used it."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.images import encode
from tests.storage.factories import image_result, image_spec, make_result, make_spec, picture
from workbench.core.images import ImagePart
from workbench.storage.repositories import RunRef, Store
from workbench.storage.repositories.batch_jobs import NewBatchCell

PICTURE = picture()
OTHER = encode(32, 32)


@pytest.fixture
def store(workbench_home: Path) -> Iterator[Store]:
    with Store.open() as opened:
        yield opened


def blobs(store: Store) -> list[tuple[str, int]]:
    return store.db.connection().execute(
        "SELECT sha256, size FROM image_blobs ORDER BY sha256"
    ).fetchall()


def test_runs_with_one_image_store_its_bytes_once(store: Store) -> None:
    ids = [store.runs.add(image_result()) for _ in range(5)]
    assert blobs(store) == [(hashlib.sha256(PICTURE).hexdigest(), len(PICTURE))]
    stored_json = store.db.connection().execute("SELECT request_json FROM runs").fetchall()
    assert all(ImagePart.from_bytes(PICTURE).data not in row[0] for row in stored_json)
    for run_id in ids:  # history, restore and the exports read runs whole
        assert store.runs.get(run_id).result == image_result()


def test_many_runs_added_at_once_share_the_blob(store: Store) -> None:
    ids = store.runs.add_many([(image_result(), RunRef()), (image_result(OTHER), RunRef()),
                               (image_result(), RunRef())])
    assert len(blobs(store)) == 2
    assert store.runs.get(ids[1]).result == image_result(OTHER)


def test_a_blob_goes_with_the_last_run_using_it(store: Store) -> None:
    first, second = store.runs.add(image_result()), store.runs.add(image_result())
    plain = store.runs.add(make_result())
    store.runs.delete(first)
    assert len(blobs(store)) == 1
    assert store.runs.get(second).result == image_result()
    store.runs.delete(second)
    assert blobs(store) == []
    assert store.runs.get(plain).result == make_result()


def test_a_draft_runs_template_names_its_image_and_goes_with_the_run(store: Store) -> None:
    draft = image_spec().variants[0].template  # the same picture the run sent
    run_id = store.runs.add(image_result(), RunRef(template=draft))
    assert len(blobs(store)) == 1
    stored_json = store.db.connection().execute("SELECT template_json FROM runs").fetchone()[0]
    assert ImagePart.from_bytes(PICTURE).data not in stored_json
    assert store.runs.template_of(run_id) == draft
    store.runs.delete(run_id)
    assert blobs(store) == []


def test_a_variants_image_is_stored_once_and_read_back(store: Store) -> None:
    made = store.experiments.create(image_spec())
    store.runs.add(image_result(), RunRef(made.id, made.variant_ids[0]))
    assert len(blobs(store)) == 1  # the variant's template and its run share the picture
    assert store.experiments.get(made.id).spec == image_spec()


def test_changing_a_variants_image_drops_the_old_blob(store: Store) -> None:
    made = store.experiments.create(image_spec())
    store.experiments.update(made.id, image_spec(OTHER))
    assert blobs(store) == [(hashlib.sha256(OTHER).hexdigest(), len(OTHER))]
    assert store.experiments.get(made.id).spec == image_spec(OTHER)
    store.experiments.update(made.id, make_spec())
    assert blobs(store) == []


def test_deleting_an_experiment_drops_its_images_but_not_others(store: Store) -> None:
    made = store.experiments.create(image_spec())
    for _ in range(3):
        store.runs.add(image_result(), RunRef(made.id, made.variant_ids[0]))
    store.runs.add(image_result(OTHER), RunRef(made.id, made.variant_ids[1]))
    loose = store.runs.add(image_result(OTHER))
    store.experiments.delete(made.id)  # runs and variants go by cascade
    assert blobs(store) == [(hashlib.sha256(OTHER).hexdigest(), len(OTHER))]
    assert store.runs.get(loose).result == image_result(OTHER)


def test_a_prompt_that_mentions_sha256_is_no_reference(store: Store) -> None:
    result = make_result('Explain {"sha256": "abc"} please', "It is a hash.")
    assert store.runs.get(store.runs.add(result)).result == result


def test_a_batch_jobs_cells_name_their_image_once(store: Store) -> None:
    made = store.experiments.create(image_spec())
    sent = image_result().request
    cells = [NewBatchCell(f"v0.t0.r{i}", 0, (0, 0, i), sent) for i in range(4)]
    job = store.batches.create(made.id, backend_name="openai", provider="openai",
                               completion_window="24h", cells=cells)
    assert len(blobs(store)) == 1  # the variant, the four cells: one picture
    assert [c.sent for c in store.batches.cells(job)] == [sent] * 4
    store.batches.discard(job)
    assert len(blobs(store)) == 1  # the variant still shows it
    store.experiments.delete(made.id)
    assert blobs(store) == []
