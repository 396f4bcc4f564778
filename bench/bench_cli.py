"""Start-up time of ``workbench`` commands, side by side with a bare ``python -c pass``.

Each figure is the median of several new processes (``python -m workbench ...`` with
the caller's environment, so ``PYTHONPATH=.`` measures a checkout), the cases interleaved so a
busy machine slows them alike. Every case runs in one fresh WORKBENCH_HOME; "cold" cases delete
its cache folder (the tokenizer cache) before each run, the others run once unmeasured first.
``BENCH_CLI_BEFORE=/path/to/other/checkout`` measures that checkout too, in the same run, and
prints this checkout's time as a fraction of its. Compiled bytecode is cached (in a temporary
folder) as for an installed app, even when the caller's environment turns that off.

Targets (issue 16): a command that loads no model (``--version``, ``--help``, ``COMMAND --help``)
starts in ≤ 0.15 s; a count on a bundled encoding takes ≤ 0.25 s with a warm cache. Each case
shows its wall time and its CPU time (user + system): on a machine busy with other work the wall
time stretches, the CPU time is close to what an idle machine's wall time would be. The default
``count`` (the local llama.cpp model's own tokenizer) is shown for comparison, without a target.
"""

from __future__ import annotations

import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

SAMPLES = 9
NO_MODEL_TARGET = 0.15
COUNT_TARGET = 0.25


@dataclass(frozen=True)
class Case:
    label: str
    args: tuple[str, ...]
    target: float | None = None
    cold: bool = False  # the tokenizer cache is deleted before each run

    @property
    def argv(self) -> list[str]:
        if self.args and self.args[0] == "-c":
            return [sys.executable, *self.args]
        return [sys.executable, "-m", "workbench", *self.args]


CASES = (
    Case("python -c pass (baseline)", ("-c", "pass")),
    Case("workbench --version", ("--version",), NO_MODEL_TARGET),
    Case("workbench --help", ("--help",), NO_MODEL_TARGET),
    Case("workbench count --help", ("count", "--help"), NO_MODEL_TARGET),
    Case(
        "workbench render zero-shot-summarize --var …",
        ("render", "zero-shot-summarize", "--var", "text=hi", "--var", "sentences=2"),
    ),
    Case(
        "count --text hi --encoding cl100k_base, cold",
        ("count", "--text", "hi", "--encoding", "cl100k_base"),
        cold=True,
    ),
    Case(
        "count --text hi --encoding cl100k_base, warm",
        ("count", "--text", "hi", "--encoding", "cl100k_base"),
        COUNT_TARGET,
    ),
    Case(
        "count --text hi --model gpt-4o (o200k), cold",
        ("count", "--text", "hi", "--model", "gpt-4o"),
        cold=True,
    ),
    Case(
        "count --text hi --model gpt-4o (o200k), warm",
        ("count", "--text", "hi", "--model", "gpt-4o"),
        COUNT_TARGET,
    ),
    Case("count --text hi (local model)", ("count", "--text", "hi")),
)


@dataclass(frozen=True)
class Checkout:
    """Where ``python -m workbench`` imports the workbench from."""

    name: str
    cwd: Path | None  # None: this process's working folder and PYTHONPATH
    home: Path

    def env(self) -> dict[str, str]:
        env = {**os.environ, "WORKBENCH_HOME": str(self.home)}
        # Compiled modules are cached, as they are for an installed app (pip compiles them; an
        # editable install writes them on first run): without that, every run would compile
        # the workbench's own modules again and measure the compiler.
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(self.home.parent / "pycache")
        if self.cwd is not None:
            env["PYTHONPATH"] = str(self.cwd)
        return env


@dataclass(frozen=True)
class Sample:
    wall: float  # seconds from launch to exit, as a user waits
    cpu: float  # the process's user + system CPU seconds: what it costs on an idle machine


def run_once(case: Case, checkout: Checkout) -> Sample:
    if case.cold:
        shutil.rmtree(checkout.home / "cache", ignore_errors=True)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(
        case.argv,
        cwd=checkout.cwd,
        env=checkout.env(),
        stdout=subprocess.DEVNULL,
        check=True,
        timeout=120,
    )
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return Sample(wall, cpu)


def measured_file(checkout: Checkout) -> str:
    return subprocess.run(
        [sys.executable, "-c", "import workbench; print(workbench.__file__)"],
        cwd=checkout.cwd,
        env=checkout.env(),
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        checkouts = [Checkout("this", None, Path(folder) / "this")]
        before = os.environ.get("BENCH_CLI_BEFORE")
        if before:
            checkouts.insert(0, Checkout("before", Path(before).resolve(), Path(folder) / "before"))
        for checkout in checkouts:
            print(f"{checkout.name}: {measured_file(checkout)}")
            for case in CASES:
                run_once(case, checkout)  # the store, the library and caches exist from here on
        print(f"medians of {SAMPLES} runs each, cases and checkouts interleaved")
        samples: dict[tuple[str, Case], list[Sample]] = {}
        for _ in range(SAMPLES):
            for case in CASES:
                for checkout in checkouts:
                    samples.setdefault((checkout.name, case), []).append(run_once(case, checkout))
    medians = {
        key: Sample(statistics.median(s.wall for s in runs), statistics.median(s.cpu for s in runs))
        for key, runs in samples.items()
    }
    for checkout in checkouts:
        print(f"-- {checkout.name}")
        report({case: medians[checkout.name, case] for case in CASES})
    if before:
        print("-- this / before")
        for case in CASES:
            now, then = medians["this", case], medians["before", case]
            print(
                f"{case.label:48s} wall {now.wall / then.wall:5.2f}  CPU {now.cpu / then.cpu:5.2f}"
            )


def report(medians: dict[Case, Sample]) -> None:
    baseline = medians[CASES[0]]
    for case, median in medians.items():
        line = (
            f"{case.label:48s} wall {median.wall:6.3f} s ({median.wall / baseline.wall:4.1f}×)"
            f"  CPU {median.cpu:6.3f} s ({median.cpu / baseline.cpu:4.1f}×)"
        )
        if case.target is not None:
            verdicts = [
                f"{what} {'meets' if value <= case.target else 'MISSES'}"
                for what, value in (("wall", median.wall), ("CPU", median.cpu))
            ]
            line += f"  target ≤ {case.target:.2f} s: {', '.join(verdicts)}"
        print(line)


if __name__ == "__main__":
    main()
