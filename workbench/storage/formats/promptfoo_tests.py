"""promptfoo test cases: inline, from CSV/YAML/JSON/JSONL files, with vars and assertions.

Follows promptfoo's own rules: a list-valued var gives one test per value (every combination when
several are lists), ``file://`` var values are read (text trimmed, YAML as JSON text; code and media
are not run or embedded), CSV columns ``__expected*`` are assertions in promptfoo's shorthand and
``__description``/``__metric``/``__threshold``/``__metadata:*`` fill the test's fields.
"""

from __future__ import annotations

import functools
import itertools
import json
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from workbench.core.evaluation import JUDGED_KINDS, registry
from workbench.core.experiments import AssertionSpec, TestCase
from workbench.core.records import jsonl_records
from workbench.storage.formats.promptfoo_files import (
    CODE_SUFFIXES,
    assertion_from_string,
    csv_rows,
    load_structured,
    read_text,
    resolve,
)
from workbench.storage.formats.promptfoo_providers import ProviderRef, read_provider, refused
from workbench.storage.formats.results import Problems
from workbench.storage.formats.script_files import read_transform, with_scripts
from workbench.storage.formats.yamlsrc import Doc, describe

ASSERT_KEYS = {"type", "value", "threshold", "weight", "metric", "transform", "config",
               "provider"}
TEST_KEYS = {"vars", "assert", "description", "metadata", "threshold", "options"}


def scalar_text(value: Any) -> str:
    """A var value as promptfoo's JavaScript would print it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _assertion(
    item: Any, doc: Doc, path: tuple[str | int, ...], ctx: Context
) -> AssertionSpec | None:
    line = doc.line(*path)
    problems = ctx.problems
    if isinstance(item, str):
        return supported(with_scripts(assertion_from_string(item), ctx.base_dir, problems, line),
                         problems, line)
    if isinstance(item, dict) and isinstance(item.get("$ref"), str):
        target = _reference(item["$ref"], doc)
        found = None if target is None else _at(doc, target)
        if target is None or (isinstance(found, dict) and "$ref" in found):
            # Missing, or a reference to a reference (itself, say): not followed.
            problems.error(line, f"'$ref: {item['$ref']}' names no assertion in this file (a "
                                 "reference is not followed twice); not imported")
            return None
        return _assertion(found, doc, target, ctx)
    if not isinstance(item, dict) or not isinstance(item.get("type"), str):
        problems.error(line, f"assertion without a 'type' ({describe(item)}); not imported")
        return None
    kind: str = item["type"]
    if kind == "assert-set":
        problems.error(line, "'assert-set' (nested assertions) is not supported; not imported")
        return None
    base = kind.removeprefix("not-")
    keys = ASSERT_KEYS if base in JUDGED_KINDS else ASSERT_KEYS - {"provider"}  # a grader's
    extra = sorted(set(item) - keys)
    if extra:
        problems.warn(line, f"assertion '{kind}': keys not kept: {', '.join(extra)}")
    try:
        spec = AssertionSpec(
            type=kind[4:] if kind.startswith("not-") else kind,
            negate=kind.startswith("not-"),
            value=_plain(item.get("value")),
            threshold=item.get("threshold"),
            weight=item.get("weight", 1.0),
            metric=item.get("metric"),
            transform=item.get("transform"),
            config=_plain(item["config"]) if "config" in item else None,
            provider=read_grader(item.get("provider"), doc, (*path, "provider"), ctx)
            if base in JUDGED_KINDS else None,
        )
    except ValidationError as err:
        problems.error(line, f"assertion '{kind}': {err.errors()[0]['msg']}; not imported")
        return None
    return supported(with_scripts(spec, ctx.base_dir, problems, line), problems, line)


def _reference(ref: str, doc: Doc) -> tuple[str | int, ...] | None:
    """The path a local JSON reference (``#/assertionTemplates/x``, as promptfoo dereferences
    its config) names in ``doc``, or None."""
    if not ref.startswith("#/"):
        return None
    path: list[str | int] = []
    value = doc.data
    for part in ref[2:].split("/"):
        key = part.replace("~1", "/").replace("~0", "~")
        if isinstance(value, dict) and key in value:
            value = value[key]
            path.append(key)
        elif isinstance(value, list) and key.isdigit() and int(key) < len(value):
            value = value[int(key)]
            path.append(int(key))
        else:
            return None
    return tuple(path)


def _at(doc: Doc, path: tuple[str | int, ...]) -> Any:
    value = doc.data
    for key in path:
        value = value[key]
    return value


def supported(spec: AssertionSpec, problems: Problems, line: int | None) -> AssertionSpec | None:
    """``spec``, or None with an error on its line when the workbench has no such type: the
    rest of the test still runs (promptfoo has types this app does not)."""
    name = spec.type.removeprefix("not-")
    if name in registry():
        return spec
    problems.error(line, f"assertion type '{spec.type}' is not supported here; not imported")
    return None


def _plain(value: Any) -> Any:
    """YAML values (dates included) as JSON-able data."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


