"""Reading a dataset file into rows, whatever it is: CSV, JSONL, a JSON/YAML list of rows, or a
promptfoo config or test file (its tests, with promptfoo's ``__expected`` shorthand and
``file://`` references resolved by ``workbench.storage.formats``)."""

from __future__ import annotations

from pathlib import Path

import yaml

from workbench.core import safe_yaml
from workbench.core.datasets import (
    DatasetError,
    DatasetImport,
    read_csv,
    read_jsonl,
    row_from_mapping,
)
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
