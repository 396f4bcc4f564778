"""The restricted Python evaluator behind ``python`` assertions.

A user's check never runs in the app's process. A helper interpreter (``sys.executable -I -S``: no
site, no user paths, no environment-driven imports, empty environment, cwd ``/``, its own process
group) forks one fresh child per check; in that child, before the check's code runs:

- OS limits (``services.sandbox_process.GUARD``): CPU seconds (``RLIMIT_CPU``: SIGXCPU, then
  SIGKILL at the hard limit), address space, no files written, no child processes. At the
  wall-clock timeout the parent kills the child (and, if the helper does not answer, the whole
  group), so a check can never outlive it.
- The same module's audit hook (PEP 578): no ``open``, sockets, processes, filesystem changes,
  ctypes, tracing, code-object creation, and no ``import`` outside a small allow-list.
- The check gets its own builtins: no ``open``/``input``/``breakpoint``, and an ``__import__``
  that only knows the allow-list.

A fork costs about a millisecond where a new interpreter costs tens, and each check starts from
the same clean state. Inputs go to the child as JSON (``output``, ``expected``, ``vars``); the
value comes back as JSON: ``True``/``False``, a score in [0, 1], or ``{"pass", "score",
"reason"}`` (see ``interpret``).
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import signal
import threading
import time
import weakref
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from workbench.core.evaluation import Check, EvaluationError
from workbench.core.tools import MOCK_FILE
from workbench.services.sandbox_process import GUARD, HelperProcess, close_all

#: Modules user code may import (pure computation, no I/O).
ALLOWED_MODULES = (
    "re", "math", "json", "string", "collections", "itertools", "functools", "operator",
    "difflib", "unicodedata", "textwrap",
)

# The helper process's program: a pre-warmed interpreter that forks one fresh child per check.
# Everything a check could abuse is set up in that child, after the fork, before its code runs.
_SERVER = r"""
import builtins, json, os, signal, sys
ALLOWED = frozenset(json.loads(sys.argv[1]))
for _name in ALLOWED:
    __import__(_name)
_real_import = builtins.__import__

def _import(name, globals=None, locals=None, fromlist=(), level=0, _allowed=ALLOWED):
    if level or name.split(".")[0] not in _allowed:
        raise ImportError(f"import of '{name}' is not allowed here")
    return _real_import(name, globals, locals, fromlist, level)
""" + GUARD + r"""
HIDDEN = ("open", "input", "breakpoint", "exit", "quit", "help", "copyright", "credits",
          "license", "__import__", "__loader__", "__spec__")

def _check(cfg):
    # In the forked child: limits first, then the hook, then the user's code.
    _limit(cfg["cpu_s"], cfg["memory_bytes"])
    code = cfg["code"]
    env = {k: v for k, v in builtins.__dict__.items() if k not in HIDDEN}
    env["__import__"] = _import
    context = cfg.get("context") or {"vars": cfg["vars"], "expected": cfg["expected"]}
    scope = {"__builtins__": env, "output": cfg["output"], "expected": cfg["expected"],
             "vars": cfg["vars"], "context": context}
    try:
        compiled = compile(code, "<assertion>", "eval")
        is_expr = True
    except SyntaxError:
        body = "\n".join("    " + line for line in code.splitlines()) or "    pass"
        compiled = compile("def __check__(output, expected, vars, context):\n" + body,
                           "<assertion>", "exec")
        is_expr = False
    sys.addaudithook(_hook)
    if is_expr:
        return eval(compiled, scope)
    exec(compiled, scope)
    return scope["__check__"](scope["output"], scope["expected"], scope["vars"],
                              scope["context"])

class _Alarm(BaseException):  # not caught by the code's own 'except Exception'
    pass

def _on_alarm(signum, frame):
    raise _Alarm()

