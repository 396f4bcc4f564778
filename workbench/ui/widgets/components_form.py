"""The prompt components as an optional, visible structure beside the messages.

A prompt's components are its instruction, context, input data and output indicator. Most
prompts are written straight into the messages; a person who wants to name the parts (to reuse
one in several messages, or to see the structure) writes them here and places each with
``{{ parts.instruction }}`` and so on. The section says which parts are placed where and which are
not sent at all, and "Write into the messages" puts their text where they are placed, so the
messages read as what is sent.
"""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QFormLayout, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from workbench.core.models import Components, PromptTemplate
from workbench.core.templates import COMPONENT_NAMES
from workbench.ui.widgets.code_editor import CodeEditor

LABELS = {
    "instruction": "Instruction",
    "context": "Context",
    "input_data": "Input data",
    "output_indicator": "Output indicator",
}
TOOLTIPS = {
    "instruction": "The task: what the model should do. Be specific, and set the format and "
    "tone you want. Placed in a message as {{ parts.instruction }}.",
    "context": "Background the model needs: facts, retrieved documents, the situation. Context "
    "grounds the answer, so the model hallucinates less. Placed as {{ parts.context }}.",
    "input_data": "What to work on: the text, question or record of this request, usually a "
    "{{ variable }}. Placed as {{ parts.input_data }}.",
    "output_indicator": "The format of the answer or its first words, e.g. 'Answer in three "
    "bullet points:' or 'JSON:'. Placed as {{ parts.output_indicator }}.",
}
TOOLTIP = (
    "Optional. The four components of a prompt: instruction, context, input data and output "
    "indicator. Write a prompt straight into the messages, or name its parts here and place "
    "each in a message with {{ parts.instruction }} and so on; a part placed nowhere is not sent."
)
WRITE_TOOLTIP = (
    "Put each component's text where the messages place it ({{ parts.… }}) and clear the "
    "fields, so the messages read as what is sent. You see the change before it is made."
)


def placed(template: PromptTemplate) -> set[str]:
    """The components a message (or the completion text) places."""
    sources = [m.content for m in template.messages if not m.literal]
    if template.mode == "completion":
        sources.append(template.text)
    return {name for name in COMPONENT_NAMES if any(f"parts.{name}" in s for s in sources)}


def summary(template: PromptTemplate) -> str:
    """"instruction, input data" — and which filled parts no message places (so none is sent)."""
    filled = [n for n in COMPONENT_NAMES if getattr(template.components, n)]
    if not filled:
        return "optional: none"
    used = placed(template)
    text = ", ".join(LABELS[n].lower() for n in filled)
    unsent = [LABELS[n].lower() for n in filled if n not in used]
    return f"{text} · not in any message, so not sent: {', '.join(unsent)}" if unsent else text


class ComponentsForm(QWidget):
    """One editor per component, and the button that writes them into the messages."""

    changed = Signal()
    writeRequested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.editors: dict[str, CodeEditor] = {}
        form = QFormLayout()
        form.setContentsMargins(0, 0, 0, 0)
        form.setSpacing(4)
        form.setHorizontalSpacing(8)
        for name in COMPONENT_NAMES:
            editor = CodeEditor(self, min_lines=1, max_lines=8, line_numbers=False)
            editor.setAccessibleName(LABELS[name])
            editor.setToolTip(TOOLTIPS[name])
            editor.setPlaceholderText("optional")
            label = QLabel(LABELS[name], self)
            label.setBuddy(editor)
            label.setToolTip(TOOLTIPS[name])
            form.addRow(label, editor)
            self.editors[name] = editor
            editor.textChanged.connect(self.changed)
        self.write_button = QPushButton("Write into the messages", self)
        self.write_button.setAccessibleName("Write the components into the messages")
        self.write_button.setToolTip(WRITE_TOOLTIP)
        self.write_button.clicked.connect(self.writeRequested)
        row = QHBoxLayout()
        row.addWidget(self.write_button)
        row.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        layout.addLayout(form)
        layout.addLayout(row)

    def set_components(self, components: Components) -> None:
        for name, editor in self.editors.items():
            editor.replace_text(getattr(components, name))

    def components(self) -> Components:
        return Components(**{n: e.toPlainText() for n, e in self.editors.items()})

    def show_state(self, template: PromptTemplate) -> None:
        """Offer to write the parts in only when a message places some."""
        self.write_button.setVisible(bool(placed(template)))
