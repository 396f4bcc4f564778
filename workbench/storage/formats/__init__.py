"""Other tools' files in and out: prompt libraries, promptfoo experiments, presets, runs.

The API the CLI and the library use::

    fmt = detect_format(path_or_name, text)          # a name from FORMATS, or UnknownFormatError
    result = import_text(text, fmt, source_name, base_dir=folder, as_jinja=False, columns=None)
    result = import_file(path, fmt=None)             # reads, detects, imports
    out = export(fmt, templates=[...])       # or experiment= / presets= / runs=[RunRecord]
    out.text, out.warnings                   # what to write, and what the format could not hold


``import_text`` never raises for bad content: an ``ImportResult`` holds ``templates``, ``presets``,
``experiment`` (promptfoo), ``tests`` and ``problems`` (``ImportProblem(line, message, source,
severity)``: ``error`` means that part was left out, ``warning`` that it was imported with a
loss or change the message names). It raises only ``UnknownFormatError`` for a format name it
does not know. Exports raise ``ExportError`` when the format cannot express the input.

Options: ``base_dir`` is the folder ``file://`` references in a promptfoo config are relative to;
``as_jinja`` reads CSV prompt bodies as Jinja templates instead of plain text (the default keeps
them byte-exact, ``{{ }}`` included); ``columns`` maps CSV columns to fields, e.g.
``{"name": "act", "body": "prompt"}``.

Formats (``FORMATS``): bundle-json, bundle-yaml (library bundles with format_version), markdown
(export only), csv (prompt libraries such as awesome-chatgpt-prompts), promptfoo, prompty,
llm-template (simonw/llm), lmstudio-preset, tgw-preset (text-generation-webui), runs-csv and
runs-jsonl (export only). Fine-tuning JSONL (chosen runs, DPO pairs) and its checks live in
``workbench.storage.finetune``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import yaml

from workbench.core import safe_yaml
from workbench.core.errors import KnownError
from workbench.core.experiments import ExperimentSpec
from workbench.core.models import PromptTemplate
from workbench.core.params import Preset
from workbench.storage.formats import bundle, csv_library, llm_template, prompty
from workbench.storage.formats import presets as preset_files
from workbench.storage.formats import runs as run_files
from workbench.storage.formats.promptfoo import import_promptfoo
from workbench.storage.formats.promptfoo_export import export_promptfoo
from workbench.storage.formats.results import (
    Export,
    ExportError,
    ImportProblem,
    ImportResult,
    Problems,
    UnknownFormatError,
)
from workbench.storage.formats.runs import RunRecord, read_runs_jsonl
from workbench.storage.formats.yamlsrc import load_json, load_yaml

__all__ = [
    "FORMATS",
    "Export",
    "ExportError",
    "FormatInfo",
    "ImportProblem",
    "ImportResult",
    "RunRecord",
    "UnknownFormatError",
    "detect_format",
    "export",
    "import_file",
    "import_text",
    "read_runs_jsonl",
]

Kind = Literal["templates", "experiment", "presets", "runs"]


@dataclass(frozen=True)
class FormatInfo:
    name: str
    description: str
    kind: Kind
    suffix: str
    can_import: bool = True
    can_export: bool = True
    one_per_file: bool = False


FORMATS: dict[str, FormatInfo] = {
    f.name: f
    for f in (
        FormatInfo(
            "bundle-json", "library bundle (JSON, with format_version)", "templates", ".json"
        ),
        FormatInfo(
            "bundle-yaml", "library bundle (YAML, with format_version)", "templates", ".yaml"
        ),
        FormatInfo(
            "markdown", "readable document of templates", "templates", ".md", can_import=False
        ),
        FormatInfo("csv", "CSV prompt library (e.g. awesome-chatgpt-prompts)", "templates", ".csv"),
        FormatInfo(
            "promptfoo",
            "promptfoo config: prompts, providers, tests, asserts",
            "experiment",
            ".yaml",
        ),
        FormatInfo(
            "prompty", "Prompty file (.prompty)", "templates", ".prompty", one_per_file=True
        ),
        FormatInfo(
            "llm-template", "simonw/llm YAML template", "templates", ".yaml", one_per_file=True
        ),
        FormatInfo(
            "lmstudio-preset",
            "LM Studio preset (JSON)",
            "presets",
            ".preset.json",
            one_per_file=True,
        ),
        FormatInfo(
            "tgw-preset",
            "text-generation-webui preset (YAML)",
            "presets",
            ".yaml",
            one_per_file=True,
        ),
        FormatInfo("runs-csv", "runs as CSV", "runs", ".csv", can_import=False),
        FormatInfo("runs-jsonl", "runs as JSONL (complete)", "runs", ".jsonl", can_import=False),
    )
}


def _format_hint() -> str:
    readable = ", ".join(n for n, f in FORMATS.items() if f.can_import)
    return f"give the format explicitly; importable formats: {readable}"


def _sniff_json(data: object) -> str | None:
    if not isinstance(data, dict):
        return None
    if data.get("kind") == bundle.KIND or ("format_version" in data and "templates" in data):
        return "bundle-json"
    if {"operation", "inference_params", "load_params"} & set(data) or "identifier" in data:
        return "lmstudio-preset"
    return None


def _sniff_yaml(data: object, name: str) -> str | None:
    if isinstance(data, str):
        return "llm-template"
    if not isinstance(data, dict):
        return None
    keys = {str(k) for k in data}
    if name.startswith("promptfooconfig") or {"prompts", "providers", "tests"} & keys:
        return "promptfoo"
    if data.get("kind") == bundle.KIND or {"format_version", "templates"} <= keys:
        return "bundle-yaml"
    if keys and keys <= llm_template.KEYS and {"prompt", "system"} & keys:
        return "llm-template"
    if keys and keys <= preset_files.TGW_ALL_KEYS:
        return "tgw-preset"
    return None


def detect_format(path_or_name: str | Path, text: str | None = None) -> str:
    """The format of a file, from its name and (for JSON and YAML) its content."""
    name = Path(path_or_name).name.lower()
    if name.endswith(".prompty"):
        return "prompty"
    if name.endswith(".csv"):
        return "csv"
    found: str | None = None
    if name.endswith(".json"):
        if text is not None:
            try:
                found = _sniff_json(json.loads(text))
            except (json.JSONDecodeError, RecursionError):
                found = None
        if found is None and name.endswith(".preset.json"):
            found = "lmstudio-preset"
    elif name.endswith((".yaml", ".yml")):
        if text is not None:
            try:
                found = _sniff_yaml(safe_yaml.load(text), name)
            except yaml.YAMLError:
                found = None
        if found is None and name.startswith("promptfooconfig"):
            found = "promptfoo"
    if found is None and name.endswith(".jsonl"):
        raise UnknownFormatError(
            f"'{Path(path_or_name).name}' holds fine-tuning or run data, which is not imported",
            hint="check fine-tuning JSONL with 'workbench finetune check'",
        )
    if found is None:
        raise UnknownFormatError(
            f"cannot tell the format of '{Path(path_or_name).name}'", hint=_format_hint()
        )
    return found


def import_text(
    text: str,
    format: str,
    source_name: str = "<text>",
    *,
    base_dir: Path | None = None,
    as_jinja: bool = False,
    columns: Mapping[str, str] | None = None,
) -> ImportResult:
    """Import ``text`` in ``format``; problems are reported in the result, never raised."""
    info = FORMATS.get(format)
    if info is None or not info.can_import:
        raise UnknownFormatError(f"no importer for format '{format}'", hint=_format_hint())
    if format == "csv":
        return csv_library.import_csv_library(text, source_name, columns=columns, as_jinja=as_jinja)
    if format == "promptfoo":
        return import_promptfoo(text, source_name, base_dir)
    importers = {
        "bundle-json": bundle.import_bundle_json,
        "bundle-yaml": bundle.import_bundle_yaml,
        "prompty": prompty.import_prompty,
        "llm-template": llm_template.import_llm_template,
        "lmstudio-preset": preset_files.import_lmstudio_preset,
        "tgw-preset": preset_files.import_tgw_preset,
    }
    return importers[format](text, source_name)


def _read(path: Path) -> tuple[str | None, ImportProblem | None]:
    try:
        data = path.read_bytes()
    except OSError as err:
        raise KnownError(f"cannot read {path}: {err.strerror or err}") from None
    try:
        return data.decode("utf-8-sig"), None
    except UnicodeDecodeError as err:
        line = data[: err.start].count(b"\n") + 1
        return None, ImportProblem(line, f"not UTF-8 text ({err.reason})", path.name)


def import_file(
    path: str | Path,
    format: str | None = None,
    *,
    as_jinja: bool = False,
    columns: Mapping[str, str] | None = None,
) -> ImportResult:
    """Read a file, detect its format unless given, and import it."""
    path = Path(path)
    text, problem = _read(path)
    if text is None:
        return ImportResult(format=format or "unknown", problems=[problem] if problem else [])
    if format is None:
        try:
            format = detect_format(path, text)
        except UnknownFormatError:
            problems = Problems(path.name)
            loader = load_json if path.suffix.lower() == ".json" else load_yaml
            if path.suffix.lower() in (".json", ".yaml", ".yml") and loader(text, problems) is None:
                return ImportResult(format="unknown", problems=problems.items)
            raise
    return import_text(
        text, format, path.name, base_dir=path.parent, as_jinja=as_jinja, columns=columns
    )


def _one(items: Sequence[object], what: str, fmt: str) -> None:
    if len(items) != 1:
        raise ExportError(
            f"a {fmt} file holds one {what}; {len(items)} were given (export them one at a time)"
        )


def export(
    format: str,
    *,
    templates: Sequence[PromptTemplate] = (),
    experiment: ExperimentSpec | None = None,
    presets: Sequence[Preset] = (),
    runs: Sequence[RunRecord] = (),
    keys: Sequence[str | None] = (),
) -> Export:
    """Export to ``format`` whichever of templates, an experiment, presets or runs it takes.

    ``keys`` are the templates' library keys (one per template), which bundles keep."""
    info = FORMATS.get(format)
    if info is None or not info.can_export:
        raise UnknownFormatError(
            f"no exporter for format '{format}'", hint="formats: " + ", ".join(FORMATS)
        )
    templates, presets_list = list(templates), list(presets)
    if format in ("bundle-json", "bundle-yaml"):
        write = bundle.export_bundle_json if format == "bundle-json" else bundle.export_bundle_yaml
        return Export(write(templates, presets_list, keys))
    if format == "markdown":
        return Export(bundle.export_markdown(templates))
    if format == "csv":
        return csv_library.export_csv_library(templates)
    if format == "prompty":
        _one(templates, "template", format)
        return prompty.export_prompty(templates[0])
    if format == "llm-template":
        _one(templates, "template", format)
        return llm_template.export_llm_template(templates[0])
    if format == "promptfoo":
        if experiment is None:
            raise ExportError("a promptfoo config is exported from an experiment")
        return export_promptfoo(experiment)
    if format == "lmstudio-preset":
        _one(presets_list, "preset", format)
        return preset_files.export_lmstudio_preset(presets_list[0])
    if format == "tgw-preset":
        _one(presets_list, "preset", format)
        return preset_files.export_tgw_preset(presets_list[0])
    if format == "runs-csv":
        return Export(run_files.runs_to_csv(runs))
    return Export(run_files.runs_to_jsonl(runs))
