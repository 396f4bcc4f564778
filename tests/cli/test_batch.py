"""``workbench batch``: a sweep sent to a local server speaking OpenAI's file and batch endpoints,
each command a new store and runner (as separate processes are): submit prints the batch price,
status lands what ended, list reads the store only, cancel keeps what was done, and the failed
cells are re-run live by ``workbench compare``."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.backends.openai_batch_server import KEY, OpenAIBatchServer
from tests.cli.test_compare import TEMPLATE, store_runs
from workbench.cli import main
from workbench.storage.repositories import Store


@pytest.fixture
def server(workbench_home: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[OpenAIBatchServer]:
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    with OpenAIBatchServer() as running:
        (workbench_home / "config").mkdir(parents=True, exist_ok=True)
        openai = {"name": "openai", "backend": "openai_compat",
                  "options": {"base_url": running.base_url, "streaming": False}}
        (workbench_home / "config" / "backends.yaml").write_text(
            yaml.safe_dump({"backends": [openai]}))
        yield running


def _sweep(folder: Path) -> Path:
    (folder / "capital.prompt.yaml").write_text(TEMPLATE)
    data = {"name": "capitals", "template": "capital.prompt.yaml", "backend": "openai",
            "model": "gpt-4o-mini", "params": {"max_tokens": 8},
            "variable_sets": [{"country": "France"}, {"country": "Peru"}, {"country": "Japan"}]}
    path = folder / "sweep.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def _jobs(capsys: pytest.CaptureFixture[str], *argv: str) -> list[dict[str, object]]:
    assert main(["batch", *argv, "--json"]) == 0
    jobs: list[dict[str, object]] = json.loads(capsys.readouterr().out)["jobs"]
    return jobs


def test_submit_follow_and_rerun_the_failed_cell_live(
    server: OpenAIBatchServer,
    tmp_path: Path,
    workbench_home: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = _sweep(tmp_path)
    assert main(["batch", "submit", str(path)]) == 0
    out = capsys.readouterr().out
    assert "batch:          openai: 3 calls ≤ " in out and "(50% of list price)" in out
    assert "answered within 24h" in out
    assert "validating" in out
    (job,) = _jobs(capsys, "list")
    remote = job["parts"][0]["remote_id"]  # type: ignore[index]
    assert main(["batch", "submit", str(path)]) == 1  # every cell waits in the job
    assert "nothing to send" in capsys.readouterr().err

    (polled,) = _jobs(capsys, "status")
    assert polled["parts"][0]["state"] == "in_progress"  # type: ignore[index]
    server.settle(remote, {"v0-t0-r0": "ok", "v0-t1-r0": "error", "v0-t2-r0": "ok"})
    server.complete(remote)
    assert main(["batch", "fetch", str(job["id"])[:8], "--interval", "1"]) == 0
    out = capsys.readouterr().out
    assert "ended" in out and "landed: 2 ok, 1 failed, 0 missing" in out
    assert f"re-run the failed cells live: workbench compare {job['experiment_id']}" in out
    assert _jobs(capsys, "list") == []  # only unfinished ones by default
    assert [j["cells"] for j in _jobs(capsys, "list", "--all")] == [
        {"ok": 2, "error": 1, "missing": 0, "waiting": 0}]
    assert sorted(r.result.text for r in store_runs(workbench_home)
                  if r.result.text) == ["echo: What is the capital of France?",
                                        "echo: What is the capital of Japan?"]

    assert main(["compare", str(job["experiment_id"])]) == 0  # the failed cell, live
    assert "calls:          1 (2 cells already done, skipped)" in capsys.readouterr().out
    assert [b["messages"][-1]["content"] for b in server.live] == [
        "What is the capital of Peru?"]


def test_cancel_keeps_what_was_done(
    server: OpenAIBatchServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["batch", "submit", str(_sweep(tmp_path)), "--json"]) == 0
    (job,) = json.loads(capsys.readouterr().out)["jobs"]
    remote = job["parts"][0]["remote_id"]
    _jobs(capsys, "status", job["id"])
    server.settle(remote, {"v0-t1-r0": "ok"})
    assert main(["batch", "cancel", job["id"]]) == 0
    assert "cancelling" in capsys.readouterr().out
    server.cancelled(remote)
    (ended,) = _jobs(capsys, "status", job["id"])
    assert ended["status"] == "ended"
    assert ended["cells"] == {"ok": 1, "error": 2, "missing": 0, "waiting": 0}


def test_an_evaluation_suite_is_graded_after_its_batch(
    server: OpenAIBatchServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    suite = tmp_path / "suite.yaml"
    suite.write_text(yaml.safe_dump({
        "name": "capitals",
        "tests": [{"vars": {"country": "France"}}, {"vars": {"country": "Peru"}}],
        "variants": [{"label": "v1", "prompt": "Capital of {{ country }}?",
                      "backend": "openai", "model": "gpt-4o-mini"}],
        "assert": [{"type": "icontains", "value": "capital"}],
    }))
    assert main(["batch", "submit", str(suite), "--json"]) == 0
    captured = capsys.readouterr()
    (job,) = json.loads(captured.out)["jobs"]
    command = f"workbench eval {suite} --resume {job['experiment_id']}"
    assert command in captured.err
    remote = job["parts"][0]["remote_id"]
    _jobs(capsys, "status")
    server.settle(remote, {"v0-t0-r0": "ok", "v0-t1-r0": "error"})
    server.complete(remote)
    assert main(["batch", "status"]) == 0
    assert f"grade and re-run the failed cells live: {command}" in capsys.readouterr().out
    assert main(["eval", str(suite), "--resume", str(job["experiment_id"]), "--json"]) == 0
    card = json.loads(capsys.readouterr().out)
    assert [b["messages"][-1]["content"] for b in server.live] == ["Capital of Peru?"]
    assert card["met"] and [c["status"] for c in card["cells"]] == ["pass", "pass"]
    # The France cell was graded on the batch's answer (its run), not run again.
    with Store.open() as store:
        runs = store.runs.for_experiment(str(job["experiment_id"]))
    assert [r.result.text for r in runs] == ["echo: Capital of France?", "",
                                             "echo: Capital of Peru?"]


class _Died(BaseException):
    """The process ends here."""


def test_a_batch_of_unknown_outcome_is_said_and_resent_only_when_forced(
    server: OpenAIBatchServer, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The process creating the batch ended; the next finds no batch of its lines at the
    provider (the create never arrived, or is not listed yet): it says so and sends nothing
    until the person, having checked, forces it."""
    from workbench.backends.batch_openai import OpenAIBatches

    def die(*_args: object, **_kwargs: object) -> None:
        raise _Died

    with monkeypatch.context() as patch:
        patch.setattr(OpenAIBatches, "submit", die)
        with pytest.raises(_Died):
            main(["batch", "submit", str(_sweep(tmp_path))])
    capsys.readouterr()
    assert main(["batch", "status"]) == 0
    out = capsys.readouterr().out
    assert "part 0: gpt-4o-mini no batch id unknown (openai may have created this batch" in out
    assert f"Check the server's batch list ({server.base_url}/batches)" in out
    assert server.batches == {}
    (job,) = _jobs(capsys, "list")
    assert f"'workbench batch resend {str(job['id'])[:8]}' sends it again" in out
    assert main(["batch", "resend", str(job["id"])]) == 1  # no terminal to ask on
    err = capsys.readouterr().err
    assert "nothing sent" in err and "add --force" in err and server.batches == {}
    assert main(["batch", "resend", str(job["id"]), "--force"]) == 0
    assert "running" in capsys.readouterr().out and len(server.batches) == 1
