"""Exporting a comparison: CSV and JSONL rows per cell, the Markdown report with metrics,
preferences and word diffs; reopened from a real store."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from workbench.backends.config import BackendConfig
from workbench.core.diff import diff_words
from workbench.core.errors import KnownError
from workbench.core.experiments import ExperimentSpec, TestCase, Variant
from workbench.core.grid import CellKey
from workbench.core.models import Message, Params, PromptTemplate
from workbench.services.compare_export import (
    export_csv,
    export_jsonl,
    export_markdown,
    markdown_diff,
    variant_metrics,
    write_export,
)
from workbench.services.comparison import (
    Comparison,
    open_comparison,
    preference_summary,
    save_comparison,
)
from workbench.services.grid_runner import GridRunner
from workbench.services.runner import Runner
from workbench.storage.repositories import Store, StoredRun
from workbench.storage.writer import StoreWriter

TEMPLATE = PromptTemplate(
    name="capital",
    messages=[Message(role="user", content="Capital of {{ country }}?")],
    answer_pattern=r"(?i)capital is (\w+)",
)


def scripted(name: str, *texts: str) -> BackendConfig:
    return BackendConfig(
        name=name, backend="scripted", options={"script": [{"text": t} for t in texts]}
    )


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store.open(tmp_path / "runs.db") as store:
        yield store


@pytest.fixture
def comparison(store: Store) -> Comparison:
    configs = {
        "terse": scripted("terse", "The capital is Lima."),
        "chatty": scripted("chatty", "Well, the capital is ", "Lima | of course."),
        "down": BackendConfig(
            name="down",
            backend="scripted",
            options={"script": [{"error": "server down", "error_kind": "ServerError"}]},
        ),
    }
    spec = ExperimentSpec(
        name="Capitals A/B",
        notes="Terse or chatty?",
        variants=[
            Variant(label="terse", template=TEMPLATE, backend="terse"),
            Variant(
                label="chatty", template=TEMPLATE, backend="chatty", params=Params(temperature=0.9)
            ),
            Variant(label="broken", template=TEMPLATE, backend="down"),
        ],
        tests=[TestCase(vars={"country": "Peru"}, expected="The capital is Lima.")],
        repeats=2,
    )
    stored = save_comparison(store, spec)
    with StoreWriter(store) as writer:
        runner = Runner(writer=writer, configs=configs)
        GridRunner(runner, store).run(stored)
        runner.close()
    reopened = open_comparison(store, stored.id)
    a, b = reopened.latest(CellKey(0, 0, 0)), reopened.latest(CellKey(1, 0, 0))
    assert a is not None and b is not None
    store.ratings.prefer(a.id, b.id, "a")
    store.ratings.rate(a.id, thumbs=1, stars=5)
    store.ratings.rate(b.id, thumbs=-1, stars=2)
    return reopened


def test_metrics_per_variant(comparison: Comparison) -> None:
    terse, chatty, broken = variant_metrics(comparison)
    assert (terse.ok, terse.cells, terse.errors) == (2, 2, 0)
    assert terse.output_tokens == 2 and chatty.output_tokens == 4  # scripted: one per chunk
    assert terse.agreement == 1.0 and terse.mean_similarity == 1.0
    assert chatty.finish_reasons == {"stop": 2}
    assert (broken.ok, broken.errors, broken.agreement) == (0, 2, None)  # nothing to agree on
    assert terse.mean_total_s is not None and terse.cost is None


def test_csv_and_jsonl_have_a_row_per_cell(comparison: Comparison) -> None:
    rows = list(csv.DictReader(io.StringIO(export_csv(comparison), newline="")))
    assert len(rows) == 6
    chatty = next(r for r in rows if r["cell"] == "v1.t0.r1")
    assert chatty["output"] == "Well, the capital is Lima | of course."
    assert json.loads(chatty["params"]) == {"temperature": 0.9}
    assert json.loads(chatty["variables"]) == {"country": "Peru"}
    assert chatty["status"] == "ok" and chatty["expected"] == "The capital is Lima."
    broken = next(r for r in rows if r["cell"] == "v2.t0.r0")
    assert broken["status"] == "error" and "server down" in broken["error"]
    lines = export_jsonl(comparison).splitlines()
    assert len(lines) == 6
    first = json.loads(lines[0])
    assert first["cell"] == "v0.t0.r0" and first["output"] == "The capital is Lima."
    assert first["variant_label"] == "terse" and first["run_id"]


def test_markdown_report_has_metrics_preferences_and_diffs(
    store: Store, comparison: Comparison
) -> None:
    prefs = preference_summary(store, comparison)
    assert [(p.variant, p.wins, p.losses) for p in prefs] == [
        ("terse", 1, 0),
        ("chatty", 0, 1),
        ("broken", 0, 0),
    ]
    report = export_markdown(comparison, prefs)
    assert report.startswith("# Capitals A/B\n\nTerse or chatty?\n")
    assert "| v1 | chatty | chatty | default | backend=chatty, temperature=0.9 |" in report
    assert "| v0 | 2/2 | 0 |" in report and "| v2 | 0/2 | 2 |" in report
    assert "| terse | 1–0–0 | 100% (21–100%) | 100% | 5.0 |" in report
    # Chatty against terse, word by word; the pipe in the output cannot break the table.
    assert (
        "  - vs v0 (53% alike): ~~The~~**Well, the** capital is Lima **\\| of course**." in report
    )
    assert "- **v2** (repeat 0): error: server down" in report


def test_markdown_diff_marks_changes_outside_whitespace() -> None:
    assert markdown_diff(diff_words("a big cat", "a small cat")) == "a ~~big~~**small** cat"
    assert markdown_diff(diff_words("a*b", "a|b")) == "a~~\\*~~**\\|**b"


def test_write_export_picks_the_format_from_the_suffix(
    tmp_path: Path, comparison: Comparison
) -> None:
    for name in ("c.csv", "c.jsonl", "c.md"):
        write_export(comparison, tmp_path / name)
    assert (tmp_path / "c.jsonl").read_text().count("\n") == 6
    assert (tmp_path / "c.md").read_text().startswith("# Capitals A/B")
    assert (tmp_path / "c.csv").read_bytes().count(b"\r\n") >= 7
    with pytest.raises(KnownError, match="export format"):
        write_export(comparison, tmp_path / "c.xlsx")


def test_markdown_costs_carry_their_currency(comparison: Comparison) -> None:
    def priced(run: StoredRun, cost: float) -> StoredRun:
        return replace(run, result=run.result.model_copy(update={"cost": cost}))

    costs = {0: 0.0015, 1: 0.0}  # terse: a paid model; chatty: a local one
    runs = {
        key: [priced(r, costs[key.variant]) for r in cell] if key.variant in costs else cell
        for key, cell in comparison.runs.items()
    }
    report = export_markdown(Comparison(comparison.experiment, runs))
    terse, chatty = (
        next(line for line in report.splitlines() if line.startswith(f"| v{i} | 2/2 |"))
        for i in (0, 1)
    )
    assert " | 0.0030 USD | " in terse and " | free | " in chatty
    assert "0.0000" not in report
