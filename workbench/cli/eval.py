"""``workbench eval SUITE``: run an evaluation headless and exit 1 when its criteria are not met.

SUITE is a suite YAML (dataset + variants + assertions + criteria; the format is documented in
``workbench.services.suites``) or a promptfoo config. The evaluation is saved in the data
folder's store like one started in the app, so the app can show its scorecard, and
``--resume ID`` finishes an interrupted one. The scorecard goes to stdout (``--json`` for a
machine-readable one), progress to stderr, and ``--junit PATH`` writes JUnit XML for CI.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from workbench.cli._common import (
    add_wait_option,
    freeze_heap,
    parse_assignments,
    print_json,
    start_or_wait,
)
from workbench.cli._eval_history import add_options

if TYPE_CHECKING:
    from collections.abc import Callable

    from workbench.backends.config import BackendConfig
    from workbench.core.experiments import ExperimentSpec
    from workbench.services.evaluation import Evaluation
    from workbench.services.evaluation_session import Progress
    from workbench.services.scorecard import GroupStats, RegressionReport, Scorecard

SUITE_HELP = """\
a suite file:
  name: translate
  dataset: tests.csv              # CSV (expected / __expected columns), JSONL, JSON/YAML rows
  variants:
    - {label: v1, template: translate.prompt.yaml, backend: llamacpp, params: {max_tokens: 64}}
    - {label: v2, prompt: "Translate to {{ language }}: {{ input }}"}
  assert: [{type: icontains, value: bonjour}]
  criteria: ["pass_rate >= 0.9", "fail_rate[unsafe] < 5%"]
or a promptfoo config (promptfooconfig.yaml). Without criteria every judged case must pass and
none may error. Criteria: pass_rate, fail_rate, error_rate, mean_score, optionally [METRIC].
Errors (the backend failed) are counted apart from failures.
exit status: 0 criteria met, 1 not met or a problem (one line on stderr), 2 usage."""


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "eval",
        help="run an evaluation suite (or a promptfoo config) and check its criteria",
        description="Run SUITE: every dataset row on every variant, each output checked by the "
        "suite's assertions, then the dataset-level criteria. Exits 1 when a criterion is not "
        "met, so prompts can be put under CI.",
        epilog=SUITE_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("suite", metavar="SUITE", type=Path, help="suite YAML or promptfoo config")
    p.add_argument("--json", action="store_true", help="print the scorecard as JSON")
    p.add_argument("--junit", metavar="PATH", type=Path, help="write JUnit XML to PATH")
    p.add_argument(
        "--concurrency",
        type=int,
        metavar="N",
        help="a fixed number of requests in flight per backend (default: each backend's own "
        "setting; unset, adaptive for a server)",
    )
    p.add_argument(
        "--backend",
        metavar="ID",
        help="run every variant on this backend id or configured name (e.g. llamacpp to run a "
        "promptfoo config's cloud providers locally)",
    )
    p.add_argument("--model", default="", metavar="M", help="the model, with --backend")
    p.add_argument(
        "--filter-metadata",
        action="append",
        metavar="KEY=VALUE",
        help="run only the tests whose metadata KEY is VALUE (or a list holding it), as "
        "promptfoo's option does (repeatable: every one must match)",
    )
    p.add_argument(
        "--criterion",
        action="append",
        metavar="EXPR",
        help="a criterion replacing the suite's, e.g. 'pass_rate >= 0.8' (repeatable)",
    )
    p.add_argument(
        "--repeat",
        type=int,
        metavar="N",
        help="run every case N times (replacing the suite's 'repeats'): a case that passes on "
        "some repeats and fails on others is reported as flaky, apart from the failing ones, "
        "with pass@k and pass^k",
    )
    p.add_argument(
        "--repeat-graded-only",
        action="store_true",
        help="with --repeat N: generate each output once and grade only its model-graded "
        "assertions (llm-rubric, factuality, model-graded-closedqa) N times: is the grader "
        "flaky?",
    )
    p.add_argument(
        "--pass-k",
        type=int,
        metavar="K",
        help="k of pass@k (at least one of k passed) and pass^k (all k passed), estimated "
        "without bias from the N repeats (default: N)",
    )
    p.add_argument("--resume", metavar="ID", help="finish the interrupted evaluation with this id")
    p.add_argument(
        "--compare",
        metavar="ID",
        help="regression check: compare every case with the saved evaluation ID (e.g. the same "
        "suite on the previous template version); exits 1 if any case got worse",
    )
    p.add_argument(
        "--estimate", action="store_true", help="print calls, tokens and cost; run nothing"
    )
    add_options(p)
    add_wait_option(p)
    p.set_defaults(func=run)


def _configs(spec: ExperimentSpec, concurrency: int | None) -> dict[str, BackendConfig]:
    """The saved backend settings, with ``--concurrency`` applied to the suite's backends."""
    from workbench.backends.config import BackendConfig, load_configs
    from workbench.core.errors import KnownError

    configs = load_configs()
    if concurrency is None:
        return configs
    if not 1 <= concurrency <= 64:
        raise KnownError("--concurrency must be between 1 and 64")
    for name in {v.backend for v in spec.variants}:
        config = configs.get(name) or BackendConfig(name=name, backend=name)
        configs[name] = config.model_copy(
            update={"options": {**config.options, "concurrency": concurrency}}
        )
    return configs


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value:.0%}"


