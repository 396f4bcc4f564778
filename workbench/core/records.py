"""CSV and JSONL records with the physical line each starts on, read whole or not at all.

Every CSV and JSONL reader goes through here (``tests/test_reader_guards.py`` keeps it so),
because two stdlib defaults lose data silently:

- ``csv`` stops at a 131,072-character field: a real prompt library with one 144,260-character
  prompt lost that prompt, and reading on from the middle of it made a junk record and hundreds of
  bogus "wrong number of fields" errors. The limit is raised to what a C long holds everywhere.
- ``str.splitlines`` also breaks at U+2028, U+2029, U+0085, form feeds and lone CRs, which JSON
  allows raw inside strings: a JSONL record was cut in two and line numbers drifted. JSONL lines
  end at ``\\n`` only (a CR before it is dropped).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from typing import Any, NamedTuple

#: The largest CSV field read; the csv module's own default is 131,072 characters.
MAX_FIELD = 2**31 - 1


class Record(NamedTuple):
    """One record: its first physical line (1-based), its value, or why it cannot be read."""

    line: int
    value: Any
    error: str | None = None


def csv_records(text: str) -> Iterator[Record]:
    """Rows (lists of cells) of CSV text, blank lines skipped; a malformed record is one
    ``Record`` with ``error`` set, and reading goes on after it."""
    if csv.field_size_limit() < MAX_FIELD:
        csv.field_size_limit(MAX_FIELD)
    reader = csv.reader(io.StringIO(text.removeprefix("\ufeff"), newline=""), strict=True)
    end = 0
    while True:
        start = end + 1
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as err:
            end = reader.line_num
            yield Record(start, None, f"malformed CSV record: {err}")
            continue
        end = reader.line_num
        if row:
            yield Record(start, row)


def jsonl_records(text: str) -> Iterator[Record]:
    """Parsed JSON values of JSONL text, one per ``\\n``-ended line, blank lines skipped."""
    for number, row in enumerate(text.removeprefix("\ufeff").split("\n"), 1):
        row = row.removesuffix("\r")
        if not row.strip():
            continue
        try:
            yield Record(number, json.loads(row))
        except json.JSONDecodeError as err:
            yield Record(number, None, f"not valid JSON: {err.msg} (column {err.colno})")
        except RecursionError:
            yield Record(number, None, "not valid JSON: nested too deeply")
