"""Sweep specs: expansion counts and stable keys, what differs between variants, the estimate."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from workbench.core.experiments import TestCase, Variant
from workbench.core.grid import (
    DEFAULT_MAX_TOKENS,
    CellKey,
    ModelChoice,
    PlannedCell,
    SweepError,
    SweepSpec,
    TemplateChoice,
    axes,
    cell_count,
    estimate,
    expand,
    variant_differences,
)
from workbench.core.model_table import cost_of, load_model_table
from workbench.core.models import Message, Params, PromptTemplate, RunRequest
from workbench.core.templates import render
from workbench.core.tokens import count_chat, tokenizer_for

TEMPLATE = PromptTemplate(
    name="capital",
    messages=[
        Message(role="system", content="Answer in one word."),
        Message(role="user", content="What is the capital of {{ country }}?"),
    ],
)
SETS = [TestCase(vars={"country": c}) for c in ("France", "Peru", "Japan")]


def base(**update: object) -> Variant:
    return Variant(template=TEMPLATE, backend="openai_compat", model="gpt-4o").model_copy(
        update=update
    )


def planned(spec: SweepSpec) -> list[PlannedCell]:
    """Cells with their requests, rendered the way the runner renders them."""
    out = []
    for cell in expand(spec.to_experiment()):
        v = cell.variant
        try:
            request = RunRequest(
                backend=v.backend,
                model=v.model,
                messages=render(v.template, cell.values),
                params=v.params,
            )
            out.append(PlannedCell(cell, request))
        except Exception as err:  # a template error names the missing variable
            out.append(PlannedCell(cell, None, str(err)))
    return out


def test_parameter_grid_expands_to_every_combination() -> None:
    spec = SweepSpec(
        name="t×p",
        base=base(params=Params(max_tokens=32, seed=7)),
        parameters={"temperature": [0, 0.4, 0.8, 1.2], "top_p": [0.5, 0.9]},
        variable_sets=SETS,
        repeats=2,
    )
    experiment = spec.to_experiment()
    assert len(experiment.variants) == 8
    assert experiment.variants[3].label == "temperature=0.4 · top_p=0.9"
    assert experiment.variants[3].params == Params(
        temperature=0.4, top_p=0.9, max_tokens=32, seed=7
    )
    cells = expand(experiment)
    assert len(cells) == cell_count(experiment) == 8 * 3 * 2
    keys = [c.key for c in cells]
    assert len(set(keys)) == len(keys)
    # Repeat-major: every (variant, test) once before any twice.
    assert {k.repeat for k in keys[:24]} == {0} and {k.repeat for k in keys[24:]} == {1}
    assert cells[9].key == CellKey(1, 1, 0) and cells[9].values == {"country": "Peru"}
    assert all(CellKey.parse(str(k)) == k for k in keys)
    # Expanding again gives the same keys for the same settings: what resume relies on.
    again = {c.key: c.variant.label for c in expand(spec.to_experiment())}
    assert again == {c.key: c.variant.label for c in cells}


def test_models_by_template_versions_by_variable_sets() -> None:
    v2 = TEMPLATE.model_copy(
        update={
            "messages": [
                TEMPLATE.messages[0],
                Message(role="user", content="Capital of {{ country }}?"),
            ],
            "parameters": Params(max_tokens=8, temperature=0.3),
        }
    )
    spec = SweepSpec(
        name="m×v",
        base=base(params=Params(temperature=0.0)),
        models=[
            ModelChoice(backend="openai_compat", model="gpt-4o"),
            ModelChoice(backend="llamacpp"),
        ],
        templates=[
            TemplateChoice(template=TEMPLATE, key="geo/capital", version=1),
            TemplateChoice(template=v2, key="geo/capital", version=2),
        ],
        variable_sets=SETS,
    )
    experiment = spec.to_experiment()
    assert [v.label for v in experiment.variants] == [
        "capital v1 · openai_compat:gpt-4o",
        "capital v1 · llamacpp",
        "capital v2 · openai_compat:gpt-4o",
        "capital v2 · llamacpp",
    ]
    # A version's own parameters, then the base's: v2 keeps its max_tokens, the base's
    # temperature wins.
    assert experiment.variants[2].params == Params(max_tokens=8, temperature=0.0)
    assert len(expand(experiment)) == 4 * 3
    assert variant_differences(experiment.variants[0], experiment.variants[3]) == {
        "backend": "llamacpp",
        "model": "",
        "template_version": 2,
        "max_tokens": 8,
    }
    found = axes(experiment.variants)
    assert found["template_version"] == [1, 1, 2, 2]
    # Each variant knows which library version it runs, so its runs record it.
    assert {(v.template_key, v.template_version) for v in experiment.variants} == {
        ("geo/capital", 1),
        ("geo/capital", 2),
    }
    assert found["backend"] == ["openai_compat", "llamacpp"] * 2


def test_no_tests_means_one_cell_per_variant_and_repeat() -> None:
    experiment = SweepSpec(
        name="x", base=base(variables={"country": "Chad"}), parameters={"seed": [1, 2]}, repeats=3
    ).to_experiment()
    keys = [c.key for c in expand(experiment)]
    assert len(keys) == 6 and all(k.test is None for k in keys)
    assert str(keys[0]) == "v0.r0" and CellKey.parse("v1.r2") == CellKey(1, None, 2)


def test_bad_axes_are_refused() -> None:
    with pytest.raises(ValidationError, match="not a parameter"):
        SweepSpec(name="x", base=base(), parameters={"temprature": [0.1]})
    with pytest.raises(ValidationError, match="no values"):
        SweepSpec(name="x", base=base(), parameters={"temperature": []})
    with pytest.raises(SweepError, match="temperature"):
        SweepSpec(name="x", base=base(), parameters={"temperature": [0.5, 3.0]}).variants()


def test_estimate_counts_real_tokens_and_prices_the_upper_bound() -> None:
    spec = SweepSpec(
        name="e",
        base=base(params=Params(max_tokens=20)),
        parameters={"temperature": [0, 1]},
        variable_sets=SETS,
        repeats=2,
    )
    est = estimate(planned(spec))
    assert est.calls == 2 * 3 * 2 and est.skipped == 0
    tokenizer = tokenizer_for("gpt-4o")
    expected_input = (
        2 * 2 * sum(count_chat(render(TEMPLATE, s.vars), tokenizer).total for s in SETS)
    )
    assert est.input_tokens == expected_input and est.input_exact
    assert est.output_tokens == 12 * 20 and est.assumed_output_calls == 0
    info = load_model_table().lookup("gpt-4o")
    assert info is not None and info.price is not None
    price = cost_of(info.price, expected_input, 12 * 20)
    assert price is not None
    assert est.costs == {"USD": pytest.approx(price.total)}
    assert est.unpriced_calls == 0 and est.overflowing == []
    assert est.to_dict()["calls"] == 12


def test_estimate_states_its_default_when_max_tokens_is_unset() -> None:
    est = estimate(planned(SweepSpec(name="d", base=base(), variable_sets=SETS[:1])))
    assert est.output_tokens == DEFAULT_MAX_TOKENS and est.assumed_output_calls == 1
    assert any(f"assumed {DEFAULT_MAX_TOKENS}" in line for line in est.lines())


def test_estimate_lists_cells_that_overflow_their_window(workbench_home: Path) -> None:
    config = workbench_home / "config"
    config.mkdir(parents=True)
    (config / "models.yaml").write_text(
        "models:\n  tiny-model:\n    encoding: o200k_base\n    context_window: 40\n"
        "    price: {input: 1.0, output: 2.0, currency: EUR}\n"
    )
    spec = SweepSpec(
        name="o",
        base=base(model="tiny-model"),
        parameters={"max_tokens": [8, 30]},
        variable_sets=SETS[:2],
    )
    est = estimate(planned(spec))
    prompt = count_chat(render(TEMPLATE, SETS[0].vars), tokenizer_for("tiny-model")).total
    assert prompt + 8 <= 40 < prompt + 30  # the test's premise
    assert sorted(str(c.key) for c in est.overflowing) == ["v1.t0.r0", "v1.t1.r0"]
    assert est.overflowing[0].overflow == prompt + 30 - 40
    assert list(est.costs) == ["EUR"]
    assert any(line.startswith("does not fit:   v1.t0.r0") for line in est.lines())


def test_estimate_skips_done_cells_and_reports_unrenderable_ones() -> None:
    spec = SweepSpec(
        name="s",
        base=base(params=Params(max_tokens=5)),
        variable_sets=[*SETS[:2], TestCase(vars={"city": "Lima"})],
    )
    est = estimate(planned(spec), skip={CellKey(0, 0, 0)})
    assert est.calls == 2 and est.skipped == 1
    assert [str(c.key) for c in est.unrenderable] == ["v0.t2.r0"]
    assert "country" in (est.unrenderable[0].error or "")
    assert est.to_dict()["unrenderable"][0]["cell"] == "v0.t2.r0"


def test_template_versions_are_numbers_even_from_older_files() -> None:
    """Older comparisons kept "v3" (the compare view) or "3" (the sweep view): both read as
    the number 3; an imported experiment's library version id is no version number."""
    for old in ("v3", "3", 3):
        assert Variant(template=TEMPLATE, template_version=old).template_version == 3
        assert TemplateChoice(template=TEMPLATE, version=old).version == 3
    assert Variant(template=TEMPLATE, template_version="01J9ZK3V6D").template_version is None