def _stats(stats: GroupStats) -> str:
    cases, scores = stats.cases, stats.scores
    rate = _pct(cases.rate)
    if cases.ci is not None:
        rate += f" [{_pct(cases.ci[0])}–{_pct(cases.ci[1])}]"
    score = "–" if scores.mean is None else f"{scores.mean:.2f}"
    if scores.ci is not None and scores.n > 1:
        score += f" [{scores.ci[0]:.2f}–{scores.ci[1]:.2f}]"
    return (
        f"pass {rate:<16} score {score:<18} "
        f"{cases.passed} passed, {cases.failed} failed, {_errors(cases.errors)}"
    )


def _errors(n: int) -> str:
    return f"{n} error" if n == 1 else f"{n} errors"


def _print_errors(
    reasons: list[tuple[str, int]], cells: tuple[int, int], suite: Path, local: bool
) -> None:
    """Why cells errored (each distinct reason with the cells it happened in): the scorecard
    only counts them. ``cells`` is ``eval_reports.error_cells``: a cell where another check
    failed counts as failed above, so say so, or the counts would not add up. Unless it ran
    on the local model already, how to run it there instead."""
    if not reasons:
        return
    from workbench.core.wording import plural

    total = sum(count for _, count in reasons)
    errored, failed = cells
    also = f" ({failed} counted as failed: a check failed there too)" if failed else ""
    print(f"{plural(total, 'error')} in {plural(errored, 'cell')}{also}:")
    for message, count in reasons[:5]:
        print(f"  {count}× {message}")
    if len(reasons) > 5:
        print(f"  … and {len(reasons) - 5} other reasons (--json or --junit lists every cell)")
    if not local:
        command = f"workbench eval {suite} --backend llamacpp"
        print(f"hint: to run every variant on the local model: {command}")


def _print_card(card: Scorecard, experiment_id: str) -> None:
    width = max([12, *(len(name) for v in card.variants for name in v.assertions)])
    for v in card.variants:
        print(v.label)
        print(f"  {'all':<{width}} {_stats(v.overall)}")
        for name, group in v.assertions.items():
            print(f"  {name:<{width}} {_stats(group)}")
    for r in card.criteria:
        print(f"{'✓' if r.met else '✗'} {r.line()}")
    print(f"evaluation {experiment_id}: {'criteria met' if card.met else 'criteria NOT met'}")


def _progress_printer(enabled: bool) -> Callable[[Progress], None]:
    def show(p: Progress) -> None:
        if not enabled:
            return
        eta = "" if p.eta_s is None else f", {p.eta_s:.0f} s left"
        sys.stderr.write(
            f"\r{p.done}/{p.total} cells: {p.passed} passed, {p.failed} failed, "
            f"{_errors(p.errors)}{eta}   "
        )
        sys.stderr.flush()

    return show


