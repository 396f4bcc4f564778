"""Script files named by ``file://`` in suites and promptfoo configs: ``javascript``/``python``
assertion values and transforms (``file://checks.js``, ``file://grade.py:get_score``).

They are read when the suite is loaded, only from inside its folder (``promptfoo_files.resolve``
refuses anything else on its line), into a ``ScriptFile`` the evaluation carries: nothing reads
files while checks run, and the sandboxed evaluators never see a path.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from workbench.core.experiments import AssertionSpec, ScriptFile, Transform
from workbench.storage.formats.promptfoo_files import read_text, resolve
from workbench.storage.formats.results import Problems

LANGUAGES: dict[str, Literal["javascript", "python"]] = {
    ".js": "javascript", ".cjs": "javascript", ".mjs": "javascript", ".py": "python",
}
SCRIPT_KINDS = ("javascript", "python")


def split_ref(ref: str) -> tuple[str, str | None]:
    """``file://path[:function]`` as (path, function), promptfoo's rule: the last colon splits
    only when what is before it names a script file."""
    spec = ref.removeprefix("file://")
    head, colon, name = spec.rpartition(":")
    if colon and len(head) > 1 and Path(head).suffix.lower() in (*LANGUAGES, ".ts"):
        return head, name or None
    return spec, None


def read_script(ref: str, base_dir: Path | None, problems: Problems,
                line: int | None) -> ScriptFile | None:
    """The script a ``file://`` reference names, or None (the problem reported on ``line``)."""
    path, function = split_ref(ref)
    language = LANGUAGES.get(Path(path).suffix.lower())
    if language is None:
        problems.error(line, f"'{ref}': only JavaScript (.js, .cjs, .mjs) and Python (.py) "
                             "script files run here")
        return None
    found = resolve(f"file://{path}", base_dir, problems, line)
    if not found:
        return None
    source = read_text(found[0], problems, line)
    if source is None:
        return None
    return ScriptFile(path=path, language=language, source=source, function=function)


def with_scripts(spec: AssertionSpec, base_dir: Path | None, problems: Problems,
                 line: int | None) -> AssertionSpec:
    """The assertion with its ``file://`` script value and transform read. A reference that
    cannot be read stays as written: it is an error on its line now and when it runs (the rest
    of the suite still runs)."""
    update: dict[str, object] = {}
    value = spec.value
    if spec.type in SCRIPT_KINDS and isinstance(value, str) and value.startswith("file://"):
        script = read_script(value.strip(), base_dir, problems, line)
        if script is not None:
            if script.language != spec.type:
                problems.error(line, f"'{value}' is {script.language}, not {spec.type}")
            else:
                update["value"] = script.model_dump(exclude_defaults=True)
    transform = read_transform(spec.transform, base_dir, problems, line)
    if transform is not spec.transform:
        update["transform"] = transform
    return spec.model_copy(update=update) if update else spec


def read_transform(transform: Transform | None, base_dir: Path | None, problems: Problems,
                   line: int | None) -> Transform | None:
    """A transform with its ``file://`` script read (inline code is returned as it is)."""
    if isinstance(transform, str) and transform.startswith("file://"):
        return read_script(transform.strip(), base_dir, problems, line) or transform
    return transform
