"""The tools' mocks: how each of the template's tools answers the model's calls in the
playground, the CLI and evaluations. Typed in by you (no mock: the playground asks), a fixed
result, or a Python function ``mock(args)`` run in the sandbox (``services.python_eval``).

The Python code is checked as typed (a syntax error marked at its line and column; OK is offered
only when every tool's code compiles and defines ``mock``), and "Try" runs it, off the GUI
thread, on arguments typed in: its result shown, or its error marked at its line. Opened from a
failed call in the transcript, it shows that tool with the call's error at its line.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from workbench.core.tools import PythonMock, Tool, ToolCall, mock_code_problem
from workbench.services.tool_steps import ToolAnswer, mock_evaluator, python_answer
from workbench.ui.background import TaskRunner, TaskWorker
from workbench.ui.theming import status_color
from workbench.ui.widgets.code_editor import CodeEditor

#: The kinds of mock, as the combo box names them.
KINDS = {
    "none": "Typed in by you",
    "fixed": "Fixed result",
    "python": "Python function",
}
STARTER = ("def mock(args):\n"
           "    # args: the call's arguments, parsed; return text or any JSON value\n"
           "    return {\"ok\": True}\n")


@dataclass
class _Draft:
    """One tool's mock as being edited (both texts kept while the kind changes)."""

    kind: str
    fixed: str
    python: str

    @classmethod
    def of(cls, tool: Tool) -> _Draft:
        mock = tool.mock
        if isinstance(mock, PythonMock):
            return cls("python", "", mock.python)
        return cls("none" if mock is None else "fixed", mock or "", "")

    def mock(self) -> str | PythonMock | None:
        if self.kind == "python":
            return PythonMock(python=self.python)
        return self.fixed if self.kind == "fixed" else None


def _example(tool: Tool) -> str:
    """Arguments to try a mock with: each declared property, null."""
    properties = tool.parameters.get("properties")
    names = list(properties) if isinstance(properties, dict) else []
    return json.dumps(dict.fromkeys(names))


