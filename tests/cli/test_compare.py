"""``workbench compare``: the estimate first, dry runs that call nothing, JSON results, exports,
and a sweep killed mid-way (SIGKILL) that resumes without re-running a finished cell."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
from collections import Counter
from pathlib import Path

import pytest
import yaml

from tests.backends.local_servers import LocalServer, vllm_routes
from workbench.cli import main
from workbench.storage.repositories import Store

WAIT_S = 60  # upper bound on waiting for the child's lines; the test never sleeps

TEMPLATE = """\
format_version: 1
name: capital
messages:
  - role: system
    content: Answer with the city only.
  - role: user
    content: "What is the capital of {{ country }}?"
"""


def configure(home: Path, **backends: list[dict[str, object]]) -> None:
    """Scripted backends by name (concurrency 2) in the test's own config folder."""
    (home / "config").mkdir(parents=True, exist_ok=True)
    items = [
        {"name": name, "backend": "scripted", "options": {"script": steps, "concurrency": 2}}
        for name, steps in backends.items()
    ]
    (home / "config" / "backends.yaml").write_text(yaml.safe_dump({"backends": items}))


def sweep_file(folder: Path, backend: str, **extra: object) -> Path:
    (folder / "capital.prompt.yaml").write_text(TEMPLATE)
    data = {
        "name": "capitals",
        "template": "capital.prompt.yaml",
        "backend": backend,
        "params": {"max_tokens": 8},
        "sweep": {"temperature": [0, 0.5, 1.0]},
        "variable_sets": [
            {"country": "France"},
            {"vars": {"country": "Peru"}, "expected": "Lima"},
            {"country": "Japan"},
        ],
        **extra,
    }
    path = folder / "sweep.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def store_runs(home: Path) -> list:
    with Store.open(home / "data" / "workbench.db") as store:
        return [store.runs.get(i) for i in store.runs.ids()]


