"""JavaScript assertions and transforms on the real engine (QuickJS in the sandboxed worker):
promptfoo's semantics, errors with positions, and the sandbox (no host APIs, no files, no
outliving its time or memory budget, and the suite goes on)."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.waiting import wait_until
from workbench.core.evaluation import AssertionContext, evaluate, evaluate_one
from workbench.core.experiments import AssertionSpec, ScriptFile, TestCase
from workbench.services.js_eval import JavaScriptEvaluator
from workbench.services.python_eval import PythonEvaluator

JS = JavaScriptEvaluator()
PY = PythonEvaluator(timeout_s=10)


@pytest.fixture(scope="module", autouse=True)
def _stop_the_workers() -> Iterator[None]:
    yield
    JS.close()
    PY.close()


def js(value: Any, **kw: Any) -> AssertionSpec:
    return AssertionSpec(type="javascript", value=value, **kw)


def ctx(output: str = "Paris is the capital of France.", **kw: Any) -> AssertionContext:
    test = kw.pop("test", TestCase(vars={"city": "Paris", "n": "3"}))
    return AssertionContext(output=output, test=test, prompt="Capital of France?",
                            javascript=JS, python=PY, **kw)


def outcome(spec: AssertionSpec, context: AssertionContext | None = None) -> tuple[str, Any]:
    got = evaluate_one(spec, context or ctx())
    return got.status, got.score


@pytest.mark.parametrize(
    ("value", "extra", "expected"),
    [
        ("output.includes('Paris')", {}, ("pass", 1.0)),  # an expression
        ("output.includes('Rome')", {}, ("fail", 0.0)),
        ("output.includes(context.vars.city)", {}, ("pass", 1.0)),  # context.vars
        ("context.prompt === 'Capital of France?' && context.test.vars.n === '3'", {},
         ("pass", 1.0)),
        ("typeof context.logProbs === 'undefined'", {}, ("pass", 1.0)),  # not known here
        ("output.includes('{{ city }}')", {}, ("pass", 1.0)),  # vars rendered, as promptfoo does
        ("const words = output.split(' '); words.length > 3", {}, ("pass", 1.0)),
        ("let s = output; s === 'a;b'", {}, ("fail", 0.0)),  # ';' in a string is not the split
        ("const n = output.length;\nif (n > 10) {\n  return true;\n}\nreturn false;\n", {},
         ("pass", 1.0)),  # a function body
        ("output.length / 100", {}, ("pass", 0.31)),  # a number without threshold: > 0 passes
        ("0", {}, ("fail", 0.0)),
        ("-2", {}, ("fail", 0.0)),
        ("output.length / 100", {"threshold": 0.5}, ("fail", 0.31)),  # score >= threshold
        ("output.length / 100", {"threshold": 0.3}, ("pass", 0.31)),
        ("5", {"threshold": 4}, ("pass", 1.0)),  # raw numbers above 1 compare as they are
        ("({pass: true, score: 0.25, reason: 'ok'})", {}, ("pass", 0.25)),  # a GradingResult
        ("({pass: false, score: 0.9, reason: 'no'})", {"threshold": 0.5}, ("fail", 0.9)),
        ("const ok = output.length > 3;\nreturn {pass: ok, score: 0.5, reason: 'long enough'}\n",
         {}, ("pass", 0.5)),
        ("output.includes('Rome')", {"negate": True}, ("pass", 1.0)),  # not-javascript
    ],
)
def test_promptfoo_semantics(value: str, extra: dict[str, Any],
                             expected: tuple[str, float]) -> None:
    status, score = outcome(js(value, **extra))
    assert (status, round(score, 2)) == expected


def test_reasons_say_what_was_returned() -> None:
    graded = evaluate_one(js("({pass: false, score: 0, reason: 'too short'})"), ctx())
    assert graded.reason == "too short"
    number = evaluate_one(js("0.2", threshold=0.5), ctx())
    assert "0.2" in number.reason and "threshold 0.5" in number.reason


def test_an_exception_fails_the_check_with_its_message_and_the_rest_goes_on() -> None:
    specs = [js("null.x"), js("JSON.parse(output).ok"), js("output.length > 0"),
             js("undefined")]
    got = evaluate(specs, ctx())
    assert [o.status for o in got] == ["fail", "fail", "pass", "fail"]
    assert "TypeError" in got[0].reason and "null" in got[0].reason
    assert "SyntaxError" in got[1].reason  # a runtime SyntaxError (JSON.parse) is a throw
    assert "returned undefined" in got[3].reason


def test_a_syntax_error_names_line_and_column_in_the_assertion() -> None:
    one_line = evaluate_one(js("output.includes('a' +)"), ctx())
    assert one_line.status == "error"
    assert "SyntaxError" in one_line.reason and "line 1, column 22" in one_line.reason
    body = evaluate_one(js("const n = output.length;\nreturn n >;\n"), ctx())
    assert body.status == "error" and "line 2, column 11" in body.reason


def test_no_host_apis_no_modules_no_files() -> None:
    absent = ("[typeof require, typeof process, typeof fetch, typeof XMLHttpRequest, "
              "typeof module, typeof exports, typeof setTimeout, typeof WebAssembly, "
              "typeof std, typeof os].every(t => t === 'undefined')")
    assert outcome(js(absent))[0] == "pass"
    for escape in ("require('fs').readFileSync('/etc/passwd')",
                   "process.mainModule.require('child_process')",
                   "fetch('http://127.0.0.1/')",
                   "new XMLHttpRequest()"):
        got = evaluate_one(js(escape), ctx())
        assert got.status == "fail", escape
        assert "is not defined" in got.reason or "of undefined" in got.reason
    # import() has no module loader behind it: a file that exists is not read.
    loaded = evaluate_one(js("const file = '/etc/hostname';\nreturn import(file).then(() => true, "
                             "e => ({pass: false, reason: String(e)}));\n"), ctx())
    assert loaded.status == "fail" and "could not load module" in loaded.reason
    static = evaluate_one(js("import fs from 'fs'\nreturn true\n"), ctx())
    assert static.status == "error" and "SyntaxError" in static.reason


def test_an_infinite_loop_is_stopped_and_the_suite_goes_on() -> None:
    specs = [js("let i = 0;\nwhile (true) { i++; }\n"), js("output.includes('Paris')")]
    got = evaluate(specs, ctx())
    assert got[0].status == "error" and "timed out" in got[0].reason
    assert got[1].status == "pass"


def test_a_1_gb_allocation_is_stopped_and_the_suite_goes_on() -> None:
    specs = [js("const a = new ArrayBuffer(1024 * 1024 * 1024);\nreturn a.byteLength > 0;\n"),
             js("const chunks = [];\nwhile (true) chunks.push(new Array(1e6).fill(1.5));\n"),
             js("output.includes('Paris')")]
    got = evaluate(specs, ctx())
    assert [o.status for o in got] == ["error", "error", "pass"]
    assert all("out of memory" in o.reason for o in got[:2])


def test_a_wall_clock_overrun_kills_the_worker_and_the_next_call_gets_a_new_one() -> None:
    slow = JavaScriptEvaluator(timeout_s=0.5, cpu_s=30)  # the engine would wait; the clock won't
    try:
        assert slow.check("true", output="", context={}, threshold=None).passed
        first = slow.worker_pid
        assert first is not None
        got = evaluate_one(js("let i = 0;\nfor (;;) { i++; }\n"),
                           AssertionContext(output="", javascript=slow))
        assert got.status == "error" and "worker was stopped" in got.reason
        with pytest.raises(ProcessLookupError):
            os.kill(first, 0)
        assert slow.check("1 + 1 === 2", output="", context={}, threshold=None).passed
        assert slow.worker_pid not in (None, first)
    finally:
        slow.close()


def test_each_call_gets_a_fresh_context() -> None:
    got = evaluate([js("globalThis.leak = 1;\nreturn true;\n"),
                    js("typeof globalThis.leak === 'undefined'")], ctx())
    assert [o.status for o in got] == ["pass", "pass"]


def test_file_assertions_commonjs_es_exports_named_functions_and_promises() -> None:
    def file(source: str, function: str | None = None) -> AssertionSpec:
        return js(ScriptFile(path="checks/a.js", language="javascript", source=source,
                             function=function).model_dump())

    assert outcome(file("module.exports = (output, context) => "
                        "output.includes(context.vars.city);\n"))[0] == "pass"
    named = "exports.short = (o) => o.length < 5;\nexports.long = (o) => o.length > 5;\n"
    assert outcome(file(named, "short"))[0] == "fail"
    assert outcome(file(named, "long"))[0] == "pass"
    esm = "export function grade(output) {\n  return {pass: true, score: 0.5, reason: 'r'};\n}\n"
    assert outcome(file(esm, "grade")) == ("pass", 0.5)
    assert outcome(file("export default async (output) => output.length > 3;\n"))[0] == "pass"
    broken = evaluate_one(file("module.exports = (o) => {\n  return o +;\n};\n"), ctx())
    assert broken.status == "error" and "checks/a.js:2:" in broken.reason
    missing = evaluate_one(file("exports.other = 1;\n", "nothing"), ctx())
    assert missing.status == "fail" and "must export a function" in missing.reason


def test_transforms_test_level_then_per_assertion() -> None:
    test = TestCase(vars={"city": "Paris"}, transform="output.toUpperCase()")
    specs = [
        js("output === 'PARIS IS NICE'"),  # sees the test's transform
        js("output === 'PARIS'", transform="output.split(' ')[0]"),  # then its own
        AssertionSpec(type="equals", value="PARIS IS NICE"),  # other kinds see it too
        js("output.length === 3", transform="output.split(' ')"),  # a list stays a list
        AssertionSpec(type="contains", value='["PARIS",', transform="output.split(' ')"),
    ]
    got = evaluate(specs, ctx("Paris is nice", test=test))
    assert [o.status for o in got] == ["pass"] * 5


def test_transforms_see_vars_and_prompt_and_may_be_function_bodies() -> None:
    test = TestCase(vars={"city": "Paris"},
                    transform="const o = JSON.parse(output);\nreturn o.answer + '@' + "
                              "context.vars.city + '@' + context.prompt.raw;\n")
    got = evaluate([AssertionSpec(type="equals", value="yes@Paris@Capital of France?")],
                   ctx('{"answer": "yes"}', test=test))
    assert got[0].status == "pass", got[0].reason


def test_a_failing_transform_is_an_error_for_its_assertions_only() -> None:
    test = TestCase(transform="JSON.parse(output)")
    row = evaluate([js("true"), AssertionSpec(type="contains", value="x")],
                   ctx("not json", test=test))
    assert [o.status for o in row] == ["error", "error"]
    assert "transform failed" in row[0].reason
    own = evaluate([js("true", transform="undefined"), js("true")], ctx())
    assert [o.status for o in own] == ["error", "pass"]


def test_python_file_transforms_run_in_the_restricted_python_evaluator() -> None:
    source = "import json\n\ndef get_transform(output, context):\n" \
             "    return json.loads(output)['answer'] + context['vars']['city']\n"
    test = TestCase(vars={"city": "Paris"}, transform=ScriptFile(
        path="t.py", language="python", source=source))
    got = evaluate([AssertionSpec(type="equals", value="yesParis")],
                   ctx('{"answer": "yes"}', test=test))
    assert got[0].status == "pass", got[0].reason
    sneaky = TestCase(transform=ScriptFile(
        path="t.py", language="python", function="grab",
        source="def grab(output, context):\n    return open('/etc/passwd').read()\n"))
    denied = evaluate([AssertionSpec(type="contains", value="root")], ctx("x", test=sneaky))
    assert denied[0].status == "error" and "'open' is not defined" in denied[0].reason


def test_the_worker_runs_under_os_limits() -> None:
    """The process-level backstop behind the engine's own limits: no files written, a bounded
    address space, in its own session with an empty environment."""
    assert JS.check("true", output="", context={}, threshold=None).passed
    pid = JS.worker_pid
    assert pid is not None
    table = Path(f"/proc/{pid}/limits").read_text().splitlines()[1:]
    limits = {line[:26].strip(): line[26:].split() for line in table}
    assert limits["Max file size"][:2] == ["0", "0"]
    assert limits["Max processes"][:2] == ["0", "0"]
    assert int(limits["Max address space"][0]) == JS.memory_bytes + 256 * 1024 * 1024
    assert os.getsid(pid) == pid  # its own session and process group: killed as a whole
    assert Path(f"/proc/{pid}/environ").read_bytes() == b""


def test_a_worker_that_died_between_checks_is_replaced() -> None:
    assert JS.check("true", output="", context={}, threshold=None).passed
    dead = JS.worker_pid
    assert dead is not None
    os.kill(dead, signal.SIGKILL)
    stat = Path(f"/proc/{dead}/stat")
    # until it is gone (or a zombie its parent has not reaped yet)
    wait_until(lambda: not stat.exists() or stat.read_text().rsplit(")", 1)[1].split()[0] == "Z")
    got = evaluate([js("output === 'x'")], AssertionContext(output="x", javascript=JS))
    assert got[0].status == "pass" and JS.worker_pid not in (None, dead)
