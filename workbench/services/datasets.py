"""Reading a dataset file into rows, whatever it is: CSV, JSONL, a JSON/YAML list of rows, or a
promptfoo config or test file (its tests, with promptfoo's ``__expected`` shorthand and
``file://`` references resolved by ``workbench.storage.formats``); writing rows to a CSV or
JSONL file, or adding them at the end of one."""

from __future__ import annotations

from pathlib import Path

import yaml

from workbench.core import safe_yaml
from workbench.core.datasets import (
    DatasetError,
    DatasetImport,
    csv_header,
    read_csv,
    read_jsonl,
    row_from_mapping,
    to_csv,
    to_jsonl,
)
from workbench.core.experiments import TestCase
from workbench.core.records import csv_records
from workbench.storage.formats import import_file
from workbench.storage.formats.promptfoo_files import assertion_from_string


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8-sig")
    except OSError as err:
        raise DatasetError(f"cannot read {path}: {err.strerror or err}") from None
    except UnicodeDecodeError as err:
        raise DatasetError(f"{path} is not UTF-8 text ({err.reason})") from None


def load_dataset(path: str | Path) -> DatasetImport:
    """Rows of a dataset file; rows that cannot be read are reported in ``problems``."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return read_csv(_read(path), parse_assertion=assertion_from_string)
    if suffix == ".jsonl":
        return read_jsonl(_read(path))
    if suffix in (".json", ".yaml", ".yml"):
        text = _read(path)
        try:
            data = safe_yaml.load(text)  # YAML reads JSON too
        except yaml.YAMLError as err:
            raise DatasetError(
                f"{path.name}: not valid {suffix[1:].upper()}: {safe_yaml.describe(err)}"
            ) from None
        if isinstance(data, list):
            return _rows(data, path.name)
        if isinstance(data, dict) and ({"prompts", "tests"} & set(data)):
            return promptfoo_tests(path)
        raise DatasetError(
            f"{path.name} is neither a list of rows nor a promptfoo config",
            hint="a dataset is CSV, JSONL, or a JSON/YAML list of {vars, expected} objects",
        )
    raise DatasetError(
        f"cannot read a dataset from '{path.name}'", hint="use .csv, .jsonl, .json or .yaml"
    )


def _rows(items: list[object], source: str) -> DatasetImport:
    out = DatasetImport()
    for n, item in enumerate(items, 1):
        if not isinstance(item, dict):
            out.problems.append(f"{source} row {n}: a row is a mapping; row skipped")
            continue
        try:
            out.rows.append(row_from_mapping(item))
        except ValueError as err:
            out.problems.append(f"{source} row {n}: {err}; row skipped")
    return out


def promptfoo_tests(path: Path) -> DatasetImport:
    """The test cases of a promptfoo config, exactly as promptfoo expands them."""
    result = import_file(path, "promptfoo")
    return DatasetImport(list(result.tests), [str(p) for p in result.problems])


_WRITABLE = (".csv", ".jsonl")


def _writable(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix not in _WRITABLE:
        raise DatasetError(
            f"cannot write rows to '{path.name}'", hint="rows are written to .csv or .jsonl files"
        )
    return suffix


def _write(path: Path, text: str, mode: str) -> None:
    try:
        with path.open(mode, encoding="utf-8", newline="") as out:
            out.write(text)
    except OSError as err:
        raise DatasetError(f"cannot write {path}: {err.strerror or err}") from None


def write_rows(path: str | Path, rows: list[TestCase]) -> None:
    """``rows`` as a new CSV or JSONL file (replacing ``path``)."""
    path = Path(path)
    if _writable(path) == ".csv":
        _write(path, to_csv(rows, csv_header(rows)), "w")
    else:
        _write(path, to_jsonl(rows), "w")


def append_rows(path: str | Path, rows: list[TestCase]) -> None:
    """Add ``rows`` at the end of the CSV or JSONL dataset ``path`` (created when missing); in a
    CSV, under its own header, so its other rows stay as they are."""
    path = Path(path)
    suffix = _writable(path)
    if not path.exists() or not path.read_bytes().strip():
        write_rows(path, rows)
        return
    text = _read(path)
    lead = "" if text.endswith("\n") else "\r\n" if suffix == ".csv" else "\n"
    if suffix == ".jsonl":
        _write(path, lead + to_jsonl(rows), "a")
        return
    header = next((r.value for r in csv_records(text) if r.error is None and any(r.value)), None)
    if header is None:
        raise DatasetError(f"{path.name} has no header row to add rows under")
    _write(path, lead + to_csv(rows, [h.strip() for h in header], with_header=False), "a")
