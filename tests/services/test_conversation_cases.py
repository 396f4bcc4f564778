"""Conversation rows of our own suites: fixed turns and a simulated user, on scripted backends."""

from __future__ import annotations

from pathlib import Path

import pytest

from workbench.backends.config import BackendConfig
from workbench.backends.scripted import ScriptedBackend
from workbench.services.evaluation import Evaluation
from workbench.services.runner import Runner
from workbench.services.suites import SuiteError, load_suite
from workbench.storage.repositories import Store


def scripted(name: str, text: str) -> BackendConfig:
    return BackendConfig(name=name, backend="scripted", options={"script": [{"text": text}]})


CONFIGS = {
    "agent": scripted("agent", "Sorry to hear that. Your refund is approved."),
    "customer": scripted("customer", "  It still does not work, I want my money back.  "),
    "satisfied": scripted("satisfied", "Great, thanks! [DONE]"),
    "down": BackendConfig(
        name="down", backend="scripted", options={"script": [{"error": "refused"}]}
    ),
}

VARIANTS = """
variants:
  - label: support
    backend: agent
    template: support.prompt.yaml
"""
TEMPLATE = """format_version: 1
name: support
messages:
- role: system
  content: You are the support desk of {{ shop }}.
"""


def _run(
    tmp_path: Path, store: Store, runner: Runner, tests: str, template: str = TEMPLATE
) -> Evaluation:
    (tmp_path / "support.prompt.yaml").write_text(template)
    (tmp_path / "suite.yaml").write_text(VARIANTS + "tests:\n" + tests)
    evaluation = Evaluation.create(store, load_suite(tmp_path / "suite.yaml").spec, runner)
    evaluation.run()
    return evaluation


def _requests(runner: Runner, name: str) -> list[list[tuple[str, str]]]:
    backend = runner.backend(name)
    assert isinstance(backend, ScriptedBackend)
    return [[(m.role, m.content) for m in r.messages] for r in backend.requests]


def test_a_simulated_user_talks_for_max_turns_and_sees_every_reply(
    tmp_path: Path, store: Store, runner: Runner
) -> None:
    evaluation = _run(
        tmp_path,
        store,
        runner,
        """
  - vars: {shop: Kettles Inc}
    conversation:
      simulated_user:
        persona: a customer whose kettle from {{ shop }} broke
        goal: a refund
        backend: customer
      max_turns: 3
      turn_assert: [{type: icontains, value: refund}]
    assert: [{type: contains, value: "user: It still does not work"}]
""",
    )
    [cell] = evaluation.scorecard().cells.values()
    assert cell.status == "pass"
    assert [a.label for a in cell.assertions] == ["contains", "each turn: icontains"]
    agent = _requests(runner, "agent")
    assert [len(r) for r in agent] == [2, 4, 6]  # system + (user, assistant) per earlier turn
    reply = "Sorry to hear that. Your refund is approved."
    assert agent[-1] == [
        ("system", "You are the support desk of Kettles Inc."),
        *[("user", "It still does not work, I want my money back."), ("assistant", reply)] * 2,
        ("user", "It still does not work, I want my money back."),
    ]
    customer = _requests(runner, "customer")
    assert len(customer) == 3
    first, last = customer[0][0][1], customer[-1][0][1]
    assert "kettle from Kettles Inc broke" in first and "has not started" in first
    assert "[DONE]" in first and "You are the support desk" not in last  # no system prompt
    assert last.count(f"assistant: {reply}") == 2  # the user saw both earlier replies
    detail = evaluation.detail(cell)
    assert [m.role for m in detail.transcript] == ["system", *["user", "assistant"] * 3]
    assert detail.output == reply
    stored = store.runs.get(cell.run_id or "")  # one stored run, holding the whole transcript
    assert store.runs.ids(experiment_id=evaluation.id) == [cell.run_id]
    assert stored.result.usage.output_tokens == 6  # three replies and three user turns


