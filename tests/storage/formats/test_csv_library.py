"""CSV prompt libraries: the real awesome-chatgpt-prompts file, exact bodies, malformed rows."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.storage.formats.strategies import visible
from workbench.core.models import Message, PromptTemplate
from workbench.core.templates import render
from workbench.storage.formats import export, import_file, import_text

AWESOME = Path("prompt_library") / "awesome-chatgpt-prompts-2025-01-06.csv"


def test_awesome_chatgpt_prompts_imports_175_prompts(fixtures_dir: Path) -> None:
    result = import_file(fixtures_dir / AWESOME)
    assert result.format == "csv"
    assert len(result.templates) == 175
    assert result.errors == []
    # The one duplicated title in the file is imported twice and said so.
    assert [w.message for w in result.warnings] == [
        "'Life Coach' also appears at line 36; both imported"
    ]
    first = result.templates[0]
    assert first.name == "An Ethereum Developer"
    assert first.messages[0].literal and first.messages[0].role == "user"
    assert first.messages[0].content.startswith("Imagine you are an experienced Ethereum developer")


def test_awesome_round_trip_is_byte_exact_and_stable(fixtures_dir: Path) -> None:
    original = (fixtures_dir / AWESOME).read_bytes().decode("utf-8")
    first = import_text(original, "csv", "awesome.csv")
    exported = export("csv", templates=first.templates).text
    assert exported == original  # same quoting, same LF line ends, same bytes
    second = import_text(exported, "csv", "again.csv")
    assert [(t.name, t.messages[0].content) for t in second.templates] == [
        (t.name, t.messages[0].content) for t in first.templates
    ]


def test_imported_bodies_render_to_exactly_their_text(fixtures_dir: Path) -> None:
    result = import_file(fixtures_dir / AWESOME)
    for template in result.templates:
        [message] = render(template)
        assert message.content == template.messages[0].content


@settings(max_examples=80, deadline=None)
@given(st.lists(st.tuples(visible, visible), min_size=1, max_size=6))
def test_any_text_survives_export_and_import(rows: list[tuple[str, str]]) -> None:
    items = [
        PromptTemplate(name=n, messages=[Message(role="user", content=b, literal=True)])
        for n, b in rows
    ]
    result = import_text(export("csv", templates=items).text, "csv", "x.csv")
    assert result.errors == []
    assert [(t.name, t.messages[0].content) for t in result.templates] == rows
    for template, (_, body) in zip(result.templates, rows, strict=True):
        assert render(template)[0].content == body  # literal: {{ }} and CRLF come out verbatim


def test_multiline_crlf_unicode_and_braces_are_kept() -> None:
    body = 'Line one\r\nLine "two" with {{ not_a_var }} and {% raw %}\r\n— ünïcode 日本 🙂'
    text = f'"act","prompt"\n"Tricky","{body.replace(chr(34), chr(34) * 2)}"\n'
    [template] = import_text(text, "csv", "t.csv").templates
    assert template.messages[0].content == body
    assert render(template)[0].content == body


def test_malformed_rows_are_reported_at_their_first_line_and_good_rows_still_import() -> None:
    text = (
        '"act","prompt"\n'  # 1
        '"Good one","first\nsecond"\n'  # 2-3
        '"Too many","a","b"\n'  # 4
        '"Bad quote","x"y",\n'  # 5
        '"Empty",""\n'  # 6
        '"Good two","fine"\n'  # 7
        '"Unterminated","never\nends\n'  # 8-9
    )
    result = import_text(text, "csv", "lib.csv")
    assert [t.name for t in result.templates] == ["Good one", "Good two"]
    lines = sorted((p.line, p.message.split(";")[0].split(":")[0]) for p in result.errors)
    assert [line for line, _ in lines] == [4, 5, 6, 8]


def test_columns_are_found_by_header_or_mapped_explicitly() -> None:
    text = "title,body,notes\nGreeter,Say hi to {{ name }},x\n"
    [found] = import_text(text, "csv").templates
    assert found.name == "Greeter" and found.messages[0].content == "Say hi to {{ name }}"
    mapped = "col_a,col_b\nbody text,The Name\n"
    [template] = import_text(mapped, "csv", columns={"name": "col_b", "body": "col_a"}).templates
    assert (template.name, template.messages[0].content) == ("The Name", "body text")


def test_missing_prompt_column_is_one_error() -> None:
    result = import_text("a,b\n1,2\n", "csv", "x.csv")
    assert result.templates == []
    assert result.errors[0].line == 1 and "no prompt column" in result.errors[0].message
    bad_mapping = import_text("a,b\n1,2\n", "csv", columns={"body": "zzz"})
    assert "'zzz'" in bad_mapping.errors[0].message


def test_as_jinja_reads_bodies_as_templates_with_their_variables() -> None:
    text = (
        '"name","prompt"\n'
        '"Translate","Translate {{ text }} into {{ language }}"\n'
        '"Broken","x\n{{ oops"\n'
    )
    result = import_text(text, "csv", "t.csv", as_jinja=True)
    [template] = result.templates
    assert not template.messages[0].literal
    assert [v.name for v in template.variables] == ["language", "text"]
    assert (
        render(template, {"text": "hi", "language": "French"})[0].content
        == "Translate hi into French"
    )
    [error] = result.errors
    assert error.line == 4  # the second line of the record that starts on line 3
    assert "Broken" in error.message


def test_description_and_tags_columns() -> None:
    text = 'name,prompt,description,tags\nA,Body,Does things,"x, y;z"\n'
    [template] = import_text(text, "csv").templates
    assert template.description == "Does things"
    assert template.tags == ["x", "y", "z"]


def test_empty_file_and_blank_names() -> None:
    assert import_text("", "csv", "e.csv").errors[0].message.startswith("the file is empty")
    result = import_text('"act","prompt"\n"","body"\n', "csv", "n.csv")
    assert result.templates[0].name == "n.csv line 2"
    assert result.warnings


def _library(rows: list[list[str]]) -> str:
    """A prompt library in the shape of today's awesome-chatgpt-prompts ``prompts.csv``."""
    quoted = (",".join('"' + c.replace('"', '""') + '"' for c in row) for row in rows)
    return "".join(line + "\n" for line in quoted)


