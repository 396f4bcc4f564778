"""Format detection, reading files, and the promise that no malformed file raises."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.storage.factories import make_template
from tests.storage.formats.strategies import text
from workbench.core.errors import KnownError
from workbench.storage.formats import (
    FORMATS,
    UnknownFormatError,
    detect_format,
    export,
    import_file,
    import_text,
)

IMPORTABLE = [name for name, info in FORMATS.items() if info.can_import]


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("x.prompty", None, "prompty"),
        ("library.csv", None, "csv"),
        ("promptfooconfig.yaml", None, "promptfoo"),
        ("eval.yaml", "prompts: [a]\ntests: []\n", "promptfoo"),
        ("lib.yaml", "format_version: 1\ntemplates: []\n", "bundle-yaml"),
        ("lib.json", '{"format_version": 1, "templates": []}', "bundle-json"),
        ("summarize.yaml", "system: Summarize\n", "llm-template"),
        ("one.yml", "'just a prompt: $input'\n", "llm-template"),
        ("Divine Intellect.yaml", "temperature: 1.31\ntop_a: 0.52\n", "tgw-preset"),
        ("coder.preset.json", '{"name": "c", "operation": {"fields": []}}', "lmstudio-preset"),
        ("old.json", '{"name": "c", "inference_params": {}}', "lmstudio-preset"),
        ("broken.preset.json", "{", "lmstudio-preset"),
    ],
)
def test_detect_format(name: str, content: str | None, expected: str) -> None:
    assert detect_format(name, content) == expected


@pytest.mark.parametrize(
    ("name", "content"),
    [("notes.md", "# hi"), ("data.json", "[1, 2]"), ("x.yaml", "a: 1\n"), ("x.txt", "")],
)
def test_unknown_formats_are_a_known_error_with_a_hint(name: str, content: str) -> None:
    with pytest.raises(UnknownFormatError) as caught:
        detect_format(name, content)
    assert "give the format explicitly" in str(caught.value)


def test_jsonl_points_at_the_finetune_check() -> None:
    with pytest.raises(UnknownFormatError, match="workbench finetune check"):
        detect_format("train.jsonl", '{"messages": []}')


def test_unknown_format_names() -> None:
    with pytest.raises(UnknownFormatError):
        import_text("x", "markdown")  # export only
    with pytest.raises(UnknownFormatError):
        export("word-doc", templates=[])


def test_import_file_detects_and_resolves_relative_files(tmp_path: Path) -> None:
    path = tmp_path / "lib.json"
    path.write_text(export("bundle-json", templates=[make_template()]).text, encoding="utf-8")
    assert import_file(path).templates == [make_template()]
    assert import_file(path, "bundle-json").format == "bundle-json"


def test_import_file_reports_bad_encoding_and_unparseable_text(tmp_path: Path) -> None:
    latin = tmp_path / "lib.csv"
    latin.write_bytes(b'"act","prompt"\n"caf\xe9","x"\n')
    result = import_file(latin)
    assert result.templates == [] and result.problems[0].line == 2
    assert "not UTF-8" in result.problems[0].message
    broken = tmp_path / "mystery.yaml"
    broken.write_text("a: [1,\nb: 2\n", encoding="utf-8")
    result = import_file(broken)
    assert result.format == "unknown" and result.problems[0].line is not None
    with pytest.raises(KnownError, match="cannot read"):
        import_file(tmp_path / "missing.csv")


def test_one_file_formats_export_one_thing() -> None:
    with pytest.raises(KnownError, match="holds one template"):
        export("prompty", templates=[make_template(), make_template("b")])


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(fmt=st.sampled_from(IMPORTABLE), body=text)
def test_no_importer_raises_on_arbitrary_text(
    tmp_path_factory: pytest.TempPathFactory, fmt: str, body: str
) -> None:
    result = import_text(body, fmt, "fuzz", base_dir=tmp_path_factory.getbasetemp())
    assert all(p.line is None or p.line >= 1 for p in result.problems)


STRUCTURES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | text,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            text
            | st.sampled_from(
                [
                    "templates",
                    "format_version",
                    "prompts",
                    "tests",
                    "providers",
                    "vars",
                    "assert",
                    "type",
                    "messages",
                    "role",
                    "content",
                    "operation",
                    "fields",
                    "key",
                    "value",
                    "inference_params",
                    "system",
                    "prompt",
                    "defaults",
                    "options",
                    "defaultTest",
                    "model",
                    "inputs",
                    "name",
                ]
            ),
            children,
            max_size=5,
        )
    ),
    max_leaves=20,
)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(fmt=st.sampled_from(IMPORTABLE), data=STRUCTURES)
def test_no_importer_raises_on_wrongly_shaped_data(
    tmp_path_factory: pytest.TempPathFactory, fmt: str, data: object
) -> None:
    body = json.dumps(data)  # JSON is YAML too, so every format gets real structure to chew on
    if fmt == "prompty":
        body = f"---\n{body}\n---\nuser:\nhi\n"
    import_text(body, fmt, "fuzz", base_dir=tmp_path_factory.getbasetemp())
