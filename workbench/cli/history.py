"""``workbench history``: the runs stored so far, newest first, and full-text search over them."""

from __future__ import annotations

import argparse
import dataclasses
from typing import TYPE_CHECKING

from workbench.cli._common import positive_int, print_json
from workbench.cli._storage import open_store
from workbench.core.logprobs import mean_logprob, perplexity, to_openai
from workbench.core.wording import format_duration, one_line

if TYPE_CHECKING:
    from workbench.storage.repositories import RunSummary
    from workbench.storage.repositories.runs import RunFilter


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "history",
        help="list, search and show stored runs",
        description="The runs stored in the experiment database, most recent first.",
    )
    commands = p.add_subparsers(dest="history_command", metavar="ACTION", required=True)

    listing = commands.add_parser("list", help="the most recent runs")
    listing.add_argument(
        "--limit", type=positive_int, default=20, metavar="N", help="how many (20)"
    )
    listing.add_argument("--before", metavar="ID", help="runs older than this run (next page)")
    listing.add_argument("--experiment", metavar="ID", help="only this experiment's runs")
    listing.add_argument("--status", choices=["ok", "error", "cancelled"], help="only these runs")
    _filter_options(listing)
    listing.add_argument("--json", action="store_true", help="print JSON")
    listing.set_defaults(func=run_list)

    search = commands.add_parser(
        "search",
        help="runs whose prompt or output contains words",
        description="Full-text search over prompts and outputs. Every word must appear; results "
        "are newest first. With --fts, QUERY is FTS5 syntax (OR, NOT, NEAR, prefix*).",
    )
    search.add_argument("query", nargs="+", metavar="QUERY")
    search.add_argument("--limit", type=positive_int, default=20, metavar="N", help="how many (20)")
    search.add_argument("--experiment", metavar="ID", help="only this experiment's runs")
    search.add_argument("--fts", action="store_true", help="QUERY is FTS5 query syntax")
    _filter_options(search)
    search.add_argument("--json", action="store_true", help="print JSON")
    search.set_defaults(func=run_search)

    show = commands.add_parser("show", help="one run in full: request sent, output, timings")
    show.add_argument("run_id", metavar="ID")
    show.add_argument("--json", action="store_true", help="print JSON")
    show.set_defaults(func=run_show)


def _filter_options(parser: argparse.ArgumentParser) -> None:
    """The history panel's filters."""
    parser.add_argument("--source", choices=["hand", "compare", "sweep", "eval"],
                        help="only runs typed by hand, from comparisons, sweeps or evaluations")
    parser.add_argument("--template", metavar="KEY", help="only runs of this library template")
    parser.add_argument("--backend", metavar="NAME", help="only runs sent to this backend")
    parser.add_argument("--rating", choices=["rated", "up", "down", "unrated"],
                        help="only rated runs, thumbs up, thumbs down, or unrated ones")


def _where(args: argparse.Namespace) -> RunFilter:
    from workbench.storage.repositories.runs import RunFilter

    return RunFilter(source=args.source, template_key=args.template, backend=args.backend,
                     rating=args.rating)


def _print_rows(rows: list[RunSummary], as_json: bool) -> None:
    if as_json:
        print_json([dataclasses.asdict(r) for r in rows])
        return
    if not rows:
        print("no runs")
        return
    for r in rows:
        tokens = f"{r.output_tokens} tok" if r.output_tokens is not None else ""
        print(
            f"{r.id}  {r.created_at[:19].replace('T', ' ')}  {r.status:<9} "
            f"{one_line(f'{r.backend}/{r.model}', 28):<28} {tokens:>8}"
        )
        print(f"    > {one_line(r.preview, 90)}")
        print(f"    < {one_line(r.snippet or _failure(r) or r.response_preview, 90)}")


def _failure(r: RunSummary) -> str:
    """Why a run failed, in short: its error class and the start of its message."""
    if r.error and r.error_kind:
        return f"{r.error_kind}: {r.error}"
    return r.error or r.error_kind or ""