def test_the_simulated_user_stops_with_its_stop_phrase(
    tmp_path: Path, store: Store, runner: Runner
) -> None:
    tests = """
  - vars: {shop: K, product: kettle}
    conversation:
      simulated_user: {persona: a happy customer, backend: satisfied}
      max_turns: 5
"""
    # The variant's last message is the user's first turn; the user is then satisfied.
    opener = TEMPLATE + "- role: user\n  content: Hi, my {{ product }} broke.\n"
    evaluation = _run(tmp_path, store, runner, tests, opener)
    assert len(_requests(runner, "agent")) == 1 and len(_requests(runner, "satisfied")) == 1
    cell = next(iter(evaluation.run().cells.values()))
    assert cell.status == "pass"
    transcript = evaluation.detail(cell).transcript
    assert [(m.role, m.content) for m in transcript[1:]] == [
        ("user", "Hi, my kettle broke."),
        ("assistant", "Sorry to hear that. Your refund is approved."),
    ]


def test_a_simulated_user_that_stops_before_any_reply_is_an_error(
    tmp_path: Path, store: Store, runner: Runner
) -> None:
    tests = """
  - vars: {shop: K}
    conversation:
      simulated_user: {persona: a happy customer, backend: satisfied}
"""
    evaluation = _run(tmp_path, store, runner, tests)  # no opener: the user opens, and stops
    cell = next(iter(evaluation.run().cells.values()))
    detail = evaluation.detail(cell)
    assert cell.status == "error" and "before its first reply" in (detail.error or "")
    assert _requests(runner, "agent") == []


def test_the_conversation_ends_when_stop_when_passes_on_a_reply(
    tmp_path: Path, store: Store, runner: Runner
) -> None:
    evaluation = _run(
        tmp_path,
        store,
        runner,
        """
  - vars: {shop: K}
    conversation:
      simulated_user: {persona: a customer, backend: customer}
      max_turns: 5
      stop_when: [{type: icontains, value: approved}]
""",
    )
    assert len(_requests(runner, "agent")) == 1 and len(_requests(runner, "customer")) == 1
    [cell] = evaluation.run().cells.values()  # finished: read back, not run again
    assert len(_requests(runner, "agent")) == 1
    assert [m.role for m in evaluation.detail(cell).transcript] == ["system", "user", "assistant"]


def test_fixed_turns_with_per_turn_checks_then_a_failing_simulated_user(
    tmp_path: Path, store: Store, runner: Runner
) -> None:
    evaluation = _run(
        tmp_path,
        store,
        runner,
        """
  - vars: {shop: K, item: kettle}
    conversation:
      turns:
        - My {{ item }} broke.
        - content: Can I get a refund?
          assert: [{type: icontains, value: refund}, {type: icontains, value: voucher}]
        - content: A third turn that is never reached
          assert: [{type: contains, value: x}]
      max_turns: 2
  - vars: {shop: K}
    conversation:
      turns: [Hello]
      simulated_user: {persona: a customer, backend: down}
  - vars: {shop: K}
    conversation:
      turns: ["Hello {{ nobody }}"]
""",
    )
    cells = sorted(evaluation.scorecard().cells.values(), key=lambda c: c.test)
    labels = [(a.label, a.status) for a in cells[0].assertions]
    assert labels == [
        ("turn 2: icontains", "pass"),
        ("turn 2: icontains", "fail"),
        ("turn 3: contains", "fail"),  # max_turns 2: the conversation ended before it
    ]
    assert [u for r in _requests(runner, "agent")[:2] for role, u in r if role == "user"][-2:] == [
        "My kettle broke.",
        "Can I get a refund?",
    ]
    # The simulated user's backend fails after the fixed turn: an error, the reply kept.
    detail = evaluation.detail(cells[1])
    assert cells[1].status == "error" and "simulated user failed" in (detail.error or "")
    assert [m.role for m in detail.transcript] == ["system", "user", "assistant"]
    # A turn that does not render is an error cell; the other rows ran.
    assert cells[2].status == "error" and "nobody" in (evaluation.detail(cells[2]).error or "")


def test_a_conversation_with_no_users_or_an_unknown_check_is_refused(tmp_path: Path) -> None:
    (tmp_path / "support.prompt.yaml").write_text(TEMPLATE)
    for body, message in (
        ("    conversation: {max_turns: 3}\n", "needs 'turns', a 'simulated_user'"),
        ("    conversation: {turns: [hi], turn_assert: [{type: nosuch}]}\n", "nosuch"),
        ("    conversation: {turns: [hi], max_turn: 3}\n", "max_turn"),
    ):
        (tmp_path / "suite.yaml").write_text(VARIANTS + "tests:\n  - vars: {shop: K}\n" + body)
        with pytest.raises(SuiteError, match=message):
            load_suite(tmp_path / "suite.yaml")
