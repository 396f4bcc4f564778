"""``workbench eval --history / --pin-baseline / --baseline``: a suite's evaluations as a
history, and a regression check that exits 1 on a significant regression only."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from workbench.backends.config import add_config
from workbench.cli import main

ROWS = 12


def answer(*rows: int) -> None:
    """The 'model' backend now answers with the tags of ``rows``: those rows pass."""
    text = " ".join(f"[{n}]" for n in rows)
    add_config("model", "scripted", {"script": [{"text": text}]})


def tag_suite(folder: Path) -> Path:
    tests = "\n".join(
        f'  - {{vars: {{n: "{n}"}}, assert: [{{type: contains, value: "[{n}]"}}]}}'
        for n in range(1, ROWS + 1)
    )
    suite = folder / "tags.yaml"
    suite.write_text(
        "name: tags\n"
        "variants:\n  - {label: v, prompt: 'Tag {{ n }}', backend: model}\n"
        "criteria: ['pass_rate >= 0']\n"
        f"tests:\n{tests}\n",
        encoding="utf-8",
    )
    return suite


@pytest.fixture
def suite(workbench_home: Path, tmp_path: Path) -> Path:
    return tag_suite(tmp_path)


def test_baseline_fails_on_a_real_regression_and_prints_the_cases(
    suite: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    answer(*range(1, ROWS + 1))
    assert main(["eval", str(suite), "--pin-baseline"]) == 0
    assert "is now the baseline of" in capsys.readouterr().out
    answer(*range(7, ROWS + 1))  # rows 1-6 now fail
    assert main(["eval", str(suite), "--baseline"]) == 1
    captured = capsys.readouterr()
    assert "6 pass -> fail, 0 fail -> pass (McNemar exact p = 0.0156)" in captured.out
    for n in range(1, 7):
        assert f"worse: n={n} · v: ✓ -> ✗ (score -1.00)" in captured.out
    assert "worse: n=7" not in captured.out
    assert captured.err.startswith("workbench eval: significant regression against baseline")


def test_baseline_passes_a_reshuffle_and_json_says_why(
    suite: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    answer(*range(1, 11))
    assert main(["eval", str(suite), "--pin-baseline", "--json"]) == 0
    pinned = json.loads(capsys.readouterr().out)["experiment_id"]
    answer(*range(3, 13))  # rows 1, 2 fail instead of 11, 12: the same pass count
    assert main(["eval", str(suite), "--baseline", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)["baseline"]
    assert data["baseline"] == pinned
    assert (data["pass_to_fail"], data["fail_to_pass"], data["regressed"]) == (2, 2, False)
    assert data["p_pass_fail"] == pytest.approx(11 / 16)
    assert [w["case"] for w in data["worse"]] == ["n=1", "n=2"]


def test_history_prints_the_trend_and_each_case_across_runs(
    suite: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for rows in (range(1, 11), range(1, 13), range(3, 13)):
        answer(*rows)
        assert main(["eval", str(suite)]) == 0
    capsys.readouterr()
    assert main(["eval", str(suite), "--history"]) == 0
    out = capsys.readouterr().out
    assert "3 evaluations, oldest first" in out
    assert "pass 83% [55%–95%]" in out and "pass 100% [76%–100%]" in out
    assert "(3 runs): pass 89% [" in out  # pooled over the one prompt version: 32/36
    assert "✓✓✗  worse     n=1 · v" in out
    assert "✗✓✓  unchanged n=11 · v" in out
    assert main(["eval", str(suite), "--history", "--json", "--last", "2"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert len(data["trend"]) == 2 and data["baseline"] is None
    first = next(c for c in data["cases"] if c["case"] == "n=1")
    assert [r["verdict"] for r in first["runs"]] == ["passing", "failing"]
    assert first["movement"] == "worse"


def test_pin_a_saved_evaluation_and_a_missing_baseline_is_explained(
    suite: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    answer(*range(1, 13))
    assert main(["eval", str(suite), "--baseline"]) == 1
    assert "no baseline is pinned" in capsys.readouterr().err
    assert main(["eval", str(suite), "--json"]) == 0
    first = json.loads(capsys.readouterr().out)["experiment_id"]
    assert main(["eval", str(suite), "--pin-baseline", first]) == 0
    assert f"evaluation {first} is now the baseline" in capsys.readouterr().out
    assert main(["eval", str(suite), "--history"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[-1] for line in lines if line.startswith("* ")] == [first]
    assert main(["eval", str(suite), "--baseline", first]) == 0
    assert "0 pass -> fail" in capsys.readouterr().out
