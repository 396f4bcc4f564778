"""A comparison's tool-call sequences in its exports and terminal table: every cell's steps in
the CSV/JSONL rows, a side-by-side table per test in the Markdown report, ≠ where the variants
part. Real runs: scripted tool-calling backends through the GridRunner into a real store."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from workbench.backends.config import BackendConfig
from workbench.core.experiments import ExperimentSpec, TestCase, Variant
from workbench.core.models import Message, PromptTemplate
from workbench.core.tools import Tool
from workbench.services.compare_export import cell_rows, export_csv, export_markdown
from workbench.services.compare_tools import sequence_tables, text_table
from workbench.services.comparison import Comparison, open_comparison, save_comparison
from workbench.services.grid_runner import GridRunner
from workbench.services.runner import Runner
from workbench.storage.repositories import Store
from workbench.storage.writer import StoreWriter

TEMPLATE = PromptTemplate(
    name="weather",
    messages=[Message(role="user", content="Weather and time in {{ city }}?")],
    tools=[Tool(name="get_weather", mock='{"temp_c": 21}'), Tool(name="get_time", mock="09:30")],
)


def call(name: str, city: str) -> dict[str, object]:
    return {"tool_call": {"name": name, "arguments": json.dumps({"city": city})}}


SCRIPTS = {
    "planner": [[call("get_weather", "Oslo")], [call("get_time", "Oslo")],
                [{"text": "21 °C at 09:30."}]],
    "guesser": [[call("get_weather", "Bergen")], [{"text": "About 21 °C."}]],
}


@pytest.fixture
def comparison(tmp_path: Path) -> Iterator[Comparison]:
    configs = {name: BackendConfig(name=name, backend="scripted",
                                   options={"by_tool_results": turns})
               for name, turns in SCRIPTS.items()}
    spec = ExperimentSpec(
        name="Tools A/B",
        variants=[Variant(label=name, template=TEMPLATE, backend=name) for name in SCRIPTS],
        tests=[TestCase(vars={"city": "Oslo"}, description="Oslo")],
    )
    with Store.open(tmp_path / "runs.db") as store:
        stored = save_comparison(store, spec)
        with StoreWriter(store) as writer:
            runner = Runner(writer=writer, configs=configs)
            GridRunner(runner, store).run(stored)
            runner.close()
        yield open_comparison(store, stored.id)


def test_rows_carry_each_cells_calls_and_results(comparison: Comparison) -> None:
    planner, guesser = cell_rows(comparison)
    assert planner["tool_calls"] == [
        {"step": 1, "tool": "get_weather", "arguments": '{"city": "Oslo"}',
         "result": '{"temp_c": 21}', "sent": True, "error": False},
        {"step": 2, "tool": "get_time", "arguments": '{"city": "Oslo"}', "result": "09:30",
         "sent": True, "error": False},
    ]
    assert planner["output"] == "21 °C at 09:30."
    assert [c["arguments"] for c in guesser["tool_calls"]] == ['{"city": "Bergen"}']
    row = next(csv.DictReader(io.StringIO(export_csv(comparison), newline="")))
    assert json.loads(row["tool_calls"]) == planner["tool_calls"]


def test_markdown_lists_the_sequences_side_by_side(comparison: Comparison) -> None:
    report = export_markdown(comparison)
    section = report[report.index("## Tool calls"):]
    assert section.splitlines()[:6] == [
        "## Tool calls",
        "",
        "### t0: Oslo",
        "",
        "| # | v0 | v1 |",
        "|---|---|---|",
    ]
    assert ('| 1 ≠ | get\\_weather `{"city": "Oslo"}`<br>→ {"temp\\_c": 21} | '
            'get\\_weather `{"city": "Bergen"}`<br>→ {"temp\\_c": 21} |') in section
    assert '| 2 ≠ | get\\_time `{"city": "Oslo"}`<br>→ 09:30 | – |' in section
    assert "| answer | 21 °C at 09:30. | About 21 °C. |" in section


def test_the_terminal_table_puts_the_variants_in_columns(comparison: Comparison) -> None:
    [table] = sequence_tables(comparison)
    assert table.differing == {0, 1} and table.rows == 2
    lines = text_table(table, ["v0 planner", "v1 guesser"], width=100)
    assert lines[0] == "tool calls (t0: Oslo):"
    assert lines[1].split() == ["v0", "planner", "v1", "guesser"]
    first = next(line for line in lines if "get_weather" in line)
    assert first.startswith("≠ ") and first.index("Bergen") > 48  # the second column
    assert any(line.startswith("≠ ") and "get_time" in line and line.rstrip().endswith("–")
               for line in lines)
    assert "answer: 21 °C at 09:30." in lines[-1] and "answer: About 21 °C." in lines[-1]


def test_no_section_without_tool_calls(comparison: Comparison) -> None:
    no_tools = Comparison(comparison.experiment, {})
    assert sequence_tables(no_tools) == [] and "## Tool calls" not in export_markdown(no_tools)