def run(args: argparse.Namespace) -> int:
    from workbench.backends.base import CancelToken
    from workbench.cli._eval_history import (
        THIS,
        baseline_id,
        check,
        check_json,
        print_check,
        show_history,
    )
    from workbench.cli._storage import open_store
    from workbench.core.errors import KnownError
    from workbench.services.eval_history import suite_key
    from workbench.services.eval_reports import (
        error_cells,
        error_reasons,
        regression_json,
        repeats_json,
        to_json,
        to_junit,
    )
    from workbench.services.evaluation import Evaluation
    from workbench.services.grid_runner import GridRunner
    from workbench.services.group_commit import GroupCommitWriter
    from workbench.services.regrade import regrade
    from workbench.services.runner import Runner
    from workbench.services.scorecard import Criterion, compare
    from workbench.services.suites import load_suite, suite_tools, with_backend, with_metadata

    suite = load_suite(args.suite)
    for problem in suite.problems:
        print(f"warning: {problem}", file=sys.stderr)
    spec = suite.spec
    if args.backend:
        spec = with_backend(spec, args.backend, args.model)
    if args.filter_metadata:
        spec = with_metadata(spec, parse_assignments(args.filter_metadata, "--filter-metadata"))
    graded = 0  # with --repeat-graded-only: gradings per output
    if args.repeat is not None:
        if not 1 <= args.repeat <= 1000:
            raise KnownError("--repeat must be between 1 and 1000")
        graded = args.repeat if args.repeat_graded_only else 0
        spec = spec.model_copy(update={"repeats": 1 if graded else args.repeat})
    elif args.repeat_graded_only:
        raise KnownError("--repeat-graded-only needs --repeat N")
    criteria = [Criterion.parse(c) for c in args.criterion] if args.criterion else suite.criteria
    store = open_store()
    writer = GroupCommitWriter(store)  # runs that finish together share one commit, as in the app
    runner = Runner(writer=writer, configs=_configs(spec, args.concurrency))
    cancel = CancelToken()
    tools: dict[str, object] = {}
    key = suite_key(args.suite)
    try:
        if args.history:
            show_history(args, store, runner, key, args.suite)
            return 0
        if args.pin_baseline:  # an id: pin a saved evaluation of the suite, run nothing
            store.suites.pin(key, args.pin_baseline)
            print(f"evaluation {args.pin_baseline} is now the baseline of {args.suite}")
            return 0
        against = baseline_id(args, store, key)
        tools = suite_tools(spec, runner, suite.judge)
        if args.estimate:  # nothing is saved: an estimate of a new evaluation plans its spec
            if args.resume:
                estimate = Evaluation.open(store, args.resume, runner, **tools).cost_preview()
            else:
                estimate = GridRunner(runner, store).estimate(spec)
            if args.json:
                print_json({"evaluation_id": args.resume, "estimate": estimate.to_dict()})
            else:
                print("\n".join(estimate.lines()))
            return 0
        if args.resume:
            evaluation = Evaluation.open(store, args.resume, runner, **tools)
            k = _pass_k(args.pass_k, graded or evaluation.spec.repeats)
        else:  # a wrong k stops before anything is saved
            k = _pass_k(args.pass_k, graded or spec.repeats)
            evaluation = Evaluation.create(store, spec, runner, **tools)
            store.suites.add(evaluation.id, key)  # a point in the suite's history
        show = _progress_printer(sys.stderr.isatty())
        freeze_heap(args)
        try:
            card = start_or_wait(
                args,
                lambda wait: evaluation.run(cancel, on_progress=show, wait=wait is not None),
            )
        except KeyboardInterrupt:
            cancel.cancel()
            raise KnownError(
                "interrupted",
                hint=f"finish it with 'workbench eval {args.suite} --resume {evaluation.id}'",
            ) from None
        if sys.stderr.isatty():
            sys.stderr.write("\n")
        card.check(criteria)
        repeats = graded or evaluation.spec.repeats
        repeated = card if repeats > 1 and not graded else None
        if graded > 1:
            try:
                repeated = regrade(evaluation, graded, cancel)
            except KeyboardInterrupt:
                cancel.cancel()
                raise KnownError(
                    "interrupted while grading again",
                    hint=f"finish it with 'workbench eval {args.suite} --resume {evaluation.id} "
                    f"--repeat {graded} --repeat-graded-only'",
                ) from None
        if args.pin_baseline == THIS:
            store.suites.add(evaluation.id, key)  # a resumed one saved before histories
            store.suites.pin(key, evaluation.id)
        checked = None if against is None else check(store, runner, against, evaluation,
                                                     args.alpha)
        report = None
        if args.compare:
            baseline = Evaluation.open(store, args.compare, runner)
            report = compare(baseline.scorecard(), card)
        if args.junit:
            args.junit.write_text(to_junit(evaluation, card), encoding="utf-8")
        if args.json:
            data = to_json(evaluation, card)
            if repeated is not None:
                data["repeats"] = repeats_json(evaluation, repeated, k, repeats=repeats)
                data["repeats"]["graded_only"] = bool(graded)
            if report is not None:
                data["regression"] = regression_json(evaluation, report, args.compare)
            if checked is not None:
                data["baseline"] = check_json(checked)
            print_json(data)
        else:
            _print_card(card, evaluation.id)
            if repeated is not None:
                _print_repeats(evaluation, repeated, k, repeats, graded_only=bool(graded))
            local = all(v.backend == "llamacpp" for v in spec.variants)
            _print_errors(
                error_reasons(evaluation, card), error_cells(card), args.suite, local
            )
            if report is not None:
                _print_regression(evaluation, report, args.compare)
            if checked is not None:
                print_check(checked)
            if args.pin_baseline == THIS:
                print(f"evaluation {evaluation.id} is now the baseline of {args.suite}")
    finally:
        for tool in tools.values():
            close = getattr(tool, "close", None)
            if close is not None:
                close()
        runner.close()
        writer.close()
        store.close()
    failing = [r for r in card.criteria if not r.met]
    if failing:
        more = f" (and {len(failing) - 1} more)" if len(failing) > 1 else ""
        raise KnownError(f"criteria not met: {failing[0].line()}{more}")
    if report is not None and report.regressed:
        raise KnownError(
            f"{len(report.regressed)} case(s) got worse than evaluation {args.compare}"
            f" ({report.summary()})"
        )
    if checked is not None and checked.regressed:
        raise KnownError(
            f"significant regression against baseline {checked.baseline_id}: "
            f"{len(checked.worse_cases())} case(s) got worse (McNemar exact p = "
            f"{checked.p_pass:.3g}, sign test p = {checked.p_score:.3g}, alpha {checked.alpha:g})"
        )
    return 0


