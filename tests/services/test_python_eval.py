"""The restricted Python evaluator: results, and isolation (no files, no sockets, no processes,
no outliving its timeout), each escape tried for real in the child."""

from __future__ import annotations

import gc
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from workbench.core.evaluation import AssertionContext, EvaluationError, evaluate_one
from workbench.core.experiments import AssertionSpec, TestCase
from workbench.services.python_eval import PythonEvaluator, interpret

EVAL = PythonEvaluator(timeout_s=10)


@pytest.fixture(scope="module", autouse=True)
def _stop_the_shared_helper() -> Iterator[None]:
    yield
    EVAL.close()
# Reaches the import machinery's globals without importing anything (the classic sandbox escape
# through object's subclasses): they hold the posix module (as _os), _io and sys.
BOOT = ("[c for c in ().__class__.__base__.__subclasses__() "
        "if c.__name__ == 'FileLoader'][0].__init__.__globals__")
POSIX = f"{BOOT}['_os']"


def _run(code: str, output: str = "Paris is the capital.") -> dict[str, object]:
    report = EVAL.run(code, output=output, expected="Paris", vars={"city": "Paris"})
    assert report.answer is not None, report
    report.answer.pop("pid")
    return report.answer


def test_expression_sees_output_expected_and_vars() -> None:
    assert _run("expected in output and vars['city'] == 'Paris'") == {"ok": True, "value": True}
    assert _run("context['vars']['city'] in output") == {"ok": True, "value": True}


def test_function_body_with_allowed_import() -> None:
    answer = _run("import re\nm = re.search(r'capital', output)\n"
                  "return {'pass': m is not None, 'score': 0.75, 'reason': 'found capital'}")
    assert answer == {"ok": True, "value": {"pass": True, "score": 0.75,
                                            "reason": "found capital"}}


def test_as_an_assertion_pass_fail_score_and_threshold() -> None:
    ctx = AssertionContext(output="Paris", test=TestCase(expected="Paris"), python=EVAL)
    passed = evaluate_one(AssertionSpec(type="python", value="output == expected"), ctx)
    assert (passed.status, passed.score) == ("pass", 1.0)
    failed = evaluate_one(AssertionSpec(type="python", value="output == 'Rome'"), ctx)
    assert failed.status == "fail"
    scored = AssertionSpec(type="python", value="0.4", threshold=0.5)
    assert evaluate_one(scored, ctx).status == "fail"
    assert evaluate_one(scored.model_copy(update={"threshold": 0.3}), ctx).status == "pass"
    negated = evaluate_one(AssertionSpec(type="not-python", value="output == 'Rome'"), ctx)
    assert negated.status == "pass"


def test_without_an_evaluator_it_is_an_error_not_a_fail() -> None:
    outcome = evaluate_one(AssertionSpec(type="python", value="True"),
                           AssertionContext(output="x"))
    assert outcome.status == "error" and "restricted evaluator" in outcome.reason


def test_user_exceptions_and_bad_values_are_errors() -> None:
    ctx = AssertionContext(output="x", python=EVAL)
    assert evaluate_one(AssertionSpec(type="python", value="1/0"), ctx).status == "error"
    bad = evaluate_one(AssertionSpec(type="python", value="'yes'"), ctx)
    assert bad.status == "error" and "return True/False" in bad.reason
    assert evaluate_one(AssertionSpec(type="python", value="2.5"), ctx).status == "error"
    syntax = evaluate_one(AssertionSpec(type="python", value="return (("), ctx)
    assert syntax.status == "error" and "SyntaxError" in syntax.reason
    file_ref = evaluate_one(AssertionSpec(type="python", value="file://check.py"), ctx)
    assert file_ref.status == "error" and "file reference" in file_ref.reason


def test_interpret_conventions() -> None:
    assert interpret(True).passed is True
    assert (interpret(0.0).passed, interpret(0.0).score) == (False, 0.0)
    assert interpret({"pass": False, "reason": "nope"}).reason == "nope"
    with pytest.raises(EvaluationError):
        interpret({"score": 1})


def test_printing_cannot_disturb_the_reply() -> None:
    fake_reply = '{"ok": true, "value": false}'
    code = f"print({fake_reply!r})\n{POSIX}.write(1, b'junk' + bytes([10]))\nreturn 0.5"
    assert _run(code) == {"ok": True, "value": 0.5}
    assert _run("output") == {"ok": True, "value": "Paris is the capital."}  # still in step


