"""Tool calls in the playground's output view: each call shown as it streams (its arguments
pretty-printed once they parse), answered by the tool's fixed mock at once, by its Python mock
run in the sandbox off the GUI thread, or by a result the user types into the call's Reply
field; when every call of a turn is answered the next turn runs, up to the template's
``max_tool_steps`` turns (``services.tool_steps``). A Python mock's error is the call's result,
shown in the error colour with an "Edit mock" button that opens the tool's code at its line."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QFontDatabase
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from workbench.backends.base import ToolCallDelta
from workbench.core.errors import KnownError
from workbench.core.models import PromptTemplate, RunRequest, SentRequest
from workbench.core.outcome import RunOutcome
from workbench.core.tools import PythonMock, ToolCall, mock_for, pretty_json
from workbench.services.tool_steps import ToolAnswer, mock_evaluator, next_turn, python_answer
from workbench.storage.repositories import RunRef
from workbench.ui import theming
from workbench.ui.background import TaskRunner, TaskWorker
from workbench.ui.workers import RunWorker

if TYPE_CHECKING:
    from workbench.ui.main_window import MainWindow


class ToolCallBlock(QFrame):
    """One call: its tool's name, its arguments, and its result (a mock, or Reply + Send)."""

    answered = Signal()
    #: "Edit mock" under a Python mock's error: the ``ToolCall`` and its failed ``ToolAnswer``.
    editMock = Signal(object, object)

    def __init__(self, step: int, name: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setAccessibleName(f"Tool call {name}")
        self.call: ToolCall | None = None  # once complete
        self.result: ToolAnswer | None = None
        self._arguments = ""
        self.title = QLabel(f"Step {step} · calls <b>{name}</b>", self)
        self.arguments = QLabel(self)
        self.arguments.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.arguments.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.outcome = QLabel(self)
        self.outcome.setWordWrap(True)
        self.outcome.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.outcome.hide()
        self.edit_mock = QPushButton("Edit mock", self)
        self.edit_mock.setToolTip(f"Open the Python mock of {name} at the line of the error")
        self.edit_mock.clicked.connect(lambda: self.editMock.emit(self.call, self.result))
        self.edit_mock.hide()
        self.reply = QLineEdit(self)
        self.reply.setPlaceholderText(f"Result of {name} (sent back to the model)")
        self.reply.setAccessibleName(f"Reply to {name}")
        self.send = QPushButton("Send", self)
        self.send.setToolTip("Send this result to the model as the tool's answer")
        self.send.clicked.connect(self._send)
        self.reply.returnPressed.connect(self._send)
        row = QHBoxLayout()
        row.addWidget(self.reply, 1)
        row.addWidget(self.send)
        self._reply_row = QWidget(self)
        self._reply_row.setLayout(row)
        self._reply_row.hide()
        layout = QVBoxLayout(self)
        layout.addWidget(self.title)
        layout.addWidget(self.arguments)
        layout.addWidget(self.outcome)
        layout.addWidget(self.edit_mock, 0, Qt.AlignmentFlag.AlignLeft)
        layout.addWidget(self._reply_row)

    def add_arguments(self, piece: str) -> None:
        self._arguments += piece
        self.arguments.setText(pretty_json(self._arguments))

    def complete(self, call: ToolCall) -> None:
        """The call as the model finished it."""
        self.call = call
        self.arguments.setText(call.pretty_arguments())

    def ask(self, call: ToolCall) -> None:
        """The call is complete and no mock answers it: wait for the person's reply."""
        self.complete(call)
        self._reply_row.show()
        self.reply.setFocus()

    def running(self, call: ToolCall) -> None:
        """The call is complete and its Python mock is running."""
        self.complete(call)
        self.outcome.setText("running the Python mock…")
        self.outcome.show()

    def stop(self, why: str) -> None:
        """No result will be asked for (the turn failed, or the step limit was reached)."""
        self._reply_row.hide()
        self.outcome.setText(why)
        self.outcome.show()

    def _send(self) -> None:
        if self.result is None:
            self.give(ToolAnswer(self.reply.text(), "you"))

    def give(self, answer: ToolAnswer) -> None:
        """``answer`` is the call's result: shown, and the turn told."""
        self.result = answer
        self._reply_row.hide()
        source = {"mock": "mock", "python": "Python mock", "you": "you"}[answer.source]
        self.outcome.setText(f"→ {answer.text} ({source})")
        color = theming.status_color("error").name() if answer.error else ""
        self.outcome.setStyleSheet(f"color: {color}" if color else "")
        self.outcome.show()
        self.edit_mock.setVisible(answer.error)
        self.answered.emit()


class ToolCallsView(QScrollArea):
    """The calls of a tool conversation, step by step, under the output."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAccessibleName("Tool calls")
        self.setWidgetResizable(True)
        self.setMinimumHeight(140)
        body = QWidget(self)
        self._layout = QVBoxLayout(body)
        self.note = QLabel(body)  # how the conversation ended, under its last call
        self.note.setWordWrap(True)
        self.note.hide()
        self._layout.addWidget(self.note)
        self._layout.addStretch(1)
        self.setWidget(body)
        self.blocks: list[ToolCallBlock] = []
        # The newest call, its Reply field and the closing note are at the bottom: follow them
        # as the transcript grows, as the output follows its text.
        bar = self.verticalScrollBar()
        bar.rangeChanged.connect(lambda _low, high: bar.setValue(high))
        self.hide()

    def clear(self) -> None:
        for block in self.blocks:
            block.deleteLater()
        self.blocks = []
        self.say("")

    def add(self, step: int, name: str) -> ToolCallBlock:
        block = ToolCallBlock(step, name, self.widget())
        self._layout.insertWidget(self._layout.count() - 2, block)  # above the note
        self.blocks.append(block)
        return block

    def say(self, text: str) -> None:
        self.note.setText(text)
        self.note.setVisible(bool(text))


class ToolSteps(QObject):
    """Drives a tool conversation in ``window``: follows each turn's run, and starts the next
    once its calls are answered."""

    #: A call's "Edit mock": the ``ToolCall`` and its failed ``ToolAnswer``.
    editMock = Signal(object, object)

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.tasks = TaskRunner(self, max_threads=1)  # Python mocks, one at a time
        self.window = window
        self.view = ToolCallsView(window.output)
        layout = window.output.layout()
        assert layout is not None  # the output view lays out its parts in a box
        layout.addWidget(self.view)
        self._template: PromptTemplate | None = None
        self._request: RunRequest | None = None
        self._ref = RunRef()
        self._step = 0
        self._live: dict[int, ToolCallBlock] = {}  # this turn's calls by position
        self._signals: QObject | None = None  # the followed turn's run

    def follow(self, worker: RunWorker, request: RunRequest, ref: RunRef,
               template: PromptTemplate) -> None:
        """Follow a run the window just started: a tool conversation if the template has tools."""
        self.view.clear()
        self._signals = None
        self._template = template if template.tools else None
        self.view.setVisible(self._template is not None)
        if self._template is None:
            return
        self._ref = ref
        self._step = 0
        worker.signals.started.connect(self._started)
        self._turn(worker, request)

    def _started(self, sent: SentRequest) -> None:
        """Say so when the backend sends no tools (the model then answers in text)."""
        if "tools" not in sent.ignored_params or self.sender() is not self._signals:
            return
        try:
            note = self.window.workspace.runner.backend(
                sent.backend_name or sent.backend).capabilities().tools.note
        except KnownError as err:
            note = str(err)
        self.view.say(f"Tools not sent: {note}")

    def _turn(self, worker: RunWorker, request: RunRequest) -> None:
        self._request = request
        self._step += 1
        self._live = {}
        self._signals = worker.signals
        worker.signals.tool_call.connect(self._delta)
        worker.signals.ended.connect(self._ended)

    def _delta(self, delta: ToolCallDelta) -> None:
        if self.sender() is not self._signals:
            return  # a run no longer followed
        block = self._live.get(delta.position)
        if block is None:
            block = self._live[delta.position] = self.view.add(self._step, delta.name or "?")
        block.add_arguments(delta.arguments)

    def _ended(self, outcome: RunOutcome) -> None:
        template, request = self._template, self._request
        if template is None or request is None or self.sender() is not self._signals:
            return
        self._signals = None
        result = outcome.result
        calls = result.tool_calls
        for position, call in enumerate(calls):  # a backend that does not stream its calls
            if position not in self._live:
                self._live[position] = self.view.add(self._step, call.name)
        blocks = [self._live[p] for p in range(len(calls))]
        if outcome.status != "ok" or result.finish_reason != "tool_calls" or not calls:
            for block in blocks:
                block.stop("not answered: the turn did not finish")
            if outcome.status == "ok" and self._step > 1:
                self.view.say(f"Answered after {self._step} steps.")
            return
        if self._step >= template.max_tool_steps:
            for block in blocks:
                block.stop(f"not answered: max_tool_steps ({template.max_tool_steps}) reached")
            self.view.say(
                f"Stopped after {self._step} steps (max_tool_steps: {template.max_tool_steps})."
            )
            return
        parent_id = outcome.run_id
        conversation = self._template

        def answered() -> None:
            if self._template is not conversation or self._request is not request:
                return  # another run started meanwhile, or this turn already went on
            answers = [b.result for b in blocks if b.result is not None]
            if len(answers) == len(blocks):
                self._continue(next_turn(request, result, answers), parent_id)

        for block in blocks:
            block.answered.connect(answered)
            block.editMock.connect(self.editMock)
        for block, call in zip(blocks, calls, strict=True):
            mock = mock_for(template.tools, call)
            if isinstance(mock, PythonMock):
                block.running(call)
                self._run_mock(block, mock, call)
            elif mock is not None:
                block.complete(call)
                block.give(ToolAnswer(mock, "mock"))
            else:
                block.ask(call)

    def _run_mock(self, block: ToolCallBlock, mock: PythonMock, call: ToolCall) -> None:
        """Run ``mock`` in the sandbox off the GUI thread; its answer goes to ``block``."""
        step = self._step
        worker: TaskWorker[ToolAnswer] = TaskWorker(
            lambda _report, _cancel: python_answer(mock, call, step, mock_evaluator()))
        worker.signals.finished.connect(block.give)
        self.tasks.start(worker)

    def _continue(self, request: RunRequest, parent_id: str | None) -> None:
        """The next turn, linked to the one before in the history."""
        ref = replace(self._ref, parent_run_id=parent_id)
        worker = self.window.runs.start_run(request, ref=ref)
        worker.signals.ended.connect(lambda _outcome: self.window.history.refresh())
        self.window.output.attach(worker)
        self._turn(worker, request)
