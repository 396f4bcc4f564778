"""Datasets: reading rows, seeded sampling and splits, table edits; promptfoo files via services."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from workbench.core.datasets import (
    DatasetError,
    DatasetTable,
    read_csv,
    read_jsonl,
    row_from_mapping,
    sample,
    split,
    to_jsonl,
)
from workbench.core.experiments import AssertionSpec, ScriptFile, TestCase
from workbench.services.datasets import append_rows, load_dataset
from workbench.storage.formats.promptfoo_files import assertion_from_string


def rows(n: int) -> list[TestCase]:
    return [TestCase(vars={"i": str(i)}) for i in range(n)]


def test_csv_columns_are_vars_expected_description_and_metadata() -> None:
    text = (
        "question,expected,__description,__metadata:source\n"
        'What is 2+2?,4,arithmetic,"hand, picked"\n'
        "Capital of France?,Paris,,log\n"
    )
    out = read_csv(text)
    assert out.problems == []
    first, second = out.rows
    assert first.vars == {"question": "What is 2+2?"} and first.expected == "4"
    assert first.description == "arithmetic" and first.metadata == {"source": "hand, picked"}
    assert second.expected == "Paris" and second.description == ""


def test_csv_expected_shorthand_becomes_assertions_with_promptfoo_parser() -> None:
    text = "language,__expected1,__expected2\nFrench,icontains:bonjour,not-contains:hello\n"
    (row,) = read_csv(text, parse_assertion=assertion_from_string).rows
    assert row.vars == {"language": "French"} and row.expected is None
    assert row.assertions == [
        AssertionSpec(type="icontains", value="bonjour"),
        AssertionSpec(type="contains", value="hello", negate=True),
    ]
    # Without a parser, __expected is the expected output itself.
    (plain,) = read_csv("q,__expected\nhi,hello there\n").rows
    assert plain.expected == "hello there" and plain.assertions == []


def test_csv_rows_with_the_wrong_number_of_fields_are_reported_with_their_line() -> None:
    out = read_csv("a,b\n1,2\n3\n4,5\n")
    assert [r.vars for r in out.rows] == [{"a": "1", "b": "2"}, {"a": "4", "b": "5"}]
    assert out.problems == ["line 3: 1 fields, the header has 2; row skipped"]


def test_jsonl_reads_promptfoo_tests_and_flat_rows() -> None:
    text = "\n".join(
        [
            json.dumps(
                {
                    "vars": {"topic": "cats", "n": 3},
                    "expected": "meow",
                    "assert": [{"type": "not-icontains", "value": "dog", "weight": 2}],
                }
            ),
            json.dumps({"question": "why?", "expected": "because", "metadata": {"k": 1}}),
            "{not json",
            "[1, 2]",
        ]
    )
    out = read_jsonl(text)
    first, second = out.rows
    assert first.vars == {"topic": "cats", "n": "3"} and first.expected == "meow"
    assert first.assertions == [AssertionSpec(type="icontains", value="dog", weight=2, negate=True)]
    assert second.vars == {"question": "why?"} and second.metadata == {"k": 1}
    assert [p.split(":")[0] for p in out.problems] == ["line 3", "line 4"]


def test_jsonl_round_trip() -> None:
    original = [
        TestCase(
            description="d",
            vars={"a": "x\ny", "b": "ü"},
            expected="e",
            assertions=[AssertionSpec(type="contains", value="x", negate=True, threshold=0.5)],
            metadata={"m": [1, 2]},
            transform="output.trim()",
        ),
        TestCase(vars={"a": ""}, transform=ScriptFile(
            path="t.py", language="python", source="def get_transform(o, c):\n    return o\n"),
            assertions=[AssertionSpec(type="javascript", value="output.length > 1",
                                      transform="output.trim()", config={"max": 3})]),
    ]
    assert read_jsonl(to_jsonl(original)).rows == original


@given(st.integers(0, 60), st.integers(0, 80), st.integers(0, 2**32))
def test_sample_is_seeded_ordered_and_without_repeats(size: int, n: int, seed: int) -> None:
    data = rows(size)
    picked = sample(data, n, seed)
    assert picked == sample(data, n, seed)
    assert len(picked) == min(n, size)
    positions = [data.index(r) for r in picked]
    assert positions == sorted(set(positions))


def test_different_seeds_pick_different_rows() -> None:
    data = rows(100)
    assert sample(data, 10, 1) != sample(data, 10, 2)
    with pytest.raises(DatasetError):
        sample(data, -1)


@given(st.integers(0, 60), st.floats(0, 1), st.integers(0, 2**32))
def test_split_partitions_the_rows(size: int, fraction: float, seed: int) -> None:
    data = rows(size)
    train, test = split(data, fraction, seed)
    assert (train, test) == split(data, fraction, seed)
    assert len(test) == round(size * fraction)
    assert sorted([*train, *test], key=lambda r: int(r.vars["i"])) == data
    assert not {r.vars["i"] for r in train} & {r.vars["i"] for r in test}


def test_split_refuses_a_fraction_outside_0_1() -> None:
    with pytest.raises(DatasetError):
        split(rows(3), 1.5)


def test_table_edits_cells_rows_and_columns() -> None:
    table = DatasetTable([TestCase(vars={"q": "a"}, expected="A"), TestCase(vars={"r": "x"})])
    assert table.columns == ["q", "r", "expected", "description"]
    assert table.cell(1, "q") == "" and table.cell(0, "expected") == "A"
    table.set_cell(1, "q", "b")
    table.set_cell(1, "expected", "B")
    table.set_cell(0, "expected", "")
    assert table.rows[1].vars == {"r": "x", "q": "b"} and table.rows[1].expected == "B"
    assert table.rows[0].expected is None
    at = table.insert_row(1)
    assert at == 1 and table.rows[1].vars == {"q": "", "r": ""}
    table.duplicate_row(0)
    assert [table.cell(1, c) for c in table.columns] == [table.cell(0, c) for c in table.columns]
    assert table.rows[1] is not table.rows[0]
    table.remove_rows([1, 2])
    assert [r.expected for r in table.rows] == [None, "B"]
    table.rename_column("q", "question")
    assert table.columns[:2] == ["question", "r"] and table.rows[1].vars["question"] == "b"
    table.add_column("lang")
    assert all(r.vars["lang"] == "" for r in table.rows)
    table.remove_column("r")
    assert table.columns == ["question", "lang", "expected", "description"]
    for bad in ("expected", "lang", "1x", "has space"):
        with pytest.raises(DatasetError):
            table.add_column(bad)
    with pytest.raises(DatasetError):
        table.set_cell(0, "nope", "v")


def test_table_never_edits_the_rows_it_was_given() -> None:
    given_rows = [TestCase(vars={"q": "a"})]
    table = DatasetTable(given_rows)
    table.set_cell(0, "q", "changed")
    assert given_rows[0].vars == {"q": "a"}


def test_promptfoo_csv_tests_and_config_load_as_promptfoo_expands_them(fixtures_dir: Path) -> None:
    folder = fixtures_dir / "promptfoo" / "simple-csv"
    from_csv = load_dataset(folder / "tests.csv")
    from_config = load_dataset(folder / "promptfooconfig.yaml")
    assert from_csv.rows == from_config.rows
    assert len(from_csv.rows) == 4
    assert [r.vars["language"] for r in from_csv.rows] == ["French", "French", "Pirate", "Pirate"]
    assert [a.value for r in from_csv.rows for a in r.assertions] == [
        "bonjour",
        "faim",
        "Ahoy",
        "grub",
    ]
    assert {a.type for r in from_csv.rows for a in r.assertions} == {"icontains"}
    getting_started = load_dataset(fixtures_dir / "promptfoo/getting-started/promptfooconfig.yaml")
    assert [r.vars for r in getting_started.rows] == [
        {"language": "French", "input": "Hello world"},
        {"language": "Spanish", "input": "Where is the library?"},
    ]


def test_json_and_yaml_row_lists(tmp_path: Path) -> None:
    (tmp_path / "rows.json").write_text(
        json.dumps([{"vars": {"a": "1"}, "expected": "one"}, 5]), encoding="utf-8"
    )
    out = load_dataset(tmp_path / "rows.json")
    assert [r.expected for r in out.rows] == ["one"] and len(out.problems) == 1
    (tmp_path / "rows.yaml").write_text("- {q: hi, expected: hello}\n", encoding="utf-8")
    assert load_dataset(tmp_path / "rows.yaml").rows[0].vars == {"q": "hi"}
    (tmp_path / "other.yaml").write_text("name: x\n", encoding="utf-8")
    with pytest.raises(DatasetError, match="neither a list of rows"):
        load_dataset(tmp_path / "other.yaml")
    with pytest.raises(DatasetError, match="cannot read a dataset"):
        load_dataset(tmp_path / "rows.txt")


def test_rows_are_appended_under_a_csv_header_or_to_jsonl(tmp_path: Path) -> None:
    new = [row_from_mapping({"q": 'say "hi",\nthen stop', "expected": "hi"})]
    csv_file = tmp_path / "d.csv"
    csv_file.write_text("__description,q,expected\nfirst,a,b", encoding="utf-8")  # no newline
    append_rows(csv_file, new)
    rows = load_dataset(csv_file).rows
    assert [(r.description, r.vars, r.expected) for r in rows] == [
        ("first", {"q": "a"}, "b"), ("", {"q": 'say "hi",\nthen stop'}, "hi")
    ]
    jsonl = tmp_path / "d.jsonl"
    append_rows(jsonl, new)  # created
    append_rows(jsonl, new)
    assert [r.vars for r in load_dataset(jsonl).rows] == [new[0].vars] * 2
    with pytest.raises(DatasetError, match="no column for other"):
        append_rows(csv_file, [row_from_mapping({"other": "x"})])
    with pytest.raises(DatasetError, match="cannot write rows"):
        append_rows(tmp_path / "d.yaml", new)
