"""``workbench batch``: send a sweep or an evaluation through a provider's batch API (half the
price, answered within the provider's window), follow it, fetch its answers, cancel it.

``submit`` takes what ``compare`` takes (an experiment id or name, a sweep file, a promptfoo
config) or an evaluation suite, and sends every cell not done yet as one job per backend.
Jobs live in the store: ``status`` polls them (and lands the answers of batches that ended) in
any later process, ``fetch`` waits until they end, ``cancel`` stops them (what was done still
lands), ``list`` shows them without contacting anyone, ``resend`` sends again a batch whose
create could not be confirmed (after asking: it may already be at the provider). Answers land
as ordinary runs of their cells; ``workbench compare ID`` (a sweep) or
``workbench eval SUITE --resume ID`` (an evaluation, which also grades the answers) re-runs the
cells that failed, live.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from workbench.cli._common import positive_int, print_json
from workbench.cli._storage import add_library_option

if TYPE_CHECKING:
    from workbench.services.batch import BatchJobs
    from workbench.storage.repositories import Store, StoredExperiment
    from workbench.storage.repositories.batch_jobs import BatchJob


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "batch",
        help="run a sweep or evaluation through a provider's batch API (half price, within 24 h)",
        description="Send a sweep's or evaluation's cells through the provider's batch API "
        "(OpenAI's Batch API, Anthropic's Message Batches, Bedrock batch inference): about "
        "half the live price, "
        "answered within the provider's completion window (24 h). Jobs are kept in the store, "
        "so they can be followed from any later process. Answers land as ordinary runs of "
        "their cells; cells that failed are re-run live with 'workbench compare ID' or "
        "'workbench eval SUITE --resume ID'.",
    )
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    submit = actions.add_parser(
        "submit",
        help="send every cell not done yet as a batch job (one per backend)",
        description="Send the cells of TARGET not done yet (nor waiting in a job) as one job "
        "per backend, after printing the estimate with the batch price.",
    )
    submit.add_argument(
        "target",
        metavar="TARGET",
        help="an experiment id or name, a sweep file, a promptfoo config or an evaluation suite",
    )
    submit.add_argument("--backend", metavar="NAME", help="send only this backend's cells")
    submit.add_argument("--json", action="store_true", help="print the jobs as JSON")
    add_library_option(submit)
    submit.set_defaults(func=run_submit)
    status = actions.add_parser(
        "status",
        help="poll jobs (every unfinished one by default); land what has ended",
    )
    status.add_argument("jobs", nargs="*", metavar="JOB", help="job ids (or their starts)")
    status.add_argument("--json", action="store_true", help="print the jobs as JSON")
    status.set_defaults(func=run_status)
    fetch = actions.add_parser(
        "fetch",
        help="wait until a job ended and land its answers",
        description="Poll JOB every --interval seconds until the provider ended it, landing "
        "its answers as runs; Ctrl+C stops waiting (the job goes on).",
    )
    fetch.add_argument("job", metavar="JOB")
    fetch.add_argument(
        "--interval", type=positive_int, default=30, metavar="S",
        help="seconds between polls (default: 30)",
    )
    fetch.add_argument("--json", action="store_true", help="print the job as JSON")
    fetch.set_defaults(func=run_fetch)
    cancel = actions.add_parser(
        "cancel", help="stop a job; what was done still lands, the rest can be re-run live"
    )
    cancel.add_argument("job", metavar="JOB")
    cancel.set_defaults(func=run_cancel)
    resend = actions.add_parser(
        "resend",
        help="send again a batch whose create could not be confirmed (check the provider first)",
        description="A create that failed after it may have reached the provider (a 5xx, a "
        "timeout), or a process that ended while creating, leaves a batch of unknown outcome: "
        "it is never sent again on its own, as a batch already there would be paid for "
        "twice. Once the provider's console shows no such batch, this sends it again; it asks "
        "first, unless --force.",
    )
    resend.add_argument("job", metavar="JOB")
    resend.add_argument("--force", action="store_true",
                        help="send without asking (the provider's console was checked)")
    resend.set_defaults(func=run_resend)
    listing = actions.add_parser("list", help="the jobs in the store (contacts no provider)")
    listing.add_argument("--all", action="store_true", help="also jobs that ended")
    listing.add_argument("--json", action="store_true", help="print the jobs as JSON")
    listing.set_defaults(func=run_list)


def _open(store: Store) -> BatchJobs:
    from workbench.services.batch import BatchJobs
    from workbench.services.runner import Runner

    return BatchJobs(store, Runner())


def run_submit(args: argparse.Namespace) -> int:
    from workbench.cli._storage import open_store
    from workbench.services.batch import live_only
    from workbench.services.grid_runner import GridRunner, plan

    with open_store() as store:
        experiment = _target(store, args)
        jobs = _open(store)
        try:
            if not args.json:
                print(f"experiment:     {experiment.id} ({experiment.spec.name})")
                estimate = GridRunner(jobs.runner, store).estimate(experiment)
                print("\n".join(estimate.lines()), flush=True)
            submitted = jobs.submit(experiment, backend=args.backend)
        finally:
            jobs.runner.close()
        _report(store, submitted, args.json)
        live = [item for item in plan(experiment.spec) if live_only(item)]
        if live:
            print(f"{len(live)} cells are several requests each ({live_only(live[0])}…) and "
                  f"run only live: workbench compare {experiment.id}", file=sys.stderr)
    return 0


def _target(store: Store, args: argparse.Namespace) -> StoredExperiment:
    """The stored experiment TARGET names or describes (a file's is saved, or found again)."""
    from workbench.core import safe_yaml
    from workbench.core.experiments import ExperimentSpec
    from workbench.core.sweep_file import is_sweep_file
    from workbench.services.comparison import saved_or_new

    path = Path(args.target)
    if path.is_file():
        import yaml

        try:
            data = safe_yaml.load(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, yaml.YAMLError):
            data = None  # the loaders below say what is wrong with it
        if isinstance(data, dict) and "variants" in data and not is_sweep_file(data):
            return _suite(store, path)
    from workbench.cli.compare import load_target

    target = load_target(store, args.target, args)
    if isinstance(target, ExperimentSpec):
        target, _ = saved_or_new(store, target, None if target.tests else "sweep")
    return target


def _suite(store: Store, path: Path) -> StoredExperiment:
    """An evaluation suite's experiment, saved as ``eval`` runs it (a point in its history)."""
    from workbench.services.eval_history import suite_key
    from workbench.services.suites import load_suite

    suite = load_suite(path)
    for problem in suite.problems:
        print(f"warning: {problem}", file=sys.stderr)
    experiment = store.experiments.create(suite.spec)
    store.suites.add(experiment.id, suite_key(path))
    print(f"finish it with: workbench eval {path} --resume {experiment.id}", file=sys.stderr)
    return experiment


def run_status(args: argparse.Namespace) -> int:
    from workbench.cli._storage import open_store

    with open_store() as store:
        jobs = _open(store)
        try:
            ids = args.jobs or [job.id for job in jobs.unfinished()]
            found = [jobs.refresh(store.batches.get(i).id) for i in ids]
        finally:
            jobs.runner.close()
        _report(store, found, args.json)
    return 0


def run_fetch(args: argparse.Namespace) -> int:
    from workbench.backends.base import CancelToken
    from workbench.cli._storage import open_store

    def show(job: BatchJob) -> None:
        if sys.stderr.isatty() and job.status != "ended":
            print(f"{job.id[:8]}: {job.status}, {_progress(job)}", file=sys.stderr)

    with open_store() as store:
        jobs = _open(store)
        try:
            job_id = store.batches.get(args.job).id
            try:
                job = jobs.wait(job_id, CancelToken(), interval_s=args.interval, on_poll=show)
            except KeyboardInterrupt:
                print("workbench batch: stopped waiting; the job goes on "
                      f"('workbench batch fetch {job_id[:8]}' to go on waiting)", file=sys.stderr)
                return 130
        finally:
            jobs.runner.close()
        _report(store, [job], args.json)
    return 0


def run_cancel(args: argparse.Namespace) -> int:
    from workbench.cli._storage import open_store

    with open_store() as store:
        jobs = _open(store)
        try:
            job = jobs.cancel(store.batches.get(args.job).id)
        finally:
            jobs.runner.close()
        _report(store, [job], False)
    return 0


def run_resend(args: argparse.Namespace) -> int:
    from workbench.cli._storage import open_store

    with open_store() as store:
        job = store.batches.get(args.job)
        for part in job.parts:
            if part.state == "unknown" and not part.fetched:
                print(f"part {part.part}: {part.message}", file=sys.stderr)
        if not args.force:
            line = "a batch already at the provider would be paid for twice"
            if not sys.stdin.isatty():
                print(f"workbench batch: nothing sent: {line}", file=sys.stderr)
                print("  hint: check the provider's console, then add --force", file=sys.stderr)
                return 1
            if input(f"{line}. Send it again? [y/N] ").strip().lower() not in ("y", "yes"):
                print("workbench batch: nothing sent", file=sys.stderr)
                return 1
        jobs = _open(store)
        try:
            job = jobs.resend(job.id)
        finally:
            jobs.runner.close()
        _report(store, [job], False)
    return 0


def run_list(args: argparse.Namespace) -> int:
    from workbench.cli._storage import open_store

    with open_store() as store:
        _report(store, store.batches.jobs(unfinished=not args.all), args.json)
    return 0


# --- printing ------------------------------------------------------------------------------


def _report(store: Store, jobs: list[BatchJob], as_json: bool) -> None:
    from workbench.backends.batch import resend_hint

    if as_json:
        print_json({"jobs": [_job_json(store, job) for job in jobs]})
        return
    if not jobs:
        print("no batch jobs")
    for job in jobs:
        outcomes = _outcomes(store, job)
        print(f"job {job.id}  {job.status}  {job.backend_name} ({job.provider}, within "
              f"{job.completion_window})  experiment {job.experiment_id}")
        print(f"  cells: {sum(outcomes.values())} sent; {_progress(job)}; landed: "
              f"{outcomes['ok']} ok, {outcomes['error']} failed, {outcomes['missing']} missing")
        for part in job.parts:
            message = part.message
            if part.state == "unknown" and part.remote_id is None and not part.fetched and (
                    job.status in ("submitting", "running")):
                message = f"{message}; {resend_hint(job.id[:8])}"
            message = f" ({message})" if message else ""
            where = part.remote_id or ("no batch id" if part.state in ("sending", "unknown")
                                       else "not sent")
            print(f"  part {part.part}: {part.model} {where} {part.state}{message}")
        if job.status == "ended":
            print(f"  {_next_step(store, job, bool(outcomes['error'] or outcomes['missing']))}")


def _progress(job: BatchJob) -> str:
    done = sum(p.succeeded for p in job.parts)
    failed = sum(p.failed for p in job.parts)
    return f"the provider answered {done}, failed {failed}"


def _next_step(store: Store, job: BatchJob, failed: bool) -> str:
    """How to grade an evaluation's answers and re-run the failed cells live: the normal
    runners skip the cells with a finished run."""
    suite = store.suites.key_of(job.experiment_id)
    if suite is not None and suite.startswith("file:"):
        command = f"workbench eval {suite[5:]} --resume {job.experiment_id}"
        return f"grade{' and re-run the failed cells live' if failed else ''}: {command}"
    if failed:
        return f"re-run the failed cells live: workbench compare {job.experiment_id}"
    return f"see the results: workbench compare {job.experiment_id}"


def _outcomes(store: Store, job: BatchJob) -> dict[str, int]:
    counts = {"ok": 0, "error": 0, "missing": 0, "waiting": 0}
    for cell in store.batches.cells(job.id):
        counts[cell.outcome or "waiting"] += 1
    return counts


def _job_json(store: Store, job: BatchJob) -> dict[str, object]:
    return {
        "id": job.id,
        "experiment_id": job.experiment_id,
        "backend": job.backend_name,
        "provider": job.provider,
        "models": job.models,
        "completion_window": job.completion_window,
        "status": job.status,
        "created_at": job.created_at,
        "updated_at": job.updated_at,
        "cells": _outcomes(store, job),
        "parts": [
            {"part": p.part, "model": p.model, "remote_id": p.remote_id, "state": p.state,
             "total": p.total, "succeeded": p.succeeded, "failed": p.failed,
             "message": p.message, "fetched": p.fetched}
            for p in job.parts
        ],
    }