def test_cannot_open_files(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("top secret", encoding="utf-8")
    assert "NameError" in str(_run(f"open({str(secret)!r}).read()")["error"])
    # Through posix.open and _io.open, reached without an import: the audit hook refuses them.
    answer = _run(f"{POSIX}.open({str(secret)!r}, 0)")
    assert answer["ok"] is False and "'open' is blocked" in str(answer["error"])
    target = tmp_path / "written.txt"
    answer = _run(f"{BOOT}['_io'].open({str(target)!r}, 'w').write('x')")
    assert answer["ok"] is False and "'open' is blocked" in str(answer["error"])
    assert not target.exists()


def test_cannot_import_or_use_sockets_or_processes() -> None:
    for code in ("__import__('socket')", "import socket\nreturn 1", "import os\nreturn 1",
                 "import subprocess\nreturn 1", "import ctypes\nreturn 1",
                 "import _socket\nreturn 1", "import http.client\nreturn 1"):
        answer = _run(code)
        assert answer["ok"] is False and "not allowed" in str(answer["error"]), code
    answer = _run(f"{POSIX}.system('echo escaped')")
    assert answer["ok"] is False and "'os.system' is blocked" in str(answer["error"])
    answer = _run(f"{POSIX}.fork()")
    assert answer["ok"] is False and "'os.fork' is blocked" in str(answer["error"])
    answer = _run(f"{POSIX}.listdir('/')")
    assert answer["ok"] is False and "blocked" in str(answer["error"])
    # Importing through the real import machinery is refused by the audit hook too.
    answer = _run(f"{BOOT}['sys'].modules['builtins'].__import__('socket')")
    assert answer["ok"] is False and "is blocked" in str(answer["error"])


def test_rebinding_the_runners_globals_does_not_widen_the_allow_list() -> None:
    runner_globals = "__import__.__globals__"
    answer = _run(f"g = {runner_globals}\n"
                  "g['ALLOWED'] = frozenset({'socket', 'os'})\n"
                  "g['BLOCKED'] = ()\n"
                  "return g['sys'].modules['builtins'].__import__('socket') is not None")
    assert answer["ok"] is False and "import of 'socket' is blocked" in str(answer["error"])
    answer = _run(f"h = {runner_globals}['_hook']\nh.__defaults__ = (frozenset({{'socket'}}), ())"
                  "\nreturn 1")
    assert answer["ok"] is False and "object.__setattr__" in str(answer["error"])
    answer = _run(f"{runner_globals}['_hook'].__code__ = (lambda e, a: None).__code__\nreturn 1")
    assert answer["ok"] is False and "object.__setattr__" in str(answer["error"])


def test_cannot_outlive_its_timeout_and_is_killed() -> None:
    with PythonEvaluator(timeout_s=0.5, cpu_s=60) as evaluator:
        report = evaluator.run("while True: pass", output="", expected=None, vars={})
        assert report.timed_out and report.answer is None
        assert not os.path.exists(f"/proc/{report.pid}")  # killed and reaped
        outcome = evaluate_one(AssertionSpec(type="python", value="while True: pass"),
                               AssertionContext(output="", python=evaluator))
        assert outcome.status == "error" and "timed out" in outcome.reason
        # The evaluator carries on with the next check.
        after = evaluator.run("output * 2", output="ab", expected=None, vars={})
        assert after.answer == {"ok": True, "value": "abab", "pid": after.pid}


def test_cpu_limit_stops_a_busy_loop_inside_the_child() -> None:
    with PythonEvaluator(timeout_s=30, cpu_s=1) as evaluator:
        report = evaluator.run("while True: pass", output="", expected=None, vars={})
        assert not report.timed_out and report.signal is not None  # SIGXCPU or SIGKILL
        assert not os.path.exists(f"/proc/{report.pid}")
        with pytest.raises(EvaluationError, match="CPU time limit"):
            evaluator("while True: pass", output="", expected=None, vars={})


def test_every_check_runs_in_a_fresh_child_with_clean_state() -> None:
    first = EVAL.run("import re\nre.search = None\nreturn 1", output="", expected=None,
                     vars={})
    second = EVAL.run("import re\nreturn re.search('a', 'a') is not None", output="",
                      expected=None, vars={})
    assert first.answer is not None and first.answer["ok"] is True
    assert second.answer is not None
    assert second.answer["value"] is True  # the first check's tampering did not carry over
    assert first.pid != second.pid


def test_close_stops_the_helper() -> None:
    evaluator = PythonEvaluator()
    evaluator.run("1", output="", expected=None, vars={})
    server = evaluator._server
    assert server is not None and server.proc.poll() is None
    evaluator.close()
    assert server.proc.poll() is not None  # exited and reaped
    dropped = PythonEvaluator()
    dropped.run("1", output="", expected=None, vars={})
    helper = dropped._server
    assert helper is not None
    del dropped, server, evaluator
    gc.collect()
    assert helper.proc.poll() is not None  # an evaluator that is dropped stops its helper


def test_memory_limit() -> None:
    answer = _run("len('a' * (4 * 1024 ** 3))")
    assert answer["ok"] is False and "MemoryError" in str(answer["error"])
