"""Default experiment names tell experiments apart in the Experiments window: a first-time user's
two temperature sweeps of one template were both "review · temperature". A sweep's name says
the values it sweeps, and a name a stored experiment already has gets a counter (" (2)"),
except the sweep's own: the same sweep typed again keeps its name and resumes.

Real sweep and compare windows over scripted backends and a real SQLite store.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from tests.ui import test_compare_view as compare_base
from tests.ui import test_sweep_reopen as reopen_base
from tests.ui.test_compare_view import press, run_all, variant
from tests.ui.test_sweep_axes import make_view as make_sweep
from tests.ui.test_sweep_axes import run
from tests.ui.test_sweep_view import set_axes
from tests.ui.windows import shot
from workbench.services.experiments_overview import default_name
from workbench.services.runner import Runner
from workbench.storage.repositories import Store
from workbench.ui import theming
from workbench.ui.compare import session
from workbench.ui.compare.compare_view import CompareView
from workbench.ui.compare.sweep_view import SweepView

# the compare view's fixtures: a run manager over the scripted backends and a view factory;
# a runner over them that saves to the store
manager = compare_base.manager
make_view = compare_base.make_view
runner = reopen_base.runner


def _retype(qtbot: QtBot, view: SweepView, values: str) -> None:
    with qtbot.waitSignal(view.estimated, timeout=30_000):
        view.rows.values.clear()
        qtbot.keyClicks(view.rows.values, values)


def test_two_temperature_sweeps_of_a_template_are_named_apart(
    qtbot: QtBot, theme: theming.Theme, runner: Runner, store: Store
) -> None:
    view = make_sweep(qtbot, runner)
    try:
        set_axes(qtbot, view, ("temperature", "0.2, 0.7, 1.2"), ("(none)", ""))
        with qtbot.waitSignal(view.estimated, timeout=30_000):
            view.set_base(variant(max_tokens=8))
        first = "capital · temperature 0.2, 0.7, 1.2"
        assert view.name.placeholderText() == first
        run(qtbot, view)
        assert view.experiment is not None and view.experiment.spec.name == first
        _retype(qtbot, view, "0.2, 0.5, 0.9, 1.2")
        assert view.name.placeholderText() == "capital · temperature 0.2–1.2"
        # the same values over another base: another sweep that would read the same
        _retype(qtbot, view, "0.2, 0.7, 1.2")
        with qtbot.waitSignal(view.estimated, timeout=30_000):
            view.set_base(variant(max_tokens=16))
        assert view.name.placeholderText() == f"{first} (2)"
        run(qtbot, view)
        assert view.experiment is not None and view.experiment.spec.name == f"{first} (2)"
        # the first sweep typed again keeps its name: it is found and is done
        with qtbot.waitSignal(view.estimated, timeout=30_000):
            view.set_base(variant(max_tokens=8))
        assert view.name.placeholderText() == first
        qtbot.waitUntil(lambda: view.run_button.text() == "Done", timeout=20_000)
        names = sorted(s.name for s in store.experiments.summaries())
        assert names == [first, f"{first} (2)"]
        shot(view, "sweep-default-name")
    finally:
        assert view.shutdown(10)


def test_two_comparisons_saved_in_one_minute_are_named_apart(
    qtbot: QtBot, make_view: Callable[..., CompareView], store: Store,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    when = datetime(2026, 12, 7, 15, 40)
    monkeypatch.setattr(session, "name_for", lambda kind, template, varies, _when=None: (
        default_name(kind, template, varies, when)))
    names = []
    for _ in range(2):
        view = make_view(variant(), variant(temperature=0.9))
        run_all(qtbot, view)
        with qtbot.waitSignal(view.saved, timeout=5000) as saved:
            press(qtbot, view, Qt.Key.Key_S)
        names.append(store.experiments.get(saved.args[0]).spec.name)
    assert names == ["capital · temperature · Dec 7 15:40",
                     "capital · temperature · Dec 7 15:40 (2)"]
