"""``workbench count``: how many tokens a template or a text is, and whether it fits the model."""

from __future__ import annotations

import argparse
import math
from typing import Any

from workbench.cli._common import add_var_options, positive_int, print_json, template_values
from workbench.cli._storage import add_library_option, resolve_template

LOCAL_BACKEND = "llamacpp"  # what ``run`` uses without --backend


def register(subparsers: argparse._SubParsersAction) -> None:
    from workbench.core.paths import config_dir

    p = subparsers.add_parser(
        "count",
        help="count the tokens of a template or a text",
        description="Count the tokens of TEMPLATE (a file, a library key or name, or a built-in "
        "name, "
        "rendered with --var values) or of --text. On the local model (the default, as for run) "
        "it counts exactly what the model reads: its own tokenizer and chat template, against "
        "the backend's context size. For other models it says whether the count is exact (the "
        "model's own tokenizer) or an estimate (≈), which encoding counted it, whether "
        "prompt + --max-tokens fits the model's context window, and the cost at list price "
        "when the model's price is known. Models, windows and prices come from "
        "resources/models.yaml; "
        f"{config_dir() / 'models.yaml'} overrides and extends it.",
    )
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument(
        "template",
        metavar="TEMPLATE",
        nargs="?",
        help="template file, library key or name, or built-in",
    )
    source.add_argument("--text", metavar="TEXT", help="count this text instead of a template")
    p.add_argument(
        "--backend",
        metavar="ID",
        help="count as this backend sends it (default: the local model, unless --model names "
        "a model it does not have)",
    )
    which = p.add_mutually_exclusive_group()
    which.add_argument("--model", metavar="MODEL", help="count for this model (e.g. gpt-4o)")
    which.add_argument(
        "--encoding", metavar="ENCODING", help="count with this encoding (cl100k_base, o200k_base)"
    )
    p.add_argument(
        "--max-tokens",
        type=positive_int,
        metavar="N",
        help="answer budget for the context fit (default: the template's max_tokens)",
    )
    add_var_options(p)
    add_library_option(p)
    p.add_argument("--exact-only", action="store_true", help="fail instead of printing an estimate")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from workbench.core.errors import KnownError
    from workbench.core.tokens import TiktokenTokenizer, count_chat, fit_context, tokenizer_for

    if args.backend and args.encoding:
        raise KnownError("give --backend or --encoding, not both")
    exact_count = _count_on_backend(args)
    if exact_count is not None:
        if args.json:
            print_json(exact_count)
        else:
            _print_text(exact_count)
        return 0
    tokenizer = tokenizer_for(model=args.model, encoding=args.encoding)
    if args.exact_only and not tokenizer.exact:
        raise KnownError(f"no exact tokenizer: {tokenizer.note}")
    result: dict[str, Any] = {
        "tokens": 0,
        "exact": tokenizer.exact,
        "encoding": tokenizer.name if isinstance(tokenizer, TiktokenTokenizer) else None,
        "tokenizer": tokenizer.name,
        "note": tokenizer.note,
        "model": args.model,
    }
    max_tokens = args.max_tokens
    if args.text is not None:
        if args.var or args.var_file:
            raise KnownError("--var only applies to a TEMPLATE (so does --var-file)")
        result |= {"mode": "text", "tokens": tokenizer.count(args.text), "warnings": []}
    else:
        from workbench.core.templates import discover, render, render_completion

        template = resolve_template(args.template, args).template
        values = template_values(args)
        result["warnings"] = discover(template).warnings
        if max_tokens is None:
            max_tokens = template.parameters.max_tokens
        if template.mode == "completion":
            prompt = render_completion(template, values, tokenizer.count)
            result |= {"mode": "completion", "tokens": tokenizer.count(prompt)}
        else:
            from workbench.core.images import image_formula  # pydantic: templates only

            formula = image_formula(args.model)
            chat = count_chat(render(template, values, tokenizer.count), tokenizer, formula)
            result |= {
                "mode": "chat",
                "tokens": chat.total,
                "exact": chat.exact,
                "messages": [
                    {"role": m.role, "content_tokens": m.content, "tokens": m.tokens}
                    | ({"image_tokens": m.images} if m.images else {})
                    for m in chat.messages
                ],
                "reply_priming": chat.reply_priming,
            }
            if tokenizer.exact and not chat.exact:
                result["note"] += "; chat overhead estimated with OpenAI's formula"

    info = None
    if args.model:  # the model table (pydantic, YAML) only when there is a model to look up
        from workbench.core.model_table import load_model_table

        info = load_model_table().lookup(args.model)
    window = info.context_window if info is not None else None
    result["max_tokens"] = max_tokens
    result["context_window"] = window
    result |= {"fits": None, "overflow": None, "remaining": None}
    if window is not None:
        fit = fit_context(result["tokens"], window, max_tokens)
        result |= {"fits": fit.fits, "overflow": fit.overflow, "remaining": fit.remaining}
    cost = None
    if info is not None:
        from workbench.core.model_table import cost_of

        cost = cost_of(info.price, result["tokens"], max_tokens or 0, exact=result["exact"])
    result["cost"] = (
        None
        if cost is None
        else {
            "currency": cost.currency,
            "input": cost.input,
            "max_output": cost.output if max_tokens else None,
            "total": cost.total,
            "exact": cost.exact,
            "per_million": {"input": cost.price.input, "output": cost.price.output},
        }
    )
    if args.json:
        print_json(result)
    else:
        _print_text(result)
    return 0


