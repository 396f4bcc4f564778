"""``workbench library``: the prompt library's templates, versions, diffs, labels and search.

Every action first rescans the library folder, so edits made with an editor or git show up as
versions before anything is listed or changed.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from workbench.cli._common import print_json
from workbench.cli._storage import (
    add_library_option,
    library_key,
    open_library,
    open_store,
)
from workbench.core.wording import one_line

if TYPE_CHECKING:
    from workbench.storage.library import Library
    from workbench.storage.repositories import Store


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "library",
        help="the prompt library: templates, versions, diffs, labels",
        description="The prompt library is a folder of .prompt.yaml files (sub-folders are "
        "collections); every save is kept as a version. A VERSION is a number (3 or v3), a "
        "label (production) or 'head'.",
    )
    commands = p.add_subparsers(dest="library_command", metavar="ACTION", required=True)

    def command(name: str, help_text: str, func: object) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_text, description=help_text)
        add_library_option(sub)
        sub.set_defaults(func=func)
        return sub

    listing = command("list", "list the templates", run_list)
    listing.add_argument("--collection", metavar="NAME", help="only this collection (and below)")
    listing.add_argument("--tag", metavar="TAG", help="only templates with this tag")
    listing.add_argument("--deleted", action="store_true", help="include deleted templates")
    listing.add_argument("--json", action="store_true", help="print JSON")

    show = command("show", "print a template file, as saved in a version", run_show)
    show.add_argument("key", metavar="KEY")
    show.add_argument("--version", metavar="VERSION", help="a number, a label or head (default)")
    show.add_argument("--json", action="store_true", help="print JSON")

    versions = command("versions", "list a template's versions", run_versions)
    versions.add_argument("key", metavar="KEY")
    versions.add_argument("--json", action="store_true", help="print JSON")

    diff = command("diff", "show what changed between two versions", run_diff)
    diff.add_argument("key", metavar="KEY")
    diff.add_argument("old", metavar="OLD")
    diff.add_argument("new", metavar="NEW", nargs="?", default="head")
    diff.add_argument("--json", action="store_true", help="print the diff as data")

    restore = command("restore", "make an old version current (as a new version)", run_restore)
    restore.add_argument("key", metavar="KEY")
    restore.add_argument("version", metavar="VERSION")
    restore.add_argument("-m", "--message", help="the new version's message")

    label = command("label", "point a label (e.g. production) at a version", run_label)
    label.add_argument("key", metavar="KEY")
    label.add_argument("label", metavar="LABEL")
    label.add_argument("version", metavar="VERSION", nargs="?", default="head")
    label.add_argument("--remove", action="store_true", help="remove the label instead")

    add = command("add", "save template files into the library", run_add)
    add.add_argument("files", nargs="+", metavar="FILE", type=Path)
    add.add_argument("--collection", default="", metavar="NAME", help="the collection to add to")
    add.add_argument("-m", "--message", default="added", help="the versions' message")

    delete = command("delete", "delete a template's file (its history is kept)", run_delete)
    delete.add_argument("key", metavar="KEY")

    search = command(
        "search", "full-text search over names, descriptions, tags and text", run_search
    )
    search.add_argument("query", nargs="+", metavar="QUERY")
    search.add_argument("--limit", type=int, default=20, metavar="N")
    search.add_argument("--json", action="store_true", help="print JSON")

    rescan = command("rescan", "record changes made to the folder outside the app", run_rescan)
    rescan.add_argument("--json", action="store_true", help="print JSON")


def _open_for_key(store: Store, args: argparse.Namespace) -> Library:
    """The library, with ``args.key`` made a template's key when the person gave its name (as
    the app shows it); a key that names nothing is left for the library's own error."""
    library = open_library(store, args)
    args.key = library_key(library, args.key) or args.key
    return library


def run_list(args: argparse.Namespace) -> int:
    with open_store() as store:
        entries = open_library(store, args).entries(
            collection=args.collection, tag=args.tag, include_deleted=args.deleted
        )
    if args.json:
        print_json([dataclasses.asdict(e) for e in entries])
        return 0
    if not entries:
        print("the library is empty")
    for e in entries:
        tags = f"  [{', '.join(e.tags)}]" if e.tags else ""
        gone = "  (deleted)" if e.deleted else ""
        print(f"{e.key}  v{e.version}  {one_line(e.name, 40)}{tags}{gone}")
    return 0


