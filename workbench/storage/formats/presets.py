"""Sampling presets from LM Studio (JSON) and text-generation-webui (YAML), both ways.

LM Studio presets come in two shapes: the current one (``operation.fields``: a list of
``{"key": "llm.prediction.temperature", "value": ...}``, where some values are
``{"checked": bool, "value": x}`` and unchecked means off) and the older config file
(``inference_params`` with ``temp``, ``top_k``, ``repeat_penalty``, ``antiprompt`` ...). A system
prompt in a preset becomes a template. text-generation-webui presets are flat YAML; their
"neutral" values (``top_k: 0``, ``top_p: 1``, ``repetition_penalty: 1`` ...) mean off, as that app
reads them. Every key without a workbench parameter is reported, never dropped silently.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import ValidationError

from workbench.core.models import Message, Params, PromptTemplate, Variable
from workbench.core.params import Preset
from workbench.storage.formats.results import Export, ImportResult, Problems
from workbench.storage.formats.yamlsrc import Doc, describe, dump_yaml, load_json, load_yaml

# --- LM Studio ---------------------------------------------------------------------------------

#: LM Studio KV keys (lms-kv-config schema) → workbench parameter.
LMS_FIELDS = {
    "llm.prediction.temperature": "temperature",
    "llm.prediction.topKSampling": "top_k",
    "llm.prediction.topPSampling": "top_p",
    "llm.prediction.minPSampling": "min_p",
    "llm.prediction.repeatPenalty": "repetition_penalty",
    "llm.prediction.maxPredictedTokens": "max_tokens",
    "llm.prediction.stopStrings": "stop",
    "llm.load.seed": "seed",
}
#: Values LM Studio wraps as ``{"checked": ..., "value": ...}``.
LMS_CHECKBOX = {
    "llm.prediction.topPSampling",
    "llm.prediction.minPSampling",
    "llm.prediction.repeatPenalty",
    "llm.prediction.maxPredictedTokens",
    "llm.load.seed",
}
LMS_SYSTEM = "llm.prediction.systemPrompt"
#: The older config file's inference_params.
LMS_LEGACY = {
    "temp": "temperature",
    "top_k": "top_k",
    "top_p": "top_p",
    "min_p": "min_p",
    "repeat_penalty": "repetition_penalty",
    "n_predict": "max_tokens",
    "antiprompt": "stop",
    "seed": "seed",
    "frequency_penalty": "frequency_penalty",
    "presence_penalty": "presence_penalty",
}


def _preset(
    name: str, description: str, values: dict[str, Any], problems: Problems, line: int | None
) -> Preset | None:
    try:
        return Preset(name=name, description=description, params=Params.model_validate(values))
    except ValidationError as err:
        for item in err.errors():
            where = ".".join(str(p) for p in item["loc"])
            problems.error(line, f"{where}: {item['msg']}")
        problems.error(line, f"preset '{name}' not imported")
        return None


def _system_template(name: str, text: str) -> PromptTemplate:
    return PromptTemplate(
        name=name,
        description="system prompt from a preset",
        messages=[
            Message(role="system", content=text, literal=True),
            Message(role="user", content="{{ input }}"),
        ],
        variables=[Variable(name="input", multiline=True)],
    )


def _lms_fields(
    doc: Doc, data: dict[str, Any], name: str, problems: Problems, result: ImportResult
) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for section in ("operation", "load"):
        block = data.get(section)
        if block is None:
            continue
        fields = block.get("fields") if isinstance(block, dict) else None
        if not isinstance(fields, list):
            problems.error(doc.line(section), f"'{section}.fields' must be a list")
            continue
        for i, item in enumerate(fields):
            line = doc.line(section, "fields", i, "key")
            if not isinstance(item, dict) or not isinstance(item.get("key"), str):
                problems.error(line, f"field {i + 1} has no 'key'")
                continue
            key, value = item["key"], item.get("value")
            if key == LMS_SYSTEM:
                if isinstance(value, str) and value:
                    result.templates.append(_system_template(name, value))
                continue
            target = LMS_FIELDS.get(key)
            if target is None:
                problems.warn(line, f"'{key}' has no workbench parameter; not kept")
                continue
            if key in LMS_CHECKBOX and isinstance(value, dict):
                if not value.get("checked", False):
                    continue  # unchecked: the setting is off
                value = value.get("value")
            values[target] = value
    return values


def _lms_legacy(
    doc: Doc, params: Any, name: str, problems: Problems, result: ImportResult
) -> dict[str, Any]:
    if not isinstance(params, dict):
        problems.error(
            doc.line("inference_params"),
            f"'inference_params' must be a mapping, not {describe(params)}",
        )
        return {}
    values: dict[str, Any] = {}
    for key, value in params.items():
        line = doc.line("inference_params", key)
        if key == "pre_prompt":
            if isinstance(value, str) and value:
                result.templates.append(_system_template(name, value))
            continue
        target = LMS_LEGACY.get(key)
        if target is None:
            problems.warn(line, f"inference_params.{key} has no workbench parameter; not kept")
        elif target == "max_tokens" and isinstance(value, int) and value < 0:
            continue  # -1: no limit
        elif target == "seed" and isinstance(value, int) and value < 0:
            continue  # -1: random
        elif target == "stop" and isinstance(value, list):
            values[target] = [s for s in value if isinstance(s, str) and s]
        else:
            values[target] = value
    return values


def import_lmstudio_preset(text: str, source: str) -> ImportResult:
    problems = Problems(source)
    result = ImportResult(format="lmstudio-preset")
    result.problems = problems.items
    doc = load_json(text, problems)
    if doc is None:
        return result
    data = doc.data
    if not isinstance(data, dict):
        problems.error(doc.line(), f"an LM Studio preset is a JSON object, not {describe(data)}")
        return result
    name = str(
        data.get("name") or source.rsplit("/", 1)[-1].removesuffix(".json").removesuffix(".preset")
    )
    if "operation" in data or "load" in data:
        values = _lms_fields(doc, data, name, problems, result)
        known = {
            "identifier",
            "name",
            "changed",
            "operation",
            "load",
            "importedTimeStamp",
            "description",
        }
    elif "inference_params" in data:
        values = _lms_legacy(doc, data["inference_params"], name, problems, result)
        known = {"name", "inference_params"}
        if "load_params" in data:
            problems.warn(doc.key_line("load_params"), "'load_params' (model loading) not kept")
            known.add("load_params")
    else:
        problems.error(
            doc.line(), "not an LM Studio preset: no 'operation' fields or 'inference_params'"
        )
        return result
    for key in data:
        if key not in known:
            problems.warn(doc.key_line(key), f"'{key}' not kept")
    preset = _preset(name, str(data.get("description") or ""), values, problems, doc.line())
    if preset is not None:
        result.presets.append(preset)
    return result


def export_lmstudio_preset(preset: Preset, system_prompt: str | None = None) -> Export:
    """An LM Studio preset (current ``operation.fields`` shape)."""
    reverse = {v: k for k, v in LMS_FIELDS.items()}
    prediction: list[dict[str, Any]] = []
    load: list[dict[str, Any]] = []
    warnings = []
    if system_prompt:
        prediction.append({"key": LMS_SYSTEM, "value": system_prompt})
    for name, value in preset.params.set_values().items():
        key = reverse.get(name)
        if key is None:
            warnings.append(f"{name} has no LM Studio preset field; not written")
            continue
        entry = {
            "key": key,
            "value": {"checked": True, "value": value} if key in LMS_CHECKBOX else value,
        }
        (load if key.startswith("llm.load.") else prediction).append(entry)
    data: dict[str, Any] = {
        "identifier": "@local:" + "-".join(preset.name.lower().split()),
        "name": preset.name,
        "changed": False,
        "operation": {"fields": prediction},
        "load": {"fields": load},
    }
    return Export(json.dumps(data, ensure_ascii=False, indent=2) + "\n", warnings)


# --- text-generation-webui ---------------------------------------------------------------------

#: tgw preset key → (workbench parameter, the value that means "off" in tgw).
TGW_KEYS: dict[str, tuple[str, Any]] = {
    "temperature": ("temperature", None),
    "top_p": ("top_p", 1),
    "top_k": ("top_k", 0),
    "min_p": ("min_p", 0),
    "repetition_penalty": ("repetition_penalty", 1),
    "presence_penalty": ("presence_penalty", 0),
    "frequency_penalty": ("frequency_penalty", 0),
    "seed": ("seed", -1),
    "max_new_tokens": ("max_tokens", None),
}

#: Every key text-generation-webui writes in a preset (modules/presets.py), for recognising files.
TGW_ALL_KEYS = frozenset(
    {
        *TGW_KEYS,
        "temperature_last",
        "dynamic_temperature",
        "dynatemp_low",
        "dynatemp_high",
        "dynatemp_exponent",
        "smoothing_factor",
        "smoothing_curve",
        "repetition_penalty_range",
        "typical_p",
        "tfs",
        "top_a",
        "epsilon_cutoff",
        "eta_cutoff",
        "guidance_scale",
        "penalty_alpha",
        "mirostat_mode",
        "mirostat_tau",
        "mirostat_eta",
        "do_sample",
        "encoder_repetition_penalty",
        "no_repeat_ngram_size",
        "dry_multiplier",
        "dry_base",
        "dry_allowed_length",
        "dry_sequence_breakers",
        "sampler_priority",
        "xtc_threshold",
        "xtc_probability",
        "top_n_sigma",
    }
)


def import_tgw_preset(text: str, source: str) -> ImportResult:
    problems = Problems(source)
    result = ImportResult(format="tgw-preset")
    result.problems = problems.items
    doc = load_yaml(text, problems)
    if doc is None:
        return result
    data = doc.data if doc.data is not None else {}
    if not isinstance(data, dict):
        problems.error(
            doc.line(), f"a text-generation-webui preset is a mapping, not {describe(data)}"
        )
        return result
    values: dict[str, Any] = {}
    for key, value in data.items():
        line = doc.line(key)
        if key == "do_sample":
            if value is False:
                values["greedy"] = True
            continue
        spec = TGW_KEYS.get(str(key))
        if spec is None:
            problems.warn(line, f"'{key}' has no workbench parameter; not kept")
            continue
        target, off = spec
        if off is not None and value == off:
            continue
        values[target] = value
    name = source.rsplit("/", 1)[-1].removesuffix(".yaml").removesuffix(".yml") or "preset"
    preset = _preset(name, "", values, problems, doc.line())
    if preset is not None:
        result.presets.append(preset)
    return result


def export_tgw_preset(preset: Preset) -> Export:
    reverse = {target: key for key, (target, _) in TGW_KEYS.items()}
    data: dict[str, Any] = {}
    warnings = []
    params = preset.params.model_dump(exclude_defaults=True)
    if params.pop("greedy", False):
        data["do_sample"] = False
    for name, value in params.items():
        key = reverse.get(name)
        if key is None:
            warnings.append(f"{name} has no text-generation-webui preset key; not written")
        else:
            data[key] = value
    return Export(dump_yaml(data) if data else "{}\n", warnings)
