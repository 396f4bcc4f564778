"""``workbench eval``: suites and promptfoo configs headless, exit codes, JSON and JUnit XML."""

from __future__ import annotations

import gc
import json
import os
import signal
import subprocess
import sys
import textwrap
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from workbench.backends.config import add_config
from workbench.cli import main
from workbench.core.models import Message, PromptTemplate
from workbench.core.template_files import dumps
from workbench.storage.repositories import Store


@pytest.fixture(autouse=True)
def backends(workbench_home: Path) -> None:
    add_config("french", "scripted", {"script": [{"text": "Bonjour le monde"}]})
    add_config(
        "down", "scripted", {"script": [{"error": "server down", "error_kind": "ServerError"}]}
    )


def write_suite(folder: Path, criteria: list[str], backend: str = "french") -> Path:
    (folder / "rows.csv").write_text(
        "text,expected,__expected\n"
        "hello,Bonjour le monde,icontains:monde\n"
        "world,Le monde,icontains:MONDE\n"
        "bye,Au revoir,icontains:revoir\n",
        encoding="utf-8",
    )
    template = PromptTemplate(
        name="translate", messages=[Message(role="user", content="Translate {{ text }}")]
    )
    (folder / "t.prompt.yaml").write_text(dumps(template), encoding="utf-8")
    suite = folder / "suite.yaml"
    suite.write_text(
        textwrap.dedent(
            f"""\
            name: translate
            dataset: rows.csv
            variants:
              - label: file
                template: t.prompt.yaml
                backend: {backend}
              - label: inline
                prompt: "Say {{{{ text }}}} in French"
                backend: {backend}
                params: {{max_tokens: 16}}
            assert:
              - type: not-contains
                value: "As an AI"
            criteria: {json.dumps(criteria)}
            """
        ),
        encoding="utf-8",
    )
    return suite


def test_main_called_in_process_leaves_the_callers_heap_collectable(tmp_path: Path) -> None:
    """Only ``workbench eval`` as its own process freezes the heap after loading (the
    interrupted-evaluation test below runs that path): pytest's objects must stay collectable."""
    suite = write_suite(tmp_path, ["pass_rate >= 0.6"])
    frozen = gc.get_freeze_count()
    assert main(["eval", str(suite), "--json"]) == 0
    assert gc.get_freeze_count() == frozen


