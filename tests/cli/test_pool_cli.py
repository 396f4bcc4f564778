"""A server pool on the command line: saved with ``backends add`` (a comma-separated
``base_urls``), a sweep through it whose summary gives each server's figures, and ``workbench
backends`` listing each server as up or not with its figures from history."""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

import pytest

from tests.backends.pool_servers import ChatServer
from tests.cli.test_compare import sweep_file
from workbench.backends.config import load_configs
from workbench.cli import main


def dead_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}/v1"


def test_a_pool_saved_run_and_listed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    live = [ChatServer("a"), ChatServer("b")]
    down = dead_url()
    urls = [live[0].url, down, live[1].url]
    try:
        argv = ["backends", "add", "fleet", "openai_compat", "--option",
                f"base_urls={','.join(urls)}", "--option", "default_model=pool-model"]
        assert main(argv) == 0
        assert load_configs()["fleet"].options["base_urls"] == urls
        capsys.readouterr()
        assert main(["compare", str(sweep_file(tmp_path, "fleet")), "--json"]) == 0
        report = json.loads(capsys.readouterr().out)
        assert report["ran"] == {"ok": 9, "error": 0, "cancelled": 0}
        figures = {f["url"]: f for f in report["servers"]["fleet"]}
        # Requests started together may each have picked it before the first one failed.
        assert 1 <= figures[down]["failures"] <= 4 and not figures[down]["healthy"]
        assert figures[down]["requests"] == figures[down]["failures"]
        answered = [figures[u]["requests"] - figures[u]["failures"] for u in urls]
        assert sum(answered) == 9 and answered[1] == 0
        assert answered[0] >= 3 and answered[2] >= 3  # spread over the two that answer

        assert main(["backends", "--json"]) == 0
        entry = next(e for e in json.loads(capsys.readouterr().out) if e["name"] == "fleet")
        assert [m["id"] for m in entry["models"]] == ["pool-model"]
        servers: dict[str, Any] = {s["url"]: s for s in entry["servers"]}
        assert [servers[u]["up"] for u in urls] == [True, False, True]
        assert [servers[u]["runs"] for u in urls] == answered  # from the runs' records
        assert servers[down]["mean_s"] is None and servers[urls[0]]["mean_s"] > 0

        assert main(["backends"]) == 0
        text = capsys.readouterr().out
        assert f"server {down}: not answering; 0 requests" in text
        assert f"server {urls[0]}: up; {answered[0]} requests, 0 failed, mean " in text
    finally:
        for server in live:
            server.close()