def _mock(cfg):
    # A tool's mock: the code defines mock(args[, step]); its value must be JSON. A wall-clock
    # alarm just before the parent's timeout raises where the code is, to say at which line it
    # was (the parent's kill stays the guarantee).
    _limit(cfg["cpu_s"], cfg["memory_bytes"])
    env = {k: v for k, v in builtins.__dict__.items() if k not in HIDDEN}
    env["__import__"] = _import
    scope = {"__builtins__": env, "__name__": "mock"}
    compiled = compile(cfg["code"], cfg["file"], "exec")
    signal.signal(signal.SIGALRM, _on_alarm)
    signal.signal(signal.SIGXCPU, _on_alarm)
    signal.setitimer(signal.ITIMER_REAL, cfg["alarm_s"])
    sys.addaudithook(_hook)
    exec(compiled, scope)
    function = scope.get("mock")
    if not callable(function):
        raise NameError("define a function mock(args) that returns the tool's result")
    code = getattr(function, "__code__", None)
    takes_step = code is not None and (code.co_argcount >= 2 or code.co_flags & 0x04)
    value = function(cfg["args"], cfg["step"]) if takes_step else function(cfg["args"])
    if not isinstance(value, str):
        try:
            json.dumps(value, allow_nan=False)
        except (TypeError, ValueError):
            err = TypeError(f"mock returned {type(value).__name__} {value!r:.80}, which is "
                            "not JSON: return text, or dicts, lists, numbers, booleans and None")
            err.mock_line = code.co_firstlineno if code is not None else None
            raise err from None
    signal.setitimer(signal.ITIMER_REAL, 0)
    return value

def _line(err, file):
    # The line of the user's code where ``err`` was raised (its innermost frame there).
    if isinstance(err, SyntaxError) and err.filename == file:
        return err.lineno
    line, tb = getattr(err, "mock_line", None), err.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == file:
            line = tb.tb_lineno
        tb = tb.tb_next
    return line

def _describe(err):
    if isinstance(err, _Alarm):
        return "TimeoutError: the code ran out of time and was stopped"
    if isinstance(err, SyntaxError):
        return f"SyntaxError: {err.msg}"
    if isinstance(err, MemoryError):
        return "MemoryError: the code used more memory than allowed"
    try:
        return f"{type(err).__name__}: {err}"
    except Exception:  # the code's own exception whose message itself raises
        return f"{type(err).__name__}: (its message could not be shown)"

def _write_all(fd, data):
    while data:
        data = data[os.write(fd, data):]

requests, replies = sys.stdin.buffer, sys.stdout.buffer
while True:
    line = requests.readline()
    if not line:
        break
    cfg = json.loads(line)
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read_end)
        # Nothing the check prints, even with os.write(1, ...), may reach the reply stream.
        _null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(_null, 1)
        os.dup2(_null, 2)
        sys.stdout = sys.stderr = open(_null, "w", closefd=False)
        mocking = cfg.get("kind") == "mock"
        try:
            text = json.dumps({"ok": True, "value": (_mock if mocking else _check)(cfg)})
        except BaseException as err:
            failure = {"ok": False, "error": _describe(err) if mocking else
                       f"{type(err).__name__}: {err}"}
            if mocking:
                signal.setitimer(signal.ITIMER_REAL, 0)
                failure["line"] = _line(err, cfg["file"])
            text = json.dumps(failure)
        _write_all(write_end, text.encode())
        os._exit(0)
    os.close(write_end)
    replies.write(json.dumps({"started": pid}).encode() + b"\n")
    replies.flush()
    chunks = []
    while chunk := os.read(read_end, 65536):
        chunks.append(chunk)
    os.close(read_end)
    _, status = os.waitpid(pid, 0)
    body = b"".join(chunks)
    reply = {"ok": None, "pid": pid, "signal": None, "exit": None}
    if os.WIFSIGNALED(status):
        reply["signal"] = os.WTERMSIG(status)
    elif body:
        reply = {**json.loads(body), "pid": pid}
    else:
        reply["exit"] = os.WEXITSTATUS(status)
    replies.write(json.dumps(reply).encode() + b"\n")
    replies.flush()
"""


class MockError(Exception):
    """A tool's Python mock gave no result: why, and the line of its code (None: unknown)."""

    def __init__(self, text: str, line: int | None = None) -> None:
        super().__init__(f"line {line}: {text}" if line is not None else text)
        self.text = text
        self.line = line


@dataclass(frozen=True)
class RunReport:
    """What one check did: its JSON answer (``None`` if it died or timed out), the signal that
    ended it, and the pid of the process it ran in (for tests)."""

    answer: dict[str, Any] | None
    signal: int | None
    pid: int
    timed_out: bool
    detail: str = ""