def test_met_criteria_exit_0_and_print_the_scorecard(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    suite = write_suite(tmp_path, ["pass_rate >= 0.6", "mean_score > 0.5"])
    assert main(["eval", str(suite)]) == 0
    out = capsys.readouterr().out
    assert "file" in out and "inline" in out and "67%" in out
    assert "criteria met" in out and "NOT" not in out


def test_unmet_criteria_exit_1_with_a_one_line_reason(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    suite = write_suite(tmp_path, ["pass_rate >= 0.9"])
    assert main(["eval", str(suite)]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert err.startswith("workbench eval: criteria not met: file: pass_rate >= 0.9 NOT met")
    assert "(and 1 more)" in err


def test_json_output_holds_variants_criteria_and_cells(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    suite = write_suite(tmp_path, ["pass_rate >= 0.5"])
    assert main(["eval", str(suite), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["met"] is True and data["name"] == "translate"
    assert [v["label"] for v in data["variants"]] == ["file", "inline"]
    first = data["variants"][0]
    assert (first["passed"], first["failed"], first["errors"]) == (2, 1, 0)
    low, high = first["pass_rate_ci95"]
    assert low < 2 / 3 < high
    assert set(first["assertions"]) == {"icontains", "not-contains"}
    assert len(data["cells"]) == 6 and len(data["criteria"]) == 2
    with Store.open() as store:  # saved where the app finds it
        assert len(store.runs.ids(experiment_id=data["experiment_id"])) == 6


def test_junit_xml_has_a_testcase_per_row_and_variant(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    suite = write_suite(tmp_path, ["pass_rate >= 0.9"])
    report = tmp_path / "junit.xml"
    assert main(["eval", str(suite), "--junit", str(report)]) == 1
    root = ET.parse(report).getroot()
    assert root.tag == "testsuites"
    assert (root.get("tests"), root.get("failures"), root.get("errors")) == ("6", "2", "0")
    suites = root.findall("testsuite")
    assert [s.get("name") for s in suites] == ["file", "inline"]
    cases = root.iter("testcase")
    names = [c.get("name") for c in cases]
    assert names[:3] == [
        "row 1: text=hello",
        "row 2: text=world",
        "row 3: text=bye",
    ]
    failures = root.findall(".//failure")
    assert len(failures) == 2
    assert all("icontains" in (f.get("message") or "") for f in failures)
    assert all((f.text or "").count("\n") == 1 for f in failures)  # one line per assertion


def test_backend_errors_are_junit_errors_not_failures(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    suite = write_suite(tmp_path, ["pass_rate >= 0.5"], backend="down")
    report = tmp_path / "junit.xml"
    assert main(["eval", str(suite), "--junit", str(report)]) == 1
    root = ET.parse(report).getroot()
    assert (root.get("failures"), root.get("errors")) == ("0", "6")
    error = root.find(".//error")
    assert error is not None and error.get("message") == "server down"
    assert error.get("type") == "ServerError"
    assert "no judged cases" in capsys.readouterr().err


def test_a_promptfoo_config_is_a_suite(
    fixtures_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = fixtures_dir / "promptfoo" / "getting-started" / "promptfooconfig.yaml"
    report = tmp_path / "junit.xml"
    code = main(["eval", str(config), "--backend", "french", "--junit", str(report), "--json"])
    assert code == 1  # the Spanish test fails, as promptfoo's exit code would say
    data = json.loads(capsys.readouterr().out)
    assert len(data["variants"]) == 2  # two prompts; both providers ran on one backend
    assert [(v["passed"], v["failed"]) for v in data["variants"]] == [(1, 1), (1, 1)]
    root = ET.parse(report).getroot()
    assert root.get("tests") == "4" and root.get("failures") == "2"
    code = main(["eval", str(config), "--backend", "french", "--criterion", "pass_rate >= 0.5"])
    assert code == 0


def test_estimate_runs_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    suite = write_suite(tmp_path, ["pass_rate >= 1"])
    assert main(["eval", str(suite), "--estimate"]) == 0
    assert "calls:          6" in capsys.readouterr().out
    assert main(["eval", str(suite), "--estimate", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["evaluation_id"] is None and data["estimate"]["calls"] == 6
    with Store.open() as store:
        assert store.runs.count() == 0
        assert store.experiments.summaries() == []  # an estimate saves nothing
    assert main(["eval", str(suite), "--json"]) == 1  # runs it: 'pass_rate >= 1' is not met
    saved = json.loads(capsys.readouterr().out)["experiment_id"]
    assert main(["eval", str(suite), "--estimate", "--resume", saved, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert (data["evaluation_id"], data["estimate"]["calls"]) == (saved, 0)  # all done


def test_a_name_shared_by_two_evaluations_is_ambiguous(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    suite = write_suite(tmp_path, ["pass_rate >= 0.5"])
    ids = []
    for _ in range(2):
        assert main(["eval", str(suite), "--json"]) == 0
        ids.append(json.loads(capsys.readouterr().out)["experiment_id"])
    for argv in (
        ["export", "--format", "promptfoo", "translate"],
        ["compare", "translate", "--dry-run"],
    ):
        assert main(argv) == 1
        err = capsys.readouterr().err
        assert err.count("\n") == 1
        assert "2 experiments are named 'translate'" in err, err
        assert all(i in err for i in ids) and "created 20" in err
    assert main(["export", "--format", "promptfoo", ids[0]]) == 0


def test_resume_finishes_an_evaluation(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    suite = write_suite(tmp_path, ["pass_rate >= 0.5"])
    assert main(["eval", str(suite), "--json"]) == 0
    first = json.loads(capsys.readouterr().out)
    assert main(["eval", str(suite), "--json", "--resume", first["experiment_id"]]) == 0
    again = json.loads(capsys.readouterr().out)
    assert again["experiment_id"] == first["experiment_id"] and again["cells"] == first["cells"]
    with Store.open() as store:
        assert store.runs.count() == 6  # nothing ran twice


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("variants: []\ntests: [{vars: {a: b}}]\n", "variants"),
        ("variants: [{prompt: hi}]\n", "no rows"),
        (
            "variants: [{prompt: hi, template: x}]\ntests: [{vars: {a: b}}]\n",
            "either 'template' or 'prompt'",
        ),
        ("variants: [{prompt: hi}]\ntests: [{vars: {a: b}}]\ncriteria: [bogus]\n", "criterion"),
        (
            "variants: [{prompt: hi}]\ntests: [{vars: {a: b}, assert: [{type: nope}]}]\n",
            "unknown assertion type 'nope'",
        ),
        ("variants: [{prompt: hi, backend: nowhere}]\ntests: [{vars: {a: b}}]\n", "nowhere"),
    ],
)
def test_bad_suites_are_one_line_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str, message: str
) -> None:
    suite = tmp_path / "suite.yaml"
    suite.write_text(content, encoding="utf-8")
    assert main(["eval", str(suite)]) == 1
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and message in err


def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["eval"])
    assert exit_.value.code == 2


def test_compare_reports_what_got_better_and_worse_and_fails_on_a_regression(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    add_config("english", "scripted", {"script": [{"text": "Goodbye, au revoir"}]})
    suite = write_suite(tmp_path, ["pass_rate >= 0"])
    assert main(["eval", str(suite), "--json"]) == 0
    baseline = json.loads(capsys.readouterr().out)["experiment_id"]
    (tmp_path / "v2").mkdir()
    other = write_suite(tmp_path / "v2", ["pass_rate >= 0"], backend="english")
    assert main(["eval", str(other), "--compare", baseline]) == 1
    captured = capsys.readouterr()
    assert f"regression check against {baseline}: 2 improved, 4 got worse, 0 unchanged" in (
        captured.out
    )
    assert "  worse: row 1: text=hello · file: pass -> fail" in captured.out
    assert "  better: row 3: text=bye · file: fail -> pass" in captured.out
    assert captured.err.strip() == (
        f"workbench eval: 4 case(s) got worse than evaluation {baseline}"
        " (2 improved, 4 got worse, 0 unchanged)"
    )
    assert main(["eval", str(suite), "--json", "--compare", baseline]) == 0
    regression = json.loads(capsys.readouterr().out)["regression"]
    assert regression["summary"] == "0 improved, 0 got worse, 6 unchanged"
    assert {c["change"] for c in regression["cases"]} == {"unchanged"}


def test_python_assertions_run_in_the_restricted_evaluator(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    suite = tmp_path / "suite.yaml"
    suite.write_text(
        textwrap.dedent(
            """\
            variants: [{prompt: "Say {{ word }}", backend: french}]
            tests: [{vars: {word: hi}}]
            assert:
              - {type: python, value: "'monde' in output and len(output) < 40"}
              - {type: python, value: "open('/etc/passwd').read()"}
            criteria: ["pass_rate[python] >= 0"]
            """
        ),
        encoding="utf-8",
    )
    assert main(["eval", str(suite), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    cell = data["cells"][0]
    with Store.open() as store:
        outcomes = [r.outcome for r in store.evaluations.for_run(cell["run_id"])]
    assert outcomes[0] == "pass" and outcomes[1] == "error"  # no file access: an error, not a pass


def test_ctrl_c_stops_cleanly_and_resume_finishes_the_rest(
    tmp_path: Path, workbench_home: Path
) -> None:
    add_config("slow", "scripted", {"script": [{"text": "Bonjour le monde"}, {"delay_s": 0.2}]})
    suite = tmp_path / "suite.yaml"
    rows = [{"vars": {"n": str(i)}} for i in range(12)]
    suite.write_text(
        json.dumps(
            {
                "variants": [{"prompt": "Say {{ n }}", "backend": "slow"}],
                "tests": rows,
                "assert": [{"type": "icontains", "value": "monde"}],
            }
        ),
        encoding="utf-8",
    )
    env = {**os.environ, "WORKBENCH_HOME": str(workbench_home)}
    command = [sys.executable, "-m", "workbench", "eval", str(suite)]
    proc = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    database = workbench_home / "data"
    for _ in range(400):  # wait (at most ~20 s) until two runs are committed
        try:
            proc.wait(timeout=0.05)
            break
        except subprocess.TimeoutExpired:
            pass
        found = list(database.glob("**/*.db")) if database.exists() else []
        if found:
            with Store.open(found[0]) as store:
                if store.runs.count() >= 2:
                    break
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 1, err
    message = err.decode().strip().splitlines()[-1]
    assert message.startswith("workbench eval: interrupted (finish it with 'workbench eval")
    experiment = message.split("--resume ")[1].rstrip("')")
    with Store.open() as store:
        done = len(store.runs.completed_cells(experiment))
        statuses = [store.runs.get(i).status for i in store.runs.ids()]
    assert 2 <= done < 12
    # The cell in flight is saved, cancelled (a Ctrl+C inside Thread.join lost it).
    assert statuses.count("cancelled") == 1 and statuses.count("ok") == done, statuses
    resumed = subprocess.run(
        [*command, "--resume", experiment, "--json"], env=env, capture_output=True, timeout=60
    )
    assert resumed.returncode == 0, resumed.stderr
    data = json.loads(resumed.stdout)
    assert data["variants"][0]["passed"] == 12
    with Store.open() as store:
        assert len(store.runs.completed_cells(experiment)) == 12
        # Finished cells never ran twice: 12 good runs, plus the one cancelled in flight at most.
        assert store.runs.count() <= 13


def test_text_output_says_why_cells_errored_and_how_to_run_locally(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    suite = write_suite(tmp_path, ["pass_rate >= 0.5"], backend="down")
    assert main(["eval", str(suite)]) == 1
    out = capsys.readouterr().out
    assert "6 errors in 6 cells:\n  6× server down\n" in out
    assert f"workbench eval {suite} --backend llamacpp" in out
    assert "0 passed, 0 failed, 3 errors" in out
    (tmp_path / "one.yaml").write_text(
        "name: one\ntests: [{vars: {text: hi}}]\n"
        "variants: [{label: only, prompt: 'Say {{ text }}', backend: down}]\n",
        encoding="utf-8",
    )
    assert main(["eval", str(tmp_path / "one.yaml")]) == 1
    out = capsys.readouterr().out
    assert "0 passed, 0 failed, 1 error\n" in out and "1 error in 1 cell:\n  1× server down" in out


def test_a_promptfoo_warning_is_prefixed_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "promptfooconfig.yaml").write_text(
        textwrap.dedent(
            """\
            prompts: ["Say {{ text }}"]
            providers: [openai:gpt-4o-mini]
            tests: [{vars: {text: hi}, assert: [{type: contains, value: Hi}]}]
            sharing: false
            """
        ),
        encoding="utf-8",
    )
    main(["eval", str(tmp_path / "promptfooconfig.yaml"), "--backend", "french"])
    warnings = [line for line in capsys.readouterr().err.splitlines() if "warning" in line]
    assert warnings and all(line.count("warning") == 1 for line in warnings), warnings


def test_a_check_that_errors_is_counted_alike_on_every_line_and_named_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A JavaScript syntax error: its line said "3 errors", the footer "2 cells errored: 2×"
    (the third cell counted as failed, its error unlisted), and JUnit said "ERROR javascript:
    javascript: SyntaxError"."""
    (tmp_path / "rows.csv").write_text(
        "text,expected\nhello,monde\nworld,monde\nbye,revoir\n", encoding="utf-8"
    )
    suite = tmp_path / "suite.yaml"
    suite.write_text(textwrap.dedent("""\
        name: capitals-bad
        dataset: rows.csv
        variants: [{label: inline, prompt: "Say {{ text }}", backend: french}]
        assert:
          - {type: icontains, value: "{{ expected }}"}
          - type: javascript
            value: |
              const words = output.split(' ');
              return words.length <= 3 &&;
        """), encoding="utf-8")
    junit = tmp_path / "r.xml"
    assert main(["eval", str(suite), "--junit", str(junit)]) == 1  # default criteria: not met
    out = capsys.readouterr().out
    assert "  all " in out and "0 passed, 1 failed, 2 errors\n" in out
    assert "  javascript " in out and "0 passed, 0 failed, 3 errors\n" in out
    assert (
        "3 errors in 3 cells (1 counted as failed: a check failed there too):\n"
        "  3× javascript: SyntaxError: unexpected token in expression: ';' (line 2, column 28)\n"
    ) in out
    xml = junit.read_text(encoding="utf-8")
    assert "javascript: javascript:" not in xml
    assert xml.count("ERROR javascript: SyntaxError: unexpected token") == 3


def test_assertions_grade_the_answer_not_a_reasoning_models_thinking(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The thinking says what the suite's not-contains forbids; only the answer is graded."""
    add_config("thinker", "scripted", {
        "script": [{"text": "<think>As an AI I should translate"}, {"text": " it.</think>"},
                   {"text": "Bonjour le monde"}],
        "think_tags": True,
    })
    suite = write_suite(tmp_path, ["pass_rate >= 0.6"], backend="thinker")
    assert main(["eval", str(suite), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["criteria"][0]["met"]