def run_show(args: argparse.Namespace) -> int:
    with open_store() as store:
        library = _open_for_key(store, args)
        version = library.version(args.key, args.version)
        labels = [name for name, n in library.labels(args.key).items() if n == version.number]
    if args.json:
        print_json({**dataclasses.asdict(version), "labels": labels})
    else:
        sys.stdout.write(version.text)
    return 0


def run_versions(args: argparse.Namespace) -> int:
    with open_store() as store:
        library = _open_for_key(store, args)
        versions = library.versions(args.key)
        labels = library.labels(args.key)
    by_number: dict[int, list[str]] = {}
    for name, number in labels.items():
        by_number.setdefault(number, []).append(name)
    if args.json:
        print_json(
            [
                {k: v for k, v in dataclasses.asdict(ver).items() if k != "text"}
                | {"labels": by_number.get(ver.number, [])}
                for ver in versions
            ]
        )
        return 0
    for ver in versions:
        marks = f"  ({', '.join(by_number[ver.number])})" if ver.number in by_number else ""
        print(
            f"v{ver.number}  {ver.created_at[:19].replace('T', ' ')}  {ver.origin:<7} "
            f"{ver.message}{marks}"
        )
    return 0


def run_diff(args: argparse.Namespace) -> int:
    with open_store() as store:
        diff = _open_for_key(store, args).diff(args.key, args.old, args.new)
    if args.json:
        print_json(
            {
                "old": diff.old_label,
                "new": diff.new_label,
                "added": diff.added,
                "removed": diff.removed,
                "chunks": [dataclasses.asdict(c) for c in diff.chunks],
            }
        )
    elif diff.changed:
        print(diff.unified())
    else:
        print(f"{diff.old_label} and {diff.new_label} are identical")
    return 0


def run_restore(args: argparse.Namespace) -> int:
    with open_store() as store:
        version = _open_for_key(store, args).restore(args.key, args.version, args.message)
    print(f"{version.key} is now v{version.number} ({version.message})")
    return 0


def run_label(args: argparse.Namespace) -> int:
    with open_store() as store:
        library = _open_for_key(store, args)
        if args.remove:
            library.remove_label(args.key, args.label)
            print(f"removed label {args.label} from {args.key}")
        else:
            version = library.set_label(args.key, args.label, args.version)
            print(f"{args.label} -> {version.key} v{version.number}")
    return 0


def run_add(args: argparse.Namespace) -> int:
    from workbench.core.template_files import read_template

    templates = [read_template(path) for path in args.files]
    with open_store() as store:
        results = open_library(store, args).import_templates(
            templates, collection=args.collection, message=args.message
        )
    for version, changed in results:
        print(f"{version.key}  v{version.number}{'' if changed else '  (unchanged)'}")
    return 0


def run_delete(args: argparse.Namespace) -> int:
    with open_store() as store:
        _open_for_key(store, args).delete(args.key)
    print(f"deleted {args.key} (restore it with: workbench library restore {args.key} head)")
    return 0


def run_search(args: argparse.Namespace) -> int:
    with open_store() as store:
        entries = open_library(store, args).search(" ".join(args.query), args.limit)
    if args.json:
        print_json([dataclasses.asdict(e) for e in entries])
        return 0
    if not entries:
        print("no templates match")
    for e in entries:
        print(f"{e.key}  v{e.version}  {one_line(e.name, 40)}")
        if e.snippet:
            print(f"    {one_line(e.snippet, 100)}")
    return 0


def run_rescan(args: argparse.Namespace) -> int:
    from workbench.storage.library import Library

    with open_store() as store:
        report = Library(store.db, args.library).rescan()
    if args.json:
        print_json(
            {
                "added": report.added,
                "changed": report.changed,
                "removed": report.removed,
                "renamed": [list(pair) for pair in report.renamed],
                "problems": [
                    {
                        "path": p.path,
                        "line": p.line,
                        "reason": p.reason,
                        "kept_version": report.kept.get(p.path),
                    }
                    for p in report.problems
                ],
            }
        )
        return 0
    for title, keys in (
        ("added", report.added),
        ("changed", report.changed),
        ("removed", report.removed),
    ):
        for key in keys:
            print(f"{title:<8} {key}")
    for old, new in report.renamed:
        print(f"renamed  {old} -> {new}")
    for line in report.problem_lines():
        print(f"problem  {line}")
    return 0
