"""Group commit: runs that finish together share a transaction; each is durable before its
future resolves, and one bad run does not lose the others."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from workbench.core.models import RunResult, SentRequest
from workbench.services.group_commit import GroupCommitWriter
from workbench.storage.db import NotFoundError
from workbench.storage.repositories import RunRef, Store

RESULT = RunResult(request=SentRequest(backend="b", model="m"), text="Lima", finish_reason="stop")


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store.open(tmp_path / "runs.db") as store:
        yield store


def test_runs_queued_together_are_stored_in_one_transaction(store: Store) -> None:
    gate = threading.Event()
    with GroupCommitWriter(store) as writer:
        blocked = writer.submit(lambda s: gate.wait(30))  # hold the writer thread
        futures = [writer.add_run(RESULT, RunRef(repeat_index=i)) for i in range(50)]
        assert not any(f.done() for f in futures)
        gate.set()
        ids = [f.result(30) for f in futures]
        assert blocked.result(30) is True
    assert len(set(ids)) == 50
    stored = [store.runs.get(i) for i in ids]
    assert [r.ref.repeat_index for r in stored] == list(range(50))
    # One transaction: every row has the same commit time stamp.
    assert len({r.created_at for r in stored}) == 1


def test_a_bad_run_fails_alone(store: Store) -> None:
    gate = threading.Event()
    with GroupCommitWriter(store) as writer:
        writer.submit(lambda s: gate.wait(30))
        good = writer.add_run(RESULT, RunRef(repeat_index=1))
        bad = writer.add_run(RESULT, RunRef(experiment_id="no-such-experiment"))
        also_good = writer.add_run(RESULT, RunRef(repeat_index=2))
        gate.set()
        assert store.runs.get(good.result(30)).ref.repeat_index == 1
        assert store.runs.get(also_good.result(30)).ref.repeat_index == 2
        with pytest.raises(NotFoundError):
            bad.result(30)
    assert store.runs.count() == 2


def test_a_closed_writer_refuses_runs(store: Store) -> None:
    writer = GroupCommitWriter(store)
    assert writer.close()
    with pytest.raises(RuntimeError, match="closed"):
        writer.add_run(RESULT)
    assert store.runs.count() == 0