def test_dry_run_prints_the_estimate_and_calls_nothing(
    tmp_path: Path, workbench_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    configure(workbench_home, demo=[{"text": "Paris"}])
    path = sweep_file(tmp_path, "demo", repeats=2)
    assert main(["compare", str(path), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "calls:          18" in out
    assert "output tokens:  ≤ 144" in out
    assert main(["compare", str(path), "--dry-run", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["dry_run"] and data["experiment_id"] is None
    assert data["estimate"]["calls"] == 18 and data["estimate"]["input_tokens"] > 0
    with Store.open() as store:  # nothing saved, nothing run
        assert store.experiments.summaries() == [] and store.runs.count() == 0


def test_dry_run_shows_the_concurrency_and_the_wall_time_measured_before(
    tmp_path: Path,
    workbench_home: Path,
    capsys: pytest.CaptureFixture[str],
    request: pytest.FixtureRequest,
) -> None:
    """A local server with no concurrency set (a vLLM, which batches): adaptive from 4; the
    wall time is unknown until a call of it was measured, then 18 calls x 0.5 s at the 16 its
    last run reached; a ``--concurrency`` is a fixed number."""
    server = LocalServer(vllm_routes())
    request.addfinalizer(server.close)
    (workbench_home / "config").mkdir(parents=True, exist_ok=True)
    local = {"name": "local", "backend": "openai_compat",
             "options": {"base_url": f"{server.url}/v1", "default_model": "m"}}
    (workbench_home / "config" / "backends.yaml").write_text(
        yaml.safe_dump({"backends": [local]}))
    path = sweep_file(tmp_path, "local", repeats=2)
    assert main(["compare", str(path), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert ("concurrency:    local: 4 at once (adaptive up to 64, vLLM, which batches requests)"
            in out)
    assert "wall time:      unknown (no call of these models measured here yet)" in out
    pace = {"version": 1, "backends": {"local": {
        "models": {"": {"latency_s": 0.5, "calls": 40}}, "concurrency": 16}}}
    (workbench_home / "cache").mkdir(parents=True, exist_ok=True)
    (workbench_home / "cache" / "pace.json").write_text(json.dumps(pace))
    assert main(["compare", str(path), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "local: 16 at once (adaptive" in out
    assert "wall time:      ≈ 0.6 s (measured: local 0.50 s per call)" in out
    assert main(["compare", str(path), "--dry-run", "--concurrency", "2", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)["estimate"]
    assert data["pace"] == [{"backend": "local", "calls": 18, "concurrency": 2,
                             "concurrency_policy": "set", "latency_s": 0.5, "wall_s": 4.5}]
    assert data["wall_s"] == 4.5


def test_dry_run_names_what_greedy_decoding_makes_meaningless(
    tmp_path: Path, workbench_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A temperature × top_p sweep of a greedy preset: 2 × 2 cells that all send one request,
    said before anything runs."""
    configure(workbench_home, demo=[{"text": "Paris"}])
    path = sweep_file(tmp_path, "demo", params={"max_tokens": 8, "greedy": True},
                      sweep={"temperature": [0.2, 0.9], "top_p": [0.5, 0.9]},
                      variable_sets=[{"country": "France"}], repeats=3)
    assert main(["compare", str(path), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "no effect:      temperature changes nothing: greedy decoding is on" in out
    assert "no effect:      top_p changes nothing: greedy decoding is on" in out
    assert "all 4 variants send the same request: expect the same answer in each" in out
    assert "×3 repeats: greedy decoding gives the same answer each time" in out
    assert main(["compare", str(path), "--dry-run", "--json"]) == 0
    assert len(json.loads(capsys.readouterr().out)["estimate"]["no_effect"]) == 4


def test_dry_run_warns_that_repeats_with_a_fixed_seed_are_identical(
    tmp_path: Path, workbench_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """seed 1 and 3 repeats gave 100% agreement even at temperature 1.2."""
    configure(workbench_home, demo=[{"text": "Paris"}])
    path = sweep_file(tmp_path, "demo", params={"max_tokens": 8, "seed": 1},
                      sweep={"temperature": [0.4, 1.2]}, repeats=3)
    assert main(["compare", str(path), "--dry-run"]) == 0
    assert ("no effect:      ×3 repeats: repeats with a fixed seed give identical answers; "
            "remove seed or vary it") in capsys.readouterr().out


def test_a_sweep_file_names_a_library_template_by_key(
    tmp_path: Path, workbench_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``template: KEY`` (or KEY@VERSION) is looked up in the library as ``workbench run`` does,
    and every run records that key and version."""
    from workbench.core.paths import data_dir

    configure(workbench_home, demo=[{"text": "Paris"}])
    library = data_dir() / "library" / "geo"
    library.mkdir(parents=True)
    (library / "capital.prompt.yaml").write_text(TEMPLATE)
    assert main(["library", "rescan"]) == 0
    (library / "capital.prompt.yaml").write_text(TEMPLATE.replace("city only", "city"))
    capsys.readouterr()
    for ref, version in (("geo/capital@1", 1), ("geo/capital", 2)):
        path = sweep_file(tmp_path, "demo", template=ref, name=f"capitals {version}",
                          variable_sets=[{"country": "France"}], sweep={"seed": [1]})
        assert main(["compare", str(path), "--json"]) == 0, capsys.readouterr().err
        capsys.readouterr()
        runs = [r for r in store_runs(workbench_home)
                if r.ref.template_version == version]
        assert [(r.ref.template_key, r.ref.template_version) for r in runs] == [
            ("geo/capital", version)]
        system = runs[0].result.request.messages[0].content
        assert system == ("Answer with the city only." if version == 1 else "Answer with the city.")


def test_runs_a_sweep_then_reruns_it_by_name_as_a_no_op(
    tmp_path: Path, workbench_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    configure(workbench_home, demo=[{"text": "Lima is "}, {"text": "the capital."}])
    path = sweep_file(tmp_path, "demo")
    report = tmp_path / "out" / "report.md"
    (tmp_path / "out").mkdir()
    assert main(["compare", str(path), "--json", "--export", str(report)]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["estimate"]["calls"] == 9 and data["ran"] == {"ok": 9, "error": 0, "cancelled": 0}
    assert len(data["cells"]) == 9 and all(c["this_run"] for c in data["cells"])
    cell = next(c for c in data["cells"] if c["cell"] == "v2.t1.r0")
    assert cell["output"] == "Lima is the capital." and cell["expected"] == "Lima"
    assert cell["params"] == {"temperature": 1.0, "max_tokens": 8}
    assert cell["variables"] == {"country": "Peru"}
    assert [v["label"] for v in data["variants"]] == [
        "temperature=0",
        "temperature=0.5",
        "temperature=1.0",
    ]
    text = report.read_text()
    assert "| v2 | temperature=1.0 |" in text
    assert "vs expected (33% alike): Lima **is the capital.**" in text

    # By name: everything is done, nothing runs again.
    assert main(["compare", "capitals"]) == 0
    out = capsys.readouterr().out
    assert "calls:          0 (9 cells already done, skipped)" in out
    assert len(store_runs(workbench_home)) == 9


def test_failed_cells_exit_1_and_unknown_experiments_are_one_line(
    tmp_path: Path, workbench_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    configure(workbench_home, down=[{"error": "server down", "error_kind": "ServerError"}])
    path = sweep_file(tmp_path, "down")
    assert main(["compare", str(path)]) == 1
    captured = capsys.readouterr()
    assert "[9/9]" in captured.out and "error 0.00 s: server down" in captured.out
    assert "9 of 9 cells failed" in captured.err
    assert main(["compare", "no-such-experiment"]) == 1
    assert capsys.readouterr().err.startswith(
        "workbench compare: no experiment with id or name 'no-such-experiment'"
    )
    with pytest.raises(SystemExit) as usage:
        main(["compare", str(path), "--concurrency", "0"])
    assert usage.value.code == 2


def test_a_promptfoo_config_is_estimated_from_its_prompts_providers_and_tests(
    fixtures_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = fixtures_dir / "promptfoo" / "getting-started" / "promptfooconfig.yaml"
    assert main(["compare", str(config), "--dry-run", "--json"]) == 0
    est = json.loads(capsys.readouterr().out)["estimate"]
    assert est["calls"] == 2 * 2 * 2  # prompts × providers × tests
    assert est["input_exact"] and est["unpriced_calls"] == 0
    assert est["assumed_output_calls"] == 8 and est["cost_upper_bound"]["USD"] > 0


def _lines(stream: object, into: queue.Queue[str | None]) -> None:
    for line in stream:  # type: ignore[attr-defined]
        into.put(line)
    into.put(None)


def test_a_killed_sweep_resumes_without_rerunning_finished_cells(
    tmp_path: Path, workbench_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    configure(workbench_home, slow=[{"delay_s": 0.3}, {"text": "Tokyo"}])
    path = sweep_file(tmp_path, "slow", repeats=2)  # 18 cells, two at a time
    child = subprocess.Popen(
        [sys.executable, "-m", "workbench", "compare", str(path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=os.environ.copy(),
    )
    lines: queue.Queue[str | None] = queue.Queue()
    threading.Thread(target=_lines, args=(child.stdout, lines), daemon=True).start()
    reported: list[str] = []
    try:
        while len(reported) < 4:
            line = lines.get(timeout=WAIT_S)
            assert line is not None, "the sweep ended before it could be killed"
            if line.startswith("["):
                reported.append(line.split()[1])
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(WAIT_S)
    assert child.returncode == -signal.SIGKILL

    before = store_runs(workbench_home)
    done = {(r.ref.variant_id, r.ref.test_case_id, r.ref.repeat_index): r.id for r in before}
    assert all(r.status == "ok" for r in before)
    assert 4 <= len(done) < 18  # every reported cell was committed; the sweep did not finish

    assert main(["compare", str(path), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert len(data["skipped"]) == len(done) and set(reported) <= set(data["skipped"])
    assert data["ran"]["ok"] == 18 - len(done)
    assert {c["cell"] for c in data["cells"] if c["this_run"]} == (
        {c["cell"] for c in data["cells"]} - set(data["skipped"])
    )
    after = store_runs(workbench_home)
    per_cell = Counter((r.ref.variant_id, r.ref.test_case_id, r.ref.repeat_index) for r in after)
    assert len(per_cell) == 18 and set(per_cell.values()) == {1}  # nothing ran twice
    kept = {(r.ref.variant_id, r.ref.test_case_id, r.ref.repeat_index): r.id for r in after}
    assert all(kept[cell] == run_id for cell, run_id in done.items())


def test_the_same_sweep_started_twice_is_refused_or_waits_and_no_cell_runs_twice(
    tmp_path: Path, workbench_home: Path
) -> None:
    configure(workbench_home, slow=[{"delay_s": 1.0}, {"text": "Tokyo"}])
    path = sweep_file(tmp_path, "slow", repeats=2)  # 18 cells, two at a time: ~9 s
    command = [sys.executable, "-m", "workbench", "compare", str(path)]
    first = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=os.environ.copy()
    )
    lines: queue.Queue[str | None] = queue.Queue()
    threading.Thread(target=_lines, args=(first.stdout, lines), daemon=True).start()
    try:
        while True:  # a cell has ended: the first process runs the sweep (and holds its lock)
            line = lines.get(timeout=WAIT_S)
            assert line is not None, "the first sweep ended before the second started"
            if line.startswith("["):
                break
        second = subprocess.run(command, capture_output=True, text=True, timeout=WAIT_S)
        assert first.poll() is None, "the first sweep ended before the second was refused"
        assert second.returncode == 1, second.stderr
        assert "calls:" not in second.stdout  # refused before an estimate of what would run
        refusal = second.stderr.strip().splitlines()[-1]
        assert f"is already running in process {first.pid} since " in refusal
        assert "--wait" in refusal
        waited = subprocess.run(
            [*command, "--wait", "--json"], capture_output=True, text=True, timeout=WAIT_S
        )
        assert first.wait(WAIT_S) == 0
    finally:
        if first.poll() is None:
            first.kill()
            first.wait(WAIT_S)
    assert waited.returncode == 0, waited.stderr
    assert f"waiting for process {first.pid} since " in waited.stderr
    data = json.loads(waited.stdout)
    assert len(data["skipped"]) == 18 and data["ran"]["ok"] == 0  # it ran what was left: nothing
    per_cell = Counter(
        (r.ref.variant_id, r.ref.test_case_id, r.ref.repeat_index)
        for r in store_runs(workbench_home)
    )
    assert len(per_cell) == 18 and set(per_cell.values()) == {1}  # no cell ran twice


def test_tool_calling_models_print_their_sequences_side_by_side(
    tmp_path: Path, workbench_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Two models given the same tools: each cell's conversation is answered by the mocks, and
    the output lists both sequences in columns, ≠ where they part; --json and the Markdown
    export carry them too."""
    def call(name: str, city: str) -> dict[str, object]:
        return {"tool_call": {"name": name, "arguments": json.dumps({"city": city})}}

    scripts = {"planner": [[call("get_weather", "Oslo")], [call("get_time", "Oslo")],
                           [{"text": "21 °C at 09:30."}]],
               "guesser": [[call("get_weather", "Bergen")], [{"text": "About 21 °C."}]]}
    (workbench_home / "config").mkdir(parents=True, exist_ok=True)
    items = [{"name": n, "backend": "scripted", "options": {"by_tool_results": t}}
             for n, t in scripts.items()]
    (workbench_home / "config" / "backends.yaml").write_text(yaml.safe_dump({"backends": items}))
    template = yaml.safe_load(TEMPLATE) | {"tools": [
        {"name": "get_weather", "mock": '{"temp_c": 21}'}, {"name": "get_time", "mock": "09:30"}]}
    (tmp_path / "weather.prompt.yaml").write_text(yaml.safe_dump(template))
    path = tmp_path / "sweep.yaml"
    path.write_text(yaml.safe_dump({
        "name": "tools", "template": "weather.prompt.yaml",
        "models": [{"backend": "planner"}, {"backend": "guesser"}],
        "variable_sets": [{"country": "Norway"}]}))
    report = tmp_path / "report.md"
    assert main(["compare", str(path), "--export", str(report)]) == 0
    out = capsys.readouterr().out
    table = out[out.index("tool calls"):].splitlines()
    assert "planner" in table[1] and "guesser" in table[1]
    assert any(line.startswith("≠") and "Oslo" in line and "Bergen" in line for line in table)
    assert any(line.startswith("≠") and "get_time" in line for line in table)
    assert any("answer: 21 °C at 09:30." in line and "answer: About 21 °C." in line
               for line in table)
    assert "## Tool calls" in report.read_text(encoding="utf-8")
    assert main(["compare", "tools", "--json"]) == 0  # resumed: nothing runs again
    cells = json.loads(capsys.readouterr().out)["cells"]
    assert [[c["tool"] for c in cell["tool_calls"]] for cell in cells] == [
        ["get_weather", "get_time"], ["get_weather"]]
