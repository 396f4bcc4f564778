"""``workbench run``: run a template on a model and stream the answer to stdout.

With no ``--backend`` or ``--model`` it runs on the embedded local model: no configuration, no
network. Notes (ignored parameters, timings) go to stderr so stdout holds only the answer, or
with ``--json`` one JSON object: text, usage, timings, finish reason and the request as sent.
"""

from __future__ import annotations

import argparse
import re
import sys
import threading
from typing import TYPE_CHECKING

from workbench.cli._common import (
    add_var_options,
    assignment,
    parse_assignments,
    print_json,
    template_values,
    unknown_values,
)
from workbench.cli._storage import add_library_option, open_store, resolve_template

if TYPE_CHECKING:
    from workbench.core.models import Params, RunResult

_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\"}


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "run",
        help="run a template on a model and stream the answer",
        description="Render TEMPLATE (a file, a library key or name, KEY@VERSION, or a built-in "
        "name) and "
        "run it. Without --backend and --model it runs on the embedded local model, offline. "
        "The answer streams to stdout; a failed run prints its error on one line and exits 1.",
    )
    p.add_argument("template", metavar="TEMPLATE")
    add_library_option(p)
    add_var_options(p)
    p.add_argument(
        "--backend",
        default="llamacpp",
        metavar="ID",
        help="a backend id or configured backend name (default: llamacpp, the local model)",
    )
    p.add_argument(
        "--model", default="", metavar="M", help="model id or GGUF path (default: the backend's)"
    )
    p.add_argument(
        "--param",
        type=assignment,
        action="append",
        metavar="NAME=VALUE",
        help="an inference parameter, e.g. temperature=0.2; repeat stop=... for several stop "
        "sequences (\\n and \\t are understood)",
    )
    p.add_argument(
        "--preset",
        metavar="NAME",
        help="a parameter preset (Deterministic, Code, Chatbot, Creative, or yours)",
    )
    p.add_argument("--json", action="store_true", help="print the whole result as JSON at the end")
    p.set_defaults(func=run)


def _unescape(value: str) -> str:
    return re.sub(r"\\([ntr\\])", lambda m: _ESCAPES[m.group(1)], value)


def parse_params(items: list[str] | None) -> Params:
    """``--param`` values as validated parameters (every ``stop=`` adds a stop sequence)."""
    from pydantic import ValidationError

    from workbench.core.errors import ParameterError
    from workbench.core.models import Params

    values: dict[str, object] = {}
    stops: list[str] = []
    for item in items or []:
        ((key, value),) = parse_assignments([item], "--param").items()
        if key == "response_format":  # the template's, not a sampling parameter
            raise ParameterError(
                "response_format is not a parameter: it is the template's own key",
                hint="set 'response_format:' in the template file, or in a suite give a variant "
                "'response_format:'",
            )
        if key not in Params.model_fields:
            raise ParameterError(
                f"unknown parameter '{key}'", hint=f"one of {', '.join(Params.model_fields)}"
            )
        if key == "stop":
            stops.append(_unescape(value))
        else:
            values[key] = value
    if stops:
        values["stop"] = stops
    try:
        return Params.model_validate(values)
    except ValidationError as err:
        first = err.errors()[0]
        name = ".".join(str(p) for p in first["loc"])
        raise ParameterError(f"--param {name}: {first['msg']}") from None


def _summary(result: RunResult) -> str:
    t, u = result.timings, result.usage
    parts = [f"finish: {result.finish_reason}"]
    if u.input_tokens is not None or u.output_tokens is not None:
        parts.append(
            f"tokens: {u.input_tokens if u.input_tokens is not None else '?'} in, "
            f"{u.output_tokens if u.output_tokens is not None else '?'} out"
        )
    if t.load_s:
        parts.append(f"load {t.load_s:.2f} s")
    if t.ttft_s is not None:
        parts.append(f"first token {t.ttft_s * 1000:.0f} ms")
    if t.total_s is not None:
        parts.append(f"total {t.total_s:.2f} s")
    if t.tokens_per_s is not None:
        parts.append(f"{t.tokens_per_s:.1f} tok/s")
    return " · ".join(parts)


