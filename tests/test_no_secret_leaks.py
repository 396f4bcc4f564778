"""A planted API key never reaches a log, an error, a saved result, a settings file or the CLI's
output, even when requests fail and a server quotes the key back.

Every byte written under WORKBENCH_HOME and the test's temporary folder is scanned, with logging
captured at DEBUG (httpx and httpcore included).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.backends.fault_server import OPENAI_SCENARIOS, ScriptedServer
from tests.backends.wire_servers import ANTHROPIC_SCENARIOS
from workbench.backends.anthropic import AnthropicBackend, AnthropicOptions
from workbench.backends.base import TERMINAL, CancelToken, StreamEvent, TextDelta
from workbench.backends.config import add_config
from workbench.backends.openai_compat import OpenAICompatBackend, OpenAICompatOptions
from workbench.cli import main
from workbench.core.models import Params, RenderedMessage, RunRequest
from workbench.storage.db import Database
from workbench.storage.repositories.runs import RunRef, RunRepository


@pytest.fixture
def servers() -> Iterator[tuple[ScriptedServer, ScriptedServer]]:
    openai, anthropic = ScriptedServer(OPENAI_SCENARIOS), ScriptedServer(ANTHROPIC_SCENARIOS)
    yield openai, anthropic
    openai.close()
    anthropic.close()


def test_a_planted_key_is_found_nowhere(
    servers: tuple[ScriptedServer, ScriptedServer],
    workbench_home: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    openai_server, anthropic_server = servers
    openai_key = f"sk-planted-{uuid.uuid4().hex}"
    anthropic_key = f"sk-ant-planted-{uuid.uuid4().hex}"
    monkeypatch.setenv("OPENAI_API_KEY", openai_key)
    caplog.set_level(logging.DEBUG)
    request = RunRequest(
        backend="openai_compat",
        model="fault-model",
        messages=[RenderedMessage(role="user", content="hello")],
        params=Params(max_tokens=20, seed=1),
    )
    events: list[StreamEvent] = []
    errors: list[str] = []

    scenarios = ["ok", "401", "500-then-ok", "reset-mid-stream", "malformed", "404", "silent"]
    urls = {scenario: openai_server.url(scenario) for scenario in scenarios}
    for url in urls.values():
        options = OpenAICompatOptions(base_url=url, retry_backoff=0.01, read_timeout=0.3)
        backend = OpenAICompatBackend(options)
        events += list(backend.stream(request, CancelToken()))
        try:
            backend.list_models()
        except Exception as err:  # the text of every error is scanned below
            errors.append(str(err))
    refused = OpenAICompatOptions(base_url="http://127.0.0.1:9/v1", max_retries=0)
    events += list(OpenAICompatBackend(refused).stream(request, CancelToken()))
    for scenario in ("ok", "error-event"):
        anthropic = AnthropicBackend(
            AnthropicOptions(base_url=anthropic_server.url(scenario, "")), api_key=anthropic_key
        )
        events += list(anthropic.stream(request.model_copy(update={"model": "m"}), CancelToken()))

    # The keys really were sent, so finding none below means something.
    sent = openai_server.requests(urls["ok"])
    assert sent and sent[0].headers["Authorization"] == f"Bearer {openai_key}"
    assert any(
        s.headers.get("x-api-key") == anthropic_key
        for v in anthropic_server.seen.values()
        for s in v
    )
    results = [e.result for e in events if isinstance(e, TERMINAL)]
    assert {r.finish_reason for r in results} >= {"stop", "error"}
    assert any("refused the API key" in (r.error or "") for r in results)

    # Save everything the way the app does: a settings file, the database, JSON exports.
    add_config("leaky", "openai_compat", {"base_url": openai_server.url("401")})
    db = Database(workbench_home / "data" / "workbench.sqlite3")
    RunRepository(db).add_many([(result, RunRef()) for result in results])
    db.close()
    export = tmp_path / "export"
    export.mkdir()
    for i, event in enumerate(events):
        data = event.text if isinstance(event, TextDelta) else event.model_dump_json()
        (export / f"{i}.json").write_text(data)
    # And through the CLI, with the configured backend that refuses the key.
    assert main(["run", "one-shot-classify", "--backend", "leaky", "--model", "m", "--json"]) == 1

    captured = capsys.readouterr()
    texts = {
        "logs": caplog.text,
        "stdout": captured.out,
        "stderr": captured.err,
        "errors": "\n".join(errors),
    }
    assert "'authorization': '[redacted]'" in caplog.text.lower()  # headers are logged, masked
    files = [p for root in (workbench_home, tmp_path) for p in root.rglob("*") if p.is_file()]
    assert any(p.suffix == ".sqlite3" for p in files) and (workbench_home / "config").is_dir()
    for key in (openai_key, anthropic_key):
        for name, text in texts.items():
            assert key not in text, f"the key leaked into {name}"
        for path in files:
            assert key.encode() not in path.read_bytes(), f"the key leaked into {path}"
        assert key[-12:] not in caplog.text + captured.err
