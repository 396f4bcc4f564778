"""``workbench eval``'s history and baseline options: ``--history``, ``--pin-baseline``,
``--baseline`` (``services.eval_history`` and ``services.baseline`` do the work)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.cli._common import print_json

if TYPE_CHECKING:
    from workbench.services.baseline import BaselineCheck
    from workbench.services.eval_history import MatrixRow, Snapshot, TrendPoint
    from workbench.services.evaluation import Evaluation
    from workbench.services.runner import Runner
    from workbench.storage.repositories import Store

PINNED = "pinned"
THIS = ""  # --pin-baseline without an id: the evaluation this command runs


def add_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--history",
        action="store_true",
        help="print the suite's saved evaluations: pass rate and mean score with 95%% "
        "intervals per evaluation and per template version, and each case across runs "
        "(better, worse, flaky, unchanged); run nothing",
    )
    p.add_argument(
        "--last", type=int, default=10, metavar="N", help="with --history: the last N evaluations"
    )
    p.add_argument(
        "--pin-baseline",
        nargs="?",
        const=THIS,
        metavar="ID",
        help="pin this evaluation as the suite's baseline once it ran; with ID, pin that saved "
        "evaluation of the suite and run nothing",
    )
    p.add_argument(
        "--baseline",
        nargs="?",
        const=PINNED,
        metavar="ID",
        help="compare with the suite's pinned baseline (or evaluation ID) case by case and exit "
        "1 on a significant regression: McNemar's exact test on the cases that flipped "
        "pass/fail and a sign test on per-case scores, each one-sided at alpha/2",
    )
    p.add_argument(
        "--alpha",
        type=float,
        default=0.05,
        metavar="A",
        help="with --baseline: the significance level (default 0.05)",
    )


def baseline_id(args: argparse.Namespace, store: Store, key: str) -> str | None:
    """The evaluation ``--baseline`` names, checked before anything runs."""
    from workbench.core.errors import KnownError

    if args.baseline is None:
        return None
    if not 0 < args.alpha < 1:
        raise KnownError("--alpha must be between 0 and 1")
    if args.baseline != PINNED:
        store.experiments.get(args.baseline)  # a wrong id stops here
        return str(args.baseline)
    pinned = store.suites.baseline(key)
    if pinned is None:
        raise KnownError(
            f"no baseline is pinned for {args.suite}",
            hint=f"pin one: 'workbench eval {args.suite} --pin-baseline [ID]' (ids: --history)",
        )
    return pinned


def snapshot(store: Store, runner: Runner, experiment_id: str) -> Snapshot:
    from workbench.services.eval_history import Snapshot
    from workbench.services.evaluation import Evaluation

    created = store.experiments.get(experiment_id).created_at
    return Snapshot.of(Evaluation.open(store, experiment_id, runner), created)


def check(
    store: Store, runner: Runner, baseline: str, evaluation: Evaluation, alpha: float
) -> BaselineCheck:
    from workbench.services.baseline import check_baseline

    return check_baseline(
        snapshot(store, runner, baseline), snapshot(store, runner, evaluation.id), alpha
    )


def print_check(result: BaselineCheck) -> None:
    print(f"against baseline {result.baseline_id}: {result.summary()}")
    for case in result.worse_cases():
        delta = case.score_delta
        score = "" if delta is None else f" (score {delta:+.2f})"
        before, after = case.before.mark, case.after.mark
        print(f"  worse: {case.name} · {case.variant}: {before} -> {after}{score}")


def check_json(result: BaselineCheck) -> dict[str, Any]:
    return {
        "baseline": result.baseline_id,
        "pairs": len(result.pairs),
        "pass_to_fail": len(result.pass_to_fail),
        "fail_to_pass": len(result.fail_to_pass),
        "p_pass_fail": result.p_pass,
        "scores_down": len(result.scores_down),
        "scores_up": len(result.scores_up),
        "p_scores": result.p_score,
        "alpha": result.alpha,
        "regressed": result.regressed,
        "worse": [
            {"variant": c.variant, "case": c.name, "before": c.before.verdict,
             "after": c.after.verdict, "score_delta": c.score_delta}
            for c in result.worse_cases()
        ],
    }


def show_history(
    args: argparse.Namespace, store: Store, runner: Runner, key: str, suite: Path
) -> None:
    from workbench.services.eval_history import by_version, case_matrix, load_history

    def open_evaluation(experiment_id: str) -> Evaluation:
        from workbench.services.evaluation import Evaluation

        return Evaluation.open(store, experiment_id, runner)

    snapshots = load_history(store, key, open_evaluation, args.last)
    pinned = store.suites.baseline(key)
    trend = [_point(p, s, pinned) for s in snapshots for p in _points(s)]
    versions = by_version(snapshots)
    matrix = case_matrix(snapshots)
    if args.json:
        print_json(
            {
                "suite": str(suite),
                "key": key,
                "baseline": pinned,
                "trend": trend,
                "versions": [_point_json(p) for p in versions],
                "cases": [_row_json(r, snapshots) for r in matrix],
            }
        )
        return
    if not snapshots:
        print(f"no saved evaluation of {suite} yet: run 'workbench eval {suite}'")
        return
    from workbench.cli.eval import _stats

    print(f"{suite}: {len(snapshots)} evaluations, oldest first (* the pinned baseline)")
    for s in snapshots:
        mark = "*" if s.evaluation_id == pinned else " "
        print(f"{mark} {s.created_at[:16].replace('T', ' ')}  {s.evaluation_id}")
        for point in _points(s):
            print(f"    {point.label} {point.version}: {_stats(point.stats)}")
    print("per template version (all its evaluations pooled):")
    for point in versions:
        runs = len(point.evaluations)
        print(f"  {point.label} {point.version} ({runs} run{'s' if runs > 1 else ''}): "
              f"{_stats(point.stats)}")
    print("cases, oldest -> latest (✓ pass, ✗ fail, ≈ flaky, ⚠ error, · not run):")
    for row in matrix:
        marks = "".join("·" if o is None else o.mark for o in row.outcomes)
        print(f"  {marks}  {row.movement:<9} {row.name} · {row.variant}")


def _points(s: Snapshot) -> list[TrendPoint]:
    from workbench.services.eval_history import trend

    return trend([s])


def _point_json(p: TrendPoint) -> dict[str, Any]:
    from workbench.services.eval_reports import group_json

    return {
        "variant": p.label,
        "version": p.version,
        "evaluations": list(p.evaluations),
        "created_at": p.created_at,
        **group_json(p.stats),
    }


def _point(p: TrendPoint, s: Snapshot, pinned: str | None) -> dict[str, Any]:
    return {**_point_json(p), "baseline": s.evaluation_id == pinned}


def _row_json(row: MatrixRow, snapshots: list[Snapshot]) -> dict[str, Any]:
    return {
        "variant": row.variant,
        "case": row.name,
        "movement": row.movement,
        "runs": [
            {"evaluation": s.evaluation_id, "verdict": None if o is None else o.verdict,
             "passed": None if o is None else o.passed,
             "failed": None if o is None else o.failed,
             "score": None if o is None else o.score}
            for s, o in zip(snapshots, row.outcomes, strict=True)
        ],
    }
