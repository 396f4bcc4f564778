"""Datasets: the rows an evaluation runs on, as ``TestCase``s (variables, expected output,
metadata, per-row assertions).

Pure data operations live here so the GUI table, the CLI and the services share them: reading
CSV and JSONL text, seeded sampling and train/test splits (the same seed always picks the same
rows, so an evaluation on a sample can be repeated), and the edits a table view makes. Reading
promptfoo configs and promptfoo's assertion shorthand lives in ``workbench.services.datasets``,
which passes that parser in.
"""

from __future__ import annotations

import csv
import io
import json
import random
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from workbench.core.errors import KnownError
from workbench.core.experiments import AssertionSpec, TestCase
from workbench.core.records import csv_records, jsonl_records

#: Columns with a meaning of their own; every other column is a variable.
EXPECTED_COLUMNS = ("__expected", "expected")
DESCRIPTION_COLUMNS = ("__description", "description")
METADATA_PREFIX = "__metadata:"
#: JSONL keys that are not variables when a row is flat (``{"question": ..., "expected": ...}``).
ROW_KEYS = {"vars", "expected", "description", "metadata", "assert", "assertions", "transform",
            "options"}

AssertionParser = Callable[[str], AssertionSpec]


class DatasetError(KnownError):
    """A dataset that cannot be read or an edit that cannot be made."""


@dataclass
class DatasetImport:
    """Rows read from a file and what was wrong with the rest (``line: message``)."""

    rows: list[TestCase] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def assertion_from_mapping(item: Any) -> AssertionSpec:
    """A promptfoo-style assertion mapping (``not-`` prefix = negation)."""
    if not isinstance(item, dict) or not isinstance(item.get("type"), str):
        raise ValueError("an assertion needs a 'type'")
    kind: str = item["type"]
    negate = kind.startswith("not-")
    return AssertionSpec(
        type=kind[4:] if negate else kind,
        negate=negate or bool(item.get("negate", False)),
        value=item.get("value"),
        threshold=item.get("threshold"),
        weight=item.get("weight", 1.0),
        metric=item.get("metric"),
        transform=item.get("transform"),
        config=item.get("config"),
    )


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return "" if value is None else str(value)


def read_csv(text: str, parse_assertion: AssertionParser | None = None) -> DatasetImport:
    """Rows of a CSV file with a header. ``expected`` is the expected output; ``__expected``
    columns are assertions in promptfoo's shorthand when ``parse_assertion`` is given (else the
    expected output too); ``__description`` / ``__metadata:KEY`` fill those fields."""
    out = DatasetImport()
    header: list[str] | None = None
    for line, record, error in csv_records(text):
        if error is not None:
            out.problems.append(f"line {line}: {error}; row skipped")
            continue
        if not any(cell.strip() for cell in record):
            continue
        if header is None:
            header = [h.strip() for h in record]
            continue
        if len(record) != len(header):
            out.problems.append(
                f"line {line}: {len(record)} fields, the header has {len(header)}; row skipped"
            )
            continue
        out.rows.append(_csv_row(dict(zip(header, record, strict=True)), parse_assertion))
    return out


def _csv_row(row: dict[str, str], parse_assertion: AssertionParser | None) -> TestCase:
    case = TestCase()
    for key, value in row.items():
        if key.startswith("__expected") and parse_assertion is not None:
            if value.strip():
                case.assertions.append(parse_assertion(value))
        elif key in EXPECTED_COLUMNS or key.startswith("__expected"):
            case.expected = value
        elif key in DESCRIPTION_COLUMNS:
            case.description = value
        elif key.startswith(METADATA_PREFIX):
            case.metadata[key[len(METADATA_PREFIX) :]] = value
        elif not key.startswith("__"):
            case.vars[key] = value
    return case


def read_jsonl(text: str) -> DatasetImport:
    """One row per line: ``{"vars": {...}, "expected": ..., "assert": [...]}`` (promptfoo's
    test shape) or a flat object whose keys other than expected/description/metadata are vars."""
    out = DatasetImport()
    for number, item, error in jsonl_records(text):
        if error is not None:
            out.problems.append(f"line {number}: {error}")
            continue
        if not isinstance(item, dict):
            out.problems.append(f"line {number}: a row is a JSON object; row skipped")
            continue
        try:
            out.rows.append(row_from_mapping(item))
        except (ValueError, ValidationError) as err:
            out.problems.append(f"line {number}: {err}; row skipped")
    return out


