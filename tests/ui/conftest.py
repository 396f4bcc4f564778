"""Fixtures the widget tests share: the light theme (whole, or its palette only) for one test,
and a fresh store."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtWidgets import QApplication

from workbench.storage.repositories import Store
from workbench.ui import theming


@pytest.fixture
def theme(qapp: QApplication) -> Iterator[theming.Theme]:
    """The light theme, with the application's palette put back afterwards."""
    saved = qapp.palette()
    theme = theming.install(qapp, "light")
    yield theme
    theme.set_mode("light")
    qapp.setPalette(saved)


@pytest.fixture
def light(qapp: QApplication) -> Iterator[None]:
    """Only the light palette (no theme object), put back afterwards."""
    saved = qapp.palette()
    qapp.setPalette(theming.palette(False))
    yield
    qapp.setPalette(saved)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    """An empty SQLite store in the test's own folder."""
    store = Store.open(tmp_path / "workbench.sqlite3")
    yield store
    store.close()
