"""Fuzz every reader of user files: whatever the bytes, a one-line KnownError or a result with
line-numbered problems, never a traceback, never a hang, and the library untouched on failure.

Inputs are real documents of each format (built from random data with the format's own keys)
with hostile pieces spliced in at random places: YAML aliases and tags, NUL and other control
characters, unicode line separators, unclosed brackets and quotes, deep nesting, huge numbers,
impossible dates, Jinja delimiters, CSV quotes. Each reader gets a modest number of examples
with a per-example deadline, so the whole suite stays within a few tens of seconds in CI.
"""

from __future__ import annotations

import json
import os
import re
import resource
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from workbench.cli import main
from workbench.core.datasets import read_csv, read_jsonl
from workbench.core.errors import KnownError
from workbench.core.params import load_presets
from workbench.core.sweep_file import load_sweep
from workbench.core.template_files import loads
from workbench.services.datasets import load_dataset
from workbench.services.suites import load_suite
from workbench.storage.finetune import check_finetune_file
from workbench.storage.formats import ImportResult, detect_format, import_text, read_runs_jsonl

#: Hostile pieces spliced into otherwise well-formed documents.
HOSTILE = (
    "&a ",
    "*a",
    "<<: *a\n",
    "!!python/object/apply:os.system ['true']",
    "!!binary AAAA",
    "!custom x",
    "\x00",
    "\x07",
    "\x1b[2J",
    "\ufeff",
    "\u2028",
    "\u2029",
    "\x85",
    "\r",
    "\r\n",
    "\t",
    "---\n",
    "...\n",
    "%YAML 1.1\n",
    "? ",
    ": ",
    "- ",
    "[",
    "]",
    "{",
    "}",
    "'",
    '"',
    '""',
    ",",
    "#",
    "|",
    ">",
    "9" * 400,
    "1e999",
    "2024-13-45",
    "0x" + "f" * 64,
    "[" * 60,
    "{a: " * 40,
    "{{",
    "}}",
    "{%",
    "%}",
    "{# ",
    "{{ range(999999999) }}",
    "file://../../etc/passwd",
    "file:///etc/passwd",
    "file://*.txt",
    "日本語",
    "🙂",
    "\udcff".encode("utf-8", "surrogatepass").decode("utf-8", "replace"),
)

TEMPLATE_KEYS = (
    "format_version",
    "name",
    "description",
    "tags",
    "technique",
    "mode",
    "messages",
    "role",
    "content",
    "literal",
    "text",
    "variables",
    "default",
    "examples",
    "input",
    "output",
    "parameters",
    "temperature",
    "max_tokens",
    "output_schema",
    "metadata",
    "components",
    "few_shot",
)
OTHER_KEYS = (
    "kind",
    "templates",
    "presets",
    "key",
    "prompts",
    "providers",
    "tests",
    "vars",
    "assert",
    "type",
    "value",
    "threshold",
    "defaultTest",
    "id",
    "label",
    "config",
    "prompt",
    "system",
    "model",
    "options",
    "defaults",
    "schema_object",
    "top_p",
    "top_k",
    "repetition_penalty",
    "identifier",
    "operation",
    "fields",
    "inference_params",
    "load_params",
    "template",
    "variants",
    "file",
    "version",
    "models",
    "backend",
    "params",
    "repeats",
    "dataset",
    "sample",
    "expected",
    "sweep",
    "grid",
)

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**6), 10**6),
    st.floats(allow_nan=False, allow_infinity=False, width=32),
    st.text(max_size=20),
    st.sampled_from(("user", "system", "assistant", "chat", "completion", "1", "contains")),
)
data = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(
            st.one_of(st.sampled_from(TEMPLATE_KEYS + OTHER_KEYS), st.text(max_size=6)),
            inner,
            max_size=6,
        ),
    ),
    max_leaves=25,
)


def _splice(text: str, pieces: list[tuple[int, str]]) -> str:
    for at, piece in pieces:
        cut = at % (len(text) + 1)
        text = text[:cut] + piece + text[cut:]
    return text


def documents(render: Callable[[Any], str]) -> st.SearchStrategy[str]:
    """Well-formed documents from random data, some with hostile pieces spliced in."""
    hostile = st.lists(st.tuples(st.integers(0, 10**6), st.sampled_from(HOSTILE)), max_size=4)
    return st.one_of(
        st.builds(_splice, data.map(render), hostile),
        st.text(max_size=200),
        st.lists(st.sampled_from(HOSTILE), max_size=12).map("".join),
    )


def _yaml(value: Any) -> str:
    return yaml.safe_dump(value, allow_unicode=True, sort_keys=False)


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def _template_doc(value: Any) -> str:
    base: dict[str, Any] = {"format_version": 1, "name": "t"}
    if isinstance(value, dict):
        base.update(value)
    else:
        base["messages"] = value
    return _yaml(base)


def _csv(value: Any) -> str:
    rows = value if isinstance(value, list) else [value]
    lines = ['"act","prompt","extra"']
    lines += [",".join(json.dumps(str(cell)) for cell in (row, row, row)) for row in rows]
    return "\n".join(lines) + "\n"


def _jsonl(value: Any) -> str:
    rows = value if isinstance(value, list) else [value]
    return "\n".join(_json(row) for row in rows) + "\n"


