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
from typing import Any

from workbench.cli._common import assignment, parse_assignments, print_json
from workbench.cli._storage import add_library_option, open_library, open_store


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
        help="library collection for the templates (default: a bundle's own library keys, "
        "else imported/<file name>)",
    )
    p.add_argument("-m", "--message", help="the new versions' message")
    p.add_argument(
        "--as-jinja",
        action="store_true",
        help="CSV bodies are Jinja templates (by default they are kept as literal text)",
    )
    p.add_argument(
        "--column",
        type=assignment,
        action="append",
        metavar="FIELD=HEADER",
        help="CSV column for a field (name, body, description, tags), e.g. name=act",
    )
    p.add_argument("--dry-run", action="store_true", help="read and report, write nothing")
    p.add_argument("--json", action="store_true", help="print JSON")
    add_library_option(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from workbench.core.errors import KnownError
    from workbench.services.importing import store_import
    from workbench.storage.formats import import_file

    if not args.file.is_file():
        raise KnownError(f"no file {args.file}")
    columns = parse_assignments(args.column, "--column") or None
    result = import_file(args.file, args.format, as_jinja=args.as_jinja, columns=columns)
    if result.format == "promptfoo":  # its providers on your backends, or the local model
        from workbench.services.promptfoo_backends import choose_backends

        choose_backends(result)
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
            stored = store_import(
                store,
                open_library(store, args),
                result,
                args.file,
                collection=args.collection,
                message=args.message,
            )
        report["templates"] = [asdict(t) for t in stored.templates]
        if stored.experiment is not None:
            report["experiment"] = asdict(stored.experiment)
        report["presets"] = [{"name": name, "file": str(path)} for name, path in stored.presets]
    _print(report, args.json)
    return 1 if result.errors else 0


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
