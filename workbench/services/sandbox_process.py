"""The separate, resource-limited helper processes that run users' checks (Python and JavaScript).

Both evaluators (``services.python_eval``, ``services.js_eval``) start a helper the same way: an
isolated interpreter (``sys.executable -I -S``: no site, no user paths, no environment-driven
imports), an empty environment, cwd ``/``, its own process group (so a kill takes everything it
started), speaking one JSON line each way per message. Inside the helper, ``GUARD`` (source code,
prefixed to each helper's program) gives:

- ``_limit(cpu_s, memory_bytes)``: OS limits on CPU seconds (``RLIMIT_CPU``; ``None`` leaves it),
  address space (``RLIMIT_AS``), no files written (``RLIMIT_FSIZE`` 0) and no child processes
  (``RLIMIT_NPROC`` 0).
- ``_hook``: an audit hook (PEP 578) that refuses every ``open``, all ``socket.*`` events,
  process creation, filesystem changes, ctypes, frame/tracing access, code-object creation,
  changing function code or defaults, limit changes, and ``import`` of anything outside the
  program's ``ALLOWED`` set.

The parent enforces the wall clock: ``receive`` waits until a deadline, and ``close`` kills the
whole group.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from typing import Any

# Defined in each helper after its imports and after it sets ``ALLOWED`` (a frozenset of module
# names a check may import). The hook's state is bound as default arguments: user code that
# reaches the program's globals and rebinds them changes nothing here, and replacing a function's
# defaults or code raises "object.__setattr__", which the hook refuses.
GUARD = r"""
import resource as _resource

BLOCKED = ("open", "socket.", "subprocess.", "os.system", "os.exec", "os.spawn", "os.posix_spawn",
           "os.fork", "os.forkpty", "os.kill", "os.killpg", "os.remove", "os.rename", "os.rmdir",
           "os.mkdir", "os.chmod", "os.chown", "os.symlink", "os.link", "os.truncate",
           "os.listdir", "os.scandir", "os.chdir", "os.putenv", "os.unsetenv", "shutil.",
           "ctypes.", "sys._getframe", "sys.settrace", "sys.setprofile", "sys.addaudithook",
           "code.__new__", "function.__new__", "object.__setattr__", "object.__delattr__",
           "resource.setrlimit", "resource.prlimit", "pty.", "signal.", "webbrowser.",
           "urllib.", "http.", "ftplib.", "smtplib.", "glob.", "tempfile.", "sqlite3.",
           "marshal.", "pickle.", "winreg.", "mmap.", "syslog.")

def _hook(event, args, _allowed=ALLOWED, _blocked=BLOCKED):
    if event == "import":
        if args[0].split(".")[0] not in _allowed:
            raise PermissionError(f"import of '{args[0]}' is blocked")
    elif event.startswith(_blocked):
        raise PermissionError(f"'{event}' is blocked in this sandbox")

def _limit(cpu_s, memory_bytes, _setrlimit=_resource.setrlimit, _r=_resource):
    if cpu_s is not None:
        _setrlimit(_r.RLIMIT_CPU, (cpu_s, cpu_s + 1))
    _setrlimit(_r.RLIMIT_AS, (memory_bytes, memory_bytes))
    _setrlimit(_r.RLIMIT_FSIZE, (0, 0))
    _setrlimit(_r.RLIMIT_NPROC, (0, 0))
"""


class HelperProcess:
    """A helper interpreter running ``program`` (``GUARD`` is for the program to include),
    speaking one JSON line each way per message."""

    def __init__(self, program: str, args: Sequence[str] = ()) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-I", "-S", "-c", program, *args],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            cwd="/", env={}, start_new_session=True,
        )
        assert self.proc.stdout is not None
        self._fd = self.proc.stdout.fileno()
        self._buffer = b""

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None

    def send(self, message: Mapping[str, Any]) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(message).encode() + b"\n")
        self.proc.stdin.flush()

    def receive(self, deadline: float) -> dict[str, Any] | None:
        """The next message, or ``None`` at the deadline (``time.monotonic()``) or if the helper
        is gone."""
        while b"\n" not in self._buffer:
            wait = deadline - time.monotonic()
            if wait <= 0:
                return None
            ready, _, _ = select.select([self._fd], [], [], wait)
            if not ready:
                return None
            chunk = os.read(self._fd, 65536)
            if not chunk:
                return None
            self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        try:
            message = json.loads(line)
        except ValueError:
            return None  # not our protocol: treated as a broken helper
        return message if isinstance(message, dict) else None

    def close(self) -> None:
        """Stop the helper and everything it started."""
        with contextlib.suppress(OSError, ValueError):
            if self.proc.stdin is not None:
                self.proc.stdin.close()
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()
        if self.proc.stdout is not None:
            self.proc.stdout.close()


def close_all(helpers: list[HelperProcess]) -> None:
    """Stop every helper in the list (a ``weakref.finalize`` callback of their owner)."""
    for helper in helpers:
        helper.close()