def _pass_k(k: int | None, repeats: int) -> int:
    from workbench.core.errors import KnownError

    if k is None:
        return repeats
    if not 1 <= k <= repeats:
        raise KnownError(f"--pass-k must be between 1 and the number of repeats ({repeats})")
    return k


def _print_repeats(
    evaluation: Evaluation, card: Scorecard, k: int, n: int, *, graded_only: bool
) -> None:
    """Cases by verdict over their repeats, then each flaky case with its passes."""
    from workbench.services.eval_reports import case_name
    from workbench.services.flaky import case_repeats, summarise

    what = "gradings of one output" if graded_only else "repeats"
    print(f"{n} {what} per case (pass@{k}: one of {k} passed; pass^{k}: all {k} passed)")
    for s in summarise(card, k):
        print(
            f"  {s.label}: {s.passing} passing, {s.flaky} flaky, {s.failing} failing, "
            f"{_errors(s.errors)} · pass@{k} {_pct(s.pass_at_k)} · pass^{k} {_pct(s.pass_hat_k)}"
        )
    labels = evaluation.labels()
    for c in case_repeats(card):
        if c.flaky:
            name = case_name(evaluation, c.test, 0, numbered=False)
            print(f"  flaky: {name} · {labels[c.variant]}: {c.passed}/{c.judged} passed")


def _print_regression(evaluation: Evaluation, report: RegressionReport, baseline: str) -> None:
    from workbench.services.eval_reports import case_name

    print(f"regression check against {baseline}: {report.summary()}")
    for change in (*report.regressed, *report.improved):
        v, t, r = change.key
        before = change.before.status if change.before else "–"
        after = change.after.status if change.after else "–"
        word = "worse" if change.change == "regressed" else "better"
        label = evaluation.labels()[v]
        print(f"  {word}: {case_name(evaluation, t, r)} · {label}: {before} -> {after}")
