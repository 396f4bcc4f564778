"""The drill-down of a conversation row shows its transcript; a one-turn row has no such tab."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from workbench.backends.config import BackendConfig
from workbench.core.conversation_case import with_conversation
from workbench.core.experiments import ExperimentSpec, TestCase, Variant
from workbench.core.models import Message, PromptTemplate
from workbench.services.evaluation import Evaluation
from workbench.services.runner import Runner
from workbench.storage.repositories import Store
from workbench.storage.writer import StoreWriter
from workbench.ui.evaluation.scorecard_view import ScorecardView

SUPPORT = PromptTemplate(
    name="support",
    messages=[
        Message(role="system", content="You are a support desk."),
        Message(role="user", content="{{ question }}"),
    ],
)


def test_a_conversation_cell_opens_on_its_transcript(qtbot: QtBot, tmp_path: Path) -> None:
    configs = {
        "agent": BackendConfig(
            name="agent", backend="scripted", options={"script": [{"text": "Happy to help."}]}
        )
    }
    rows = [
        with_conversation(TestCase(vars={"question": "Hi"}), {"turns": ["And then?"]}),
        TestCase(vars={"question": "Just one question"}),
    ]
    spec = ExperimentSpec(
        name="support", variants=[Variant(template=SUPPORT, backend="agent")], tests=rows
    )
    with Store.open(tmp_path / "eval.db") as store, StoreWriter(store) as writer:
        runner = Runner(writer=writer, configs=configs)
        try:
            evaluation = Evaluation.create(store, spec, runner)
            card = evaluation.run()
            view = ScorecardView()
            qtbot.addWidget(view)
            view.set_scorecard(card, rows=["conversation", "one turn"], details=evaluation.detail)
            view.show()
            qtbot.waitExposed(view)
            drill = view.drill
            for row, tabs in ((0, 3), (1, 2), (0, 3)):
                rect = view.grid.visualItemRect(view.grid.item(row, 0))
                with qtbot.waitSignal(view.cellOpened, timeout=5000):
                    qtbot.mouseClick(
                        view.grid.viewport(), Qt.MouseButton.LeftButton, pos=rect.center()
                    )
                assert drill.tabs.count() == tabs
            assert drill.tabs.tabText(2) == "Transcript"
            assert drill.transcript.toPlainText() == (
                "── system ──\nYou are a support desk.\n\n── user ──\nHi\n\n"
                "── assistant ──\nHappy to help.\n\n── user ──\nAnd then?\n\n"
                "── assistant ──\nHappy to help."
            )
        finally:
            runner.close()
