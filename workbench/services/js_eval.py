"""The sandboxed JavaScript evaluator behind ``javascript`` assertions and transforms.

The engine is QuickJS (the ``quickjs-ng`` package): measured against V8 (``mini-racer``) it
starts a fresh context in ~0.1 ms instead of ~2 ms, adds ~3 MB instead of ~56 MB, installs as an
8 MB wheel instead of 82 MB, enforces its memory limit in its allocator (the context stays
usable) and has no host APIs at all (no ``require``, ``process``, ``fetch``, timers or WebAssembly;
``import()`` is refused: no module loader is installed). ``console`` is a set of no-ops, since
promptfoo's example checks log.

A user's code never runs in the app's process. One long-lived worker (``services.sandbox_process``:
isolated interpreter, empty environment, cwd ``/``, own process group, OS limits on address space,
file size and processes, and the audit hook refusing files, sockets, processes and imports) runs
many calls, each in a fresh QuickJS context with QuickJS's own time and memory limits. The parent
waits at most ``timeout_s`` of wall-clock time per call; past it the worker's whole group is
killed and the next call starts a new one. Calls run one at a time per evaluator.

Errors: a syntax error is an ``EvaluationError`` naming the line and column in the code as
written (the assertion is misconfigured); an exception the code throws is a *failed* check with
the message as its reason (promptfoo's rule); running out of time or memory is an error saying so.
"""

from __future__ import annotations

import json
import os
import threading
import time
import weakref
from collections.abc import Mapping
from typing import Any

from workbench.core.evaluation import Check, EvaluationError
from workbench.core.experiments import ScriptFile
from workbench.core.js_source import Body, assertion_body, commonjs, interpret, transform_body
from workbench.services.sandbox_process import GUARD, HelperProcess, close_all

# The worker: imports the engine from the folder given as argv[1] (``-S`` has no site-packages),
# limits its address space to argv[2] bytes, installs the audit hook (no imports at all from then
# on), then answers one JSON request per line.
_WORKER = r"""
import json, sys
sys.path.insert(0, sys.argv[1])
import _quickjs
del sys.path[0]
ALLOWED = frozenset()
""" + GUARD + r"""
_limit(None, int(sys.argv[2]))
sys.addaudithook(_hook)

HARNESS = '''(function () {
  // promptfoo's checks often log; here that goes nowhere (no I/O exists).
  const quiet = () => undefined;
  globalThis.console = {log: quiet, info: quiet, warn: quiet, error: quiet, debug: quiet};
  function describe(v) {
    const t = v === null ? "null" : Array.isArray(v) ? "array" : typeof v;
    if (t === "number" && !Number.isFinite(v)) return JSON.stringify({t: String(v)});
    if (t === "undefined" || t === "function" || t === "symbol" || t === "bigint")
      return JSON.stringify({t: t});
    return JSON.stringify({t: t, v: v});
  }
  return function (fn, name, output, context) {
    if (name !== null) {
      const m = fn;
      if (name && Object.prototype.hasOwnProperty.call(m, name) && typeof m[name] === "function")
        fn = m[name];
      else if (typeof m === "function") fn = m;
      else if (m && typeof m.default === "function") fn = m.default;
      else throw new Error("the file must export a function" + (name ? ` named '${name}'` : "")
                           + " (module.exports = ..., or exports." + (name || "default") + ")");
    }
    const r = fn(output, context, undefined);
    if (r !== null && typeof r === "object" && typeof r.then === "function") {
      globalThis.__settled = null;
      r.then(v => { globalThis.__settled = describe(v); },
             e => { globalThis.__settled = {error: e}; });
      return null;
    }
    return describe(r);
  };
})()'''

POSITION = __import__("re").compile(r"<input>:(\d+):(\d+)")

def _error(kind, err, phase_offset=0):
    text = str(err).strip()
    message = text.split("\n", 1)[0]
    line = column = None
    found = POSITION.search(text)
    if found and kind == "syntax":
        line, column = int(found.group(1)) - phase_offset, int(found.group(2))
    if message.startswith("InternalError: interrupted"):
        kind = "timeout"
    elif "out of memory" in message:
        kind = "memory"
    return {"ok": False, "kind": kind, "message": message, "line": line, "column": column}

def _run(req):
    ctx = _quickjs.Context()
    ctx.set_memory_limit(req["memory_bytes"])
    ctx.set_time_limit(req["cpu_s"])
    try:
        run = ctx.eval(HARNESS)
        fn = ctx.eval(req["program"])
    except _quickjs.JSException as err:
        return _error("syntax", err, 1)
    try:
        described = run(fn, req["function"], ctx.parse_json(req["output"]),
                        ctx.parse_json(req["context"]))
        if described is None:
            while ctx.execute_pending_job():
                pass
            settled = ctx.get("__settled")
            if settled is None:
                return {"ok": False, "kind": "runtime", "message":
                        "the returned promise never settled", "line": None, "column": None}
            if not isinstance(settled, str):
                raise _quickjs.JSException(str(settled.get("error")))
            described = settled
    except (_quickjs.JSException, _quickjs.StackOverflow) as err:
        return _error("runtime", err)
    return {"ok": True, "result": json.loads(described)}

requests, replies = sys.stdin.buffer, sys.stdout.buffer
while True:
    line = requests.readline()
    if not line:
        break
    try:
        reply = _run(json.loads(line))
    except MemoryError:
        reply = {"ok": False, "kind": "memory", "message": "out of memory", "line": None,
                 "column": None}
    replies.write(json.dumps(reply).encode() + b"\n")
    replies.flush()
"""