def row_from_mapping(item: dict[str, Any]) -> TestCase:
    """A dataset row from a JSON object (see ``read_jsonl``)."""
    variables = item.get("vars")
    if variables is None:
        variables = {k: v for k, v in item.items() if k not in ROW_KEYS}
    if not isinstance(variables, dict):
        raise ValueError("'vars' must be an object")
    metadata = item.get("metadata") or {}
    if not isinstance(metadata, dict):
        raise ValueError("'metadata' must be an object")
    raw_asserts = item.get("assert", item.get("assertions")) or []
    if not isinstance(raw_asserts, list):
        raise ValueError("'assert' must be a list")
    expected = item.get("expected")
    options = item.get("options") or {}
    if not isinstance(options, dict):
        raise ValueError("'options' must be an object")
    transform = item.get("transform", options.get("transform"))
    if transform is not None and not isinstance(transform, str | dict):
        raise ValueError("'transform' must be JavaScript code or a file:// reference")
    return TestCase(
        description=_text(item.get("description")),
        vars={str(k): _text(v) for k, v in variables.items()},
        expected=None if expected is None else _text(expected),
        assertions=[assertion_from_mapping(a) for a in raw_asserts],
        metadata=metadata,
        transform=transform,
    )


def to_jsonl(rows: Iterable[TestCase]) -> str:
    """Rows as JSONL that ``read_jsonl`` reads back unchanged."""
    lines = []
    for row in rows:
        item: dict[str, Any] = {"vars": row.vars}
        if row.expected is not None:
            item["expected"] = row.expected
        if row.description:
            item["description"] = row.description
        if row.metadata:
            item["metadata"] = row.metadata
        if row.assertions:
            item["assert"] = [
                {
                    **a.model_dump(exclude_defaults=True, exclude={"type", "negate"}),
                    "type": ("not-" if a.negate else "") + a.type,
                }
                for a in row.assertions
            ]
        if row.transform is not None:
            item["transform"] = row.transform if isinstance(row.transform, str) else \
                row.transform.model_dump(exclude_defaults=True)
        lines.append(json.dumps(item, ensure_ascii=False))
    return "".join(line + "\n" for line in lines)


def csv_header(rows: Iterable[TestCase]) -> list[str]:
    """The columns of ``rows`` as a CSV file: every variable in first-seen order, then
    ``expected`` and ``description`` when a row has one."""
    rows = list(rows)
    names = list(dict.fromkeys(k for row in rows for k in row.vars))
    if any(row.expected is not None for row in rows):
        names.append("expected")
    if any(row.description for row in rows):
        names.append("description")
    return names


def to_csv(rows: Iterable[TestCase], header: Sequence[str], *, with_header: bool = True) -> str:
    """Rows as CSV under ``header`` (``csv_header``'s, or an existing file's to append to it)
    that ``read_csv`` reads back. A column the row has no value for is empty; a variable the
    header has no column for is a ``DatasetError``, never dropped."""
    expected = next((c for c in header if c in EXPECTED_COLUMNS), None)
    description = next((c for c in header if c in DESCRIPTION_COLUMNS), None)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    if with_header:
        writer.writerow(header)
    for row in rows:
        missing = [k for k in row.vars if k not in header]
        if missing:
            raise DatasetError(
                f"the dataset has no column for {', '.join(missing)}",
                hint="add the column to the dataset first, or write the rows to a new file",
            )
        cells = []
        for column in header:
            if column == expected:
                cells.append(row.expected or "")
            elif column == description:
                cells.append(row.description)
            elif column.startswith(METADATA_PREFIX):
                cells.append(_text(row.metadata.get(column[len(METADATA_PREFIX):], "")))
            else:
                cells.append(row.vars.get(column, ""))
        writer.writerow(cells)
    return out.getvalue()


# --- sampling ------------------------------------------------------------------------------------


