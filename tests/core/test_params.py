"""Inference parameters, presets and capability tables."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from workbench.core.errors import ParameterError
from workbench.core.models import Params
from workbench.core.params import (
    DESCRIPTIONS,
    PARAM_NAMES,
    Capabilities,
    ParamCapability,
    Preset,
    dump_presets,
    follows_preset,
    load_presets,
    with_preset,
)
from workbench.core.paths import resources_dir


@pytest.mark.parametrize(
    "bad",
    [
        {"temperature": -0.1},
        {"temperature": 2.5},
        {"top_p": 0},
        {"top_p": 1.01},
        {"top_k": -1},
        {"max_tokens": 0},
        {"presence_penalty": 3},
        {"repetition_penalty": 0},
        {"stop": [""]},
        {"n": 4, "best_of": 2},
        {"temperature": "hot"},
        {"unknown": 1},
    ],
)
def test_invalid_values_are_rejected(bad: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        Params.model_validate(bad)


def test_greedy_folds_into_temperature_and_top_k() -> None:
    assert Params(greedy=True, temperature=0.9, top_p=0.5, seed=1).set_values() == {
        "temperature": 0.0,
        "top_k": 1,
        "seed": 1,
    }
    assert Params().set_values() == {}


def test_merged_overrides_only_what_is_set() -> None:
    base = Params(temperature=0.7, top_p=0.9, max_tokens=100)
    assert base.merged(Params(temperature=0.2)) == Params(
        temperature=0.2, top_p=0.9, max_tokens=100
    )


def test_every_parameter_has_a_tooltip() -> None:
    assert set(PARAM_NAMES) | {"greedy"} == set(DESCRIPTIONS)
    assert all(0 < len(text) < 200 for text in DESCRIPTIONS.values())


def test_capabilities_split_sent_and_ignored() -> None:
    caps = Capabilities.supporting(
        "temperature", "max_tokens", "stop", temperature=ParamCapability(minimum=0, maximum=1)
    )
    sent, ignored = caps.split(Params(temperature=0.5, top_k=40, stop=["\n"], max_tokens=8))
    assert sent == {"temperature": 0.5, "stop": ["\n"], "max_tokens": 8}
    assert ignored == {"top_k": 40}
    assert caps.status("temperature") == "supported"
    assert caps.status("top_k") == "ignored"
    with pytest.raises(ParameterError, match="above this backend's maximum 1"):
        caps.split(Params(temperature=1.5))
    relaxed = caps.with_overrides({"temperature": ParamCapability(maximum=2)})
    assert relaxed.split(Params(temperature=1.5))[0] == {"temperature": 1.5}
    assert (
        caps.with_overrides({"stop": ParamCapability(supported=False)}).status("stop") == "ignored"
    )


def test_builtin_presets_match_the_recommended_starting_points() -> None:
    presets = load_presets(resources_dir() / "presets.yaml")
    assert presets["Deterministic"].params.set_values()["temperature"] == 0.0
    assert presets["Code"].params.temperature == 0.2
    assert (presets["Chatbot"].params.temperature, presets["Chatbot"].params.top_p) == (0.7, 0.9)
    assert (presets["Creative"].params.temperature, presets["Creative"].params.top_k) == (1.0, 50)
    assert all(p.builtin and p.description for p in presets.values())


def test_user_presets_extend_and_override_builtins(tmp_path: Path) -> None:
    user = tmp_path / "presets"
    user.mkdir()
    mine = [
        Preset(name="Chatbot", description="mine", params=Params(temperature=0.5)),
        Preset(name="Terse", params=Params(max_tokens=32, stop=["\n\n"])),
    ]
    (user / "mine.yaml").write_text(dump_presets(mine), encoding="utf-8")
    presets = load_presets(resources_dir() / "presets.yaml", user)
    assert presets["Chatbot"].params.temperature == 0.5 and not presets["Chatbot"].builtin
    assert presets["Terse"].params.stop == ["\n\n"]
    assert presets["Code"].builtin


def test_a_broken_preset_file_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text(
        "- name: x\n  params:\n    temperature: 7\n", encoding="utf-8"
    )
    with pytest.raises(ParameterError, match=r"bad\.yaml"):
        load_presets(resources_dir() / "presets.yaml", tmp_path)


def test_a_preset_sets_what_it_names_and_keeps_the_rest() -> None:
    chatbot = Preset(name="Chatbot", params=Params(temperature=0.7, top_p=0.9))
    creative = Preset(name="Creative", params=Params(temperature=1.0, top_k=50))
    mine = Params(max_tokens=300, stop=["###"], top_p=0.5)
    assert with_preset(mine, chatbot) == Params(max_tokens=300, stop=["###"], temperature=0.7,
                                                top_p=0.9)
    then = with_preset(with_preset(mine, chatbot), creative, chatbot)
    assert then == Params(max_tokens=300, stop=["###"], temperature=1.0, top_k=50)
    assert follows_preset(then, creative) and not follows_preset(then, chatbot)
