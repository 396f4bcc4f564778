"""Opening the store and the library for a command, and printing what they hold."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from workbench.core.grid import TemplateChoice
    from workbench.core.models import PromptTemplate
    from workbench.storage.library import Library, RescanReport
    from workbench.storage.repositories import Store


def add_library_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--library",
        metavar="DIR",
        type=Path,
        help="the library folder (default: 'library' in the data folder)",
    )


def open_store() -> Store:
    from workbench.storage.repositories import Store

    return Store.open()


def open_library(store: Store, args: argparse.Namespace) -> Library:
    """The library, brought up to date with its folder (files are the source of truth)."""
    from workbench.storage.library import Library

    library = Library(store.db, getattr(args, "library", None))
    report_problems(library.rescan())
    return library


def report_problems(report: RescanReport) -> None:
    """Files the rescan could not read are warnings: the rest of the library still works."""
    for line in report.problem_lines():
        print(f"warning: {line}", file=sys.stderr)


@dataclass(frozen=True)
class ResolvedTemplate:
    """A TEMPLATE argument's template, with its library key and version when it came from
    there (so a run records which version it ran)."""

    template: PromptTemplate
    key: str | None = None
    version: int | None = None


def resolve_template(ref: str, args: argparse.Namespace) -> ResolvedTemplate:
    """A TEMPLATE argument: an existing file path, else a library key or name (its current
    version, or ``KEY@VERSION`` for a number or label), else a built-in template's name. The
    library is rescanned first, so edits saved in the app or an editor are what runs."""
    from workbench.core.errors import KnownError
    from workbench.core.paths import builtin_templates_dir
    from workbench.core.template_files import SUFFIX, read_template
    from workbench.storage.library import Library

    path = Path(ref)
    if path.is_file():
        return ResolvedTemplate(read_template(path))
    found = _from_library(ref, args)
    if found is not None:
        return found
    builtin = builtin_templates_dir() / f"{ref}{SUFFIX}"
    if builtin.is_file():
        return ResolvedTemplate(read_template(builtin))
    builtins = sorted(p.name[: -len(SUFFIX)] for p in builtin_templates_dir().glob(f"*{SUFFIX}"))
    with open_store() as store:
        closest = closest_keys(Library(store.db, getattr(args, "library", None)), ref, builtins)
    maybe = f"did you mean {' or '.join(closest)}? " if closest else ""
    raise KnownError(
        f"'{ref}' is not a template file, a template in the library or a built-in template",
        hint=f"{maybe}give a .prompt.yaml path, a library key or name (see: workbench library "
        f"list) or a built-in name ({', '.join(builtins)})",
    )


def library_resolver(args: argparse.Namespace) -> Callable[[str], TemplateChoice | None]:
    """Library keys for a sweep file's ``template:``, looked up as ``resolve_template`` does
    (``KEY`` or ``KEY@VERSION``), with the key and version number each run records."""
    from workbench.core.grid import TemplateChoice

    def resolve(ref: str) -> TemplateChoice | None:
        found = _from_library(ref, args)
        if found is None:
            return None
        return TemplateChoice(template=found.template, key=found.key, version=found.version)

    return resolve


def _from_library(ref: str, args: argparse.Namespace) -> ResolvedTemplate | None:
    from workbench.core.errors import KnownError
    from workbench.storage.db import NotFoundError

    key, at, version = ref.rpartition("@")
    candidates = [(ref, None)] + ([(key, version)] if at and key and version else [])
    with open_store() as store:
        library = open_library(store, args)
        for given, wanted in candidates:
            name = library_key(library, given)
            if name is None:
                continue
            try:
                found = library.version(name, wanted)
            except NotFoundError as err:
                raise KnownError(str(err), hint=f"workbench library versions {name}") from None
            template = library.load(found.key, found.number)  # with its images
            return ResolvedTemplate(template, found.key, found.number)
    return None


def library_key(library: Library, ref: str) -> str | None:
    """The key of the library template ``ref`` names: its key, else its name as the app shows
    it (exactly, ignoring case), since people copy the name from the window. None when none
    does; a name two templates share is an error listing their keys."""
    from workbench.core.errors import KnownError

    try:
        if not library.entry(ref).deleted:
            return ref
    except KnownError:  # not a library key (NotFoundError) or not a valid one
        pass
    wanted = ref.strip().casefold()
    keys = [e.key for e in library.entries() if e.name.strip().casefold() == wanted]
    if len(keys) > 1:
        raise KnownError(
            f"{len(keys)} library templates are named '{ref}': {', '.join(keys)}",
            hint="give the key of the one you mean",
        )
    return keys[0] if keys else None


def closest_keys(library: Library, ref: str, builtins: list[str]) -> list[str]:
    """The library keys (and built-in names) closest to a ``ref`` that named none, by key or
    by display name, for a "did you mean" (at most three)."""
    import difflib

    entries = library.entries()
    by_name = {e.name.casefold(): e.key for e in entries}
    wanted = ref.casefold()
    keys = [e.key for e in entries] + builtins
    found = difflib.get_close_matches(wanted, [k.casefold() for k in keys], n=3, cutoff=0.6)
    lowered = {k.casefold(): k for k in keys}
    close = [lowered[f] for f in found]
    for name in difflib.get_close_matches(wanted, list(by_name), n=3, cutoff=0.6):
        if by_name[name] not in close:
            close.append(by_name[name])
    return close[:3]
