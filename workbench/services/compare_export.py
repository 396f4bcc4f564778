"""Exporting a comparison: CSV and JSONL (one row per cell, its latest run, with its tool calls)
and a Markdown report with per-variant metrics, preferences, the word diffs between columns and,
when the variants called tools, their tool-call sequences side by side.

The Markdown report is meant to be pasted into a review or a notebook: variants as a table of what
differs from the first, then each test case's outputs with their differences from the first
variant (and from the expected answer, when there is one) marked ~~removed~~ / **added**.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from statistics import mean
from typing import Any

from workbench.core.diff import WordDiff, diff_words
from workbench.core.errors import KnownError
from workbench.core.grid import CellKey, expand, variant_differences
from workbench.core.model_table import format_cost
from workbench.core.preferences import VariantPreference
from workbench.services.compare_tools import cell_steps, sequence_tables
from workbench.services.comparison import Comparison
from workbench.storage.files import write_text
from workbench.storage.repositories import StoredRun

FORMATS = {".csv": "csv", ".jsonl": "jsonl", ".md": "markdown", ".markdown": "markdown"}


@dataclass(frozen=True)
class VariantMetrics:
    """One column's figures over its latest run per cell. Means are over runs that report the
    figure; ``load_s`` is a local model's loading time, shown apart from generation."""

    index: int
    label: str
    backend: str
    model: str
    cells: int
    ok: int
    errors: int
    cancelled: int
    missing: int  # cells with no run yet
    mean_ttft_s: float | None
    mean_total_s: float | None
    mean_tokens_per_s: float | None
    input_tokens: int
    output_tokens: int
    cost: float | None
    load_s: float | None
    finish_reasons: dict[str, int]
    agreement: float | None  # mean over test cases, with repeats
    mean_similarity: float | None