def _count_on_backend(args: argparse.Namespace) -> dict[str, Any] | None:
    """Counted by a backend that shows exactly what its model reads (the local llama.cpp one:
    the model's tokenizer and chat template, as the app's preview and ``run`` count), with its
    context size as the window. None when there is no such backend for these arguments: then
    the model table's tokenizers count (OpenAI's formula for the chat overhead)."""
    if args.encoding:
        return None  # before the imports: a named encoding needs no backend
    from workbench.core.errors import KnownError
    from workbench.core.models import RunRequest
    from workbench.core.templates import discover
    from workbench.core.tokens import fit_context
    from workbench.services.grid_runner import BackendCounter
    from workbench.services.runner import Runner, build_request

    runner = Runner()
    try:
        backend = runner.backend(args.backend or LOCAL_BACKEND)
        if getattr(backend, "preview", None) is None:
            return None
        counter = BackendCounter(runner)
        model = args.model or ""
        result: dict[str, Any] = {"warnings": [], "max_tokens": args.max_tokens}
        if args.text is not None:
            if args.var or args.var_file:
                raise KnownError("--var only applies to a TEMPLATE (so does --var-file)")
            request = RunRequest(backend=backend.id, model=model, prompt=args.text)
            result["mode"] = "text"
        else:
            template = resolve_template(args.template, args).template
            values = template_values(args)
            result["warnings"] = discover(template).warnings
            if result["max_tokens"] is None:
                result["max_tokens"] = template.parameters.max_tokens
            request = build_request(template, values, backend=backend.id, model=model)
            result["mode"] = template.mode
        try:
            counted = counter.count(request)
        except KnownError:
            if args.backend or not args.model:
                raise
            return None  # --model names no local model: count it from the model table
        window = counter.context_window(request)
    finally:
        runner.close()
    result |= {
        "tokens": counted.tokens,
        "exact": counted.exact,
        "encoding": None,
        "tokenizer": model or "the backend's default model",
        "note": counted.note,
        "model": args.model,
        "backend": args.backend or LOCAL_BACKEND,
        "context_window": window,
        "fits": None,
        "overflow": None,
        "remaining": None,
        "cost": None,  # runs locally: no charge, nothing to price
    }
    if window is not None:
        fit = fit_context(counted.tokens, window, result["max_tokens"])
        result |= {"fits": fit.fits, "overflow": fit.overflow, "remaining": fit.remaining}
    return result


def _money(amount: float) -> str:
    """At least two decimals, and three significant digits for fractions of a cent."""
    if amount == 0:
        return "0.00"
    places = max(2, 2 - math.floor(math.log10(abs(amount))))
    whole, _, fraction = f"{amount:,.{places}f}".partition(".")
    return f"{whole}.{fraction.rstrip('0').ljust(2, '0')}"


def _print_text(r: dict[str, Any]) -> None:
    from workbench.core.tokens import format_count

    kind = "exact" if r["exact"] else "estimate"
    print(f"tokens:   {format_count(r['tokens'], r['exact'])} ({kind}; {r['note']})")
    for m in r.get("messages", []):
        print(f"  {m['role']:<10} {m['tokens']:>8,}  ({m['content_tokens']:,} content)")
    if "reply_priming" in r:
        print(f"  {'reply':<10} {r['reply_priming']:>8,}  (priming the answer)")
    needed = r["tokens"] + (r["max_tokens"] or 0)
    budget = f"{r['tokens']:,}"
    if r["max_tokens"]:
        budget += f" + {r['max_tokens']:,} max_tokens"
    if r["context_window"] is None:
        why = "no model given"
        if r["model"]:
            why = f"no context window for {r['model']} in models.yaml"
        print(f"context:  unknown ({why})")
    elif r["fits"]:
        print(f"context:  {budget} of {r['context_window']:,}: fits ({r['remaining']:,} left)")
    else:
        print(
            f"context:  {budget} = {needed:,} of {r['context_window']:,}: "
            f"overflow by {r['overflow']:,}"
        )
    cost = r["cost"]
    if cost is not None:
        approx = "" if cost["exact"] else "≈ "
        line = f"cost:     {approx}{_money(cost['input'])} {cost['currency']} input"
        if cost["max_output"] is not None:
            line += f" + up to {_money(cost['max_output'])} output"
        print(f"{line} (list price)")
    for warning in r["warnings"]:
        print(f"warning:  {warning}")
