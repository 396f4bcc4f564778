"""Fixtures the service tests share: a real SQLite store in the test's folder and a runner that
writes to it over the test module's ``CONFIGS`` (the named backends that module defines)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from workbench.services.runner import Runner
from workbench.storage.repositories import Store
from workbench.storage.writer import StoreWriter


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store.open(tmp_path / "workbench.db") as store:
        yield store


@pytest.fixture
def runner(store: Store, request: pytest.FixtureRequest) -> Iterator[Runner]:
    with StoreWriter(store) as writer:
        runner = Runner(writer=writer, configs=request.module.CONFIGS)
        yield runner
        runner.close()