HEADER = ["act", "prompt", "for_devs", "type", "contributor"]


def test_a_prompt_over_the_csv_modules_128k_field_limit_is_imported_whole() -> None:
    """The real library had one 144,260-character prompt: it was lost, a junk template was made
    from its middle, and 222 bogus 'row has 1 fields' errors followed."""
    huge = "\n".join(f'Step {n}: say "hello, world" {{{{x}}}}' for n in range(4500))[:144_260]
    assert len(huge) == 144_260
    rows = [HEADER, ["Before", "short", "FALSE", "TEXT", "a"], ["Huge", huge, "TRUE", "TEXT", "b"]]
    rows += [[f"After {n}", f"prompt {n}", "FALSE", "TEXT", "c"] for n in range(3)]
    result = import_text(_library(rows), "csv", "prompts.csv")
    assert result.problems == []
    assert [t.name for t in result.templates] == ["Before", "Huge", "After 0", "After 1", "After 2"]
    assert result.templates[1].messages[0].content == huge


def test_unknown_columns_are_kept_and_the_round_trip_is_byte_exact() -> None:
    rows = [HEADER, ["Coder", "Write code", "TRUE", "TEXT", "@someone"]]
    rows += [["Poet", 'Say "hi"\nin verse', "FALSE", "IMAGE", ""]]
    original = _library(rows)
    first = import_text(original, "csv", "prompts.csv")
    assert first.templates[0].metadata == {
        "for_devs": "TRUE",
        "type": "TEXT",
        "contributor": "@someone",
    }
    assert export("csv", templates=first.templates).text == original


def test_description_and_tags_survive_the_round_trip_too() -> None:
    text = 'name,prompt,description,tags\nA,Body,Does things,"x, y"\n'
    first = import_text(text, "csv", "x.csv").templates
    again = import_text(export("csv", templates=first).text, "csv", "y.csv").templates
    assert [(t.name, t.description, t.tags) for t in again] == [("A", "Does things", ["x", "y"])]


def test_line_numbers_are_physical_lines_after_multi_line_records() -> None:
    text = '"act","prompt"\n"A","one\ntwo\r\nthree"\n"B",""\n"C","x\u2028y"\n"D","a","b"\n'
    result = import_text(text, "csv", "l.csv")
    assert [(p.line, p.message.split(" ")[0]) for p in result.errors] == [(5, "row"), (7, "row")]
    assert [t.messages[0].content for t in result.templates] == ["one\ntwo\r\nthree", "x\u2028y"]


def test_as_jinja_does_not_declare_range_as_a_variable() -> None:
    text = '"act","prompt"\n"Count","{% for i in range(3) %}{{ i }}{% endfor %} {{ topic }}"\n'
    [template] = import_text(text, "csv", "r.csv", as_jinja=True).templates
    assert [v.name for v in template.variables] == ["topic"]