@dataclass
class Context:
    """Where a config's parts are read: its folder, its problems, what ``defaultTest`` gives
    every test (metadata, a grader) and every grader provider met (for the backend mapping)."""

    base_dir: Path | None
    problems: Problems
    metadata: dict[str, Any] = field(default_factory=dict)
    grader: str | None = None
    graders: list[ProviderRef] = field(default_factory=list)

    def inside(self, base_dir: Path, problems: Problems) -> Context:
        """The context for a file the config names (its own folder and problems)."""
        return replace(self, base_dir=base_dir, problems=problems)


def read_grader(value: Any, doc: Doc, path: tuple[str | int, ...], ctx: Context) -> str | None:
    """The promptfoo id of a grader ``provider`` (an id, or a mapping with ``id``), recorded
    with its line; code and unreadable values are reported there (the default judge grades)."""
    if value is None:
        return None
    line = doc.line(*path)
    if isinstance(value, dict) and isinstance(value.get("text"), dict | str):
        value = value["text"]  # promptfoo's {text: ..., embedding: ...}: the text grader
        path = (*path, "text")
    pid = value.get("id") if isinstance(value, dict) else value
    if not isinstance(pid, str) or not pid:
        ctx.problems.error(line, f"grader 'provider' must be an id or a mapping with 'id', not "
                                 f"{describe(value)}; the default grader is used")
        return None
    reason = refused(pid)
    if reason is not None:
        ctx.problems.error(line, f"grader {reason}; the default grader is used")
        return None
    if isinstance(value, dict) and set(value) - {"id", "label"}:
        ctx.problems.warn(line, f"grader provider '{pid}': only its id is kept ("
                                f"{', '.join(sorted(set(value) - {'id', 'label'}))} not kept)")
    ctx.graders.append(read_provider(pid, line, ctx.problems.source))
    return pid


def with_grader(specs: list[AssertionSpec], grader: str | None) -> list[AssertionSpec]:
    """``options.provider`` given to the judged assertions that name no provider of their own."""
    if grader is None:
        return specs
    return [s.model_copy(update={"provider": grader})
            if s.provider is None and s.type in JUDGED_KINDS else s for s in specs]


def read_assertions(
    value: Any, doc: Doc, path: tuple[str | int, ...], ctx: Context
) -> list[AssertionSpec]:
    if value is None:
        return []
    if not isinstance(value, list):
        ctx.problems.error(doc.line(*path), f"'assert' must be a list, not {describe(value)}")
        return []
    found = (_assertion(item, doc, (*path, i), ctx) for i, item in enumerate(value))
    return [a for a in found if a is not None]


def read_options(value: Any, doc: Doc, path: tuple[str | int, ...], ctx: Context) -> Any:
    """The transform in a test's (or defaultTest's) ``options``; other options are reported."""
    line = doc.line(*path)
    if value is None:
        return None
    if not isinstance(value, dict):
        ctx.problems.error(line, f"'options' must be a mapping, not {describe(value)}")
        return None
    extra = sorted(set(value) - {"transform", "postprocess", "provider"})
    if extra:
        ctx.problems.warn(line, f"options not kept: {', '.join(extra)}")
    transform = value.get("transform") or value.get("postprocess")  # postprocess: older name
    if transform is not None and not isinstance(transform, str):
        ctx.problems.error(line, f"'transform' must be code or file://, not {describe(transform)}")
        return None
    return read_transform(transform, ctx.base_dir, ctx.problems, line)