def sample(rows: Sequence[TestCase], n: int, seed: int = 0) -> list[TestCase]:
    """``n`` rows chosen at random with ``seed``, kept in their original order."""
    if n < 0:
        raise DatasetError("a sample size cannot be negative")
    if n >= len(rows):
        return list(rows)
    chosen = sorted(random.Random(seed).sample(range(len(rows)), n))
    return [rows[i] for i in chosen]


def split(
    rows: Sequence[TestCase], test_fraction: float = 0.2, seed: int = 0
) -> tuple[list[TestCase], list[TestCase]]:
    """``(train, test)``: a seeded shuffle cut at ``test_fraction`` (each part in original order),
    e.g. few-shot examples from ``train`` and evaluation on ``test`` without overlap."""
    if not 0.0 <= test_fraction <= 1.0:
        raise DatasetError("the test fraction is between 0 and 1")
    n_test = round(len(rows) * test_fraction)
    test_ids = set(random.Random(seed).sample(range(len(rows)), n_test))
    train = [r for i, r in enumerate(rows) if i not in test_ids]
    test = [r for i, r in enumerate(rows) if i in test_ids]
    return train, test


# --- a table of rows -----------------------------------------------------------------------------

EXPECTED = "expected"
DESCRIPTION = "description"


class DatasetTable:
    """Rows as an editable table: one column per variable, then ``expected``.

    The Qt table model is a thin view over this, so every edit (cell, rows, columns) is the same
    in the GUI and in tests. Columns keep their order; a variable a row lacks reads as "".
    """

    def __init__(self, rows: Iterable[TestCase] = ()) -> None:
        self.rows: list[TestCase] = [r.model_copy(deep=True) for r in rows]
        self.variables: list[str] = []
        for row in self.rows:
            for name in row.vars:
                if name not in self.variables:
                    self.variables.append(name)

    @property
    def columns(self) -> list[str]:
        return [*self.variables, EXPECTED, DESCRIPTION]

    def cell(self, row: int, column: str) -> str:
        case = self.rows[row]
        if column == EXPECTED:
            return case.expected or ""
        if column == DESCRIPTION:
            return case.description
        return case.vars.get(column, "")

    def set_cell(self, row: int, column: str, value: str) -> None:
        case = self.rows[row]
        if column == EXPECTED:
            case.expected = value or None
        elif column == DESCRIPTION:
            case.description = value
        elif column in self.variables:
            case.vars[column] = value
        else:
            raise DatasetError(f"no column '{column}'")

    def insert_row(self, at: int | None = None, row: TestCase | None = None) -> int:
        """Insert a row (blank by default) before ``at`` (default: at the end); its index."""
        at = len(self.rows) if at is None else max(0, min(at, len(self.rows)))
        new = row.model_copy(deep=True) if row is not None else TestCase()
        new.vars = {name: new.vars.get(name, "") for name in self.variables} | new.vars
        for name in new.vars:
            if name not in self.variables:
                self.variables.append(name)
        self.rows.insert(at, new)
        return at

    def remove_rows(self, indices: Iterable[int]) -> None:
        for index in sorted(set(indices), reverse=True):
            del self.rows[index]

    def duplicate_row(self, index: int) -> int:
        return self.insert_row(index + 1, self.rows[index])

    def add_column(self, name: str) -> None:
        self._check_name(name)
        self.variables.append(name)
        for case in self.rows:
            case.vars.setdefault(name, "")

    def rename_column(self, old: str, new: str) -> None:
        if old not in self.variables:
            raise DatasetError(f"no variable column '{old}'")
        if new == old:
            return
        self._check_name(new)
        self.variables[self.variables.index(old)] = new
        for case in self.rows:
            case.vars = {(new if k == old else k): v for k, v in case.vars.items()}

    def remove_column(self, name: str) -> None:
        if name not in self.variables:
            raise DatasetError(f"no variable column '{name}'")
        self.variables.remove(name)
        for case in self.rows:
            case.vars.pop(name, None)

    def _check_name(self, name: str) -> None:
        if not name.isidentifier():
            raise DatasetError(
                f"'{name}' is not a variable name", hint="letters, digits and _, not first a digit"
            )
        if name in self.columns:
            raise DatasetError(f"there is already a column '{name}'")
