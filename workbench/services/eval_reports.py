"""An evaluation's results as CI reads them: a JSON summary and JUnit XML.

JUnit: one ``<testsuite>`` per variant, one ``<testcase>`` per dataset row; a failed case carries
``<failure>`` with each failing assertion's reason, a case that could not be judged (the backend
failed, a check errored) carries ``<error>``, a cell that never ran is ``<skipped>``. A repeated
row (``repeats`` > 1) is still one testcase: failing only when no repeat passed; a *flaky* row
(passed at least once, failed at least once) passes, with its failed repeats as
``<flakyFailure>`` (Maven Surefire's element for a test that passed on a rerun, read by Jenkins
and GitLab) and ``verdict``/``flaky``/``passed`` properties, so CI shows it without failing on it.
Outputs are read from the store one run at a time, never all at once.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections import Counter
from typing import Any

from workbench.core.evaluation import Outcome
from workbench.services.evaluation import Evaluation, outcomes_of
from workbench.services.flaky import CaseRepeats, case_repeats, summarise
from workbench.services.scorecard import CellResult, GroupStats, RegressionReport, Scorecard

OUTPUT_CHARS = 4000
#: Characters XML 1.0 cannot hold, even escaped (a model may well print them).
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _x(text: str) -> str:
    return _NOT_XML.sub("\ufffd", text)


def case_name(evaluation: Evaluation, test: int, repeat: int, *, numbered: bool = True) -> str:
    """A dataset row as a person recognises it: its description, else its values."""
    case = evaluation.spec.tests[test]
    name = case.description or ", ".join(f"{k}={v}" for k, v in case.vars.items())
    name = " ".join(name.split())
    if len(name) > 80:
        name = name[:79] + "…"
    suffix = f" #{repeat + 1}" if numbered and evaluation.spec.repeats > 1 else ""
    return f"row {test + 1}: {name}{suffix}"


def check_text(outcome: Outcome) -> str:
    """"type: reason" of a check's verdict. Many checks already start their reason with their
    type ("javascript: SyntaxError ..."), which must not be said twice."""
    reason = outcome.reason.removeprefix(f"{outcome.type}: ")
    return f"{outcome.type}: {reason}" if outcome.type else reason


def error_reasons(evaluation: Evaluation, card: Scorecard) -> list[tuple[str, int]]:
    """Why cells errored, most frequent first: each distinct backend error, or errored check,
    with the number of cells it happened in. A check that errored in a cell counted as failed
    (another check failed there) is counted too, so a check's count matches its own "N errors"
    line. Reads one run at a time, and only runs with an error."""
    reasons: Counter[str] = Counter()
    for cell in card.cells.values():
        if cell.status != "error" and all(a.status != "error" for a in cell.assertions):
            continue
        detail = evaluation.detail(cell)
        errored = {check_text(o) for _, o in detail.outcomes if o.status == "error" and o.reason}
        if detail.error:
            errored = {detail.error}
        reasons.update(errored or {"no reason was recorded"})
    return reasons.most_common()


def error_cells(card: Scorecard) -> tuple[int, int]:
    """``(cells with an error, those of them counted as failed)``: a cell where one check
    failed and another errored counts as failed in the scorecard, though its error is listed."""
    cells = [c for c in card.cells.values()
             if c.status == "error" or any(a.status == "error" for a in c.assertions)]
    return len(cells), sum(c.status == "fail" for c in cells)


def group_json(stats: GroupStats) -> dict[str, Any]:
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
                **group_json(v.overall),
                "cost": v.cost,
                "assertions": {name: group_json(g) for name, g in v.assertions.items()},
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
                **_metadata(evaluation, c.test),
            }
            for c in sorted(card.cells.values(), key=lambda c: (c.variant, c.test, c.repeat))
        ],
    }


def _metadata(evaluation: Evaluation, test: int) -> dict[str, Any]:
    """A test's metadata (promptfoo's), when it has some: shown with each of its cells."""
    metadata = evaluation.spec.tests[test].metadata
    return {"metadata": metadata} if metadata else {}


def to_junit(evaluation: Evaluation, card: Scorecard) -> str:
    """JUnit XML of the evaluation (see the module docstring)."""
    root = ET.Element("testsuites", name=evaluation.spec.name)
    totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    repeats = evaluation.spec.repeats
    for v, stats in enumerate(card.variants):
        suite = ET.SubElement(root, "testsuite", name=stats.label)
        counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
        time_total = 0.0
        for t in range(len(evaluation.spec.tests)):
            # one testcase per row and repeat, or per row when repeated (flaky, see above)
            groups = [[r] for r in range(repeats)] if repeats == 1 else [list(range(repeats))]
            for group in groups:
                cells = [c for r in group if (c := card.cells.get((v, t, r))) is not None]
                counts["tests"] += 1
                case = ET.SubElement(
                    suite,
                    "testcase",
                    classname=f"{evaluation.spec.name}.{stats.label}",
                    name=_x(case_name(evaluation, t, group[0], numbered=len(group) == 1)),
                )
                if not cells:
                    counts["skipped"] += 1
                    ET.SubElement(case, "skipped", message="not run (cancelled or interrupted)")
                    continue
                seconds = sum(c.latency_s or 0.0 for c in cells)
                time_total += seconds
                case.set("time", f"{seconds:.3f}")
                verdict = _junit_case(case, evaluation, cells, repeated=len(group) > 1)
                if verdict == "fail":
                    counts["failures"] += 1
                elif verdict == "error":
                    counts["errors"] += 1
        for name, value in counts.items():
            suite.set(name, str(value))
            totals[name] += value
        suite.set("time", f"{time_total:.3f}")
    for name, value in totals.items():
        root.set(name, str(value))
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def _junit_case(
    case: ET.Element, evaluation: Evaluation, cells: list[CellResult], *, repeated: bool
) -> str:
    """Fill one testcase from its cells (one, or a row's repeats); returns its verdict: a row
    whose repeats passed at least once is not a failure, its failed repeats are
    ``<flakyFailure>``s (Surefire's element for a test that passed on a rerun)."""
    store = evaluation.store
    repeats = CaseRepeats(
        cells[0].variant,
        cells[0].test,
        sum(c.status == "pass" for c in cells),
        sum(c.status == "fail" for c in cells),
        sum(c.status == "error" for c in cells),
    )
    if repeated:
        props = ET.SubElement(case, "properties")
        for name, value in (
            ("verdict", repeats.verdict),
            ("flaky", str(repeats.flaky).lower()),
            ("passed", f"{repeats.passed}/{repeats.judged}"),
            ("errors", str(repeats.errors)),
        ):
            ET.SubElement(props, "property", name=name, value=value)
    status = "pass" if repeats.passed else "fail" if repeats.failed else "error"
    failures: list[tuple[str, str]] = []  # (message, detail) per failed repeat
    journal: list[str] = []
    output = ""
    for cell in cells:
        if cell.run_id is None:
            continue
        outcomes = outcomes_of(store, cell.run_id)
        lines = "\n".join(f"{o.status.upper()} {check_text(o)}" for _, o in outcomes)
        run = store.runs.get(cell.run_id).result
        output = output or run.text
        if repeated:
            journal.append(f"repeat {cell.repeat + 1}: {cell.status}")
        if cell.status == "fail":
            failing = "; ".join(check_text(o) for _, o in outcomes if o.status == "fail")
            failures.append((failing, lines))
        elif cell.status == "error" and status == "error" and case.find("error") is None:
            message = run.error or "; ".join(
                check_text(o) for _, o in outcomes if o.status == "error"
            )
            kind = run.error_kind or "error"
            error = ET.SubElement(case, "error", message=_x(message), type=kind)
            error.text = _x(lines or message)
    if status == "pass":  # the failed repeats of a flaky row
        for message, lines in failures:
            ET.SubElement(case, "flakyFailure", message=_x(message), type="assertion").text = _x(
                lines
            )
    elif failures:
        failure = ET.SubElement(case, "failure", message=_x(failures[0][0]), type="assertion")
        failure.text = _x("\n".join(lines for _, lines in failures))
    text = "\n".join(journal)
    if output:
        text = f"{text}\n{output[:OUTPUT_CHARS]}" if text else output[:OUTPUT_CHARS]
    if text:
        ET.SubElement(case, "system-out").text = _x(text)
    return status


def repeats_json(
    evaluation: Evaluation, card: Scorecard, k: int, *, repeats: int | None = None
) -> dict[str, Any]:
    """Flaky, passing and failing cases with pass@k and pass^k (``services.flaky``) over
    ``repeats`` (default: the evaluation's) per case."""
    labels = evaluation.labels()
    return {
        "repeats": repeats or evaluation.spec.repeats,
        "k": k,
        "variants": [
            {
                "label": s.label,
                "passing": s.passing,
                "flaky": s.flaky,
                "failing": s.failing,
                "errors": s.errors,
                "pass_at_k": s.pass_at_k,
                "pass_hat_k": s.pass_hat_k,
            }
            for s in summarise(card, k)
        ],
        "cases": [
            {
                "variant": labels[c.variant],
                "row": c.test + 1,
                "verdict": c.verdict,
                "passed": c.passed,
                "failed": c.failed,
                "errors": c.errors,
                "pass_at_k": None if (f := c.at_k(k)) is None else f[0],
                "pass_hat_k": None if f is None else f[1],
            }
            for c in case_repeats(card)
        ],
    }


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
