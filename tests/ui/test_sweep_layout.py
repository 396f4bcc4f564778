"""Laying a sweep out as a matrix from what the store keeps (its variants and test cases): which
setting runs down the rows, which across, where each cell goes, and how a cell is named; and
the typed axes a saved sweep is reopened with."""

from __future__ import annotations

import pytest

from tests.ui.test_compare_view import TEMPLATE, variant
from workbench.core.experiments import ExperimentSpec, TestCase
from workbench.core.grid import CellKey, ModelChoice, SweepSpec, TemplateChoice
from workbench.core.models import Params
from workbench.services.comparison import same_cells
from workbench.ui.compare.sweep_layout import (
    MODEL,
    PARAMETER,
    VARIABLES,
    Axis,
    axis_phrase,
    build_spec,
    experiment_of,
    layout,
    model_labels,
    reopen,
)
from workbench.ui.compare.sweep_layout import TEMPLATE as TEMPLATE_AXIS

MODELS = (ModelChoice(backend="paris", model="paris"), ModelChoice(backend="lyon", model="lyon"))
#: v2 sets its own top_p: a setting that follows the version, not an axis of its own.
V2 = TEMPLATE.model_copy(update={"name": "capital", "parameters": Params(top_p=0.5)})
VERSIONS = (TemplateChoice(template=TEMPLATE, version="1"),
            TemplateChoice(template=V2, version="2"))


def test_an_axis_in_a_default_name_says_its_values_short() -> None:
    """Two temperature sweeps of one template were both "review · temperature": the name says
    the values, listed up to three, else the range, else a count."""
    assert axis_phrase(Axis(PARAMETER, (0.2, 0.7, 1.2), "temperature")) == (
        "temperature 0.2, 0.7, 1.2")
    assert axis_phrase(Axis(PARAMETER, (0.2, 0.45, 0.7, 1.2), "temperature")) == (
        "temperature 0.2–1.2")
    assert axis_phrase(Axis(PARAMETER, (1, 5, 3, 40, 2), "seed")) == "seed 1–40"
    assert axis_phrase(Axis(MODEL, MODELS)) == "model paris, lyon"
    assert axis_phrase(Axis(TEMPLATE_AXIS, VERSIONS)) == "template version v1, v2"
    many = tuple(TestCase(vars={"country": c}) for c in ("France", "Peru", "Japan", "Chad"))
    assert axis_phrase(Axis(VARIABLES, many)) == "4 variable sets"
    long = tuple(ModelChoice(backend="b", model=f"smollm2-135m-instruct-q{i}") for i in (4, 8))
    assert axis_phrase(Axis(MODEL, long)) == "2 models"


def test_models_by_versions_keep_their_orientation_either_way() -> None:
    base = variant("paris")
    for rows, cols in ((Axis(MODEL, MODELS), Axis(TEMPLATE_AXIS, VERSIONS)),
                       (Axis(TEMPLATE_AXIS, VERSIONS), Axis(MODEL, MODELS))):
        spec = experiment_of(build_spec("s", base, rows, cols, 1), rows)
        grid = layout(spec)  # as reopened: no typed axes
        assert grid.row_name == rows.kind and grid.col_name == cols.kind
        assert not grid.numeric_rows
        for v, settings in enumerate(spec.variants):
            r, c = grid.positions[(v, None)]
            model = grid.rows[r] if rows.kind == MODEL else grid.cols[c]
            version = grid.cols[c] if rows.kind == MODEL else grid.rows[r]
            assert (settings.model, f"v{settings.template_version}") == (model, version)
    assert set(grid.rows) == {"v1", "v2"} and "top_p" not in (grid.row_name, grid.col_name)


def test_parameters_keep_numbers_for_the_chart() -> None:
    rows = Axis(PARAMETER, (0, 0.7), "temperature")
    cols = Axis(MODEL, MODELS)
    grid = layout(experiment_of(build_spec("s", variant(), rows, cols, 1), rows))
    assert grid.rows == ["temperature 0", "temperature 0.7"] and grid.row_values == [0, 0.7]
    assert grid.numeric_rows and grid.cols == ["paris", "lyon"]


def test_variable_sets_go_across_unless_typed_down() -> None:
    sets = (TestCase(vars={"country": "Peru"}), TestCase(description="Japan, expected Tokyo",
                                                          vars={"country": "Japan"}))
    spec = build_spec("s", variant(), Axis(VARIABLES, sets), Axis(MODEL, MODELS), 2)
    experiment = experiment_of(spec, Axis(VARIABLES, sets))
    reopened = layout(experiment)
    assert (reopened.rows, reopened.cols) == (["paris", "lyon"], ["Peru", "Japan, expected Tokyo"])
    typed = layout(experiment, [VARIABLES, MODEL])
    assert (typed.rows, typed.cols) == (["Peru", "Japan, expected Tokyo"], ["paris", "lyon"])
    assert typed.positions[(1, 0)] == (0, 1)  # variant 1 (lyon) on set 0 (Peru)
    assert typed.cell_name(CellKey(1, 0, 1), repeats=2) == "Peru × lyon, repeat 2"