_MODULE_OPEN = "(function () { const module = {exports: {}}; let exports = module.exports;\n"
_MODULE_CLOSE = "\n;return module.exports; })()"


def _engine_folder() -> str:
    """Where the engine's extension module is installed (the worker runs without site)."""
    try:
        import _quickjs  # the quickjs-ng package's C extension
    except ImportError:
        raise EvaluationError(
            "javascript: the QuickJS engine is not installed",
            hint="reinstall Prompt Workbench, or 'pip install quickjs-ng' into its environment",
        ) from None
    return os.path.dirname(os.path.abspath(_quickjs.__file__))


class JavaScriptEvaluator:
    """Runs JavaScript assertions and transforms in a sandboxed worker; usable as
    ``ctx.javascript``. Call ``close()`` (or use it as a context manager) to stop the worker; it
    also stops when this process exits (its input closes)."""

    def __init__(self, *, timeout_s: float = 5.0, cpu_s: float = 2.0,
                 memory_bytes: int = 256 * 1024 * 1024) -> None:
        self.timeout_s = timeout_s
        self.cpu_s = cpu_s
        self.memory_bytes = memory_bytes
        self._lock = threading.Lock()
        self._worker: HelperProcess | None = None
        self._started: list[HelperProcess] = []
        weakref.finalize(self, close_all, self._started)

    def __enter__(self) -> JavaScriptEvaluator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        with self._lock:
            worker, self._worker = self._worker, None
        if worker is not None:
            worker.close()

    @property
    def worker_pid(self) -> int | None:
        """The worker's process id while it runs (for tests and the memory benchmark)."""
        worker = self._worker
        return worker.proc.pid if worker is not None and worker.alive else None

    def _start(self) -> HelperProcess:
        # The worker's address space: the engine's budget plus room for the interpreter itself.
        limit = self.memory_bytes + 256 * 1024 * 1024
        worker = HelperProcess(_WORKER, [_engine_folder(), str(limit)])
        self._started[:] = [worker]
        return worker

    def run(self, program: str, *, function: str | None, output: Any,
            context: Mapping[str, Any]) -> dict[str, Any]:
        """Evaluate ``program`` (a function expression, or a module's exports when ``function``
        is not None) and call it with ``output`` and ``context``; the worker's answer, or a
        timeout/death answer of the same shape."""
        request = {
            "program": program, "function": function,
            "output": json.dumps(output), "context": json.dumps(dict(context)),
            "cpu_s": self.cpu_s, "memory_bytes": self.memory_bytes,
        }
        with self._lock:
            if self._worker is None or not self._worker.alive:
                self._worker = self._start()
            worker = self._worker
            try:
                worker.send(request)
            except OSError:  # it died since the last call: once more on a new one
                worker.close()
                self._worker = worker = self._start()
                worker.send(request)
            reply = worker.receive(time.monotonic() + self.timeout_s)
            if reply is None:  # out of time, or died: never reuse it
                timed_out = worker.alive
                self._worker = None
                worker.close()
                if timed_out:
                    return {"ok": False, "kind": "timeout", "message":
                            f"timed out after {self.timeout_s:g} s; the worker was stopped"}
                return {"ok": False, "kind": "died", "message": "the JavaScript worker died"}
            return reply

    def _call(self, code: str | ScriptFile, body: Body | None, output: Any,
              context: Mapping[str, Any]) -> Any:
        """The code's result (JS ``undefined`` etc. as ``{"__js_type__": ...}``), raising
        ``_Thrown`` for an exception the code threw and ``EvaluationError`` otherwise."""
        if isinstance(code, ScriptFile):
            program = _MODULE_OPEN + commonjs(code.source) + _MODULE_CLOSE
            answer = self.run(program, function=code.function or "", output=output,
                              context=context)
            where = code.path
        else:
            assert body is not None
            program = "(function (output, context, process) {\n" + body.text + "\n})"
            answer = self.run(program, function=None, output=output, context=context)
            where = ""
        if answer.get("ok"):
            result = answer["result"]
            if "v" in result:
                return result["v"]
            return {"__js_type__": result["t"]}
        kind, message = answer.get("kind"), str(answer.get("message", "failed"))
        if kind == "runtime":
            raise _Thrown(message)
        if kind == "syntax":
            line, column = answer.get("line"), answer.get("column")
            if isinstance(line, int) and isinstance(column, int):
                if body is not None:
                    line, column = body.user_position(line, column)
                message += f" ({where}:{line}:{column})" if where else \
                    f" (line {line}, column {column})"
            raise EvaluationError(f"javascript: {message}")
        if kind == "memory":
            limit = self.memory_bytes // (1024 * 1024)
            raise EvaluationError(
                f"javascript: out of memory (the limit is {limit} MB); the check was stopped"
            )
        if kind == "timeout" and "worker was stopped" not in message:
            message = f"timed out after {self.cpu_s:g} s of CPU time; the check was stopped"
        raise EvaluationError(f"javascript: {message}")

    def check(self, code: str | ScriptFile, *, output: Any, context: Mapping[str, Any],
              threshold: float | None) -> Check:
        """Run a ``javascript`` assertion: promptfoo's verdict on its result; an exception the
        code throws fails the check with its message."""
        body = None if isinstance(code, ScriptFile) else assertion_body(code)
        try:
            value = self._call(code, body, output, context)
        except _Thrown as thrown:
            return Check(False, 0.0, f"the JavaScript threw {thrown}")
        try:
            return interpret(value, threshold)
        except EvaluationError as err:  # depends on the output: a failed check, as in promptfoo
            return Check(False, 0.0, str(err).removeprefix("javascript: "))

    def transform(self, code: str | ScriptFile, *, output: Any,
                  context: Mapping[str, Any]) -> Any:
        """Run a transform; its result (any JSON value) becomes the output."""
        body = None if isinstance(code, ScriptFile) else transform_body(code)
        try:
            value = self._call(code, body, output, context)
        except _Thrown as thrown:
            raise EvaluationError(f"transform failed: {thrown}") from None
        if value is None or (isinstance(value, dict) and "__js_type__" in value):
            kind = "null" if value is None else value["__js_type__"]
            raise EvaluationError(f"transform failed: it returned {kind}, not a value")
        return value


class _Thrown(Exception):
    """The user's code threw (its message, e.g. ``Error: boom``)."""