class ToolMocksDialog(QDialog):
    """Edits the mocks of ``tools``; ``tools()`` is the result."""

    def __init__(self, tools: list[Tool], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Tool mocks")
        self._tools = list(tools)
        self._drafts = [_Draft.of(t) for t in tools]
        self._index = -1
        self.tasks = TaskRunner(self, max_threads=1)
        self.list = QListWidget(self)
        self.list.setAccessibleName("Tools")
        self.list.addItems([t.name for t in tools])
        self.list.setMaximumWidth(180)
        self.about = QLabel(self)
        self.about.setWordWrap(True)
        self.kind = QComboBox(self)
        self.kind.setAccessibleName("Mock kind")
        for value, text in KINDS.items():
            self.kind.addItem(text, value)
        self.fixed = QLineEdit(self)
        self.fixed.setAccessibleName("Fixed result")
        self.fixed.setPlaceholderText('{"temp_c": 21}')
        self.code = CodeEditor(self, jinja=False, min_lines=8, max_lines=24, indent="    ",
                               opens=":")
        self.code.setAccessibleName("Python mock")
        self.arguments = QLineEdit(self)
        self.arguments.setAccessibleName("Arguments to try")
        self.try_button = QPushButton("Try", self)
        self.try_button.setToolTip("Run the function in the sandbox on these arguments")
        self.tried = QLabel(self)
        self.tried.setWordWrap(True)
        self.tried.setAccessibleName("Result of the try")
        trying = QHBoxLayout()
        trying.addWidget(QLabel("Arguments", self))
        trying.addWidget(self.arguments, 1)
        trying.addWidget(self.try_button)
        self._python = QWidget(self)
        python = QVBoxLayout(self._python)
        python.setContentsMargins(0, 0, 0, 0)
        python.addWidget(self.code)
        python.addLayout(trying)
        python.addWidget(self.tried)
        python.addStretch(1)
        self.form = QFormLayout()
        self.form.addRow("Answered by", self.kind)
        self.form.addRow("Result", self.fixed)
        side = QVBoxLayout()
        side.addWidget(self.about)
        side.addLayout(self.form)
        side.addWidget(self._python, 1)
        side.addStretch(0)
        row = QHBoxLayout()
        row.addWidget(self.list)
        row.addLayout(side, 1)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self)
        layout = QVBoxLayout(self)
        layout.addLayout(row, 1)
        layout.addWidget(self.buttons)
        self.list.currentRowChanged.connect(self._show)
        self.kind.activated.connect(self._kind_chosen)
        self.fixed.textEdited.connect(self._store)
        self.code.textChanged.connect(self._code_changed)
        self.try_button.clicked.connect(self.try_mock)
        self.arguments.returnPressed.connect(self.try_mock)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        self.finished.connect(lambda _result: self.tasks.shutdown(timeout_s=1.0))
        self.resize(760, 480)
        if tools:
            self.list.setCurrentRow(0)

    def tools(self) -> list[Tool]:
        """The tools with their mocks as edited."""
        return [t.model_copy(update={"mock": d.mock()}) for t, d in zip(self._tools, self._drafts,
                                                                        strict=True)]

    def show_error(self, call: ToolCall, answer: ToolAnswer) -> None:
        """Show the code of ``call``'s tool with ``answer``'s error at its line, and the call's
        arguments ready to try again (a call it answered failed)."""
        names = [t.name for t in self._tools]
        if call.name in names:
            self.list.setCurrentRow(names.index(call.name))
            self.arguments.setText(call.arguments)
            self._mark(answer)
            self.code.setFocus()

    def _mark(self, answer: ToolAnswer) -> None:
        """A failed answer's error in the code editor, at its line ("error in the mock of x,
        line 3: KeyError: 'y'" is marked "KeyError: 'y'" at line 3)."""
        if answer.error and self._drafts[self._index].kind == "python":
            self.code.set_error(answer.line, None, answer.text.split(": ", 1)[-1])

    def _show(self, index: int) -> None:
        if index < 0:
            return
        self._index = index
        tool, draft = self._tools[index], self._drafts[index]
        self.about.setText(f"<b>{tool.name}</b>" + (f" — {tool.description}"
                                                     if tool.description else ""))
        self.kind.setCurrentIndex(self.kind.findData(draft.kind))
        self.fixed.setText(draft.fixed)
        self.code.blockSignals(True)
        self.code.setPlainText(draft.python)
        self.code.blockSignals(False)
        self.arguments.setText(_example(tool))
        self.tried.clear()
        self._refresh()

    def _kind_chosen(self, _index: int) -> None:
        draft = self._drafts[self._index]
        draft.kind = str(self.kind.currentData())
        if draft.kind == "python" and not draft.python.strip():
            self.code.setPlainText(STARTER)  # stored by _code_changed
        self._refresh()
        if draft.kind == "python":
            self.code.setFocus()

    def _store(self) -> None:
        self._drafts[self._index].fixed = self.fixed.text()

    def _code_changed(self) -> None:
        if self._index >= 0:
            self._drafts[self._index].python = self.code.toPlainText()
            self._refresh()

    def _problem(self, draft: _Draft) -> str | None:
        if draft.kind != "python":
            return None
        problem = mock_code_problem(draft.python)
        return None if problem is None else problem.message()

    def _refresh(self) -> None:
        """Show the fields of the current kind, its code's problem, and whether OK may be."""
        draft = self._drafts[self._index]
        self.form.setRowVisible(self.fixed, draft.kind == "fixed")
        self._python.setVisible(draft.kind == "python")
        problem = mock_code_problem(draft.python) if draft.kind == "python" else None
        if problem is None:
            self.code.clear_error()
        else:
            self.code.set_error(problem.line, problem.column, problem.text)
        self.try_button.setEnabled(problem is None)
        broken = [t.name for t, d in zip(self._tools, self._drafts, strict=True)
                  if self._problem(d) is not None]
        ok = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        ok.setEnabled(not broken)
        ok.setToolTip(f"Fix the code of {', '.join(broken)} first" if broken else "")

    def try_mock(self) -> TaskWorker[ToolAnswer] | None:
        """Run the current tool's Python mock on the typed arguments, off the GUI thread."""
        draft = self._drafts[self._index]
        if draft.kind != "python" or mock_code_problem(draft.python) is not None:
            return None
        mock, name = PythonMock(python=draft.python), self._tools[self._index].name
        call = ToolCall(id="try", name=name, arguments=self.arguments.text())
        self.tried.setText("running…")
        self.tried.setStyleSheet("")
        worker: TaskWorker[ToolAnswer] = TaskWorker(
            lambda _report, _cancel: python_answer(mock, call, 1, mock_evaluator()))
        worker.signals.finished.connect(lambda answer: self._tried(answer, self._index))
        return self.tasks.start(worker)

    def _tried(self, answer: ToolAnswer, index: int) -> None:
        if index != self._index:
            return  # another tool is shown now
        self.tried.setText(f"→ {answer.text}")
        error = status_color("error").name()
        self.tried.setStyleSheet(f"color: {error}" if answer.error else "")
        if answer.error:
            self._mark(answer)
        else:  # an earlier try's error no longer holds
            self.code.clear_error()