def _file_var(ref: str, ctx: Context, line: int | None) -> str:
    """promptfoo loads ``file://`` var values when rendering; text files are read now, alike."""
    suffix = Path(ref).suffix.lower()
    if suffix in CODE_SUFFIXES or suffix in (
        ".pdf",
        ".png",
        ".jpg",
        ".jpeg",
        ".gif",
        ".webp",
        ".mp4",
    ):
        ctx.problems.warn(line, f"var value '{ref}' is code or media; kept as the reference text")
        return ref
    paths = resolve(ref, ctx.base_dir, ctx.problems, line)
    if not paths:
        return ref
    if suffix in (".yaml", ".yml"):
        doc = load_structured(paths[0], ctx.problems, line)
        return ref if doc is None else json.dumps(_plain(doc.data), ensure_ascii=False)
    text = read_text(paths[0], ctx.problems, line)
    return ref if text is None else text.strip()


def _var_choices(name: str, value: Any, ctx: Context, line: int | None) -> list[str]:
    if isinstance(value, list) and value and all(not isinstance(v, dict | list) for v in value):
        return [c for v in value for c in _var_choices(name, v, ctx, line)]
    if isinstance(value, str):
        return [_file_var(value, ctx, line) if value.startswith("file://") else value]
    if value is None:
        ctx.problems.warn(line, f"var '{name}' has no value; read as empty text")
        return [""]
    if isinstance(value, dict | list):
        ctx.problems.warn(line, f"var '{name}' is structured data; kept as JSON text")
        return [json.dumps(_plain(value), ensure_ascii=False)]
    return [scalar_text(value)]


def _yaml12(value: Any, doc: Doc, path: tuple[str | int, ...]) -> Any:
    """A boolean var as promptfoo's YAML 1.2 reader has it: ``Yes``, ``no``, ``on`` stay text."""
    if isinstance(value, list):
        return [_yaml12(v, doc, (*path, i)) for i, v in enumerate(value)]
    if isinstance(value, bool):
        written = doc.as_written(*path)
        if written is not None and written.lower() not in ("true", "false"):
            return written
    return value


def read_vars(
    value: Any, doc: Doc, path: tuple[str | int, ...], ctx: Context
) -> list[dict[str, str]]:
    """Every combination of a test's vars (a list gives one test per item, as promptfoo does)."""
    line = doc.line(*path)
    if isinstance(value, str) and value.startswith("file://"):
        paths = resolve(value, ctx.base_dir, ctx.problems, line)
        loaded = load_structured(paths[0], ctx.problems, line) if paths else None
        if loaded is None:
            return [{}]
        doc, path, value = loaded, (), loaded.data
    if value is None:
        return [{}]
    if not isinstance(value, dict):
        ctx.problems.error(line, f"'vars' must be a mapping, not {describe(value)}")
        return [{}]
    names = [str(k) for k in value]
    choices = [
        _var_choices(n, _yaml12(v, doc, (*path, n)), ctx, doc.line(*path, n))
        for n, v in zip(names, value.values(), strict=True)
    ]
    return [dict(zip(names, combo, strict=True)) for combo in itertools.product(*choices)]


_VAR_REF = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")


def referenced(values: dict[str, str]) -> dict[str, str]:
    """Vars that name other vars (``sentence: 'tweet about {{topic}}'``) filled in, as promptfoo
    renders each var with the test's vars in one pass, in order; other text is left as it is."""
    out = dict(values)

    def fill(key: str, match: re.Match[str]) -> str:
        name = match.group(1)
        return out[name] if name in out and name != key else match.group(0)

    for key, value in out.items():
        if "{{" in value:
            out[key] = _VAR_REF.sub(functools.partial(fill, key), value)
    return out


