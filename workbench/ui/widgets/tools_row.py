"""The tools row of the parameters panel: how many tools the template gives the model, and its
tool choice (auto, none, required, or one tool by name), chosen here.

Like a parameter the backend ignores, tools a backend cannot send stay shown but greyed, with
"not sent by this backend" beside them and the reason in the tooltip: the run still happens,
the model answers in text, and the result records the tools as ignored. A choice is
``choiceChanged``; the tools themselves are written in the template (``tools:``). "Mocks…"
edits how each tool answers (``dialogs.tool_mocks_dialog``); an accepted edit is
``toolsChanged``.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QComboBox, QDialog, QHBoxLayout, QLabel, QPushButton, QWidget

from workbench.core.models import PromptTemplate
from workbench.core.params import Capabilities
from workbench.core.tools import TOOL_CHOICE_MODES, Tool
from workbench.ui.dialogs.tool_mocks_dialog import ToolMocksDialog

NOT_SENT = "not sent by this backend"
#: What each tool choice mode does (a tool's name: the model must call that one).
MODES = {
    "auto": "The model decides whether to call a tool.",
    "none": "The model calls no tool; it answers in text.",
    "required": "The model must call a tool (at the first turn).",
}
_TIP = Qt.ItemDataRole.ToolTipRole
NO_TOOLS = "The template has no tools: write them under 'tools:' (name, description, parameters)."


def tools_summary(tools: list[Tool]) -> str:
    """"no tools", "1 tool", "3 tools"."""
    return f"{len(tools) or 'no'} tool{'' if len(tools) == 1 else 's'}"


class ToolsRow(QWidget):
    """Shows the template's tools and chooses its ``tool_choice``; ``choiceChanged(str)`` on a
    user's choice."""

    choiceChanged = Signal(str)
    toolsChanged = Signal(list)  # list[Tool]: their mocks edited

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.capabilities = Capabilities()
        self.tools: list[Tool] = []
        self.label = QLabel("Tools", self)
        self.label.setToolTip("Functions the model may call, from the template's 'tools:'")
        self.count = QLabel(tools_summary([]), self)
        self.count.setAccessibleName("Number of tools")
        self.combo = QComboBox(self)
        self.combo.setAccessibleName("Tool choice")
        self.combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.label.setBuddy(self.combo)
        self.note = QLabel(NOT_SENT, self)
        self.note.setEnabled(False)
        self.note.setAccessibleName("Tools are not sent by this backend")
        self.note.hide()
        self.mocks_button = QPushButton("Mocks…", self)
        self.mocks_button.setToolTip("How each tool answers the model's calls: typed in by you, "
                                     "a fixed result, or a Python function")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(8)
        layout.addWidget(self.label)
        layout.addWidget(self.count)
        layout.addWidget(self.combo)
        layout.addWidget(self.note, 1)
        layout.addStretch(0)  # the row keeps its widgets together when the note is hidden
        layout.addWidget(self.mocks_button)
        self.combo.activated.connect(lambda _index: self.choiceChanged.emit(self.choice()))
        self.mocks_button.clicked.connect(self.edit_mocks)
        self._fill("auto")

    def choice(self) -> str:
        return str(self.combo.currentData())

    def set_template(self, template: PromptTemplate) -> None:
        """Show the template's tools and its tool choice."""
        self.tools = list(template.tools)
        self._fill(template.tool_choice)

    def edit_mocks(self) -> ToolMocksDialog:
        """Open the mocks editor; an accepted edit is a ``toolsChanged``."""
        dialog = ToolMocksDialog(self.tools, self)
        dialog.finished.connect(lambda result: self._mocks_edited(dialog, result))
        dialog.open()
        return dialog

    def _mocks_edited(self, dialog: ToolMocksDialog, result: int) -> None:
        if result == QDialog.DialogCode.Accepted:
            self.tools = dialog.tools()
            self.toolsChanged.emit(self.tools)

    def set_capabilities(self, capabilities: Capabilities) -> None:
        self.capabilities = capabilities
        self._refresh()

    def why_not_sent(self) -> str:
        """Why the tools would not reach the model now ("" when they would, or there are none)."""
        support = self.capabilities.tools
        if not self.tools or support.supported:
            return ""
        return f"Ignored by this backend: {support.note}." if support.note else NOT_SENT

    def _fill(self, choice: str) -> None:
        self.combo.clear()
        for mode in TOOL_CHOICE_MODES:
            self.combo.addItem(mode, mode)
            self.combo.setItemData(self.combo.count() - 1, MODES[mode], _TIP)
        for tool in self.tools:
            self.combo.addItem(f"call {tool.name}", tool.name)
            self.combo.setItemData(self.combo.count() - 1,
                                   f"The model must call {tool.name} (at the first turn).", _TIP)
        self.combo.setCurrentIndex(max(self.combo.findData(choice), 0))
        self._refresh()

    def _refresh(self) -> None:
        self.count.setText(tools_summary(self.tools))
        names = ", ".join(t.name for t in self.tools)
        reason = self.why_not_sent()
        self.count.setToolTip(f"{names}\n\n{reason}".strip() if names else NO_TOOLS)
        self.combo.setEnabled(bool(self.tools) and not reason)
        self.count.setEnabled(not reason)
        self.mocks_button.setEnabled(bool(self.tools))
        self.note.setVisible(bool(reason))
        self.note.setToolTip(reason)
        if not self.tools or reason:
            self.combo.setToolTip(reason or NO_TOOLS)
            return
        meaning = MODES.get(self.choice(), f"The model must call {self.choice()}.")
        how = self.capabilities.tools.note
        self.combo.setToolTip(f"{meaning}\n\nThis backend: {how}." if how else meaning)
