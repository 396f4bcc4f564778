"""``workbench export``: library templates, experiments, presets and runs out to other formats.

This module chooses the data (which templates, which runs); the converters in
``workbench.storage.formats`` and ``workbench.storage.finetune`` write the formats. Files are
written atomically; without ``--out`` the export goes to standard output.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from workbench.cli._storage import add_library_option, open_library, open_store

if TYPE_CHECKING:
    from workbench.core.experiments import ExperimentSpec
    from workbench.core.models import PromptTemplate
    from workbench.core.params import Preset
    from workbench.storage.formats import Export, RunRecord
    from workbench.storage.repositories import Store

FINETUNE = "finetune-jsonl"
DPO = "dpo-jsonl"


def _formats_help() -> str:
    from workbench.storage.formats import FORMATS

    names = [f"{n} ({f.description})" for n, f in FORMATS.items() if f.can_export]
    names += [
        f"{FINETUNE} (chosen runs as OpenAI chat fine-tuning data)",
        f"{DPO} (A/B preferences as DPO pairs)",
    ]
    return "; ".join(names)


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "export",
        help="export templates, experiments, presets or runs to another format",
        description="Export to --format. SELECTION is what to export: library keys or "
        "collections (template formats; default: the whole library), run ids (run and "
        "fine-tuning formats; default: every run matching the filters), an experiment id or name "
        "(promptfoo), or preset names (preset formats). Run 'workbench export --format list' to "
        "see the formats.",
    )
    p.add_argument("--format", required=True, metavar="F", help="the format, or 'list'")
    p.add_argument(
        "--out",
        metavar="PATH",
        type=Path,
        help="file to write (a folder for one-template-per-file formats); default stdout",
    )
    p.add_argument("selection", nargs="*", metavar="SELECTION")
    templates = p.add_argument_group("templates")
    templates.add_argument("--collection", metavar="NAME", help="only this collection (and below)")
    templates.add_argument("--tag", metavar="TAG", help="only templates with this tag")
    templates.add_argument(
        "--version",
        metavar="VERSION",
        help="export this version or label (e.g. production) of each template",
    )
    runs = p.add_argument_group("runs")
    runs.add_argument("--experiment", metavar="ID", help="only this experiment's runs or pairs")
    runs.add_argument("--search", metavar="WORDS", help="only runs matching a full-text search")
    runs.add_argument("--status", choices=["ok", "error", "cancelled"], help="only these runs")
    runs.add_argument("--thumbs-up", action="store_true", help="only runs rated thumbs up")
    runs.add_argument(
        "--include-truncated",
        action="store_true",
        help=f"{FINETUNE}: keep runs cut off at their token limit (left out by default)",
    )
    runs.add_argument(
        "--include-reasoning",
        action="store_true",
        help=f"{FINETUNE}: lead each answer with the model's reasoning in a <think> block "
        "(left out by default)",
    )
    runs.add_argument(
        "--min-stars",
        type=int,
        choices=range(1, 6),
        metavar="N",
        help="only runs rated at least N stars",
    )
    add_library_option(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from workbench.storage.formats import FORMATS, UnknownFormatError, export

    if args.format == "list":
        print("\n".join(_formats_help().split("; ")))
        return 0
    info = FORMATS.get(args.format)
    if args.format not in (FINETUNE, DPO) and (info is None or not info.can_export):
        raise UnknownFormatError(
            f"no exporter for format '{args.format}'",
            hint="'workbench export --format list' shows them",
        )
    outputs: dict[Path | None, Export]
    skipped: list[str] = []
    with open_store() as store:
        if args.format == FINETUNE:
            outputs = {args.out: _finetune(store, args)}
        elif args.format == DPO:
            outputs = {args.out: _dpo(store, args)}
        else:
            assert info is not None
            if info.kind == "templates":
                keys, templates = _templates(store, args)
                folder: Path | None = args.out
                if info.one_per_file and folder and (len(templates) > 1 or folder.is_dir()):
                    outputs, skipped = _one_per_file(args, keys, templates, info.suffix)
                else:
                    outputs = {args.out: export(args.format, templates=templates, keys=keys)}
            elif info.kind == "runs":
                outputs = {args.out: export(args.format, runs=_run_records(store, args))}
            elif info.kind == "experiment":
                outputs = {args.out: export(args.format, experiment=_experiment(store, args))}
            else:
                outputs = {args.out: export(args.format, presets=_presets(args))}
    _prepare_folders(outputs, args.out)
    for path, out in outputs.items():
        _write(path, out.text)
        for warning in out.warnings:
            print(f"warning: {warning}", file=sys.stderr)
    for warning in skipped:
        print(f"warning: {warning}", file=sys.stderr)
    return 0


def _prepare_folders(outputs: dict[Path | None, Export], out: Path | None) -> None:
    """Refuse a destination in a folder that does not exist (a mistyped --out made folders
    silently), checked before anything is written. The one folder created is the --out folder
    of a one-file-per-template export, when its parent exists, and that is said."""
    from workbench.core.errors import KnownError

    for path in outputs:
        if path is None or path.parent.is_dir():
            continue
        if path.parent == out and out.parent.is_dir():
            out.mkdir()
            print(f"created folder {out}", file=sys.stderr)
            continue
        missing = path.parent
        while not missing.parent.is_dir():
            missing = missing.parent
        raise KnownError(
            f"cannot write {path}: the folder {missing} does not exist",
            hint=f"create it first (mkdir -p {path.parent}) or choose another --out",
        )


def _write(path: Path | None, text: str) -> None:
    from workbench.storage import files

    if path is None:
        sys.stdout.write(text)
    else:
        files.write_text(path, text)
        print(f"wrote {path}", file=sys.stderr)


def _templates(store: Store, args: argparse.Namespace) -> tuple[list[str], list[PromptTemplate]]:
    """The selected templates and their library keys."""
    from workbench.core.errors import KnownError
    from workbench.storage.db import NotFoundError

    library = open_library(store, args)
    entries = library.entries(collection=args.collection, tag=args.tag)
    if args.selection:
        chosen = []
        for item in args.selection:
            item = item.strip("/")
            matches = [e for e in entries if e.key == item] or [
                e for e in entries if e.collection == item or e.collection.startswith(f"{item}/")
            ]
            if not matches:
                raise KnownError(
                    f"no template or collection '{item}' in the library",
                    hint="'workbench library list' shows the keys",
                )
            chosen += [m for m in matches if m not in chosen]
        entries = chosen
    if not entries:
        raise KnownError("nothing to export: the selection holds no templates")
    keys, templates = [], []
    for entry in entries:
        try:
            templates.append(library.load(entry.key, args.version))
        except NotFoundError:
            print(f"warning: {entry.key} has no version '{args.version}'; skipped", file=sys.stderr)
        else:
            keys.append(entry.key)
    if not templates:
        raise KnownError(f"no selected template has a version '{args.version}'")
    return keys, templates


def _one_per_file(
    args: argparse.Namespace, keys: list[str], templates: list[PromptTemplate], suffix: str
) -> tuple[dict[Path | None, Export], list[str]]:
    """A file per template in the ``--out`` folder; a template the format cannot express is
    skipped with a warning naming it and why (the others are still written)."""
    from workbench.core.errors import KnownError
    from workbench.storage.formats import ExportError, export
    from workbench.storage.library_records import slug

    folder: Path = args.out
    if folder.exists() and not folder.is_dir():
        raise KnownError(
            f"a {args.format} file holds one template; {len(templates)} were selected",
            hint="give --out a folder to write one file per template",
        )
    outputs: dict[Path | None, Export] = {}
    skipped: list[str] = []
    for key, template in zip(keys, templates, strict=True):
        try:
            out = export(args.format, templates=[template])
        except ExportError as err:
            skipped.append(f"{key} skipped: {err.message}")
            continue
        path = folder / f"{slug(template.name)}{suffix}"
        n = 1
        while path in outputs:
            n += 1
            path = folder / f"{slug(template.name)}-{n}{suffix}"
        outputs[path] = out
    if not outputs:
        raise KnownError(
            f"none of the {len(templates)} selected templates can be written as {args.format}",
            hint=skipped[0],
        )
    return outputs, skipped


def _selected_run_ids(store: Store, args: argparse.Namespace) -> list[str]:
    if args.selection:
        return list(args.selection)
    if args.search:
        found = store.runs.search(args.search, -1, experiment_id=args.experiment)
        ids = [r.id for r in reversed(found)]  # oldest first, like the others
        return [i for i in ids if args.status is None or store.runs.get(i).status == args.status]
    return store.runs.ids(experiment_id=args.experiment, status=args.status)


def _filter_by_rating(store: Store, args: argparse.Namespace, ids: list[str]) -> list[str]:
    if not (args.thumbs_up or args.min_stars):
        return ids
    rated = set(
        store.ratings.rated_run_ids(thumbs=1 if args.thumbs_up else None, min_stars=args.min_stars)
    )
    return [i for i in ids if i in rated]


def _run_records(store: Store, args: argparse.Namespace) -> list[RunRecord]:
    from workbench.storage.formats import RunRecord

    ids = _filter_by_rating(store, args, _selected_run_ids(store, args))
    cells: dict[str, tuple[dict[str, str], dict[str, dict[str, str]]]] = {}
    records = []
    for run in store.runs.get_many(ids):
        label, variables = "", {}
        experiment_id = run.ref.experiment_id
        if experiment_id is not None:
            if experiment_id not in cells:
                stored = store.experiments.get(experiment_id)
                cells[experiment_id] = (
                    {
                        i: v.label
                        for i, v in zip(stored.variant_ids, stored.spec.variants, strict=True)
                    },
                    {i: t.vars for i, t in zip(stored.test_ids, stored.spec.tests, strict=True)},
                )
            labels, test_vars = cells[experiment_id]
            label = labels.get(run.ref.variant_id or "", "")
            variables = test_vars.get(run.ref.test_case_id or "", {})
        records.append(RunRecord(id=run.id, result=run.result, label=label, vars=variables))
    return records


def _finetune(store: Store, args: argparse.Namespace) -> Export:
    from workbench.core.errors import KnownError
    from workbench.storage.finetune import finetune_jsonl
    from workbench.storage.formats import Export

    if args.selection:
        ids = _filter_by_rating(store, args, list(args.selection))
    else:
        args.status = args.status or "ok"  # failed runs are never training examples
        ids = _filter_by_rating(store, args, _selected_run_ids(store, args))
    if not ids:
        raise KnownError(
            "no runs selected for fine-tuning",
            hint="give run ids, or rate runs and use --thumbs-up / --min-stars",
        )
    data = finetune_jsonl(
        (run.result for run in store.runs.get_many(ids)),
        include_truncated=args.include_truncated,
        include_reasoning=args.include_reasoning,
    )
    if data.truncated and not data.text:
        raise KnownError(
            f"every selected run ({data.truncated}) was cut off at its token limit",
            hint="--include-truncated exports them anyway",
        )
    warnings = []
    if data.truncated:
        runs = "1 run" if data.truncated == 1 else f"{data.truncated:,} runs"
        warnings.append(
            f"left out {runs} cut off at the token limit (finish reason 'length'): their answers "
            "end mid-sentence; --include-truncated keeps them"
        )
    return Export(data.text, warnings)


def _dpo(store: Store, args: argparse.Namespace) -> Export:
    from workbench.core.errors import KnownError
    from workbench.storage.finetune import PreferencePair, dpo_jsonl
    from workbench.storage.formats import Export

    pairs = store.ratings.preference_pairs(args.experiment)
    if not pairs:
        raise KnownError(
            "no A/B preferences to export", hint="compare two runs and pick the better one first"
        )
    return Export(
        dpo_jsonl(
            PreferencePair(preferred=chosen.result, rejected=rejected.result)
            for chosen, rejected in pairs
        )
    )


def _experiment(store: Store, args: argparse.Namespace) -> ExperimentSpec:
    from workbench.core.errors import KnownError
    from workbench.services.comparison import find_experiment

    if len(args.selection) > 1:
        raise KnownError("export one experiment at a time")
    summaries = store.experiments.summaries()
    if not args.selection:
        if not summaries:
            raise KnownError("there are no experiments to export")
        if len(summaries) > 1:
            known = ", ".join(f"{s.name} ({s.id})" for s in summaries[:10])
            raise KnownError("which experiment?", hint=f"give its id or name: {known}")
        return store.experiments.get(summaries[0].id).spec
    return find_experiment(store, args.selection[0]).spec


def _presets(args: argparse.Namespace) -> list[Preset]:
    from workbench.core import paths
    from workbench.core.errors import KnownError
    from workbench.core.params import load_presets

    presets = load_presets(paths.resources_dir() / "presets.yaml", paths.config_dir() / "presets")
    if not args.selection:
        return list(presets.values())
    missing = [name for name in args.selection if name not in presets]
    if missing:
        raise KnownError(
            f"no preset named {', '.join(missing)}", hint=f"one of {', '.join(presets)}"
        )
    return [presets[name] for name in args.selection]
