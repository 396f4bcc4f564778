"""Settings that change nothing, named before a comparison or sweep runs: greedy decoding makes
sampling settings meaningless, temperature 0 the other sampling settings, a backend drops what
it ignores; variants that send the same request are grouped."""

from __future__ import annotations

from workbench.core.effects import check, effective_params
from workbench.core.experiments import Variant
from workbench.core.grid import PlannedCell, SweepSpec, estimate, expand
from workbench.core.models import Message, Params, PromptTemplate

TEMPLATE = PromptTemplate(name="t", messages=[Message(role="user", content="Hi")])


def variant(**params: object) -> Variant:
    return Variant(template=TEMPLATE, backend="llamacpp", params=Params(**params))


def test_a_temperature_column_over_a_greedy_base_changes_nothing() -> None:
    found = check([variant(greedy=True, max_tokens=64),
                   variant(greedy=True, max_tokens=64, temperature=0.9)])
    (temperature,) = found.no_effect
    assert temperature.name == "temperature" and temperature.everywhere
    assert temperature.describe() == "temperature changes nothing: greedy decoding is on"
    assert found.same_requests == ((0, 1),)
    assert found.lines(name="AB".__getitem__) == [
        "temperature changes nothing: greedy decoding is on",
        "B sends the same request as A: expect the same answer",
    ]


def test_a_temperature_by_top_p_sweep_of_a_greedy_preset_is_one_request() -> None:
    sweep = SweepSpec(name="s", base=variant(greedy=True),
                      parameters={"temperature": [0.2, 0.9], "top_p": [0.5, 0.8, 0.9, 1.0]},
                      repeats=2)
    found = check(sweep.variants())
    assert [(n.name, n.everywhere) for n in found.no_effect] == [
        ("temperature", True), ("top_p", True)]
    assert found.same_requests == (tuple(range(8)),)
    assert found.lines("cells", repeats=2)[-2:] == [
        "all 8 cells send the same request: expect the same answer in each",
        "×2 repeats: greedy decoding gives the same answer each time",
    ]


def test_top_p_changes_nothing_only_where_temperature_is_zero() -> None:
    sweep = SweepSpec(name="s", base=variant(),
                      parameters={"temperature": [0.0, 0.8], "top_p": [0.5, 0.9]})
    found = check(sweep.variants())
    (top_p,) = found.no_effect
    assert (top_p.name, top_p.where, top_p.of) == ("top_p", (0, 1), 4)
    assert top_p.describe() == (
        "top_p changes nothing in 2 of 4 cells: temperature 0 is greedy decoding")
    assert found.same_requests == ((0, 1),)
    assert not found.deterministic


def test_a_parameter_the_backend_ignores_changes_nothing() -> None:
    variants = [variant(temperature=0.7, n=1), variant(temperature=0.7, n=3)]
    found = check(variants, lambda backend, _model: {"n"} if backend == "llamacpp" else set())
    assert [n.describe() for n in found.no_effect] == ["n changes nothing: llamacpp ignores n"]
    assert found.same_requests == ((0, 1),)
    assert check(variants).no_effect == ()  # honoured elsewhere


def test_settings_that_do_change_the_answer_are_not_flagged() -> None:
    found = check([variant(temperature=0.2), variant(temperature=0.9), variant(greedy=True)])
    assert found.no_effect == () and found.same_requests == ()
    # greedy however asked for is one setting
    assert effective_params(Params(greedy=True, top_p=0.5), ()) == effective_params(
        Params(temperature=0.0, top_k=40), ())


def test_the_estimate_names_what_changes_nothing() -> None:
    sweep = SweepSpec(name="s", base=variant(greedy=True, max_tokens=8),
                      parameters={"temperature": [0.2, 0.9]})
    experiment = sweep.to_experiment()
    planned = [PlannedCell(cell, None, "not rendered here") for cell in expand(experiment)]
    lines = estimate(planned).lines()
    assert "no effect:      temperature changes nothing: greedy decoding is on" in lines
    assert ("no effect:      temperature=0.9 sends the same request as temperature=0.2: expect "
            "the same answer") in lines
    assert estimate(planned).to_dict()["no_effect"][0].startswith("temperature changes nothing")


def test_repeats_with_a_fixed_seed_are_said_to_give_identical_answers() -> None:
    """A cold start swept temperature up to 1.2 with seed 1 and 3 repeats: 100% agreement
    everywhere, since the seed fixes the sampled answer."""
    sweep = SweepSpec(name="s", base=variant(seed=1, max_tokens=16),
                      parameters={"temperature": [0.0, 0.8, 1.2]}, repeats=3)
    found = check(sweep.variants())
    assert found.seeded and not found.deterministic
    assert found.lines("cells", repeats=3)[-1] == (
        "×3 repeats: repeats with a fixed seed give identical answers; remove seed or vary it "
        "(a seed axis) to see how answers spread")
    assert found.lines("cells", repeats=1) == []
    # a backend that ignores the seed samples anew each time; without a seed, so does this one
    assert not check(sweep.variants(), lambda _backend, _model: {"seed"}).seeded
    unseeded = SweepSpec(name="s", base=variant(max_tokens=16),
                         parameters={"temperature": [0.8, 1.2]}, repeats=3)
    assert not check(unseeded.variants()).seeded


def test_temperature_changes_nothing_while_a_thinking_budget_is_on() -> None:
    variants = [variant(thinking_budget=2048, max_tokens=4096, temperature=0.2),
                variant(thinking_budget=2048, max_tokens=4096, temperature=0.9)]
    found = check(variants)  # a backend that honours the budget (Anthropic, Bedrock)
    assert [n.describe() for n in found.no_effect] == [
        "temperature changes nothing: a thinking budget is set, and thinking takes no "
        "temperature or top-k change"]
    assert found.same_requests == ((0, 1),)
    # where the budget itself is ignored (OpenAI-compatible), temperature does its work
    assert check(variants, lambda _backend, _model: {"thinking_budget"}).no_effect == ()
