"""``workbench import``: other tools' files into the library, the experiment store and presets.

The file is read by the format converters (``workbench.storage.formats``), which keep what they
could read and report every problem with its line. Templates then go into the library as new
versions in one transaction, a promptfoo config becomes an experiment with its test rows, and
parameter presets become user presets. Nothing already in the library is lost: existing templates
get a new version (their history keeps the old one) and a failure writes nothing at all.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.cli._common import parse_assignments, print_json
from workbench.cli._storage import add_library_option, open_library, open_store

if TYPE_CHECKING:
    from workbench.core.models import PromptTemplate
    from workbench.core.params import Preset
    from workbench.storage.formats import ImportResult
    from workbench.storage.repositories import Store


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "import",
        help="import templates, experiments or presets from another tool's file",
        description="Import FILE: library bundles (JSON/YAML), CSV prompt libraries, promptfoo "
        "configs, Prompty files, simonw/llm templates, LM Studio and text-generation-webui "
        "presets. The format is detected unless --format is given. Whatever could be read is "
        "imported; every problem is reported with its line, and the exit code is 1 if any part "
        "was left out.",
    )
    p.add_argument("file", metavar="FILE", type=Path)
    p.add_argument("--format", metavar="F", help="the file's format (see 'workbench export -h')")
    p.add_argument(
        "--collection",
        metavar="NAME",
        help="library collection for the templates (default: imported/<file name>)",
    )
    p.add_argument("-m", "--message", help="the new versions' message")
    p.add_argument(
        "--as-jinja",
        action="store_true",
        help="CSV bodies are Jinja templates (by default they are kept as literal text)",
    )
    p.add_argument(
        "--column",
        action="append",
        metavar="FIELD=HEADER",
        help="CSV column for a field (name, body, description, tags), e.g. name=act",
    )
    p.add_argument("--dry-run", action="store_true", help="read and report, write nothing")
    p.add_argument("--json", action="store_true", help="print JSON")
    add_library_option(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from workbench.core.errors import KnownError
    from workbench.storage.formats import import_file

    if not args.file.is_file():
        raise KnownError(f"no file {args.file}")
    columns = parse_assignments(args.column, "--column") or None
    result = import_file(args.file, args.format, as_jinja=args.as_jinja, columns=columns)
    collection = args.collection if args.collection is not None else _default_collection(args.file)
    message = args.message or f"imported from {args.file.name}"
    report: dict[str, Any] = {
        "file": str(args.file),
        "format": result.format,
        "dry_run": args.dry_run,
        "templates": [
            {"name": t.name, "key": None, "version": None, "changed": None}
            for t in result.templates
        ],
        "tests": [t.model_dump(mode="json", exclude_defaults=True) for t in result.tests],
        "experiment": None,
        "presets": [{"name": p.name, "file": None} for p in result.presets],
        "errors": [p.to_dict() for p in result.errors],
        "warnings": [p.to_dict() for p in result.warnings],
    }
    if not args.dry_run:
        with open_store() as store:
            _store_everything(store, args, result, collection, message, report)
    _print(report, args.json)
    return 1 if result.errors else 0


def _default_collection(file: Path) -> str:
    """``imported/<file name>``; a promptfoo config's generic name is replaced by its folder's."""
    from workbench.storage.library_records import slug

    stem = file.stem
    if stem.lower() == "promptfooconfig" and file.resolve().parent.name:
        stem = file.resolve().parent.name
    return f"imported/{slug(stem)}"


def _store_everything(
    store: Store,
    args: argparse.Namespace,
    result: ImportResult,
    collection: str,
    message: str,
    report: dict[str, Any],
) -> None:
    versions: list[tuple[PromptTemplate, str]] = []
    if result.templates:
        library = open_library(store, args)
        saved = library.import_templates(result.templates, collection=collection, message=message)
        for entry, template, (version, changed) in zip(
            report["templates"], result.templates, saved, strict=True
        ):
            entry.update(key=version.key, version=version.number, changed=changed)
            versions.append((template, version.id))
    if result.experiment is not None or result.tests:
        report["experiment"] = _store_experiment(store, args.file, result, versions)
    for entry, preset in zip(report["presets"], result.presets, strict=True):
        entry["file"] = str(_save_preset(preset))


def _store_experiment(
    store: Store, file: Path, result: ImportResult, versions: list[tuple[PromptTemplate, str]]
) -> dict[str, Any]:
    """The experiment, each variant pointing at the library version of its template."""
    from workbench.core.experiments import ExperimentSpec

    spec = result.experiment or ExperimentSpec(name=file.stem, tests=result.tests)
    variants = []
    for variant in spec.variants:
        version_id = next((vid for t, vid in versions if t == variant.template), None)
        if variant.template_version is None and version_id is not None:
            variant = variant.model_copy(update={"template_version": version_id})
        variants.append(variant)
    spec = spec.model_copy(update={"variants": variants})
    stored = store.experiments.create(spec)
    return {
        "id": stored.id,
        "name": spec.name,
        "variants": len(spec.variants),
        "tests": len(spec.tests),
    }


def _save_preset(preset: Preset) -> Path:
    """A user preset file in the config folder; an existing different file is never replaced."""
    from workbench.core.params import dump_presets
    from workbench.core.paths import config_dir
    from workbench.storage import files
    from workbench.storage.library_records import slug

    folder = config_dir() / "presets"
    text = dump_presets([preset])
    path = folder / f"{slug(preset.name)}.yaml"
    n = 1
    while path.exists() and path.read_text(encoding="utf-8") != text:
        n += 1
        path = folder / f"{slug(preset.name)}-{n}.yaml"
    files.write_text(path, text)
    return path


def _print(report: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print_json(report)
        return
    verb = "would import" if report["dry_run"] else "imported"
    for t in report["templates"]:
        where = f"  -> {t['key']} v{t['version']}" if t["key"] else ""
        same = "  (unchanged)" if t["changed"] is False else ""
        print(f"{verb} template {t['name']}{where}{same}")
    experiment = report["experiment"]
    if experiment:
        print(
            f"{verb} experiment {experiment['name']} ({experiment['id']}): "
            f"{experiment['variants']} variants x {experiment['tests']} tests"
        )
    elif report["tests"]:
        print(f"{verb} {len(report['tests'])} tests")
    for p in report["presets"]:
        print(f"{verb} preset {p['name']}" + (f"  -> {p['file']}" if p["file"] else ""))
    for problem in report["errors"]:
        print(_problem_line(problem, "error"), file=sys.stderr)
    for problem in report["warnings"]:
        print(_problem_line(problem, "warning"), file=sys.stderr)
    if not (report["templates"] or report["tests"] or report["presets"] or report["errors"]):
        print("nothing to import")


def _problem_line(problem: dict[str, Any], kind: str) -> str:
    where = problem["source"] or ""
    if problem["line"] is not None:
        where = f"{where}:{problem['line']}" if where else f"line {problem['line']}"
    return f"{kind}: {where}: {problem['message']}" if where else f"{kind}: {problem['message']}"
