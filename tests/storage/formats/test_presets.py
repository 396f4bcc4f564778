"""LM Studio and text-generation-webui presets into parameter presets, unknown keys reported."""

from __future__ import annotations

import json

import pytest

from workbench.core.models import Params
from workbench.core.params import Preset
from workbench.storage.formats import export, import_text

# The shape LM Studio 0.3 writes for a preset (KV fields, checkbox values for optional samplers).
LMS_PRESET = {
    "identifier": "@local:precise-coder",
    "name": "Precise coder",
    "changed": True,
    "operation": {
        "fields": [
            {
                "key": "llm.prediction.systemPrompt",
                "value": "You write {{ small }} Python functions.",
            },
            {"key": "llm.prediction.temperature", "value": 0.2},
            {"key": "llm.prediction.topKSampling", "value": 40},
            {"key": "llm.prediction.topPSampling", "value": {"checked": True, "value": 0.9}},
            {"key": "llm.prediction.minPSampling", "value": {"checked": False, "value": 0.05}},
            {"key": "llm.prediction.repeatPenalty", "value": {"checked": True, "value": 1.1}},
            {"key": "llm.prediction.maxPredictedTokens", "value": {"checked": True, "value": 512}},
            {"key": "llm.prediction.stopStrings", "value": ["```\n\n"]},
            {"key": "llm.prediction.llama.cpuThreads", "value": 4},
        ]
    },
    "load": {"fields": [{"key": "llm.load.contextLength", "value": 8192}]},
}

# The older LM Studio config file (lmstudio-ai/configs).
LMS_LEGACY = {
    "name": "Llama 3 Instruct",
    "load_params": {"n_ctx": 8192, "n_batch": 512},
    "inference_params": {
        "n_threads": 4,
        "n_predict": -1,
        "top_k": 40,
        "min_p": 0.05,
        "top_p": 0.95,
        "temp": 0.7,
        "repeat_penalty": 1.1,
        "input_prefix": "<|start_header_id|>user<|end_header_id|>\n\n",
        "antiprompt": ["<|start_header_id|>", "<|eot_id|>"],
        "pre_prompt": "You are a helpful, smart, kind, and efficient AI assistant.",
        "seed": -1,
        "mirostat": 0,
    },
}

# text-generation-webui's own presets/Divine Intellect.yaml, and a greedy one.
DIVINE_INTELLECT = (
    "temperature: 1.31\ntop_p: 0.14\nepsilon_cutoff: 1.49\neta_cutoff: 10.42\ntop_a: 0.52\n"
    "repetition_penalty: 1.17\ntop_k: 49\n"
)
DETERMINISTIC = "do_sample: false\ntop_k: 0\ntop_p: 1\nrepetition_penalty: 1\nmin_p: 0\nseed: 42\n"


def test_lm_studio_preset_fields() -> None:
    text = json.dumps(LMS_PRESET, indent=2)
    result = import_text(text, "lmstudio-preset", "precise.preset.json")
    [preset] = result.presets
    assert preset.name == "Precise coder"
    assert preset.params == Params(
        temperature=0.2,
        top_k=40,
        top_p=0.9,
        repetition_penalty=1.1,
        max_tokens=512,
        stop=["```\n\n"],
    )  # min_p unchecked: off
    [template] = result.templates
    assert (
        template.messages[0].literal
        and template.messages[0].content == "You write {{ small }} Python functions."
    )
    unknown = {p.message.split("'")[1]: p.line for p in result.warnings}
    assert set(unknown) == {"llm.prediction.llama.cpuThreads", "llm.load.contextLength"}
    for key, line in unknown.items():
        assert key in text.splitlines()[line - 1]


def test_lm_studio_legacy_config() -> None:
    result = import_text(json.dumps(LMS_LEGACY, indent=2), "lmstudio-preset", "llama3.json")
    [preset] = result.presets
    assert preset.params == Params(
        temperature=0.7,
        top_k=40,
        top_p=0.95,
        min_p=0.05,
        repetition_penalty=1.1,
        stop=["<|start_header_id|>", "<|eot_id|>"],
    )
    assert result.templates[0].messages[0].content.startswith("You are a helpful")
    dropped = sorted(p.message.split(" ")[0] for p in result.warnings)
    assert dropped == [
        "'load_params'",
        "inference_params.input_prefix",
        "inference_params.mirostat",
        "inference_params.n_threads",
    ]


