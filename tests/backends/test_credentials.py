"""Where keys come from (explicit -> OS keyring -> environment) and how they are scrubbed.

The keyring tests use a real Secret Service (gnome-keyring on a private D-Bus); the no-keyring
tests use keyring's own "fail" backend, which is what a headless Linux gets.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from pathlib import Path

import keyring
import pytest
from keyring.backends import fail

from tests.backends.conftest import stream_all
from workbench.backends import credentials
from workbench.backends.credentials import KeyHolder, KeyRef, RedactingFilter, redact
from workbench.backends.openai_compat import OpenAICompatBackend, OpenAICompatOptions
from workbench.cli import main
from workbench.core.errors import ErrorCode, KnownError, MissingKeyError
from workbench.core.models import Params, RenderedMessage, RunRequest

REF = KeyRef("wb-test-service", "WB_TEST_API_KEY")


@pytest.fixture
def no_keyring() -> Iterator[None]:
    previous = keyring.get_keyring()
    keyring.set_keyring(fail.Keyring())
    try:
        yield
    finally:
        keyring.set_keyring(previous)


def test_explicit_beats_keyring_beats_environment(
    os_keyring: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(REF.env, "env-key-0001")
    credentials.store(REF.name, "keyring-key-0002")
    try:
        found = credentials.resolve(REF, "explicit-key-0003")
        assert found is not None and found.value == "explicit-key-0003"
        found = credentials.resolve(REF)
        assert found is not None and found.value == "keyring-key-0002"
        assert found.source == "the keyring entry 'prompt-workbench/wb-test-service'"
        assert credentials.delete(REF.name) is True
        found = credentials.resolve(REF)
        assert found is not None and found.value == "env-key-0001"
        assert found.source == "the environment variable WB_TEST_API_KEY"
    finally:
        credentials.delete(REF.name)
    assert credentials.delete(REF.name) is False


def test_the_key_really_is_in_the_secret_service(os_keyring: None) -> None:
    credentials.store("wb-test-direct", "stored-through-dbus-0004")
    try:
        assert keyring.get_password("prompt-workbench", "wb-test-direct") == (
            "stored-through-dbus-0004"
        )
        status = credentials.keyring_status()
        assert status.available and "SecretService" in status.backend
    finally:
        credentials.delete("wb-test-direct")


def test_cli_key_set_reads_stdin_and_never_echoes(
    os_keyring: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("cli-stored-key-0005\n"))
    try:
        assert main(["key", "set", "wb-test-cli"]) == 0
        assert keyring.get_password("prompt-workbench", "wb-test-cli") == "cli-stored-key-0005"
        assert main(["key", "delete", "wb-test-cli"]) == 0
        assert main(["key", "delete", "wb-test-cli"]) == 1
    finally:
        credentials.delete("wb-test-cli")
    out = capsys.readouterr()
    assert "cli-stored-key-0005" not in out.out + out.err
    assert "no stored key 'wb-test-cli'" in out.err


def test_without_a_keyring_the_environment_is_used_and_we_say_so(
    no_keyring: None, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(credentials, "_no_keyring_reported", False)
    monkeypatch.setenv(REF.env, "env-only-key-0006")
    with caplog.at_level(logging.INFO, logger="workbench.backends.credentials"):
        found = credentials.resolve(REF)
        credentials.resolve(REF)
    assert found is not None and found.value == "env-only-key-0006"
    notes = [r.getMessage() for r in caplog.records if "no OS keyring" in r.getMessage()]
    assert len(notes) == 1  # said once, not on every request
    status = credentials.keyring_status()
    assert not status.available and "environment variables" in status.message


def test_without_a_keyring_storing_fails_clearly_and_writes_no_file(
    no_keyring: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    with pytest.raises(KnownError, match="no OS keyring is available"):
        credentials.store("wb-test", "would-be-plaintext-0007")
    assert credentials.delete("wb-test") is False
    assert not [p for p in tmp_path.rglob("*") if p.is_file()], "no fallback file was written"


def test_cli_key_status_without_a_keyring(
    no_keyring: None, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["key", "status"]) == 0
    assert "no OS keyring is available" in capsys.readouterr().out


def test_no_key_anywhere(no_keyring: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(REF.env, raising=False)
    holder = KeyHolder(REF)
    assert holder.get() is None
    assert holder.hint() == (
        "no API key was sent: set WB_TEST_API_KEY or store one with "
        "`workbench key set wb-test-service`"
    )


def test_a_credential_never_shows_its_value() -> None:
    found = credentials.resolve(REF, "repr-hidden-key-0008")
    assert found is not None
    assert "repr-hidden-key-0008" not in repr(found) and "repr-hidden" not in str(found)


def test_redact_removes_known_keys_and_key_shaped_values() -> None:
    credentials.remember_secret("plain-known-secret-0009")
    text = (
        "key plain-known-secret-0009; Authorization: Bearer abcdefghijkl; "
        '{"x-api-key": "zyxwvutsrq"}; token sk-ant-api03-ABCDEFGHIJKLMNOPQRSTUV; api_key=hunter22'
    )
    cleaned = redact(text)
    for secret in (
        "plain-known-secret-0009",
        "abcdefghijkl",
        "zyxwvutsrq",
        "ABCDEFGHIJKLMNOP",
        "hunter22",
    ):
        assert secret not in cleaned
    assert "Authorization: [redacted]" in cleaned
    assert redact("set OPENAI_API_KEY or api_key_name") == "set OPENAI_API_KEY or api_key_name"


def test_the_log_filter_scrubs_messages_arguments_and_exceptions() -> None:
    credentials.remember_secret("logged-secret-0010")
    record = logging.LogRecord(
        "x", logging.ERROR, __file__, 1, "sent %s", ("logged-secret-0010",), None
    )
    try:
        raise ValueError("boom logged-secret-0010")
    except ValueError as err:
        record.exc_info = (type(err), err, err.__traceback__)
    assert RedactingFilter().filter(record)
    handler = logging.StreamHandler(io.StringIO())
    handler.handle(record)
    assert "logged-secret-0010" not in handler.format(record)


@pytest.mark.parametrize(
    ("url", "needed"),
    [
        ("https://api.openai.com/v1", True),
        ("http://192.168.1.20:8000/v1", False),
        ("http://10.0.0.7/v1", False),
        ("http://gpu-box:8000/v1", False),
        ("http://vllm.local:8000/v1", False),
        ("https://llm.example.com/v1", True),
        ("http://8.8.8.8/v1", True),
        ("http://127.0.0.1:8080/v1", False),
        ("http://localhost:11434/v1", False),
        ("http://[::1]:8080", False),
    ],
)
def test_a_key_is_required_except_on_this_machine_or_the_local_network(
    no_keyring: None, monkeypatch: pytest.MonkeyPatch, url: str, needed: bool
) -> None:
    monkeypatch.delenv(REF.env, raising=False)
    holder = KeyHolder(REF)
    if not needed:
        assert holder.required(url) is None
        return
    with pytest.raises(MissingKeyError) as raised:
        holder.required(url)
    assert raised.value.code == ErrorCode.MISSING_KEY
    assert str(raised.value) == (
        "no API key for 'wb-test-service' (set one with `workbench key set wb-test-service` or "
        "in Tools ▸ Backends ▸ API key, or set the environment variable WB_TEST_API_KEY)"
    )
    monkeypatch.setenv(REF.env, "sk-test-0123456789abcdef0123")
    assert KeyHolder(REF).required(url) is not None


def test_the_openai_compatible_backend_says_a_key_is_missing_before_sending(
    no_keyring: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """gpt-4o on api.openai.com without a key was reported as 'cannot resolve the host'."""
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    backend = OpenAICompatBackend(OpenAICompatOptions())
    request = RunRequest(
        backend="openai_compat", model="gpt-4o",
        messages=[RenderedMessage(role="user", content="Hi")], params=Params(),
    )
    events, result = stream_all(backend, request)
    assert [e.kind for e in events] == ["failed"]
    assert result.error_kind == ErrorCode.MISSING_KEY
    assert (result.error or "").startswith("no API key for 'openai' (set one with ")
    with pytest.raises(MissingKeyError):
        backend.list_models()