def read_test(
    item: Any, doc: Doc, path: tuple[str | int, ...], ctx: Context, base: dict[str, str]
) -> list[TestCase]:
    line = doc.line(*path)
    if not isinstance(item, dict):
        ctx.problems.error(line, f"a test must be a mapping, not {describe(item)}; not imported")
        return []
    extra = sorted(set(item) - TEST_KEYS)
    if extra:
        ctx.problems.warn(line, f"test keys not kept: {', '.join(extra)}")
    own = _plain(item.get("metadata")) if isinstance(item.get("metadata"), dict) else {}
    metadata = {**ctx.metadata, **own}  # promptfoo merges defaultTest's metadata, the test's win
    expected = metadata.pop("expected", None)
    if "threshold" in item:
        metadata["threshold"] = item["threshold"]
    asserts = read_assertions(item.get("assert"), doc, (*path, "assert"), ctx)
    transform = read_options(item.get("options"), doc, (*path, "options"), ctx)
    options = item.get("options")
    grader = read_grader(options.get("provider"), doc, (*path, "options", "provider"), ctx) \
        if isinstance(options, dict) else None
    asserts = with_grader(asserts, grader or ctx.grader)
    description = item.get("description")
    return [
        TestCase(
            description=str(description) if description is not None else "",
            vars=referenced({**base, **combo}),
            expected=None if expected is None else str(expected),
            assertions=asserts,
            metadata=metadata,
            transform=transform,
        )
        for combo in read_vars(item.get("vars"), doc, (*path, "vars"), ctx)
    ]


def _csv_tests(path: Path, ctx: Context, line: int | None, base: dict[str, str]) -> list[TestCase]:
    text = read_text(path, ctx.problems, line)
    if text is None:
        return []
    file_problems, script_problems = Problems(path.name), Problems(path.name)
    tests = []
    for row_line, row in csv_rows(text, file_problems, ctx.problems):
        test_vars: dict[str, str] = {}
        asserts: list[AssertionSpec] = []
        description, metric, metadata = "", None, dict(ctx.metadata)
        for key, value in row.items():
            if key.startswith("__expected"):
                found = supported(with_scripts(assertion_from_string(value), ctx.base_dir,
                                               script_problems, row_line),
                                  script_problems, row_line) if value.strip() else None
                if found is not None:
                    asserts.append(found)
            elif key == "__description":
                description = value
            elif key == "__metric":
                metric = value
            elif key == "__threshold":
                metadata["threshold"] = value
            elif key.startswith("__metadata:"):
                metadata[key[len("__metadata:") :]] = value
            elif key.startswith("__"):
                ctx.problems.warn(row_line, f"column '{key}' not kept", source=path.name)
            else:
                test_vars[key] = value
        if metric:
            asserts = [a.model_copy(update={"metric": metric}) for a in asserts]
        asserts = with_grader(asserts, ctx.grader)
        tests.append(
            TestCase(
                description=description,
                vars={**base, **test_vars},
                assertions=asserts,
                metadata=metadata,
            )
        )
    ctx.problems.items.extend(script_problems.items)
    return tests


def tests_from_ref(
    ref: str, ctx: Context, line: int | None, base: dict[str, str]
) -> list[TestCase]:
    if not ref.startswith("file://"):
        ctx.problems.error(
            line, f"tests from '{ref}' cannot be read offline; only file:// tests are imported"
        )
        return []
    out: list[TestCase] = []
    for path in resolve(ref, ctx.base_dir, ctx.problems, line):
        suffix = path.suffix.lower()
        if suffix == ".csv":
            out += _csv_tests(path, ctx, line, base)
        elif suffix in (".yaml", ".yml", ".json"):
            doc = load_structured(path, ctx.problems, line)
            if doc is None:
                continue
            sub = ctx.inside(path.parent, Problems(path.name))
            items = doc.data if isinstance(doc.data, list) else [doc.data]
            for i, item in enumerate(items):
                out += read_test(item, doc, (i,) if isinstance(doc.data, list) else (), sub, base)
            ctx.problems.items.extend(sub.problems.items)
        elif suffix == ".jsonl":
            text = read_text(path, ctx.problems, line)
            for n, item, error in jsonl_records(text or ""):
                if error is not None:
                    ctx.problems.error(n, error, source=path.name)
                    continue
                sub_problems = Problems(path.name)
                out += read_test(
                    item, Doc(item, None, n - 1), (), ctx.inside(path.parent, sub_problems), base
                )
                ctx.problems.items.extend(sub_problems.items)
        else:
            ctx.problems.error(
                line, f"{path.name}: tests in {suffix or 'this'} files are not imported"
            )
    return out