class PythonEvaluator:
    """Runs ``python`` assertion code in restricted child processes; usable as ``ctx.python``.

    A helper interpreter (``-I -S``, allowed modules pre-imported) starts on first use and forks
    one child per check, so a check costs a fork (about a millisecond) instead of an interpreter
    start, and no check sees another's state. Checks run one at a time per evaluator. Call
    ``close()`` (or use it as a context manager) to stop the helper; it also stops by itself when
    this process exits (its input closes).
    """

    def __init__(self, *, timeout_s: float = 5.0, cpu_s: int = 2,
                 memory_bytes: int = 512 * 1024 * 1024) -> None:
        self.timeout_s = timeout_s
        self.cpu_s = cpu_s
        self.memory_bytes = memory_bytes
        self._lock = threading.Lock()
        self._server: HelperProcess | None = None
        # The helper is also stopped when the evaluator is garbage-collected or at exit.
        self._started: list[HelperProcess] = []
        weakref.finalize(self, close_all, self._started)

    def __enter__(self) -> PythonEvaluator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        with self._lock:
            server, self._server = self._server, None
        if server is not None:
            server.close()

    def run(self, code: str, *, output: Any, expected: str | None,
            vars: Mapping[str, Any], context: Mapping[str, Any] | None = None) -> RunReport:
        """Run ``code`` once in a fresh child; at the timeout the child is killed. ``output`` is
        any JSON value (a transform's input may be one); ``context`` replaces the default
        ``{"vars", "expected"}``."""
        config = {
            "code": code, "output": output, "expected": expected, "vars": dict(vars),
            "context": dict(context) if context is not None else None,
        }
        return self._exchange(config)

    def mock(self, code: str, args: Any, step: int) -> Any:
        """What a tool's Python mock returns for a call (``args``: its parsed arguments;
        ``step``: the model turn that made it), or ``MockError`` saying why there is none,
        at the line of ``code`` where it happened when there is one."""
        alarm_s = max(self.timeout_s - 0.25, self.timeout_s * 0.8)
        report = self._exchange({"kind": "mock", "code": code, "file": MOCK_FILE, "args": args,
                                 "step": step, "alarm_s": alarm_s})
        if report.timed_out:
            raise MockError(f"TimeoutError: no result after {self.timeout_s:g} s; the code "
                            "was stopped")
        if report.answer is None:
            raise MockError(f"the code died ({_death(report)})")
        if not report.answer.get("ok"):
            line = report.answer.get("line")
            raise MockError(str(report.answer.get("error", "failed")),
                            line if isinstance(line, int) else None)
        return report.answer.get("value")

    def _exchange(self, config: dict[str, Any]) -> RunReport:
        """Send ``config`` (with this evaluator's limits) to a fresh child and wait for it."""
        config = {**config, "cpu_s": self.cpu_s, "memory_bytes": self.memory_bytes}
        with self._lock:
            if self._server is None or self._server.proc.poll() is not None:
                self._server = HelperProcess(_SERVER, [json.dumps(ALLOWED_MODULES)])
                self._started[:] = [self._server]
            server = self._server
            deadline = time.monotonic() + self.timeout_s
            server.send(config)
            started = server.receive(time.monotonic() + max(self.timeout_s, 10.0))
            if started is None:  # the helper itself failed: start afresh next time
                self._server = None
                server.close()
                return RunReport(None, None, server.proc.pid, False, "the helper did not start")
            pid = int(started["started"])
            reply = server.receive(deadline)
            if reply is not None:
                return _report(reply, pid)
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            reply = server.receive(time.monotonic() + 10.0)  # the helper reaps it and says so
            if reply is None:
                self._server = None
                server.close()
            return RunReport(None, signal.SIGKILL, pid, True)

    def __call__(self, code: str, *, output: str, expected: str | None,
                 vars: Mapping[str, Any]) -> Check:
        return interpret(self.value(code, output=output, expected=expected, vars=vars))

    def value(self, code: str, *, output: Any, expected: str | None, vars: Mapping[str, Any],
              context: Mapping[str, Any] | None = None) -> Any:
        """What ``code`` returned (a JSON value), or ``EvaluationError`` saying why there is
        none (the code raised, timed out or died)."""
        report = self.run(code, output=output, expected=expected, vars=vars, context=context)
        if report.timed_out:
            raise EvaluationError(f"python: timed out after {self.timeout_s:g} s; "
                                  "the check was stopped")
        if report.answer is None:
            raise EvaluationError(f"python: the check died ({_death(report)})")
        if not report.answer.get("ok"):
            raise EvaluationError(f"python: {report.answer.get('error', 'failed')}")
        return report.answer.get("value")


def _report(reply: dict[str, Any], pid: int) -> RunReport:
    if reply.get("ok") is None:
        return RunReport(None, reply.get("signal"), pid, False,
                         f"exit status {reply.get('exit')}")
    return RunReport(reply, None, pid, False)


def _death(report: RunReport) -> str:
    if report.signal is not None:
        name = signal.Signals(report.signal).name
        if report.signal in (signal.SIGXCPU, signal.SIGKILL):
            return f"{name}: it used up its CPU time limit"
        return f"killed by {name}"
    return report.detail or "no answer"


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
