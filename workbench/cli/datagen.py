"""``workbench datagen``: a model proposes dataset rows for a template's variables.

The rows (JSONL, one per line) go to stdout; what could not be used, the duplicates dropped and
where the rows were written go to stderr. It runs on the embedded local model unless told
otherwise; a backend that would send the generation prompt off this computer is named first and
needs a yes (asked on a terminal, ``--yes`` in scripts): nothing leaves silently.
"""

from __future__ import annotations

import argparse
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from workbench.cli._common import assignment, int_between
from workbench.cli._storage import add_library_option, resolve_template

if TYPE_CHECKING:
    from workbench.core.experiments import TestCase
    from workbench.services.datagen import GeneratedRows

#: Output tokens allowed per requested row, and for the JSON around them.
_TOKENS_PER_ROW = 120
_TOKENS_AROUND = 64


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "datagen",
        help="have a model propose dataset rows for a template's variables",
        description="Ask a model for N test cases for TEMPLATE's variables, described by "
        "--describe. Runs on the embedded local model unless --backend says otherwise; the "
        "answer's shape is enforced where the backend can (a grammar on the local model). Rows "
        "that repeat another, or a row already in --append-to, are dropped and counted. The "
        "rows print as JSONL; exit 1 when none could be read.",
    )
    p.add_argument("template", metavar="TEMPLATE", help="a template file, library key or name")
    add_library_option(p)
    p.add_argument(
        "--describe",
        required=True,
        metavar="TEXT",
        help="what the template does and what the rows should cover",
    )
    p.add_argument(
        "-n", type=int_between(1, 200), default=10, metavar="N", help="rows to ask for (10)"
    )
    p.add_argument(
        "--expected",
        action="store_true",
        help="ask for an expected output in each row too (the 'expected' column)",
    )
    p.add_argument(
        "--backend",
        default="llamacpp",
        metavar="ID",
        help="a backend id or configured name (default: llamacpp, the local model)",
    )
    p.add_argument("--model", default="", metavar="M", help="model id or GGUF path")
    p.add_argument(
        "--param",
        type=assignment,
        action="append",
        metavar="NAME=VALUE",
        help="an inference parameter, e.g. temperature=0.5 or seed=1",
    )
    p.add_argument("--out", type=Path, metavar="PATH", help="write the rows to a .csv or .jsonl")
    p.add_argument(
        "--append-to",
        type=Path,
        metavar="DATASET",
        help="add the rows at the end of this .csv or .jsonl dataset (created when missing); "
        "rows it already has are not added again",
    )
    p.add_argument(
        "--show-prompt",
        action="store_true",
        help="print the generation prompt and stop (save it, edit it, pass it to --prompt-file)",
    )
    p.add_argument(
        "--prompt-file",
        type=Path,
        metavar="PATH",
        help="send this generation prompt instead of the built-in one, exactly as written",
    )
    p.add_argument(
        "--yes",
        action="store_true",
        help="send the generation prompt to a backend off this computer without asking",
    )
    p.set_defaults(func=run)


def _consent(args: argparse.Namespace) -> bool:
    """True when the prompt stays here, or the person said it may leave."""
    from workbench.services.egress import destination

    where = destination(args.backend)
    if not where.remote:
        return True
    line = f"the generation prompt goes to {where.backend} → {where.host}, off this computer"
    if args.yes:
        print(f"note: {line}", file=sys.stderr)
        return True
    if sys.stdin.isatty():
        answer = input(f"{line}. Send it? [y/N] ")
        return answer.strip().lower() in ("y", "yes")
    print(f"workbench datagen: nothing sent: {line}", file=sys.stderr)
    print("  hint: add --yes to send it, or leave out --backend to use the local model",
          file=sys.stderr)
    return False


def _generate(args: argparse.Namespace, prompt: str | None, columns: list[str],
              existing: list[TestCase]) -> GeneratedRows:
    """Run the generator through the runner (saved to history); in a thread so Ctrl+C cancels
    it and the cancelled run is still saved."""
    from workbench.backends.base import CancelToken
    from workbench.cli.run import parse_params
    from workbench.core.models import Params
    from workbench.services.datagen import generate_rows, generator_template
    from workbench.services.interrupts import wait_all_through_interrupts
    from workbench.services.runner import Runner
    from workbench.storage.repositories import Store
    from workbench.storage.writer import StoreWriter

    template, values = generator_template(args.describe, columns, n=args.n, prompt=prompt)
    params = Params(max_tokens=_TOKENS_AROUND + _TOKENS_PER_ROW * args.n).merged(
        parse_params(args.param)
    )
    cancel = CancelToken()
    found: list[GeneratedRows] = []
    errors: list[BaseException] = []
    ended = threading.Event()
    with Store.open() as store, StoreWriter(store) as writer:
        runner = Runner(writer=writer)

        def execute() -> None:
            try:
                found.append(generate_rows(
                    runner, template, values, backend=args.backend, model=args.model,
                    params=params, columns=columns, existing=existing, cancel=cancel,
                    want=args.n))
            except BaseException as err:  # re-raised below, in the main thread
                errors.append(err)
            finally:
                ended.set()

        try:
            runner.backend(args.backend)  # an unknown or broken backend fails here, plainly
            threading.Thread(target=execute, name="workbench-datagen").start()
            try:
                ended.wait()
            except KeyboardInterrupt:
                cancel.cancel()
                wait_all_through_interrupts([ended])
        finally:
            runner.close()
    if errors:
        raise errors[0]
    return found[0]


def run(args: argparse.Namespace) -> int:
    from workbench.core.datasets import DatasetError, to_jsonl
    from workbench.core.wording import plural
    from workbench.services.datagen import generator_prompt, template_columns
    from workbench.services.datasets import append_rows, load_dataset, write_rows

    template = resolve_template(args.template, args).template
    columns = template_columns(template)
    if not columns:
        raise DatasetError(f"{template.name} has no variables: there is nothing to generate")
    if args.expected:
        columns.append("expected")
    prompt: str | None = None
    if args.prompt_file is not None:
        try:
            prompt = args.prompt_file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as err:
            raise DatasetError(f"cannot read {args.prompt_file}: {err}") from None
    if args.show_prompt:
        print(prompt if prompt is not None else generator_prompt(args.describe, columns, n=args.n))
        return 0
    existing: list[TestCase] = []
    if args.append_to is not None and args.append_to.exists():
        existing = load_dataset(args.append_to).rows
    if not _consent(args):
        return 1
    out = _generate(args, prompt, columns, existing)
    sys.stdout.write(to_jsonl(out.rows))
    for problem in out.problems:
        print(f"warning: {problem}", file=sys.stderr)
    if out.duplicates:
        already = sum(d.existing for d in out.duplicates)
        print(f"dropped {plural(len(out.duplicates), 'duplicate')}"
              + (f" ({already} already in {args.append_to.name})" if already else ""),
              file=sys.stderr)
    if out.rows and args.out is not None:
        write_rows(args.out, out.rows)
        print(f"wrote {plural(len(out.rows), 'row')} to {args.out}", file=sys.stderr)
    if out.rows and args.append_to is not None:
        append_rows(args.append_to, out.rows)
        print(f"added {plural(len(out.rows), 'row')} to {args.append_to}", file=sys.stderr)
    runs = ", ".join(out.run_ids) or "none saved"
    print(f"{plural(len(out.rows), 'row')} of {args.n} asked for in "
          f"{plural(out.rounds, 'round')} ({'run' if len(out.run_ids) < 2 else 'runs'} {runs})",
          file=sys.stderr)
    return 0 if out.rows else 1
