"""``workbench eval --repeat N``: flaky cases apart from failing ones in text, JSON and JUnit."""

from __future__ import annotations

import json
import textwrap
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from workbench.backends.config import add_config
from workbench.cli import main
from workbench.storage.repositories import Store


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


def test_repeat_graded_only_generates_once_and_finds_a_flaky_grader(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The judge answers Y, N, Y, … to the same question: the closedqa check is flaky on one
    stored output, while the contains check on that output never changes."""
    add_config("paris", "scripted", {"script": [{"text": "Paris"}]})
    add_config(
        "coin_judge",
        "scripted",
        {"alternate": [[{"text": '{"answer": "Y", "reason": "fine"}'}],
                       [{"text": '{"answer": "N", "reason": "not fine"}'}]]},
    )
    suite = tmp_path / "graded.yaml"
    suite.write_text(
        textwrap.dedent(
            """\
            name: graded
            judge: {backend: coin_judge}
            tests:
              - description: judged
                vars: {q: capital}
                assert: [{type: model-graded-closedqa, value: names a city}]
              - description: plain
                vars: {q: city}
                assert: [{type: contains, value: Paris}]
            variants:
              - {label: v, prompt: "Name the {{ q }}", backend: paris}
            criteria: ["pass_rate >= 0"]
            """
        ),
        encoding="utf-8",
    )
    args = ["eval", str(suite), "--repeat", "4", "--repeat-graded-only", "--json"]
    assert main(args) == 0
    data = json.loads(capsys.readouterr().out)
    assert len(data["cells"]) == 2  # each output generated once
    repeats = data["repeats"]
    assert repeats["graded_only"] is True and repeats["repeats"] == 4
    assert [(c["verdict"], c["passed"], c["failed"]) for c in repeats["cases"]] == [
        ("flaky", 2, 2), ("passing", 4, 0)
    ]
    with Store.open() as store:
        run_ids = store.runs.ids(experiment_id=data["experiment_id"])
        assert len(run_ids) == 2
        grades = store.grades.for_runs(run_ids)
        assert sorted(len(g) for g in grades.values()) == [3]  # gradings 1-3 of the judged row
    # resumed: the stored gradings are read back, the judge is not asked again
    add_config("coin_judge", "scripted", {"script": [{"error": "judge gone"}]})
    again = ["eval", str(suite), "--resume", data["experiment_id"], "--repeat", "4",
             "--repeat-graded-only"]
    assert main(again) == 0
    out = capsys.readouterr().out
    assert "4 gradings of one output per case" in out
    assert "flaky: row 1: judged · v: 2/4 passed" in out


def test_repeat_graded_only_needs_repeat(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["eval", str(coin_suite(tmp_path)), "--repeat-graded-only"]) == 1
    assert "--repeat-graded-only needs --repeat N" in capsys.readouterr().err