def test_more_settings_than_two_share_a_cell_and_say_which() -> None:
    spec = SweepSpec(name="cli", base=variant(), models=list(MODELS),
                     parameters={"temperature": [0, 1], "seed": [1, 2]}).to_experiment()
    grid = layout(spec)
    assert len(set(grid.positions.values())) == 4 and len(grid.positions) == 8
    name = grid.cell_name(CellKey(0, None, 0))
    assert name.endswith("[v0.r0]") and " × " in name


def test_model_labels_say_what_tells_them_apart() -> None:
    same_model = [ModelChoice(backend="small", model="m"), ModelChoice(backend="big", model="m")]
    assert model_labels(same_model) == ["small", "big"]
    assert model_labels([ModelChoice(backend="a", model="m"), ModelChoice(backend="a", model="n"),
                         ModelChoice(backend="b")]) == ["m", "n", "b"]


def test_a_typed_axis_without_values_or_twice_is_refused() -> None:
    with pytest.raises(ValueError, match="pick at least one model"):
        build_spec("s", variant(), Axis(MODEL, ()), None, 1)
    with pytest.raises(ValueError, match="swept twice"):
        build_spec("s", variant(), Axis(MODEL, MODELS), Axis(MODEL, MODELS), 1)
    with pytest.raises(ValueError, match="at least one setting"):
        build_spec("s", variant(), None, None, 1)


def test_a_greedy_sweep_keeps_its_axes_labelled() -> None:
    """Greedy decoding makes temperature and top_p change nothing; the matrix still shows both
    axes with their values (the estimate says why every cell answers alike) instead of one
    unlabelled cell."""
    rows = Axis(PARAMETER, (0.2, 0.9), "temperature")
    cols = Axis(PARAMETER, (0.5, 0.8, 0.9, 1.0), "top_p")
    base = variant(greedy=True, max_tokens=8)
    experiment = experiment_of(build_spec("s", base, rows, cols, 1), rows)
    for grid in (layout(experiment), layout(experiment, ["temperature", "top_p"])):
        assert (grid.row_name, grid.col_name) == ("temperature", "top_p")
        assert grid.rows == ["temperature 0.2", "temperature 0.9"]
        assert grid.cols == ["top_p 0.5", "top_p 0.8", "top_p 0.9", "top_p 1"]
        assert len(set(grid.positions.values())) == 8


def test_a_saved_sweep_reopens_with_the_axes_it_was_typed_with() -> None:
    """Every kind of axis comes back, down the rows or across as it was saved, over a base that
    rebuilds every cell: the base's temperature gives way to a swept one, v2's own top_p comes
    back from v2 (it was swept as v1's)."""
    sets = (TestCase(vars={"country": "Peru"}), TestCase(vars={"country": "Chad"}))
    temperatures = Axis(PARAMETER, (0, 0.7), "temperature")
    models, versions = Axis(MODEL, MODELS), Axis(TEMPLATE_AXIS, VERSIONS)
    base = variant("paris", max_tokens=8, temperature=0.3)
    for rows, cols in ((models, versions), (versions, models), (versions, temperatures),
                       (temperatures, models), (models, temperatures), (temperatures, None),
                       (Axis(VARIABLES, sets), temperatures), (models, Axis(VARIABLES, sets[:1]))):
        spec = experiment_of(build_spec("s", base, rows, cols, 2), rows)
        found = reopen(spec)
        assert found.problem == ""
        typed = [a for a in (found.rows, found.cols) if a is not None]
        # variable sets go across, whichever way they were typed (the cells are the same)
        assert typed == [a for a in (rows, cols) if a is not None and a.kind != VARIABLES] + [
            a for a in (rows, cols) if a is not None and a.kind == VARIABLES]
        again = build_spec("s", found.base, found.rows, found.cols, 2)
        assert same_cells(experiment_of(again, found.rows), spec), (rows, cols)


def test_a_sweep_two_axes_cannot_say_is_reopened_with_the_reason() -> None:
    three = SweepSpec(name="cli", base=variant(), models=list(MODELS),
                      parameters={"temperature": [0, 1], "top_p": [0.5, 0.9]}).to_experiment()
    assert reopen(three).problem == (
        "it varies model, temperature and top_p: more than two axes hold")
    by_hand = ExperimentSpec(name="s", variants=[
        variant(), variant().model_copy(update={"variables": {"country": "Peru"}})])
    assert reopen(by_hand).problem.startswith("its variants set the variable country apart")
    checked = SweepSpec(name="s", base=variant(), parameters={"temperature": [0, 1]},
                        variable_sets=[TestCase(vars={"country": "Peru"}, expected="Lima")])
    assert "expected answers" in reopen(checked.to_experiment()).problem