def test_lm_studio_round_trip() -> None:
    preset = Preset(
        name="Chat",
        description="",
        params=Params(
            temperature=0.7,
            top_p=0.9,
            top_k=50,
            max_tokens=300,
            repetition_penalty=1.05,
            min_p=0.1,
            seed=3,
            stop=["###"],
        ),
    )
    out = export("lmstudio-preset", presets=[preset])
    assert out.warnings == []
    data = json.loads(out.text)
    assert {"key": "llm.prediction.topPSampling", "value": {"checked": True, "value": 0.9}} in data[
        "operation"
    ]["fields"]
    assert data["load"]["fields"] == [
        {"key": "llm.load.seed", "value": {"checked": True, "value": 3}}
    ]
    assert import_text(out.text, "lmstudio-preset", "x.json").presets == [preset]
    lossy = export(
        "lmstudio-preset", presets=[Preset(name="p", params=Params(presence_penalty=0.5))]
    )
    assert lossy.warnings == ["presence_penalty has no LM Studio preset field; not written"]


def test_tgw_presets() -> None:
    result = import_text(DIVINE_INTELLECT, "tgw-preset", "Divine Intellect.yaml")
    [preset] = result.presets
    assert preset.name == "Divine Intellect"
    assert preset.params == Params(temperature=1.31, top_p=0.14, repetition_penalty=1.17, top_k=49)
    assert {p.line: p.message.split("'")[1] for p in result.warnings} == {
        3: "epsilon_cutoff",
        4: "eta_cutoff",
        5: "top_a",
    }
    [greedy] = import_text(DETERMINISTIC, "tgw-preset", "Debug-deterministic.yaml").presets
    assert greedy.params == Params(greedy=True, seed=42)  # the neutral values mean "off"


def test_tgw_round_trip() -> None:
    preset = Preset(
        name="Focused",
        params=Params(
            temperature=0.3,
            top_p=0.8,
            top_k=20,
            min_p=0.02,
            repetition_penalty=1.15,
            presence_penalty=0.1,
            max_tokens=200,
        ),
    )
    out = export("tgw-preset", presets=[preset])
    assert out.warnings == []
    assert import_text(out.text, "tgw-preset", "Focused.yaml").presets == [preset]
    greedy = Preset(name="G", params=Params(greedy=True))
    assert import_text(
        export("tgw-preset", presets=[greedy]).text, "tgw-preset", "G.yaml"
    ).presets == [greedy]
    assert (
        "stop has no text-generation-webui"
        in export("tgw-preset", presets=[Preset(name="s", params=Params(stop=["x"]))]).warnings[0]
    )


@pytest.mark.parametrize(
    ("fmt", "text", "line", "needle"),
    [
        ("lmstudio-preset", "{", 1, "not valid JSON"),
        ("lmstudio-preset", "[1]", 1, "JSON object"),
        ("lmstudio-preset", '{"name": "x"}', 1, "not an LM Studio preset"),
        ("lmstudio-preset", '{"operation": {"fields": 3}}', 1, "'operation.fields' must be a list"),
        ("lmstudio-preset", '{"operation": {"fields": [{"value": 1}]}}', 1, "no 'key'"),
        (
            "lmstudio-preset",
            '{"operation": {"fields": [\n{"key": "llm.prediction.temperature", "value": 9}]}}',
            1,
            "temperature",
        ),
        ("tgw-preset", "temperature: [\n", 1, "not valid YAML"),
        ("tgw-preset", "- 1\n", 1, "is a mapping"),
        ("tgw-preset", "top_p: 1\ntop_k: -5\n", 1, "top_k"),
    ],
)
def test_malformed_presets_report_lines(fmt: str, text: str, line: int, needle: str) -> None:
    result = import_text(text, fmt, "bad")
    assert any(p.line == line and needle in p.message for p in result.errors), result.problems
