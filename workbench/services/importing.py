"""Keeping what an import read: templates as new library versions, a promptfoo config as an
experiment with its test rows, parameter presets as user preset files.

``workbench import`` and the desktop app's File ▸ Import both store through here, so a file
imported either way lands in the same places. Nothing already in the library is lost: existing
templates get a new version (their history keeps the old one), and the templates go in all or
nothing (``Library.import_templates``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from workbench.core import paths
from workbench.core.experiments import ExperimentSpec
from workbench.core.models import PromptTemplate
from workbench.core.params import Preset, dump_presets
from workbench.storage import files
from workbench.storage.formats import ImportResult
from workbench.storage.library import Library
from workbench.storage.library_records import slug
from workbench.storage.repositories import Store


@dataclass
class ImportedTemplate:
    """A template read from the file; key and version once it is in the library."""

    name: str
    key: str | None = None
    version: int | None = None
    changed: bool | None = None  # False: the library already held exactly this


@dataclass(frozen=True)
class ImportedExperiment:
    id: str
    name: str
    variants: int
    tests: int


@dataclass
class StoredImport:
    """Where each imported thing went."""

    templates: list[ImportedTemplate] = field(default_factory=list)
    experiment: ImportedExperiment | None = None
    presets: list[tuple[str, Path]] = field(default_factory=list)


def default_collection(file: Path) -> str:
    """``imported/<file name>``; a promptfoo config's generic name is replaced by its folder's."""
    stem = file.stem
    if stem.lower() == "promptfooconfig" and file.resolve().parent.name:
        stem = file.resolve().parent.name
    return f"imported/{slug(stem)}"


def store_import(
    store: Store,
    library: Library,
    result: ImportResult,
    file: Path,
    *,
    collection: str | None = None,
    message: str | None = None,
) -> StoredImport:
    """Store everything ``result`` holds.

    Templates go to ``collection`` under their names when it is given; otherwise each template
    the file gives a library key (a bundle exported from a library) goes back to that key, and
    the others to ``default_collection``.
    """
    stored = StoredImport(templates=[ImportedTemplate(t.name) for t in result.templates])
    versions: list[tuple[PromptTemplate, str, int]] = []
    if result.templates:
        saved = library.import_templates(
            result.templates,
            collection=default_collection(file) if collection is None else collection,
            message=message or f"imported from {file.name}",
            keys=result.keys if collection is None else (),
        )
        for entry, template, (version, changed) in zip(
            stored.templates, result.templates, saved, strict=True
        ):
            entry.key, entry.version, entry.changed = version.key, version.number, changed
            versions.append((template, version.key, version.number))
    if result.experiment is not None or result.tests:
        stored.experiment = _store_experiment(store, file, result, versions)
    stored.presets = [(preset.name, save_preset(preset)) for preset in result.presets]
    return stored


def _store_experiment(
    store: Store,
    file: Path,
    result: ImportResult,
    versions: list[tuple[PromptTemplate, str, int]],
) -> ImportedExperiment:
    """The experiment, each variant pointing at the library version (key and number) of its
    template, so its runs reopen that version."""
    spec = result.experiment or ExperimentSpec(name=file.stem, tests=result.tests)
    variants = []
    for variant in spec.variants:
        found = next(((k, n) for t, k, n in versions if t == variant.template), None)
        if variant.template_version is None and found is not None:
            key, number = found
            variant = variant.model_copy(
                update={"template_key": key, "template_version": number}
            )
        variants.append(variant)
    spec = spec.model_copy(update={"variants": variants})
    experiment = store.experiments.create(spec)
    return ImportedExperiment(experiment.id, spec.name, len(spec.variants), len(spec.tests))


def save_preset(preset: Preset) -> Path:
    """A user preset file in the config folder; an existing different file is never replaced."""
    folder = paths.config_dir() / "presets"
    text = dump_presets([preset])
    path = folder / f"{slug(preset.name)}.yaml"
    n = 1
    while path.exists() and path.read_text(encoding="utf-8") != text:
        n += 1
        path = folder / f"{slug(preset.name)}-{n}.yaml"
    files.write_text(path, text)
    return path
