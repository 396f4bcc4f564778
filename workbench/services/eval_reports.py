"""An evaluation's results as CI reads them: a JSON summary and JUnit XML.

JUnit: one ``<testsuite>`` per variant, one ``<testcase>`` per dataset row (and repeat); a failed
case carries ``<failure>`` with each failing assertion's reason, a case that could not be judged
(the backend failed, a check errored) carries ``<error>``, a cell that never ran is ``<skipped>``.
Outputs are read from the store one run at a time, never all at once.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections import Counter
from typing import Any

from workbench.services.evaluation import Evaluation, outcomes_of
from workbench.services.scorecard import GroupStats, RegressionReport, Scorecard

OUTPUT_CHARS = 4000
#: Characters XML 1.0 cannot hold, even escaped (a model may well print them).
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _x(text: str) -> str:
    return _NOT_XML.sub("\ufffd", text)


def case_name(evaluation: Evaluation, test: int, repeat: int) -> str:
    """A dataset row as a person recognises it: its description, else its values."""
    case = evaluation.spec.tests[test]
    name = case.description or ", ".join(f"{k}={v}" for k, v in case.vars.items())
    name = " ".join(name.split())
    if len(name) > 80:
        name = name[:79] + "…"
    suffix = f" #{repeat + 1}" if evaluation.spec.repeats > 1 else ""
    return f"row {test + 1}: {name}{suffix}"


def error_reasons(evaluation: Evaluation, card: Scorecard) -> list[tuple[str, int]]:
    """Why cells errored, most frequent first: each distinct backend error (or the reason of
    the check that errored) with the number of cells it stopped. Reads one run at a time."""
    reasons: Counter[str] = Counter()
    for cell in card.cells.values():
        if cell.status != "error":
            continue
        detail = evaluation.detail(cell)
        errored = (o.reason for _, o in detail.outcomes if o.status == "error" and o.reason)
        reasons[detail.error or next(errored, "") or "no reason was recorded"] += 1
    return reasons.most_common()


def _group(stats: GroupStats) -> dict[str, Any]:
    cases, scores = stats.cases, stats.scores
    return {
        "passed": cases.passed,
        "failed": cases.failed,
        "errors": cases.errors,
        "pass_rate": cases.rate,
        "pass_rate_ci95": cases.ci,
        "mean_score": scores.mean,
        "mean_score_ci95": scores.ci,
    }


def to_json(evaluation: Evaluation, card: Scorecard) -> dict[str, Any]:
    """The scorecard, criteria and every cell's verdict as plain data."""
    return {
        "experiment_id": evaluation.id,
        "name": evaluation.spec.name,
        "met": card.met,
        "variants": [
            {
                "label": v.label,
                **_group(v.overall),
                "cost": v.cost,
                "assertions": {name: _group(g) for name, g in v.assertions.items()},
            }
            for v in card.variants
        ],
        "criteria": [
            {
                "criterion": r.criterion.text,
                "variant": r.variant_label,
                "value": r.value,
                "met": r.met,
                "detail": r.detail,
            }
            for r in card.criteria
        ],
        "cells": [
            {
                "variant": c.variant,
                "test": c.test,
                "repeat": c.repeat,
                "run_id": c.run_id,
                "status": c.status,
                "score": c.score,
            }
            for c in sorted(card.cells.values(), key=lambda c: (c.variant, c.test, c.repeat))
        ],
    }


def to_junit(evaluation: Evaluation, card: Scorecard) -> str:
    """JUnit XML of the evaluation (see the module docstring)."""
    root = ET.Element("testsuites", name=evaluation.spec.name)
    totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    store = evaluation.store
    for v, stats in enumerate(card.variants):
        suite = ET.SubElement(root, "testsuite", name=stats.label)
        counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
        time_total = 0.0
        for key in evaluation.cells():
            if key[0] != v:
                continue
            _, t, r = key
            counts["tests"] += 1
            cell = card.cells.get(key)
            case = ET.SubElement(
                suite,
                "testcase",
                classname=f"{evaluation.spec.name}.{stats.label}",
                name=_x(case_name(evaluation, t, r)),
            )
            if cell is None:
                counts["skipped"] += 1
                ET.SubElement(case, "skipped", message="not run (cancelled or interrupted)")
                continue
            time_total += cell.latency_s or 0.0
            case.set("time", f"{cell.latency_s or 0.0:.3f}")
            if cell.run_id is None:
                continue
            outcomes = outcomes_of(store, cell.run_id)
            lines = [f"{o.status.upper()} {o.type}: {o.reason}" for _, o in outcomes]
            if cell.status == "fail":
                counts["failures"] += 1
                failing = [f"{o.type}: {o.reason}" for _, o in outcomes if o.status == "fail"]
                failure = ET.SubElement(
                    case, "failure", message=_x("; ".join(failing)), type="assertion"
                )
                failure.text = _x("\n".join(lines))
            elif cell.status == "error":
                counts["errors"] += 1
                run = store.runs.get(cell.run_id).result
                message = run.error or "; ".join(
                    f"{o.type}: {o.reason}" for _, o in outcomes if o.status == "error"
                )
                error = ET.SubElement(
                    case, "error", message=_x(message), type=run.error_kind or "error"
                )
                error.text = _x("\n".join(lines) or message)
            output = store.runs.get(cell.run_id).result.text
            if output:
                ET.SubElement(case, "system-out").text = _x(output[:OUTPUT_CHARS])
        for name, value in counts.items():
            suite.set(name, str(value))
            totals[name] += value
        suite.set("time", f"{time_total:.3f}")
    for name, value in totals.items():
        root.set(name, str(value))
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def regression_json(
    evaluation: Evaluation, report: RegressionReport, baseline: str
) -> dict[str, Any]:
    """How each case moved against the baseline evaluation."""
    labels = evaluation.labels()
    return {
        "baseline": baseline,
        "summary": report.summary(),
        "cases": [
            {
                "variant": labels[c.key[0]] if c.key[0] < len(labels) else c.key[0],
                "row": c.key[1] + 1,
                "repeat": c.key[2],
                "change": c.change,
                "before": c.before.status if c.before else None,
                "after": c.after.status if c.after else None,
                "score_before": c.before.score if c.before else None,
                "score_after": c.after.score if c.after else None,
            }
            for c in report.changes
        ],
    }