def _prompty(value: Any) -> str:
    return f"---\n{_yaml(value)}---\nsystem:\nYou are {{{{ who }}}}.\n\nuser:\n{{{{ q }}}}\n"


#: Examples per reader: modest for CI; WORKBENCH_FUZZ_EXAMPLES=2000 for a deeper local run.
EXAMPLES = int(os.environ.get("WORKBENCH_FUZZ_EXAMPLES", "40"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=timedelta(seconds=2),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    derandomize=False,
)


def _check_lines(result: ImportResult, text: str, source: str) -> None:
    """Every problem in the file itself points at one of its lines (YAML and the csv module
    also break lines at a lone CR, and YAML at U+0085, U+2028 and U+2029)."""
    last = len(re.split("\r\n|[\r\n\x85\u2028\u2029]", text))
    for problem in result.problems:
        if problem.source == source and problem.line is not None:
            assert 1 <= problem.line <= last, (problem, last)


IMPORTS = {
    "bundle-yaml": _yaml,
    "bundle-json": _json,
    "csv": _csv,
    "prompty": _prompty,
    "llm-template": _yaml,
    "lmstudio-preset": _json,
    "tgw-preset": _yaml,
    "promptfoo": _yaml,
}


@pytest.mark.parametrize("fmt", list(IMPORTS))
def test_importers_never_raise_and_report_true_lines(fmt: str, tmp_path: Path) -> None:
    (tmp_path / "p.txt").write_text("a prompt {{ q }}", encoding="utf-8")

    @FUZZ
    @given(documents(IMPORTS[fmt]), st.booleans())
    def check(text: str, as_jinja: bool) -> None:
        source = f"in.{fmt}"
        result = import_text(text, fmt, source, base_dir=tmp_path, as_jinja=as_jinja)
        _check_lines(result, text, source)
        assert all("Traceback" not in p.message for p in result.problems)

    check()


def _raises_only_known(read: Callable[[], object]) -> None:
    try:
        read()
    except KnownError as err:
        assert str(err) and "Traceback" not in str(err)


FILE_READERS: dict[str, tuple[str, Callable[[Any], str], Callable[[Path], object]]] = {
    "template": ("t.prompt.yaml", _template_doc, lambda p: loads(p.read_text("utf-8"), str(p))),
    "sweep": ("sweep.yaml", _yaml, load_sweep),
    "suite": ("suite.yaml", _yaml, load_suite),
    "presets": ("presets.yaml", _yaml, lambda p: load_presets(p)),
    "dataset-yaml": ("rows.yaml", _yaml, load_dataset),
    "dataset-csv": ("rows.csv", _csv, load_dataset),
    "dataset-jsonl": ("rows.jsonl", _jsonl, load_dataset),
    "detect-yaml": ("x.yaml", _yaml, lambda p: detect_format(p, p.read_text("utf-8"))),
}


@pytest.mark.parametrize("kind", list(FILE_READERS))
def test_file_readers_raise_only_known_errors(kind: str, tmp_path: Path) -> None:
    name, render, read = FILE_READERS[kind]
    path = tmp_path / name

    @FUZZ
    @given(documents(render))
    def check(text: str) -> None:
        path.write_text(text, encoding="utf-8", errors="surrogatepass")
        _raises_only_known(lambda: read(path))

    check()


@FUZZ
@given(documents(_jsonl))
def test_jsonl_and_csv_text_readers_never_raise(text: str) -> None:
    read_jsonl(text)
    read_csv(text)
    read_runs_jsonl(text, "runs.jsonl")
    check_finetune_file(text, count_tokens=len)


@settings(
    max_examples=max(12, EXAMPLES // 4),
    deadline=timedelta(seconds=5),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    text=documents(_yaml),
    fmt=st.sampled_from(["bundle-yaml", "llm-template", "promptfoo", "csv"]),
)
def test_a_failed_import_leaves_the_library_as_it_was(
    text: str,
    fmt: str,
    tmp_path_factory: pytest.TempPathFactory,
    capsys: pytest.CaptureFixture[str],
) -> None:
    folder = tmp_path_factory.mktemp("import")
    library = folder / "library"
    seed = folder / "seed.prompt.yaml"
    seed.write_text(_template_doc({"messages": [{"role": "user", "content": "hi"}]}), "utf-8")
    assert main(["library", "add", str(seed), "--library", str(library)]) == 0
    before = {p.name: p.read_bytes() for p in library.rglob("*") if p.is_file()}
    path = folder / f"in.{'csv' if fmt == 'csv' else 'yaml'}"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    result = import_text(text, fmt, path.name, base_dir=folder)
    code = main(["import", str(path), "--format", fmt, "--library", str(library)])
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    if not (result.templates or result.presets or result.experiment):
        after = {p.name: p.read_bytes() for p in library.rglob("*") if p.is_file()}
        assert after == before
        assert code != 0 or not result.problems


@pytest.fixture(scope="module", autouse=True)
def peak_before_mb() -> float:
    """This process's peak RSS before this module's first example (earlier tests may have
    raised it, a model load for one)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def test_the_fuzzing_stayed_within_memory(peak_before_mb: float) -> None:
    """Coarse (the peak is this process's): far below the gigabytes an alias bomb or an
    unbounded field once took."""
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    assert peak_mb < max(peak_before_mb, 200) + 512
