"""``workbench eval --repeat N``: flaky cases apart from failing ones in text, JSON and JUnit."""

from __future__ import annotations

import json
import textwrap
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from workbench.backends.config import add_config
from workbench.cli import main


@pytest.fixture(autouse=True)
def backends(workbench_home: Path) -> None:
    add_config("coin", "scripted", {"alternate": [[{"text": "yes"}], [{"text": "no"}]]})


def coin_suite(folder: Path) -> Path:
    suite = folder / "coin.yaml"
    suite.write_text(
        textwrap.dedent(
            """\
            name: coin
            tests:
              - {description: flips, vars: {q: a}, assert: [{type: icontains, value: "yes"}]}
              - {description: never, vars: {q: b}, assert: [{type: icontains, value: maybe}]}
              - {description: always, vars: {q: c}, assert: [{type: regex, value: "^(yes|no)$"}]}
            variants:
              - {label: v, prompt: "Is {{ q }} true?", backend: coin}
            criteria: ["pass_rate >= 0.5"]
            """
        ),
        encoding="utf-8",
    )
    return suite


def test_repeat_flags_the_alternating_case_flaky_and_the_stable_failure_failing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["eval", str(coin_suite(tmp_path)), "--repeat", "4", "--pass-k", "2"]) == 0
    out = capsys.readouterr().out
    assert "4 repeats per case" in out
    assert "v: 1 passing, 1 flaky, 1 failing, 0 errors · pass@2 61% · pass^2 39%" in out
    assert "flaky: row 1: flips · v: 2/4 passed" in out
    assert "never" not in out  # failing, not flaky


def test_json_and_junit_keep_flaky_apart_from_failing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    junit = tmp_path / "out.xml"
    suite = coin_suite(tmp_path)
    assert main(["eval", str(suite), "--repeat", "4", "--json", "--junit", str(junit)]) == 0
    data = json.loads(capsys.readouterr().out)["repeats"]
    assert data["repeats"] == 4 and data["k"] == 4
    assert [(c["row"], c["verdict"], c["passed"]) for c in data["cases"]] == [
        (1, "flaky", 2), (2, "failing", 0), (3, "passing", 4)
    ]
    assert data["cases"][0]["pass_at_k"] == 1.0 and data["cases"][0]["pass_hat_k"] == 0.0
    root = ET.parse(junit).getroot()
    assert (root.get("tests"), root.get("failures"), root.get("errors")) == ("3", "1", "0")
    flips, never, always = root.iter("testcase")
    assert flips.get("name") == "row 1: flips"  # one testcase per row, not per repeat
    props = {p.get("name"): p.get("value") for p in flips.iter("property")}
    assert props["flaky"] == "true" and props["passed"] == "2/4"
    assert flips.find("failure") is None and len(flips.findall("flakyFailure")) == 2
    assert never.find("failure") is not None and never.find("flakyFailure") is None
    assert always.find("failure") is None and not always.findall("flakyFailure")


def test_a_pass_k_above_the_repeats_stops_before_anything_runs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["eval", str(coin_suite(tmp_path)), "--repeat", "2", "--pass-k", "3"]) == 1
    assert "--pass-k must be between 1 and the number of repeats (2)" in capsys.readouterr().err
