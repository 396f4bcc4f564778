"""The restricted Python evaluator behind ``python`` assertions.

A user's check runs in a fresh child interpreter (``sys.executable -I -S``: no site, no user
paths, no environment-driven imports), never in the app's process. Layers, each enough to stop the
common escapes and together hard to get around:

- OS limits set in the child before any user code: CPU seconds (``RLIMIT_CPU``: SIGXCPU, then
  SIGKILL at the hard limit), address space (``RLIMIT_AS``), no files written (``RLIMIT_FSIZE`` 0),
  no child processes (``RLIMIT_NPROC`` 0); the parent kills the whole process group at the
  wall-clock timeout, so the check can never outlive it.
- An audit hook (PEP 578) installed before the user code runs refuses every ``open`` (files are
  neither read nor written), all ``socket.*`` events, process creation and ``os.system``,
  filesystem changes, ctypes, ``sys._getframe``/tracing, code-object creation, changing function
  code, limit changes, and ``import`` of anything outside a small allow-list.
- The user code gets its own builtins: no ``open``/``input``/``breakpoint``, and an ``__import__``
  that only knows the allow-list.

Inputs arrive as JSON on stdin (``output``, ``expected``, ``vars``); the value comes back as JSON
on stdout: ``True``/``False``, a score in [0, 1], or ``{"pass", "score", "reason"}``.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import signal
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from workbench.core.evaluation import Check, EvaluationError

#: Modules user code may import (pure computation, no I/O).
ALLOWED_MODULES = (
    "re", "math", "json", "string", "collections", "itertools", "functools", "operator",
    "difflib", "unicodedata", "textwrap",
)

# The child's program. It must not use anything the hook refuses once the hook is in place.
_RUNNER = r"""
import json, resource, sys
cfg = json.loads(sys.stdin.readline())
cpu, mem = cfg["cpu_s"], cfg["memory_bytes"]
resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
resource.setrlimit(resource.RLIMIT_AS, (mem, mem))
resource.setrlimit(resource.RLIMIT_FSIZE, (0, 0))
resource.setrlimit(resource.RLIMIT_NPROC, (0, 0))
ALLOWED = frozenset(cfg["allowed"])
for _name in ALLOWED:
    __import__(_name)
import builtins
_real_import = builtins.__import__

def _import(name, globals=None, locals=None, fromlist=(), level=0, _allowed=ALLOWED):
    if level or name.split(".")[0] not in _allowed:
        raise ImportError(f"import of '{name}' is not allowed here")
    return _real_import(name, globals, locals, fromlist, level)

BLOCKED = ("open", "socket.", "subprocess.", "os.system", "os.exec", "os.spawn", "os.posix_spawn",
           "os.fork", "os.forkpty", "os.kill", "os.killpg", "os.remove", "os.rename", "os.rmdir",
           "os.mkdir", "os.chmod", "os.chown", "os.symlink", "os.link", "os.truncate",
           "os.listdir", "os.scandir", "os.chdir", "os.putenv", "os.unsetenv", "shutil.",
           "ctypes.", "sys._getframe", "sys.settrace", "sys.setprofile", "sys.addaudithook",
           "code.__new__", "function.__new__", "object.__setattr__", "object.__delattr__",
           "resource.setrlimit", "resource.prlimit", "pty.", "signal.", "webbrowser.",
           "urllib.", "http.", "ftplib.", "smtplib.", "glob.", "tempfile.", "sqlite3.",
           "marshal.", "pickle.", "winreg.", "mmap.", "syslog.")

# The hook's state is bound as default arguments: user code can reach this module's globals
# (through _import.__globals__) but rebinding them changes nothing here, and replacing a
# function's defaults or code raises "object.__setattr__", which the hook refuses.
def _hook(event, args, _allowed=ALLOWED, _blocked=BLOCKED):
    if event == "import":
        if args[0].split(".")[0] not in _allowed:
            raise PermissionError(f"import of '{args[0]}' is blocked")
    elif event.startswith(_blocked):
        raise PermissionError(f"'{event}' is blocked in python assertions")

code = cfg["code"]
env = {name: builtins.__dict__[name] for name in builtins.__dict__
       if name not in ("open", "input", "breakpoint", "exit", "quit", "help", "copyright",
                       "credits", "license", "__import__", "__loader__", "__spec__")}
env["__import__"] = _import
scope = {"__builtins__": env, "output": cfg["output"], "expected": cfg["expected"],
         "vars": cfg["vars"], "context": {"vars": cfg["vars"], "expected": cfg["expected"]}}
try:
    compiled = compile(code, "<assertion>", "eval")
    is_expr = True
