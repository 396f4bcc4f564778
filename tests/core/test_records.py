"""CSV and JSONL records keep their true line and are read whole (core/records.py)."""

from __future__ import annotations

import json

from workbench.core.datasets import read_csv, read_jsonl
from workbench.core.records import csv_records, jsonl_records
from workbench.storage.formats.runs import read_runs_jsonl


def test_jsonl_lines_end_at_lf_only_so_unicode_separators_stay_inside_strings() -> None:
    rows = [{"vars": {"q": "a\u2028b\x85c\x0cd"}}, {"vars": {"q": "second"}}]
    text = "\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n"
    result = read_jsonl(text)
    assert result.problems == []
    assert [r.vars["q"] for r in result.rows] == ["a\u2028b\x85c\x0cd", "second"]


def test_jsonl_reports_true_lines_and_deep_nesting_as_a_problem() -> None:
    text = '{"vars": {"q": "x\u2029"}}\r\n\n' + "[" * 100_000 + "\n{oops\n"
    assert [(r.line, r.error) for r in jsonl_records(text)] == [
        (1, None),
        (3, "not valid JSON: nested too deeply"),
        (4, "not valid JSON: Expecting property name enclosed in double quotes (column 2)"),
    ]
    records, problems = read_runs_jsonl("[" * 100_000 + "\n", "runs.jsonl")
    assert records == [] and [p.line for p in problems.items] == [1]


def test_dataset_csv_reads_a_field_larger_than_the_csv_module_default() -> None:
    big = "x" * 200_000
    result = read_csv(f'q,expected\n"{big}",ok\nsmall,fine\n')
    assert result.problems == []
    assert [r.vars["q"] for r in result.rows] == [big, "small"]


def test_csv_records_start_lines_and_errors() -> None:
    text = 'a,b\n"1\n2",3\n\n"x"y,4\n5,6\n'
    assert [(r.line, r.value, r.error is not None) for r in csv_records(text)] == [
        (1, ["a", "b"], False),
        (2, ["1\n2", "3"], False),
        (5, None, True),
        (6, ["5", "6"], False),
    ]
