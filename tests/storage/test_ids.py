"""Sortable ids: ordered by time, strictly increasing within a process, decodable."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest

from workbench.storage import ids
from workbench.storage.ids import id_time, is_id, new_id


def test_ids_sort_by_creation_even_within_a_millisecond() -> None:
    made = [new_id() for _ in range(5000)]
    assert made == sorted(made)
    assert len(set(made)) == len(made)
    assert all(is_id(i) and len(i) == 26 for i in made)


def test_ids_encode_their_time() -> None:
    before = datetime.now(UTC) - timedelta(milliseconds=1)
    made = new_id()
    after = datetime.now(UTC) + timedelta(milliseconds=1)
    assert before <= id_time(made) <= after


def test_ids_stay_ordered_when_the_clock_goes_back(monkeypatch: pytest.MonkeyPatch) -> None:
    first = new_id()
    monkeypatch.setattr(ids.time, "time", lambda: 1_000_000.0)  # 1970: a clock reset
    assert new_id() > first


def test_ids_from_many_threads_are_unique() -> None:
    found: list[str] = []
    lock = threading.Lock()

    def make() -> None:
        mine = [new_id() for _ in range(1000)]
        with lock:
            found.extend(mine)

    threads = [threading.Thread(target=make) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert len(set(found)) == 4000


def test_not_an_id() -> None:
    assert not is_id("hello")
    assert not is_id("U" * 26)  # U is not in Crockford's alphabet
