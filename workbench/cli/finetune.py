"""``workbench finetune check``: is a chat fine-tuning JSONL file ready to upload?

Runs the format checks of OpenAI's cookbook ("Data preparation and analysis for chat model
fine-tuning") with their error keys and line numbers, counts tokens per example with
cl100k_base as the cookbook does, and prints its warnings. Exit 1 when there are format errors.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from workbench.cli._common import positive_int


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "finetune",
        help="check fine-tuning data",
        description='Work with fine-tuning data (OpenAI chat JSONL: one {"messages": [...]} '
        "example per line).",
    )
    commands = p.add_subparsers(dest="finetune_command", metavar="COMMAND", required=True)
    check = commands.add_parser(
        "check",
        help="check a chat fine-tuning JSONL file",
        description="Check FILE with the format checks of OpenAI's cookbook (data_type, "
        "missing_messages_list, message_missing_key, message_unrecognized_key, unrecognized_role, "
        "missing_content, example_missing_assistant_message; invalid_json for a line that does "
        "not parse), each with its line; count tokens per example with cl100k_base; warn about "
        "too few examples and examples over the token limit. Exit 1 when there are format errors.",
    )
    check.add_argument("file", metavar="FILE", type=Path)
    check.add_argument(
        "--token-limit",
        type=positive_int,
        default=None,
        metavar="N",
        help="tokens per example before truncation (default 16,385)",
    )
    check.add_argument(
        "--min-examples",
        type=positive_int,
        default=None,
        metavar="N",
        help="warn below this many examples (default 10)",
    )
    check.add_argument("--json", action="store_true", help="print JSON")
    check.set_defaults(func=run_check)


def _distribution_line(name: str, d: dict[str, float] | None) -> str:
    if d is None:
        return f"{name}: none"
    return (
        f"{name}: min {d['min']:g} / max {d['max']:g}, mean {d['mean']:.1f} / median "
        f"{d['median']:g}, p10 {d['p10']:.1f} / p90 {d['p90']:.1f}"
    )


def _print_text(path: Path, data: dict[str, Any]) -> None:
    errors = {k: v for k, v in data["format_errors"].items() if v}
    print(f"{path}: {data['examples']} examples")
    if errors:
        print("Format errors: " + ", ".join(f"{k} {v}" for k, v in errors.items()))
        for issue in data["issues"]:
            print(f"  line {issue['line']}: {issue['key']}: {issue['message']}")
    else:
        print("Format errors: none")
    tokens = data["tokens"]
    print(f"Examples missing a system message: {data['missing_system']}")
    print(f"Examples missing a user message: {data['missing_user']}")
    print(_distribution_line("Messages per example", tokens["messages_per_example"]))
    print(_distribution_line("Tokens per example", tokens["per_example"]))
    print(_distribution_line("Assistant tokens per example", tokens["assistant_per_example"]))
    print(
        f"About {tokens['billing_tokens']:,} tokens charged per epoch; by default "
        f"{tokens['default_epochs']} epochs, ~{tokens['charged_tokens']:,} tokens "
        f"({tokens['encoding']})"
    )
    for warning in data["warnings"]:
        print(f"warning: {warning}", file=sys.stderr)


def run_check(args: argparse.Namespace) -> int:
    from workbench.cli._common import print_json
    from workbench.core.errors import KnownError
    from workbench.storage.finetune import MIN_EXAMPLES, TOKEN_LIMIT, check_finetune_file

    try:
        raw = args.file.read_bytes()
    except OSError as err:
        raise KnownError(f"cannot read {args.file}: {err.strerror or err}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        line = raw[: err.start].count(b"\n") + 1
        raise KnownError(f"{args.file}:{line}: not UTF-8 text ({err.reason})") from None
    report = check_finetune_file(
        text,
        token_limit=args.token_limit or TOKEN_LIMIT,
        min_examples=args.min_examples or MIN_EXAMPLES,
    )
    data = report.to_dict()
    if args.json:
        print_json(data)
    else:
        _print_text(args.file, data)
    return 0 if report.ok else 1
