"""``workbench compare``: run a saved comparison or a sweep headless, after the pre-run estimate.

EXPERIMENT_OR_FILE is an experiment id or name from the store, a sweep file (YAML; its format
is described in ``workbench/core/sweep_file.py``) or a promptfoo config. A file's experiment is
saved in the store; running the same file again finds it (same name, same contents) and resumes:
cells that already finished are skipped. ``--dry-run`` prints the estimate and calls nothing.

Text output: the estimate, one line per finished cell (``[3/9] v1.t0.r0 ok 0.41 s``, printed
once the run is committed), then per-variant metrics and, when the variants called tools, their
tool-call sequences side by side per test case (``≠`` where they part). ``--json``: one JSON
object with the estimate, every cell's latest result (its ``tool_calls`` too) and the metrics.
Exit 1 when any cell failed.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.cli._common import (
    add_wait_option,
    freeze_heap,
    int_between,
    print_json,
    start_or_wait,
)
from workbench.cli._storage import add_library_option

if TYPE_CHECKING:
    from workbench.backends.config import BackendConfig
    from workbench.core.experiments import ExperimentSpec
    from workbench.services.grid_runner import Progress
    from workbench.storage.repositories import Store, StoredExperiment


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "compare",
        help="run a saved comparison or a sweep headless",
        description="Run EXPERIMENT_OR_FILE: an experiment id or name from the store, a sweep "
        "file (YAML: template, backend/model, params, sweep axes, models, variable_sets, "
        "repeats) or a promptfoo config. Prints the pre-run estimate (calls, input tokens, "
        "output tokens and cost as upper bounds, cells that overflow their context window) "
        "first. Cells already finished in the same experiment are skipped (resume). Exits 1 when "
        "any cell failed.",
    )
    p.add_argument("target", metavar="EXPERIMENT_OR_FILE")
    add_library_option(p)  # where a sweep file's 'template: KEY' is looked up
    p.add_argument("--json", action="store_true", help="print one JSON object at the end")
    p.add_argument("--dry-run", action="store_true", help="print the estimate only; call nothing")
    p.add_argument(
        "--concurrency",
        type=int_between(1, 64),
        metavar="N",
        help="a fixed number of requests in flight per backend (default: each backend's "
        "concurrency setting; unset, adaptive for a server)",
    )
    p.add_argument(
        "--export",
        type=Path,
        metavar="FILE",
        help="also write the comparison to FILE (.csv, .jsonl or .md report with diffs)",
    )
    add_wait_option(p)
    p.set_defaults(func=run)


def load_target(
    store: Store, target: str, args: argparse.Namespace | None = None
) -> ExperimentSpec | StoredExperiment:
    """A stored experiment by id or name, else the experiment a sweep file or promptfoo config
    describes (not yet saved)."""
    from workbench.services.comparison import find_experiment

    path = Path(target)
    if path.is_file():
        return spec_from_file(path, args)
    return find_experiment(store, target)


def spec_from_file(path: Path, args: argparse.Namespace | None = None) -> ExperimentSpec:
    import yaml

    from workbench.core import safe_yaml
    from workbench.core.errors import KnownError
    from workbench.core.sweep_file import is_sweep_file, load_sweep

    try:
        data = safe_yaml.load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        data = None  # load_sweep / the importer say what is wrong
    if is_sweep_file(data) or data is None:
        from workbench.cli._storage import library_resolver

        return load_sweep(path, library_resolver(args or argparse.Namespace())).to_experiment()
    from workbench.storage.formats import import_file

    result = import_file(path, "promptfoo")
    errors = [p for p in result.problems if p.severity == "error"]
    for problem in result.problems:
        if problem.severity != "error":
            print(problem, file=sys.stderr)
    if errors or result.experiment is None:
        why = errors[0] if errors else "no experiment in it"
        raise KnownError(f"{path}: not a sweep file or a promptfoo config: {why}")
    return result.experiment


def concurrency_configs(backends: set[str], concurrency: int | None) -> dict[str, BackendConfig]:
    """The saved backend settings, with ``concurrency`` imposed on the backends used."""
    from workbench.backends.config import BackendConfig, load_configs

    configs = load_configs()
    if concurrency is None:
        return configs
    for name in backends:
        config = configs.get(name) or BackendConfig(name=name, backend=name)
        configs[name] = config.model_copy(
            update={"options": {**config.options, "concurrency": concurrency}}
        )
    return configs


def run(args: argparse.Namespace) -> int:
    from workbench.cli._storage import open_store
    from workbench.core.experiments import ExperimentSpec
    from workbench.services.comparison import find_same, open_comparison, saved_or_new
    from workbench.services.experiment_lock import lock_experiment
    from workbench.services.grid_runner import GridRunner
    from workbench.services.group_commit import GroupCommitWriter
    from workbench.services.runner import Runner

    with open_store() as store:
        target = load_target(store, args.target, args)
        spec = target if isinstance(target, ExperimentSpec) else target.spec
        if not spec.variants:
            from workbench.core.errors import KnownError

            raise KnownError(f"{args.target}: the experiment has no variants to run")
        configs = concurrency_configs({v.backend for v in spec.variants}, args.concurrency)
        if args.dry_run:
            runner = Runner(configs=configs)
            try:
                if isinstance(target, ExperimentSpec):
                    target = find_same(store, target) or target
                grid = GridRunner(runner, store)
                est = grid.estimate(target)
            finally:
                runner.close()
            _print_estimate(est, args.json, experiment_id=getattr(target, "id", None))
            return 0
        created = False
        if isinstance(target, ExperimentSpec):
            # a sweep file's grid has no test cases; a promptfoo config's has
            target, created = saved_or_new(store, target, None if target.tests else "sweep")
        with GroupCommitWriter(store) as writer:
            runner = Runner(writer=writer, configs=configs)
            try:
                grid = GridRunner(runner, store)
                # Refused (or waited for) first: an estimate printed for a sweep that another
                # process runs would be neither what runs nor what is left after the wait.
                lock = start_or_wait(args, lambda wait: lock_experiment(store, target, wait=wait))
                try:
                    est = grid.estimate(target)
                    if not args.json:
                        verb = "saved as" if created else "experiment"
                        print(f"{verb}:     {target.id} ({target.spec.name})")
                        print("\n".join(est.lines()), flush=True)
                    freeze_heap(args)
                    handle = grid.start(
                        target, on_progress=None if args.json else _print_progress, locked=lock
                    )
                except BaseException:
                    lock.release()
                    raise
                try:
                    report = handle.wait()
                except KeyboardInterrupt:
                    handle.cancel_all()
                    handle.wait()
                    print("workbench compare: cancelled (run it again to resume)", file=sys.stderr)
                    return 130
                servers = _pool_figures(runner, {v.backend for v in spec.variants})
            finally:
                runner.close()
        comparison = open_comparison(store, target.id)
        preferences = _preferences(store, comparison)
        if args.export is not None:
            from workbench.services.compare_export import write_export

            write_export(comparison, args.export, preferences)
        if args.json:
            print_json(_json_report(est, report, comparison) | {"servers": servers})
        else:
            _print_metrics(comparison)
            _print_tool_calls(comparison)
            _print_servers(servers)
            if args.export is not None:
                print(f"exported:       {args.export}")
        failed = report.counts["error"]
        if failed:
            print(
                f"workbench compare: {failed} of {len(report.outcomes)} cells failed",
                file=sys.stderr,
            )
            return 1
    return 0


def _preferences(store: Store, comparison: Any) -> list[Any]:
    from workbench.services.comparison import preference_summary

    summary = preference_summary(store, comparison)
    return (
        summary
        if any(p.comparisons or p.thumbs_up + p.thumbs_down or p.stars_count for p in summary)
        else []
    )


def _print_estimate(est: Any, as_json: bool, experiment_id: str | None) -> None:
    if as_json:
        print_json({"experiment_id": experiment_id, "dry_run": True, "estimate": est.to_dict()})
    else:
        print("\n".join(est.lines()))


def _print_progress(progress: Progress) -> None:
    last = progress.last
    if last is None:
        return
    took = ""
    if last.result is not None and last.result.timings.total_s is not None:
        took = f" {last.result.timings.total_s:.2f} s"
    why = f": {last.error}" if last.error and last.status != "ok" else ""
    eta = ""
    if progress.eta_s is not None and progress.done < progress.total:
        eta = f" (about {_duration(progress.eta_s)} left)"
    print(
        f"[{progress.done}/{progress.total}] {last.key} {last.status}{took}{why}{eta}", flush=True
    )


def _duration(seconds: float) -> str:
    if seconds < 10:
        return f"{seconds:.1f} s"
    if seconds < 120:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:.0f} min"


def _json_report(est: Any, report: Any, comparison: Any) -> dict[str, Any]:
    from dataclasses import asdict

    from workbench.services.compare_export import cell_rows, variant_metrics

    ran = {str(o.key) for o in report.outcomes}
    cells = [row | {"this_run": row["cell"] in ran} for row in cell_rows(comparison)]
    return {
        "experiment_id": comparison.experiment.id,
        "name": comparison.spec.name,
        "estimate": est.to_dict(),
        "ran": report.counts,
        "skipped": [str(k) for k in report.skipped],
        "wall_s": report.wall_s,
        "cells": cells,
        "variants": [asdict(m) for m in variant_metrics(comparison)],
    }


def _pool_figures(runner: Any, backends: set[str]) -> dict[str, list[dict[str, Any]]]:
    """Per-server figures of the sweep's server pools (backends with ``base_urls``): requests
    sent to each server, failovers and failures included, and mean seconds per answer."""
    from dataclasses import asdict

    figures: dict[str, list[dict[str, Any]]] = {}
    for name in sorted(backends):
        pool = getattr(runner.backend(name), "pool", None)
        if pool is not None:
            figures[name] = [asdict(f) for f in pool.figures()]
    return figures


def _print_servers(servers: dict[str, list[dict[str, Any]]]) -> None:
    from workbench.backends.pool import figures_line

    for name, figures in servers.items():
        print(f"servers of {name}:")
        for f in figures:
            state = "up" if f["healthy"] else "drained"
            print("    " + figures_line(
                f["url"], f["requests"], f["failures"], f["mean_latency_s"], state
            ))


def _print_tool_calls(comparison: Any) -> None:
    from workbench.services.compare_tools import sequence_tables, text_table

    labels = [f"v{i} {v.label or v.model or v.backend}"
              for i, v in enumerate(comparison.spec.variants)]
    for table in sequence_tables(comparison):
        print()
        print("\n".join(text_table(table, labels)))


def _print_metrics(comparison: Any) -> None:
    from workbench.core.wording import one_line
    from workbench.services.compare_export import variant_metrics

    print(f"{'variant':<40} {'ok':>7} {'total s':>8} {'tok/s':>7} {'out':>7} {'agree':>6}")
    for m in variant_metrics(comparison):
        total = "–" if m.mean_total_s is None else f"{m.mean_total_s:.2f}"
        rate = "–" if m.mean_tokens_per_s is None else f"{m.mean_tokens_per_s:.1f}"
        agree = "–" if m.agreement is None else f"{m.agreement * 100:.0f}%"
        print(
            f"{one_line(f'v{m.index} {m.label}', 40):<40} {f'{m.ok}/{m.cells}':>7} {total:>8} "
            f"{rate:>7} {m.output_tokens:>7,} {agree:>6}"
        )