def run(args: argparse.Namespace) -> int:

    from workbench.backends.base import (
        CancelToken,
        ReasoningDelta,
        Started,
        StreamEvent,
        TextDelta,
    )
    from workbench.services.interrupts import wait_all_through_interrupts
    from workbench.services.runner import Runner, RunOutcome, build_request, choose_params
    from workbench.services.tool_steps import ToolAnswer, run_tool_conversation
    from workbench.storage.repositories import RunRef
    from workbench.storage.writer import StoreWriter

    source = resolve_template(args.template, args)
    template = source.template
    values = template_values(args)
    for warning in unknown_values(template, values):
        print(f"warning: {warning}", file=sys.stderr)
    params = choose_params(template, args.preset, parse_params(args.param))
    request = build_request(template, values, backend=args.backend, model=args.model, params=params)
    wrote = False
    thinking = False  # a reasoning model's thinking is on stderr: stdout is the answer alone

    def show(event: StreamEvent) -> None:
        nonlocal wrote, thinking
        if isinstance(event, Started) and event.request.ignored_params and not args.json:
            ignored = ", ".join(f"{k}={v}" for k, v in event.request.ignored_params.items())
            model = event.request.model
            where = f"{args.backend} · {model}" if model else args.backend
            print(f"note: {where} ignores {ignored}", file=sys.stderr)
        elif isinstance(event, ReasoningDelta) and not args.json:
            if not thinking:
                sys.stderr.write("thinking: ")
                thinking = True
            sys.stderr.write(event.text)
            sys.stderr.flush()
        elif isinstance(event, TextDelta) and not args.json:
            if thinking:
                sys.stderr.write("\n")
                thinking = False
            sys.stdout.write(event.text)
            sys.stdout.flush()
            wrote = True

    # The run goes through the runner like every other (limited, priced, saved to history); it
    # runs in a thread so Ctrl+C here cancels it and the cancelled run is still saved.
    store = open_store()
    writer = StoreWriter(store)
    runner = Runner(writer=writer)
    cancel = CancelToken()
    outcomes: list[RunOutcome] = []
    errors: list[BaseException] = []
    ended = threading.Event()  # waited on, not joined: see services/interrupts.py

    def answered(step: int, turn: RunResult, answers: list[ToolAnswer]) -> None:
        """A tool turn's calls and their mocked results, on stderr (stdout: the texts)."""
        nonlocal wrote
        if wrote:
            sys.stdout.write("\n")
            wrote = False
        if not args.json:
            for call, given in zip(turn.tool_calls, answers, strict=True):
                flag = " (mock failed)" if given.error else ""
                print(f"step {step}: {call.line()}\n  -> {given.text}{flag}", file=sys.stderr)

    def execute() -> None:
        ref = RunRef(template_key=source.key, template_version=source.version, variables=values)
        try:
            if request.tools:  # the calls answered by the tools' mocks, up to max_tool_steps
                outcomes.append(run_tool_conversation(
                    runner, request, template.max_tool_steps, cancel, ref=ref, on_event=show,
                    on_step=answered))
            else:
                outcomes.append(runner.execute(request, cancel, ref=ref, on_event=show))
        except BaseException as err:  # re-raised below, in the main thread
            errors.append(err)
        finally:
            ended.set()

    worker = threading.Thread(target=execute, name="workbench-run")
    try:
        runner.backend(args.backend)  # an unknown or broken backend fails here, plainly
        worker.start()
        try:
            ended.wait()
        except KeyboardInterrupt:
            cancel.cancel()
            wait_all_through_interrupts([ended])
    finally:
        runner.close()
        writer.close()
        store.close()
    if errors:
        raise errors[0]
    outcome = outcomes[0]
    result = outcome.result
    if wrote:
        sys.stdout.write("\n")
    if args.json:
        print_json(result.model_dump(mode="json"))
    if outcome.status == "error":
        print(f"workbench run: {result.error}", file=sys.stderr)
        return 1
    if outcome.status == "cancelled":
        print("workbench run: cancelled", file=sys.stderr)
        return 130
    if not args.json:
        for call in result.tool_calls:  # stdout stays the answer's text alone
            print(f"tool call: {call.line()}", file=sys.stderr)
        print(_summary(result), file=sys.stderr)
    return 0