def _known(label: str, value: object, unit: str = "") -> str:
    """``label value unit``, or ``label –`` when the run never got that far."""
    return f"{label} {value}{unit}" if value is not None else f"{label} –"


def run_list(args: argparse.Namespace) -> int:
    with open_store() as store:
        rows = store.runs.recent(
            args.limit, before=args.before, experiment_id=args.experiment, status=args.status,
            where=_where(args),
        )
        _print_rows(rows, args.json)
    return 0


def run_search(args: argparse.Namespace) -> int:
    with open_store() as store:
        rows = store.runs.search(
            " ".join(args.query), args.limit, experiment_id=args.experiment, raw=args.fts,
            where=_where(args),
        )
        _print_rows(rows, args.json)
    return 0


def run_show(args: argparse.Namespace) -> int:
    with open_store() as store:
        run = store.runs.get(args.run_id)
        evaluations = store.evaluations.for_run(run.id)
        rating = store.ratings.get(run.id)
    data = {
        "id": run.id,
        "created_at": run.created_at,
        "status": run.status,
        **dataclasses.asdict(run.ref),
        "result": run.result.model_dump(mode="json"),
        **({"logprobs": to_openai(run.result.logprobs)} if run.result.logprobs else {}),
        "rating": dataclasses.asdict(rating) if rating else None,
        "evaluations": [
            {**dataclasses.asdict(e), "assertion": e.assertion.model_dump(mode="json")}
            for e in evaluations
        ],
    }
    if args.json:
        print_json(data)
        return 0
    result = run.result
    request = result.request
    print(f"run {run.id}  {run.created_at}  {run.status} ({result.finish_reason})")
    seed = f"  seed {request.seed}" if request.seed is not None else ""
    print(f"backend {request.backend} {request.backend_version}  model {request.model}{seed}")
    if request.sent_params:
        print("sent: " + ", ".join(f"{k}={v}" for k, v in request.sent_params.items()))
    if request.ignored_params:
        print("ignored: " + ", ".join(f"{k}={v}" for k, v in request.ignored_params.items()))
    for message in request.messages:
        role = f"tool {message.tool_call_id}" if message.role == "tool" else message.role
        print(f"--- {role} ---\n{message.content}")
        for call in message.tool_calls:
            print(f"call: {call.line()}")
    if request.prompt is not None:
        print(f"--- prompt ---\n{request.prompt}")
    if result.reasoning:
        print(f"--- reasoning ---\n{result.reasoning}")
    print(f"--- output ---\n{result.text}")
    if result.tool_calls:
        print("--- tool calls ---\n" + "\n".join(call.line() for call in result.tool_calls))
    if result.error:
        print(f"--- error ({result.error_kind}) ---\n{result.error}")
    usage, timings = result.usage, result.timings
    cost = None if result.cost is None else "free" if result.cost == 0 else f"{result.cost:,.6f}"
    print(
        "  ".join(
            (
                _known("tokens in", usage.input_tokens),
                _known("out", usage.output_tokens),
                *(() if usage.reasoning_tokens is None
                  else (_known("thinking", usage.reasoning_tokens),)),
                f"total {format_duration(timings.total_s)}",
                f"first token {format_duration(timings.ttft_s)}",
                _known("cost", cost, "" if result.cost == 0 else " USD"),
            )
        )
    )
    tokens = result.logprobs
    if tokens:
        mean, ppl = mean_logprob(tokens), perplexity(tokens)
        print(f"{len(tokens):,} tokens with log-probabilities: mean logprob {mean:.3f}  "
              f"perplexity {ppl:.2f}")
    if run.ref.parent_run_id:
        print(f"branched from run {run.ref.parent_run_id} at token {run.ref.branch_token}")
    for e in evaluations:
        print(
            f"{e.outcome:<5} {e.assertion.type} {e.score if e.score is not None else ''} {e.reason}"
        )
    return 0
