"""Ctrl+C (SIGINT) while answers stream: ``workbench run`` and ``workbench compare`` save every
run in flight as ``cancelled`` with the text received so far, never as an error, on every kind of
server: the embedded llama.cpp model, the real ``llama_cpp.server``, and the fault server with a
chunked body and with a body that ends when the connection closes (where the cancel's shut socket
reads as an early end of the stream)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml

from tests.backends.conftest import llama_server  # noqa: F401 - the real server fixture, reused
from tests.backends.fault_server import OPENAI_SCENARIOS, WORDS, ScriptedServer
from workbench.backends.config import add_config
from workbench.storage.repositories import Store, StoredRun

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGINT"), reason="needs POSIX signals")

TEMPLATE = """\
format_version: 1
name: story
messages:
  - role: user
    content: "Write a long story about a {{ animal }} who learns to sail."
"""


ARGS = ["--var", "animal=fox", "--param", "max_tokens=400", "--param", "temperature=0"]


@pytest.fixture(scope="module")
def fault() -> Iterator[ScriptedServer]:
    server = ScriptedServer(OPENAI_SCENARIOS)
    yield server
    server.close()


def _backend(kind: str, fault: ScriptedServer, request: pytest.FixtureRequest) -> tuple[str, str]:
    """A configured backend of ``kind``: its name and base URL."""
    if kind == "embedded":
        return "llamacpp", ""
    if kind == "llama-server":
        base = request.getfixturevalue("llama_server")
        # Its first answer took up to 5 s to start (cold caches, a loaded box): warm it up, so
        # the first words arrive within the tests' wait.
        hello = {"model": "smollm2", "messages": [{"role": "user", "content": "Hi"}]}
        httpx.post(f"{base}/chat/completions", json={**hello, "max_tokens": 1}, timeout=60)
        add_config("server", "openai_compat", {"base_url": base, "default_model": "smollm2"})
        return "server", base
    url = fault.url({"fault-chunked": "slow", "fault-unframed": "slow-unframed"}[kind])
    options = {"base_url": url, "default_model": "fault-model", "concurrency": 3}
    add_config("fault", "openai_compat", options)
    return "fault", url


def _saved_runs(home: Path) -> list[StoredRun]:
    with Store.open(home / "data" / "workbench.db") as store:
        return [store.runs.get(i) for i in store.runs.ids()]


def _interrupt(proc: subprocess.Popen[bytes]) -> tuple[bytes, str]:
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    return out, err.decode()


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["fault-unframed", "fault-chunked", "llama-server", "embedded"])
def test_ctrl_c_in_run_saves_a_cancelled_run_with_its_partial_text(
    kind: str,
    fault: ScriptedServer,
    request: pytest.FixtureRequest,
    tmp_path: Path,
    workbench_home: Path,
) -> None:
    backend, _ = _backend(kind, fault, request)
    template = tmp_path / "story.prompt.yaml"
    template.write_text(TEMPLATE)
    proc = subprocess.Popen(
        [sys.executable, "-m", "workbench", "run", str(template), "--backend", backend, *ARGS],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "WORKBENCH_HOME": str(workbench_home)},
    )
    assert proc.stdout is not None
    printed = proc.stdout.read(12)  # blocks until the answer is streaming
    rest, err = _interrupt(proc)
    assert proc.returncode == 130, err
    assert err.strip().splitlines()[-1] == "workbench run: cancelled"
    (run,) = _saved_runs(workbench_home)
    assert (run.status, run.result.error, run.result.error_kind) == ("cancelled", None, None)
    shown = (printed + rest).rstrip(b"\n")
    assert len(printed) == 12 and run.result.text.encode().startswith(shown)


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["fault-unframed", "llama-server"])
def test_ctrl_c_in_compare_saves_every_cell_in_flight_as_cancelled(
    kind: str,
    fault: ScriptedServer,
    request: pytest.FixtureRequest,
    tmp_path: Path,
    workbench_home: Path,
) -> None:
    backend, url = _backend(kind, fault, request)
    (tmp_path / "story.prompt.yaml").write_text(TEMPLATE)
    animals = ["fox", "owl", "eel", "cat", "dog", "ant"]
    sweep = {
        "name": f"stories-{kind}",
        "template": "story.prompt.yaml",
        "backend": backend,
        "params": {"max_tokens": 400, "temperature": 0},
        "variable_sets": [{"animal": a} for a in animals],
    }
    (tmp_path / "sweep.yaml").write_text(yaml.safe_dump(sweep))
    proc = subprocess.Popen(
        [sys.executable, "-m", "workbench", "compare", str(tmp_path / "sweep.yaml")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "WORKBENCH_HOME": str(workbench_home)},
    )
    assert proc.stdout is not None
    while b"calls:" not in proc.stdout.readline():  # the estimate: the sweep starts now
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
    if kind == "fault-unframed":
        fault.wait_for_request(url, count=3)  # three cells stream at once
    threading.Event().wait(1.5)  # their first words arrive; the server then keeps them waiting
    _, err = _interrupt(proc)
    assert proc.returncode == 130, err
    assert "cancelled (run it again to resume)" in err
    runs = _saved_runs(workbench_home)
    assert runs and {(r.status, r.result.error_kind) for r in runs} == {("cancelled", None)}
    if kind == "fault-unframed":
        # The three in flight keep their words; one waiting for a free slot never started.
        streamed = [r.result.text for r in runs if r.result.text]
        assert streamed == ["".join(WORDS[:3])] * 3 and len(runs) <= 4
    else:
        assert any(r.result.text for r in runs)