except SyntaxError:
    body = "\n".join("    " + line for line in code.splitlines()) or "    pass"
    compiled = compile("def __check__(output, expected, vars, context):\n" + body,
                       "<assertion>", "exec")
    is_expr = False
out = sys.stdout
sys.addaudithook(_hook)
try:
    if is_expr:
        value = eval(compiled, scope)
    else:
        exec(compiled, scope)
        value = scope["__check__"](scope["output"], scope["expected"], scope["vars"],
                                   scope["context"])
    text = json.dumps({"ok": True, "value": value})
except BaseException as err:
    text = json.dumps({"ok": False, "error": f"{type(err).__name__}: {err}"})
out.write(text + "\n")
out.flush()
"""


@dataclass(frozen=True)
class RunReport:
    """What the child did: its JSON answer (or ``None``), exit status and pid (for tests)."""

    answer: dict[str, Any] | None
    returncode: int | None
    pid: int
    timed_out: bool
    stderr: str


class PythonEvaluator:
    """Runs ``python`` assertion code in a restricted child; usable as ``ctx.python``."""

    def __init__(self, *, timeout_s: float = 5.0, cpu_s: int = 2,
                 memory_bytes: int = 512 * 1024 * 1024) -> None:
        self.timeout_s = timeout_s
        self.cpu_s = cpu_s
        self.memory_bytes = memory_bytes

    def run(self, code: str, *, output: str, expected: str | None,
            vars: Mapping[str, Any]) -> RunReport:
        """Run ``code`` once; the child is killed (its whole group) at the timeout."""
        config = {
            "code": code, "output": output, "expected": expected, "vars": dict(vars),
            "cpu_s": self.cpu_s, "memory_bytes": self.memory_bytes,
            "allowed": list(ALLOWED_MODULES),
        }
        proc = subprocess.Popen(
            [sys.executable, "-I", "-S", "-c", _RUNNER],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            cwd="/", env={}, start_new_session=True, text=True, encoding="utf-8",
        )
        timed_out = False
        try:
            stdout, stderr = proc.communicate(json.dumps(config) + "\n", timeout=self.timeout_s)
        except subprocess.TimeoutExpired:
            timed_out = True
            _kill_group(proc)
            stdout, stderr = proc.communicate()
        answer = None
        lines = stdout.strip().splitlines()
        if lines and not timed_out:
            try:
                answer = json.loads(lines[-1])
            except ValueError:
                answer = None
        return RunReport(answer, proc.returncode, proc.pid, timed_out, stderr[-2000:])

    def __call__(self, code: str, *, output: str, expected: str | None,
                 vars: Mapping[str, Any]) -> Check:
        report = self.run(code, output=output, expected=expected, vars=vars)
        if report.timed_out:
            raise EvaluationError(f"python: timed out after {self.timeout_s:g} s; "
                                  "the check was stopped")
        if report.answer is None:
            raise EvaluationError(f"python: the check died ({_death(report)})")
        if not report.answer.get("ok"):
            raise EvaluationError(f"python: {report.answer.get('error', 'failed')}")
        return interpret(report.answer.get("value"))


def _kill_group(proc: subprocess.Popen[str]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)


def _death(report: RunReport) -> str:
    code = report.returncode
    if code is not None and code < 0:
        name = signal.Signals(-code).name
        if -code == signal.SIGXCPU or -code == signal.SIGKILL:
            return f"{name}: it used up its CPU time limit"
        return f"killed by {name}"
    tail = report.stderr.strip().splitlines()[-1:] or ["no output"]
    return f"exit status {code}: {tail[0]}"


def _score(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise EvaluationError(f"python: a score must be a number in [0, 1], got {value!r}")
    if not 0.0 <= value <= 1.0:
        raise EvaluationError(f"python: a score must be within [0, 1], got {value!r}")
    return float(value)


def interpret(value: Any) -> Check:
    """The check's return value as a ``Check`` (promptfoo's python-assertion conventions)."""
    if isinstance(value, bool):
        return Check(value, reason=f"returned {value}")
    if isinstance(value, (int, float)):
        score = _score(value)
        return Check(score > 0, score, f"returned score {score:g}")
    if isinstance(value, dict) and isinstance(value.get("pass"), bool):
        passed = value["pass"]
        given = _score(value["score"]) if value.get("score") is not None else None
        reason = str(value.get("reason") or f"returned pass={passed}")
        return Check(passed, given, reason)
    raise EvaluationError(
        f"python: return True/False, a score in [0, 1] or {{'pass': bool, 'score': ..., "
        f"'reason': ...}}; got {value!r}"[:300]
    )
