"""``workbench render``: print exactly the messages a template renders to."""

from __future__ import annotations

import argparse
import sys

from workbench.cli._common import add_var_options, print_json, template_values, unknown_values
from workbench.cli._storage import add_library_option, resolve_template


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "render",
        help="print the messages a template renders to",
        description="Render TEMPLATE (a file, a library key or name, KEY@VERSION, or a built-in "
        "name) with "
        "variable values and print exactly what would be sent to a model.",
    )
    p.add_argument("template", metavar="TEMPLATE")
    add_library_option(p)
    add_var_options(p)
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from workbench.core.templates import discover, render, render_completion

    template = resolve_template(args.template, args).template
    values = template_values(args)
    warnings = discover(template).warnings + unknown_values(template, values)
    if not args.json:
        for warning in warnings:
            print(f"warning: {warning}", file=sys.stderr)
    if template.mode == "completion":
        text = render_completion(template, values)
        if args.json:
            print_json({"mode": "completion", "prompt": text, "warnings": warnings})
        else:
            print(text)
        return 0
    messages = render(template, values)
    if args.json:
        print_json(
            {"mode": "chat", "messages": [m.model_dump() for m in messages], "warnings": warnings}
        )
    else:
        for i, m in enumerate(messages):
            if i:
                print()
            print(f"--- {m.role} ---")
            print(m.content)
    return 0
