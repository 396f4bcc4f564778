"""Python tool mocks in the real sandbox (``services.python_eval``): a tool conversation with no
one to answer (``run_tool_conversation``: the CLI's run, evaluations, sweeps) whose mocks compute
their results from the calls' arguments, and every way a mock can fail, said at its line."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from workbench.backends.base import Finished, Started, StreamEvent
from workbench.backends.config import BackendConfig
from workbench.core.experiments import AssertionSpec, ExperimentSpec, TestCase, Variant
from workbench.core.models import Message, PromptTemplate, RenderedMessage, RunRequest
from workbench.core.template_files import dumps, loads
from workbench.core.tools import PythonMock, Tool, ToolCall
from workbench.services.comparison import save_comparison
from workbench.services.evaluation import Evaluation
from workbench.services.grid_runner import GridRunner
from workbench.services.python_eval import MockError, PythonEvaluator
from workbench.services.runner import Runner
from workbench.services.tool_steps import ToolAnswer, python_answer, run_tool_conversation
from workbench.storage.repositories import RunRef, Store

ADD = Tool(name="add", parameters={"type": "object", "properties": {
    "a": {"type": "number"}, "b": {"type": "number"}}},
    mock=PythonMock(python="def mock(args):\n    return {'sum': args['a'] + args['b']}\n"))
SCALE = Tool(name="scale", mock=PythonMock(python=(
    "import math\n"
    "def mock(args, step):\n"
    "    factor = args['by']\n"
    "    return f\"{math.prod([args['value'], factor])} (step {step})\"\n")))
BROKEN = Tool(name="scale", mock=PythonMock(python=(
    "def mock(args):\n"
    "    table = {'x': 1}\n"
    "    return table[args['key']]\n")))
ASKED = Tool(name="ask_user")  # no mock: a person would answer


def call(name: str, arguments: dict[str, object]) -> dict[str, object]:
    return {"tool_call": {"name": name, "arguments": json.dumps(arguments), "pieces": 2}}


CONFIGS = {
    "tooly": BackendConfig(name="tooly", backend="scripted", options={"by_tool_results": [
        [{"text": "Adding."}, call("add", {"a": 2, "b": 3})],
        [call("scale", {"value": 5, "by": 4, "key": "y"})],
        [{"text": "The answer is 20."}],
    ]}),
    "asking": BackendConfig(name="asking", backend="scripted", options={"by_tool_results": [
        [call("add", {"a": 1, "b": 1}), call("ask_user", {"question": "and then?"})],
        [{"text": "never reached"}],
    ]}),
}


@pytest.fixture(scope="module")
def python() -> Iterator[PythonEvaluator]:
    with PythonEvaluator(timeout_s=2.0) as evaluator:
        yield evaluator


def request(backend: str, *tools: Tool) -> RunRequest:
    ask = RenderedMessage(role="user", content="What is (2 + 3) × 4?")
    return RunRequest(backend=backend, messages=[ask], tools=list(tools))


def test_three_steps_answered_by_python_mocks_computed_from_the_arguments_stored_once(
    runner: Runner, store: Store, python: PythonEvaluator
) -> None:
    events: list[StreamEvent] = []
    steps: list[tuple[int, list[ToolAnswer]]] = []
    outcome = run_tool_conversation(
        runner, request("tooly", ADD, SCALE), 5, ref=RunRef(variables={"q": "1"}), python=python,
        on_event=events.append, on_step=lambda step, _r, answers: steps.append((step, answers)))
    result = outcome.result
    assert outcome.status == "ok" and result.text == "The answer is 20."
    sent = result.request.messages
    assert [m.role for m in sent] == ["user", "assistant", "tool", "assistant", "tool"]
    assert [(m.content, m.tool_error) for m in sent if m.role == "tool"] == [
        ('{"sum": 5}', False), ("20 (step 2)", False)]
    assert [a.source for _, answers in steps for a in answers] == ["python", "python"]
    assert [s for s, _ in steps] == [1, 2]
    # One stored run: the last turn carrying the whole conversation's tokens.
    assert store.runs.ids() == [outcome.run_id]
    assert store.runs.get(outcome.run_id or "").ref.variables == {"q": "1"}
    assert result.usage.output_tokens == 2  # the scripted model's text steps: turns 1 and 3
    assert sum(isinstance(e, Started) for e in events) == 1
    [end] = [e for e in events if isinstance(e, Finished)]
    assert end.result == result and isinstance(events[-1], Finished)


def test_a_mock_that_raises_answers_with_the_error_at_its_line_and_the_model_goes_on(
    runner: Runner, python: PythonEvaluator
) -> None:
    outcome = run_tool_conversation(runner, request("tooly", ADD, BROKEN), 5, python=python)
    tool = [m for m in outcome.result.request.messages if m.role == "tool"]
    assert tool[1].tool_error and tool[1].content == (
        "error in the mock of scale, line 3: KeyError: 'y'")
    assert outcome.result.text == "The answer is 20."  # as after a real tool's failure


def test_a_call_no_mock_answers_ends_a_conversation_no_one_can_answer(
    runner: Runner, store: Store, python: PythonEvaluator
) -> None:
    outcome = run_tool_conversation(runner, request("asking", ADD, ASKED), 5, python=python)
    assert outcome.result.finish_reason == "tool_calls"
    assert [c.name for c in outcome.result.tool_calls] == ["add", "ask_user"]
    assert store.runs.count() == 1


def test_max_steps_ends_the_conversation_at_its_last_turn(
    runner: Runner, python: PythonEvaluator
) -> None:
    outcome = run_tool_conversation(runner, request("tooly", ADD, SCALE), 2, python=python)
    assert outcome.result.finish_reason == "tool_calls"
    assert outcome.result.tool_calls[0].name == "scale"  # step 2's call, never answered
    assert [m.content for m in outcome.result.request.messages if m.role == "tool"] == [
        '{"sum": 5}']


def mocked(code: str, arguments: str = '{"city": "Oslo"}', *, timeout_s: float = 2.0) -> ToolAnswer:
    with PythonEvaluator(timeout_s=timeout_s) as evaluator:
        return python_answer(PythonMock(python=code), ToolCall(id="c", name="weather",
                                                                 arguments=arguments), 1, evaluator)


@pytest.mark.parametrize(("code", "line", "says"), [
    ("def mock(args):\n    x = 0\n    return 1 / x\n", 3, "ZeroDivisionError: division by zero"),
    ("import json\n\ndef mock(args):\n    return {1, 2}\n", 3, "mock returned set {1, 2}, which "
     "is not JSON"),
    ("def mock(args):\n    return float('nan')\n", 1, "which is not JSON"),
    ("def mock(args):\n    n = 0\n    while True:\n        n += 1\n", None,
     "TimeoutError: the code ran out of time and was stopped"),
    ("def mock(args):\n    return open('/etc/passwd').read()\n", 2, "NameError"),
    ("import socket\ndef mock(args):\n    return 1\n", 1, "import of 'socket' is not allowed"),
    ("x = 1 / 0\ndef mock(args):\n    return 1\n", 1, "ZeroDivisionError"),
    ("class Odd(Exception):\n    def __str__(self):\n        raise ValueError\n"
     "def mock(args):\n    raise Odd()\n", 5, "Odd: (its message could not be shown)"),
])
def test_each_failure_comes_back_as_an_error_result_at_its_line(
    code: str, line: int | None, says: str
) -> None:
    answer = mocked(code, timeout_s=1.0)
    assert answer.error and says in answer.text
    if line is not None:
        assert answer.line == line and f"line {line}:" in answer.text
    else:  # the loop's line: wherever the alarm found it
        assert answer.line in (3, 4)


def test_a_result_that_is_text_goes_back_as_it_is_anything_else_as_json() -> None:
    assert mocked("def mock(args):\n    return 'sunny in ' + args['city']\n") == ToolAnswer(
        "sunny in Oslo", "python")
    assert mocked("def mock(args):\n    return [args, None, True]\n").text == (
        '[{"city": "Oslo"}, null, true]')


def test_arguments_that_are_not_json_are_said_so_and_the_mock_not_run() -> None:
    answer = mocked("def mock(args):\n    return 1\n", arguments='{"city": ')
    assert answer.error and "arguments of weather are not JSON" in answer.text


def test_a_syntax_error_is_refused_at_its_line_when_the_tool_is_read() -> None:
    with pytest.raises(ValueError, match="line 2: SyntaxError"):
        Tool.model_validate({"name": "t", "mock": {"python": "def mock(args):\n  return (\n"}})
    with pytest.raises(ValueError, match=r"define a function mock\(args\)"):
        Tool.model_validate({"name": "t", "mock": {"python": "x = 1\n"}})
    with PythonEvaluator() as evaluator, pytest.raises(MockError) as caught:
        evaluator.mock("def mock(args):\n    return )\n", {}, 1)  # the sandbox says so too
    assert caught.value.line == 2 and caught.value.text.startswith("SyntaxError")


def test_a_fixed_mock_and_a_python_one_round_trip_through_the_template_file() -> None:
    text = Tool.model_validate({"name": "t", "mock": "21"})
    code = Tool.model_validate({"name": "u", "mock": {"python": "def mock(args):\n  return 1\n"}})
    assert text.mock == "21" and isinstance(code.mock, PythonMock)
    template = PromptTemplate(name="t", messages=[Message(role="user", content="hi")],
                              tools=[text, code])
    written = dumps(template)
    assert "    python: |\n      def mock(args):\n" in written  # readable in the file
    assert loads(written) == template
    assert code.declaration().mock is None  # never sent to a model


def tool_spec(*tests: TestCase) -> ExperimentSpec:
    template = PromptTemplate(name="arith", messages=[
        Message(role="user", content="What is ({{ a }} + 3) × 4?")], tools=[ADD, SCALE])
    return ExperimentSpec(name="arith", variants=[
        Variant(label="tooly", template=template, backend="tooly")], tests=list(tests))


def test_an_evaluation_runs_each_row_s_tool_conversation_on_its_mocks(
    runner: Runner, store: Store
) -> None:
    row = TestCase(vars={"a": "2"}, assertions=[
        AssertionSpec(type="contains", value="20"),
        AssertionSpec(type="contains", value="sum")])  # not in the answer: in a tool result
    evaluation = Evaluation.create(store, tool_spec(row), runner)
    evaluation.run()
    [cell] = evaluation.scorecard().cells.values()
    assert [o.status for _, o in evaluation.detail(cell).outcomes] == ["pass", "fail"]
    [run] = store.runs.for_experiment(evaluation.id)
    assert [m.content for m in run.result.request.messages if m.role == "tool"] == [
        '{"sum": 5}', "20 (step 2)"]


def test_a_sweep_cell_is_the_whole_tool_conversation(runner: Runner, store: Store) -> None:
    events: list[StreamEvent] = []
    stored = save_comparison(store, tool_spec(TestCase(vars={"a": "2"})))
    report = GridRunner(runner, store).run(stored, on_event=lambda _key, e: events.append(e))
    assert report.counts["ok"] == 1
    [run] = store.runs.for_experiment(stored.id)
    assert run.result.text == "The answer is 20." and len(run.result.request.messages) == 5
    assert sum(isinstance(e, Finished) for e in events) == 1


def test_a_mock_that_swallows_the_time_limit_is_still_stopped_and_the_next_call_runs() -> None:
    code = ("def mock(args):\n    n = 0\n    try:\n        while True:\n            n += 1\n"
            "    except BaseException:\n        while True:\n            n += 1\n")
    with PythonEvaluator(timeout_s=1.0) as evaluator:
        with pytest.raises(MockError, match="no result after 1 s; the code was stopped"):
            evaluator.mock(code, {}, 1)
        assert evaluator.mock("def mock(args):\n    return 7\n", {}, 1) == 7
