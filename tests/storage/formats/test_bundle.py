"""Library bundles (JSON and YAML): exact round trips, version guard, broken entries with lines."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.storage.factories import make_template
from tests.storage.formats.strategies import templates
from workbench.core.models import Params
from workbench.core.params import Preset
from workbench.storage.formats import export, import_text
from workbench.storage.formats.bundle import export_markdown


@settings(max_examples=60, deadline=None)
@given(st.lists(templates(), max_size=4))
def test_json_bundle_round_trips_every_field(items: list) -> None:
    out = export("bundle-json", templates=items)
    result = import_text(out.text, "bundle-json", "lib.json")
    assert result.templates == items
    assert result.errors == []


@settings(max_examples=60, deadline=None)
@given(st.lists(templates(), max_size=4))
def test_yaml_bundle_round_trips_every_field(items: list) -> None:
    out = export("bundle-yaml", templates=items)
    result = import_text(out.text, "bundle-yaml", "lib.yaml")
    assert result.templates == items
    assert result.errors == []


def test_bundle_carries_presets_too() -> None:
    presets = [
        Preset(name="Code", description="near greedy", params=Params(temperature=0.2, top_p=0.9))
    ]
    for fmt in ("bundle-json", "bundle-yaml"):
        result = import_text(export(fmt, templates=[make_template()], presets=presets).text, fmt)
        assert result.presets == presets
        assert result.templates == [make_template()]


def test_yaml_bundle_is_readable_with_literal_blocks() -> None:
    text = export("bundle-yaml", templates=[make_template()]).text
    assert text.startswith("format_version: 1\nkind: prompt-workbench-bundle\n")
    assert "content: |-\n      Summarize this ticket:\n      {{ ticket }}" in text


def test_a_newer_bundle_is_refused_with_its_line() -> None:
    text = "# made by a future version\nformat_version: 99\ntemplates: []\n"
    result = import_text(text, "bundle-yaml", "future.yaml")
    assert result.templates == []
    [problem] = result.problems
    assert problem.line == 2
    assert "newer than this app reads" in problem.message


def test_broken_template_is_reported_at_its_line_and_the_others_still_import() -> None:
    text = (
        "format_version: 1\n"
        "templates:\n"
        "- name: good\n"
        "  messages:\n"
        "  - role: user\n"
        "    content: hi\n"
        "- name: bad\n"
        "  messages:\n"
        "  - role: wizard\n"
        "    content: hi\n"
        "- name: also good\n"
        "  mode: completion\n"
        "  text: Q\n"
    )
    result = import_text(text, "bundle-yaml", "lib.yaml")
    assert [t.name for t in result.templates] == ["good", "also good"]
    [problem] = result.errors
    assert problem.line == 9  # the bad role
    assert "template 'bad' not imported" in problem.message
    assert "messages.0.role" in problem.message


def test_template_syntax_errors_are_warnings_at_the_file_line() -> None:
    text = (
        "format_version: 1\n"
        "templates:\n"
        "- name: t\n"
        "  messages:\n"
        "  - role: user\n"
        "    content: |-\n"
        "      first line\n"
        "      {{ unclosed\n"
    )
    result = import_text(text, "bundle-yaml", "lib.yaml")
    assert len(result.templates) == 1
    [warning] = result.warnings
    assert warning.line == 8


def test_malformed_json_reports_line_and_column() -> None:
    text = '{\n  "format_version": 1,\n  "templates": [\n    {"name": "x",}\n  ]\n}\n'
    result = import_text(text, "bundle-json", "lib.json")
    assert result.templates == []
    [problem] = result.problems
    assert problem.line == 4
    assert "not valid JSON" in problem.message


def test_malformed_yaml_reports_its_line() -> None:
    result = import_text(
        "format_version: 1\ntemplates:\n  - name: [unclosed\n", "bundle-yaml", "x.yaml"
    )
    assert result.templates == []
    assert result.problems[0].line is not None and result.problems[0].line >= 3


def test_json_bundle_lines_point_into_the_json() -> None:
    data = {"format_version": 1, "templates": [{"name": "a"}, {"name": "b", "mode": "sideways"}]}
    text = json.dumps(data, indent=2)
    result = import_text(text, "bundle-json", "lib.json")
    assert [t.name for t in result.templates] == ["a"]
    line = result.errors[0].line
    assert line is not None and '"mode": "sideways"' in text.splitlines()[line - 1]


def test_wrong_shapes_never_raise() -> None:
    for text in (
        "[]",
        "42",
        '"x"',
        "null",
        '{"format_version": "one"}',
        '{"format_version": 1, "templates": 3}',
    ):
        result = import_text(text, "bundle-json", "x.json")
        assert result.templates == [] and result.errors


def test_markdown_shows_bodies_exactly_in_fences() -> None:
    template = make_template(description="Has ``` fences inside")
    template = template.model_copy(
        update={
            "messages": [
                *template.messages,
                template.messages[0].model_copy(update={"content": "a ``` b"}),
            ]
        }
    )
    text = export_markdown([template])
    assert "## Summarize ticket" in text
    assert "````text\na ``` b\n````" in text or "````jinja\na ``` b\n````" in text
    assert "- `ticket`" in text
    assert "Parameters: temperature 0.2, max_tokens 64" in text


def test_bundle_keeps_library_keys_next_to_the_templates() -> None:
    items = [make_template("a"), make_template("b"), make_template("c")]
    keys = ["team/x/a", None, "b-renamed"]
    for fmt in ("bundle-json", "bundle-yaml"):
        text = export(fmt, templates=items, keys=keys).text
        result = import_text(text, fmt, "b")
        assert result.problems == [] and result.templates == items
        assert result.keys == keys
    # Without keys the bundle is as before, and reads back without any.
    plain = export("bundle-json", templates=items).text
    assert "library_keys" not in plain and import_text(plain, "bundle-json", "b").keys == []


def test_bad_library_keys_are_warned_and_the_templates_still_import() -> None:
    bundle = json.loads(export("bundle-json", templates=[make_template("a")] * 3).text)
    bundle["templates"][1]["parameters"] = {"temperature": "hot"}  # left out, with its key
    bundle["library_keys"] = ["ok/a", "gone/b", "../escape"]
    result = import_text(json.dumps(bundle, indent=1), "bundle-json", "b.json")
    assert len(result.templates) == 2 and result.keys == ["ok/a", None]
    [warning] = result.warnings
    assert "'../escape' is not a valid library name" in warning.message and warning.line
    bundle["library_keys"] = ["one"]
    short = import_text(json.dumps(bundle), "bundle-json", "b.json")
    assert short.keys == [] and "one per template; ignored" in short.warnings[0].message
