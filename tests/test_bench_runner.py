"""The benchmark runner (bench/run.py) finds, runs and reports benchmarks; it never times tests."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

from tests.conftest import REPO


def load_runner() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_run", REPO / "bench" / "run.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_it_finds_the_benchmarks() -> None:
    runner = load_runner()
    benches = runner.available()
    assert benches["tokens"] == REPO / "bench" / "bench_tokens.py"
    assert all(path.name == f"bench_{name}.py" for name, path in benches.items())


def test_unknown_names_are_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert load_runner().main(["no-such-bench"]) == 2
    assert "unknown benchmark(s): no-such-bench; available: " in capsys.readouterr().err


def test_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert load_runner().main(["--help"]) == 0
    assert "benchmarks: " in capsys.readouterr().out


def test_run_one_calls_main_and_reports_failures(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    runner = load_runner()
    good = tmp_path / "bench_good.py"
    good.write_text("def main():\n    print('figure: 42 ms, ratio 3.0x')\n", encoding="utf-8")
    assert runner.run_one("good", good) is True
    out = capsys.readouterr().out
    assert "== good (bench_good.py) ==" in out and "figure: 42 ms, ratio 3.0x" in out
    bad = tmp_path / "bench_bad.py"
    bad.write_text("def main():\n    raise RuntimeError('broken bench')\n", encoding="utf-8")
    assert runner.run_one("bad", bad) is False
    captured = capsys.readouterr()
    assert "== bad: FAILED ==" in captured.out and "broken bench" in captured.err


def test_a_benchmark_may_define_dataclasses(tmp_path: Path) -> None:
    """A dataclass with postponed annotations looks its module up while the module executes."""
    bench = tmp_path / "bench_dc.py"
    bench.write_text(
        "from __future__ import annotations\n"
        "from dataclasses import dataclass\n"
        "@dataclass\n"
        "class Figure:\n"
        "    name: str\n"
        "def main() -> None:\n"
        "    print(Figure('ok').name)\n",
        encoding="utf-8",
    )
    assert load_runner().run_one("dc", bench)
