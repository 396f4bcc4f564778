"""``workbench models``: the GGUF model files on this computer with what their headers say."""

from __future__ import annotations

import argparse
from dataclasses import asdict
from pathlib import Path
from typing import Any

from workbench.backends.gguf_files import KV_CACHE_TYPES
from workbench.cli._common import positive_int, print_json


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "models",
        help="list GGUF model files with their metadata and memory needs",
        description="List the GGUF model files the local (llama.cpp) backend can run: the "
        "embedded model, the models folder, the backend's model_dirs, and the files LM Studio, "
        "the Hugging Face cache, GPT4All and Jan downloaded; or the files and folders given. "
        "Each with its architecture, parameters, quantization, context length, chat template, "
        "licence, size on disk and a memory estimate: the weights plus the KV cache, "
        "n_layer x n_ctx x (n_embd_k_gqa + n_embd_v_gqa) x bytes per element of the KV cache "
        "type, for the context size the model is loaded with (llama.cpp's compute buffers "
        "come on top). Only file headers are read. Exits 1 when a file given is not a "
        "readable GGUF.",
    )
    p.add_argument(
        "paths", metavar="PATH", nargs="*", help="GGUF files, or folders to search for them"
    )
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument(
        "--ctx",
        type=positive_int,
        metavar="N",
        help="estimate memory for this context size (default: each model's load setting)",
    )
    p.add_argument(
        "--kv-type",
        choices=KV_CACHE_TYPES,
        metavar="TYPE",
        help=f"estimate for this KV cache type ({', '.join(KV_CACHE_TYPES)}; default: the "
        "load setting)",
    )
    p.add_argument(
        "--no-apps",
        action="store_true",
        help="do not search other apps' folders (LM Studio, Hugging Face, GPT4All, Jan)",
    )
    p.set_defaults(func=run)


def _candidates(args: argparse.Namespace, backend: Any) -> list[Any]:
    """The ``LocalModel`` list: what the backend finds, or the files and folders given."""
    from workbench.backends import local_models

    if not args.paths:
        options = backend.options
        apps = not args.no_apps
        return local_models.discover(options.model_path, options.model_dirs, other_apps=apps)
    given = [Path(p).expanduser().absolute() for p in args.paths]
    models = [
        local_models.LocalModel(str(f), f, f.name, "given") for f in given if not f.is_dir()
    ]
    return models + local_models.scan_folders([f for f in given if f.is_dir()])


def run(args: argparse.Namespace) -> int:
    from workbench.backends.config import open_backend
    from workbench.backends.gguf_files import GgufError, read_info

    backend = open_backend("llamacpp")
    models = _candidates(args, backend)
    entries: list[dict[str, Any]] = []
    failed = False
    for model in models:
        if model.path is None:  # a packaged model not assembled yet
            continue
        load = backend.load(model)  # type: ignore[attr-defined]
        ctx, kv = args.ctx or load.n_ctx, args.kv_type or load.kv_cache_type
        found = {"id": model.id, "source": model.source, "app": model.app}
        try:
            info = read_info(model.path)
        except GgufError as err:
            failed = failed or model.source in ("configured", "given")
            entries.append({**found, "error": str(err)})
            continue
        entries.append({**found, **info.to_json(ctx, kv), "load": asdict(load)})
    if args.json:
        print_json(entries)
    else:
        _print(entries)
    return 1 if failed else 0


def _print(entries: list[dict[str, Any]]) -> None:
    from workbench.backends.gguf_files import human_bytes, human_count

    if not entries:
        print("no GGUF model files found")
    for e in entries:
        where = e["app"] or e["source"]
        if e["source"] in ("embedded", "package"):
            where += f", model id {e['id']}"  # what the toolbar and --model call it
        if "error" in e:
            print(f"{Path(e['id']).name}  ({where})\n    unreadable: {e['error']}")
            continue
        template = (e["chat_template_name"] or "yes") if e["chat_template"] else "none"
        facts = [
            *([f"named '{e['name']}' in the file"] if e["name"] else []),
            e["architecture"],
            f"{human_count(e['parameters'])} parameters",
            e["file_type"],
            human_bytes(e["size_bytes"]),
            f"context {e['context_length']:,}" if e["context_length"] else "context ?",
            f"chat template: {template}",
        ]
        if e["license"]:
            facts.append(f"licence: {e['license']}")
        est = e["estimate"]
        kv = est["kv_cache_bytes"]
        print(f"{Path(e['path']).name}  ({where})")
        print("    " + " · ".join(facts))
        print(
            f"    memory at {est['n_ctx']:,} tokens: {human_bytes(est['memory_bytes'])} = "
            f"{human_bytes(e['weights_bytes'])} weights + "
            + (f"{human_bytes(kv)} KV cache ({est['kv_type']})" if kv is not None else "KV cache ?")
        )
        print(f"    {e['path']}")
