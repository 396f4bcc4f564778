"""Run the benchmarks: ``python bench/run.py [NAME...]``.

Each ``bench/bench_NAME.py`` exposes ``main()``, which prints the figures and ratios it measured
in that one run. Without names every benchmark runs. Benchmarks are never timed assertions:
they report, and a person (or a note) compares the figures with the targets.
"""

from __future__ import annotations

import importlib.util
import sys
import time
import traceback
from collections.abc import Sequence
from pathlib import Path

HERE = Path(__file__).resolve().parent


def available() -> dict[str, Path]:
    """``{name: path}`` for every ``bench_NAME.py`` beside this file."""
    return {path.stem.removeprefix("bench_"): path for path in sorted(HERE.glob("bench_*.py"))}


def run_one(name: str, path: Path) -> bool:
    """Import one benchmark module and call its ``main()``; False if it failed."""
    spec = importlib.util.spec_from_file_location(f"bench_{name}", path)
    if spec is None or spec.loader is None:
        print(f"cannot load {path}", file=sys.stderr)
        return False
    module = importlib.util.module_from_spec(spec)
    # Registered first, as ``import`` does: dataclasses look their module up while it executes.
    sys.modules[spec.name] = module
    print(f"== {name} ({path.name}) ==", flush=True)
    started = time.perf_counter()
    try:
        spec.loader.exec_module(module)
        module.main()
    except Exception:
        traceback.print_exc()
        print(f"== {name}: FAILED ==", flush=True)
        return False
    print(f"== {name}: done in {time.perf_counter() - started:.1f} s ==\n", flush=True)
    return True


def main(argv: Sequence[str] | None = None) -> int:
    names = list(sys.argv[1:] if argv is None else argv)
    if any(name in ("-h", "--help") for name in names):
        print(__doc__.strip())
        print("\nbenchmarks: " + ", ".join(available()))
        return 0
    benches = available()
    wanted = [name.removeprefix("bench_").removesuffix(".py") for name in names] or list(benches)
    unknown = [name for name in wanted if name not in benches]
    if unknown:
        print(
            f"unknown benchmark(s): {', '.join(unknown)}; available: {', '.join(benches)}",
            file=sys.stderr,
        )
        return 2
    sys.path.insert(0, str(HERE))  # benchmarks may share helpers kept in bench/
    failed = [name for name in wanted if not run_one(name, benches[name])]
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