def _mean(values: Sequence[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return mean(known) if known else None


def _label(comparison: Comparison, index: int) -> str:
    return comparison.spec.variants[index].label or f"v{index}"


def latest_runs(comparison: Comparison) -> dict[CellKey, StoredRun | None]:
    """Every cell of the experiment (in run order) with its newest run, or None."""
    return {cell.key: comparison.latest(cell.key) for cell in expand(comparison.spec)}


def variant_metrics(comparison: Comparison) -> list[VariantMetrics]:
    latest = latest_runs(comparison)
    tests: list[int | None] = list(range(len(comparison.spec.tests))) or [None]
    out = []
    for index, variant in enumerate(comparison.spec.variants):
        cells = {k: r for k, r in latest.items() if k.variant == index}
        runs = [r for r in cells.values() if r is not None]
        results = [r.result for r in runs]
        costs = [r.cost for r in results if r.cost is not None]
        finish: dict[str, int] = {}
        for r in results:
            finish[r.finish_reason] = finish.get(r.finish_reason, 0) + 1
        stab = (
            [comparison.stability(index, t) for t in tests] if comparison.spec.repeats > 1 else []
        )
        out.append(
            VariantMetrics(
                index=index,
                label=_label(comparison, index),
                backend=variant.backend,
                model=variant.model,
                cells=len(cells),
                ok=sum(1 for r in runs if r.status == "ok"),
                errors=sum(1 for r in runs if r.status == "error"),
                cancelled=sum(1 for r in runs if r.status == "cancelled"),
                missing=sum(1 for r in cells.values() if r is None),
                mean_ttft_s=_mean([r.timings.ttft_s for r in results]),
                mean_total_s=_mean([r.timings.total_s for r in results]),
                mean_tokens_per_s=_mean([r.timings.tokens_per_s for r in results]),
                input_tokens=sum(r.usage.input_tokens or 0 for r in results),
                output_tokens=sum(r.usage.output_tokens or 0 for r in results),
                cost=sum(costs) if costs else None,
                load_s=max((r.timings.load_s or 0.0 for r in results), default=None) or None,
                finish_reasons=finish,
                agreement=_mean([s.agreement for s in stab if s.n]),
                mean_similarity=_mean([s.mean_similarity for s in stab]),
            )
        )
    return out


# --- rows (CSV, JSONL) ---------------------------------------------------------------------------


def cell_rows(comparison: Comparison) -> list[dict[str, Any]]:
    """One row per cell: where it sits, what it ran with, and its latest run's result."""
    spec = comparison.spec
    rows = []
    for key, run in latest_runs(comparison).items():
        variant = spec.variants[key.variant]
        test = spec.tests[key.test] if key.test is not None else None
        row: dict[str, Any] = {
            "cell": str(key),
            "variant": key.variant,
            "variant_label": _label(comparison, key.variant),
            "test": key.test,
            "repeat": key.repeat,
            "backend": variant.backend,
            "model": variant.model,
            "template": variant.template.name,
            "template_version": variant.template_version,
            "params": variant.params.set_values(),
            "variables": {**variant.variables, **(test.vars if test else {})},
            "expected": test.expected if test else None,
            "run_id": None,
            "status": "missing",
            "output": None,
            "finish_reason": None,
            "input_tokens": None,
            "output_tokens": None,
            "load_s": None,
            "ttft_s": None,
            "total_s": None,
            "tokens_per_s": None,
            "cost": None,
            "error": None,
            "tool_calls": [s.as_dict() for s in cell_steps(comparison, key)],
        }
        if run is not None:
            r = run.result
            row |= {
                "run_id": run.id,
                "status": run.status,
                "output": r.text,
                "finish_reason": r.finish_reason,
                "input_tokens": r.usage.input_tokens,
                "output_tokens": r.usage.output_tokens,
                "load_s": r.timings.load_s,
                "ttft_s": r.timings.ttft_s,
                "total_s": r.timings.total_s,
                "tokens_per_s": r.timings.tokens_per_s,
                "cost": r.cost,
                "error": r.error,
            }
        rows.append(row)
    return rows


def export_jsonl(comparison: Comparison) -> str:
    return "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in cell_rows(comparison))


def export_csv(comparison: Comparison) -> str:
    rows = cell_rows(comparison)
    out = io.StringIO(newline="")
    if not rows:
        return ""
    writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\r\n")
    writer.writeheader()
    for row in rows:
        writer.writerow(
            {
                k: json.dumps(v, ensure_ascii=False) if isinstance(v, dict | list) else v
                for k, v in row.items()
            }
        )
    return out.getvalue()


# --- Markdown report -----------------------------------------------------------------------------


def _md_escape(text: str) -> str:
    """Text safe inside a table cell or a diff line: no pipes, no line breaks, no markup."""
    for ch in "\\`*_~[]|<>":
        text = text.replace(ch, "\\" + ch)
    return text.replace("\r\n", "\n").replace("\n", "<br>")


def markdown_diff(diff: WordDiff) -> str:
    """A word diff inline: ~~removed~~ and **added**, whitespace kept outside the marks."""
    parts = []
    for span in diff.inline:
        text = _md_escape(span.text)
        if span.kind == "equal" or not span.text.strip():
            parts.append(text)
            continue
        lead = text[: len(text) - len(text.lstrip())]
        trail = text[len(text.rstrip()) :]
        core = text.strip()
        mark = "~~" if span.kind == "delete" else "**"
        parts.append(f"{lead}{mark}{core}{mark}{trail}")
    return "".join(parts)


def _fmt(value: float | None, unit: str = "", places: int = 2) -> str:
    return "–" if value is None else f"{value:.{places}f}{unit}"


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value * 100:.0f}%"


def export_markdown(comparison: Comparison, preferences: Sequence[VariantPreference] = ()) -> str:
    spec = comparison.spec
    lines = [f"# {spec.name}", ""]
    if spec.notes:
        lines += [spec.notes, ""]
    lines += [
        "## Variants",
        "",
        "| # | variant | backend | model | differs from v0 |",
        "|---|---|---|---|---|",
    ]
    first = spec.variants[0] if spec.variants else None
    for i, v in enumerate(spec.variants):
        diff = variant_differences(first, v) if first is not None and i else {}
        what = ", ".join(f"{k}={val}" for k, val in diff.items()) or ("base" if i == 0 else "same")
        lines.append(
            f"| v{i} | {_md_escape(_label(comparison, i))} | {v.backend} | "
            f"{_md_escape(v.model) or 'default'} | {_md_escape(what)} |"
        )
    lines += [
        "",
        "## Metrics",
        "",
        "| variant | ok | errors | first token | total | tokens/s | in | out | cost | load |"
        " agreement | similarity |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for m in variant_metrics(comparison):
        lines.append(
            f"| v{m.index} | {m.ok}/{m.cells} | {m.errors} | {_fmt(m.mean_ttft_s, ' s')} | "
            f"{_fmt(m.mean_total_s, ' s')} | {_fmt(m.mean_tokens_per_s, '', 1)} | "
            f"{m.input_tokens:,} | {m.output_tokens:,} | {format_cost(m.cost) or '–'} | "
            f"{_fmt(m.load_s, ' s')} | {_pct(m.agreement)} | {_pct(m.mean_similarity)} |"
        )
    if preferences:
        lines += [
            "",
            "## Preferences",
            "",
            "| variant | A/B | win rate (95% CI) | thumbs up | stars |",
            "|---|---|---|---|---|",
        ]
        for p in preferences:
            rate = (
                "–"
                if p.win_rate is None
                else f"{p.win_rate * 100:.0f}% ({p.low * 100:.0f}–{p.high * 100:.0f}%)"
            )
            lines.append(
                f"| {_md_escape(p.variant)} | {p.wins}–{p.losses}–{p.ties} | {rate} | "
                f"{_pct(p.thumbs_up_share)} | {_fmt(p.stars_mean, '', 1)} |"
            )
    lines += ["", "## Outputs", ""]
    lines += _outputs_section(comparison)
    lines += _tool_calls_section(comparison)
    return "\n".join(lines).rstrip() + "\n"


def _tool_calls_section(comparison: Comparison) -> list[str]:
    """Each test's tool-call sequences, a column per variant and a row per call position
    (≠ where the variants part), then each variant's answer."""
    tables = sequence_tables(comparison)
    if not tables:
        return []
    count = len(comparison.spec.variants)
    lines = ["## Tool calls", ""]
    for table in tables:
        if table.title:
            lines += [f"### {_md_escape(table.title)}", ""]
        lines += ["| # | " + " | ".join(f"v{v}" for v in range(count)) + " |",
                  "|---|" + "---|" * count]
        for row in range(table.rows):
            cells = [
                f"{_md_escape(s[row].call.name)} `{_code(s[row].call.arguments)}`<br>"
                f"{_md_escape(s[row].outcome())}" if row < len(s) else "–"
                for s in table.steps
            ]
            mark = " ≠" if row in table.differing else ""
            lines.append(f"| {row + 1}{mark} | " + " | ".join(cells) + " |")
        answers = ["–" if a is None else _md_escape(a) for a in table.answers]
        lines += ["| answer | " + " | ".join(answers) + " |", ""]
    return lines


def _code(text: str) -> str:
    """Arguments inside a table's code span: one line, no pipe or backtick to break it."""
    return " ".join(text.split()).replace("|", "\\|").replace("`", "'") or "{}"


def _outputs_section(comparison: Comparison) -> list[str]:
    spec = comparison.spec
    lines: list[str] = []
    tests: list[int | None] = list(range(len(spec.tests))) or [None]
    for t in tests:
        test = spec.tests[t] if t is not None else None
        if test is not None:
            title = test.description or ", ".join(f"{k}={v}" for k, v in test.vars.items())
            lines += [f"### t{t}: {_md_escape(title)}", ""]
            if test.expected is not None:
                lines += [f"Expected: {_md_escape(test.expected)}", ""]
        for repeat in range(spec.repeats):
            base_text: str | None = None
            for v in range(len(spec.variants)):
                run = comparison.latest(CellKey(v, t, repeat))
                head = f"- **v{v}**" + (f" (repeat {repeat})" if spec.repeats > 1 else "")
                if run is None:
                    lines.append(f"{head}: not run")
                    continue
                if run.status != "ok":
                    lines.append(f"{head}: {run.status}: {_md_escape(run.result.error or '')}")
                    continue
                text = run.result.text
                lines.append(f"{head}: {_md_escape(text)}")
                if base_text is None:
                    base_text = text
                elif text != base_text:
                    diff = diff_words(base_text, text)
                    lines.append(
                        f"  - vs v0 ({diff.ratio * 100:.0f}% alike): {markdown_diff(diff)}"
                    )
                if test is not None and test.expected is not None:
                    diff = diff_words(test.expected, text)
                    lines.append(
                        f"  - vs expected ({diff.ratio * 100:.0f}% alike): {markdown_diff(diff)}"
                    )
        lines.append("")
    return lines


# --- files ---------------------------------------------------------------------------------------


def export_comparison(
    comparison: Comparison, fmt: str, preferences: Sequence[VariantPreference] = ()
) -> str:
    if fmt == "csv":
        return export_csv(comparison)
    if fmt == "jsonl":
        return export_jsonl(comparison)
    if fmt == "markdown":
        return export_markdown(comparison, preferences)
    raise KnownError(f"no comparison export format '{fmt}'", hint="csv, jsonl or markdown")


def format_for(path: Path) -> str:
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise KnownError(
            f"cannot tell the export format of {path.name}", hint="use .csv, .jsonl or .md"
        )
    return fmt


def write_export(
    comparison: Comparison, path: Path, preferences: Sequence[VariantPreference] = ()
) -> None:
    """Write the export chosen by ``path``'s suffix, atomically (temp file + rename)."""
    write_text(path, export_comparison(comparison, format_for(path), preferences))
