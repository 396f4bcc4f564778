"""The template editor: messages, prompt components, few-shot examples and the technique.

It edits the parts of a ``PromptTemplate`` a person writes and carries the rest (name, variables,
parameters, answer pattern, schema) through unchanged; ``templateChanged`` is emitted once
typing pauses. Errors found while rendering (by the preview) come back through ``show_error``
and are marked in the editor they belong to. Applying a technique or removing a message can be
undone from the strip that says it happened.
"""

from __future__ import annotations

import re

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from workbench.core.errors import KnownError, TemplateError
from workbench.core.models import Components, Message, Params, PromptTemplate
from workbench.core.techniques import apply_technique, get_technique, technique_warnings, techniques
from workbench.core.templates import COMPONENT_NAMES
from workbench.ui.theming import status_color
from workbench.ui.widgets.code_editor import CodeEditor
from workbench.ui.widgets.few_shot_editor import FewShotEditor
from workbench.ui.widgets.message_list import MessageList
from workbench.ui.widgets.section import Section

DEBOUNCE_MS = 150
#: Structural changes (technique applied, message removed) that can be undone in turn.
UNDO_DEPTH = 20

COMPONENT_LABELS = {
    "instruction": "Instruction",
    "context": "Context",
    "input_data": "Input data",
    "output_indicator": "Output indicator",
}
COMPONENT_TOOLTIPS = {
    "instruction": "The task: what the model should do. Be specific, and set the format and "
    "tone you want.",
    "context": "Background the model needs: facts, retrieved documents, the situation. Context "
    "grounds the answer, so the model hallucinates less.",
    "input_data": "What to work on: the text, question or record of this request, usually a "
    "{{ variable }}.",
    "output_indicator": "The format of the answer or its first words, e.g. 'Answer in three "
    "bullet points:' or 'JSON:'.",
}
COMPONENTS_TOOLTIP = (
    "The four components of a prompt: instruction, context, input data and output indicator. "
    "A technique lays them out in the messages as {{ parts.instruction }} and so on."
)
EXAMPLES_TOOLTIP = (
    "Input → output examples shown to the model (few-shot, in-context learning) to calibrate "
    "the format and behaviour of its answer."
)
TECHNIQUE_TOOLTIP = (
    "The prompting technique. Apply lays the messages out again for it; components, variables "
    "and examples are kept, and you can undo it."
)

_MESSAGE_SOURCE = re.compile(r"^messages\[(\d+)\]")


class TemplateEditor(QWidget):
    """Edits a ``PromptTemplate``; emits ``templateChanged(PromptTemplate)`` when typing pauses."""

    templateChanged = Signal(object)

    def __init__(self, parent: QWidget | None = None, *, debounce_ms: int = DEBOUNCE_MS) -> None:
        super().__init__(parent)
        self._base = PromptTemplate(name="untitled")
        self._loading = False
        # (what was done, the template before it) / (what was undone, the template after it)
        self._undo: list[tuple[str, PromptTemplate]] = []
        self._redo: list[tuple[str, PromptTemplate]] = []
        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(debounce_ms)
        self._debounce.timeout.connect(self._emit_template)

        # --- technique bar -----------------------------------------------------------------
        self.technique = QComboBox(self)
        for item in techniques():
            self.technique.addItem(item.name, item.id)
            self.technique.setItemData(
                self.technique.count() - 1, item.description, Qt.ItemDataRole.ToolTipRole
            )
        self.technique.setAccessibleName("Technique")
        self.technique.setToolTip(TECHNIQUE_TOOLTIP)
        self.apply_button = QPushButton("Apply", self)
        self.apply_button.setAccessibleName("Apply technique")
        self.apply_button.setToolTip("Lay the template out with the chosen technique (undoable).")
        technique_label = QLabel("Technique", self)
        technique_label.setBuddy(self.technique)
        technique_label.setToolTip(TECHNIQUE_TOOLTIP)
        self.warnings = QLabel(self)
        self.warnings.setWordWrap(True)
        self.warnings.setAccessibleName("Technique warnings")
        self.warnings.setToolTip("What keeps this template from working as its technique intends.")
        self.warnings.hide()

        # --- the strip that reports an action and offers to undo it -------------------------
        self.notice = QLabel(self)
        self.notice.setWordWrap(True)
        self.notice.setAccessibleName("Notice")
        self.undo_button = QPushButton("Undo", self)
        self.undo_button.setAccessibleName("Undo last template change")
        self.undo_button.setToolTip("Put the template back as it was before this change.")
        self.redo_button = QPushButton("Redo", self)
        self.redo_button.setAccessibleName("Redo the undone template change")
        self.redo_button.setToolTip("Make the undone change again.")
        self.notice_bar = QWidget(self)
        bar = QHBoxLayout(self.notice_bar)
        bar.setContentsMargins(8, 4, 8, 4)
        bar.setSpacing(8)
        bar.addWidget(self.notice, 1)
        bar.addWidget(self.undo_button)
        bar.addWidget(self.redo_button)
        self.notice_bar.hide()

        # --- the body: messages or completion text, components, examples ------------------
        self.messages = MessageList(self)
        self.text_editor = CodeEditor(self, min_lines=6, max_lines=40)
        self.text_editor.setAccessibleName("Prompt text")
        self.text_editor.setToolTip(
            "The whole prompt of a completion template (for base models), in Jinja."
        )
        self.component_editors: dict[str, CodeEditor] = {}
        components = QWidget(self)
        form = QFormLayout(components)
        form.setContentsMargins(0, 0, 0, 0)
        form.setSpacing(4)
        form.setHorizontalSpacing(8)
        for name in COMPONENT_NAMES:
            editor = CodeEditor(components, min_lines=1, max_lines=8, line_numbers=False)
            editor.setAccessibleName(COMPONENT_LABELS[name])
            editor.setToolTip(COMPONENT_TOOLTIPS[name])
            editor.setPlaceholderText("optional")
            label = QLabel(COMPONENT_LABELS[name], components)
            label.setBuddy(editor)
            label.setToolTip(COMPONENT_TOOLTIPS[name])
            form.addRow(label, editor)
            self.component_editors[name] = editor
            editor.textChanged.connect(self._changed)
        self.components_section = Section(
            "Prompt components", components, tooltip=COMPONENTS_TOOLTIP, expanded=True, parent=self
        )
        self.few_shot = FewShotEditor(self)
        self.examples_section = Section(
            "Examples (few-shot)", self.few_shot, tooltip=EXAMPLES_TOOLTIP, parent=self
        )
        messages_title = QLabel("Messages", self)
        font = messages_title.font()
        font.setBold(True)
        messages_title.setFont(font)
        self.messages_title = messages_title

        body = QWidget(self)
        body_layout = QVBoxLayout(body)
        body_layout.setContentsMargins(8, 8, 8, 8)
        body_layout.setSpacing(8)
        body_layout.addWidget(messages_title)
        body_layout.addWidget(self.messages)
        body_layout.addWidget(self.text_editor)
        body_layout.addWidget(self.components_section)
        body_layout.addWidget(self.examples_section)
        body_layout.addStretch(1)
        self.scroll_area = QScrollArea(self)
        self.scroll_area.setWidget(body)
        self.scroll_area.setWidgetResizable(True)
        self.scroll_area.setFrameShape(QFrame.Shape.NoFrame)  # no frame inside the window's frame
        self.scroll_area.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)

        top = QHBoxLayout()
        top.setContentsMargins(8, 8, 8, 0)
        top.setSpacing(8)
        top.addWidget(technique_label)
        top.addWidget(self.technique)
        top.addWidget(self.apply_button)
        top.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        layout.addLayout(top)
        warn = QHBoxLayout()
        warn.setContentsMargins(8, 0, 8, 0)
        warn.addWidget(self.warnings)
        layout.addLayout(warn)
        layout.addWidget(self.notice_bar)
        layout.addWidget(self.scroll_area, 1)

        self.messages.changed.connect(self._changed)
        self.messages.removed.connect(self._message_removed)
        self.text_editor.textChanged.connect(self._changed)
        self.few_shot.changed.connect(self._changed)
        self.few_shot.changed.connect(self._update_examples_summary)
        self.technique.currentIndexChanged.connect(self._technique_chosen)
        self.apply_button.clicked.connect(self.apply_selected_technique)
        self.undo_button.clicked.connect(self.undo)
        self.redo_button.clicked.connect(self.redo)
        self.set_template(self._base)

    # --- loading and reading the template ---------------------------------------------------

    def set_template(self, template: PromptTemplate) -> None:
        """Show ``template`` as a new document (the changes of another cannot be undone into
        it); ``templateChanged`` follows at once."""
        self._undo.clear()
        self._redo.clear()
        self.notice_bar.hide()
        self._show(template)

    def _show(self, template: PromptTemplate) -> None:
        self._loading = True
        try:
            self._base = template
            chat = template.mode == "chat"
            self.messages.set_messages(list(template.messages) if chat else [])
            self.messages.setVisible(chat)
            self.messages_title.setText("Messages" if chat else "Prompt text")
            self.text_editor.setVisible(not chat)
            self.text_editor.setPlainText(template.text)
            for name, editor in self.component_editors.items():
                editor.setPlainText(getattr(template.components, name))
            self.few_shot.set_values(list(template.examples), template.few_shot)
            index = self.technique.findData(template.technique)
            self.technique.setCurrentIndex(max(index, 0))
        finally:
            self._loading = False
        if any(getattr(template.components, n) for n in COMPONENT_NAMES):
            self.components_section.set_expanded(True)
        if template.examples:
            self.examples_section.set_expanded(True)
        self._update_examples_summary()
        self._update_components_summary()
        self._technique_chosen()
        self._debounce.stop()
        self._emit_template()

    def template(self) -> PromptTemplate:
        """The template as it stands in the editor now."""
        chat = self._base.mode == "chat"
        return self._base.model_copy(
            update={
                "messages": self.messages.messages() if chat else [],
                "text": "" if chat else self.text_editor.toPlainText(),
                "components": Components(
                    **{n: e.toPlainText() for n, e in self.component_editors.items()}
                ),
                "examples": self.few_shot.examples(),
                "few_shot": self.few_shot.few_shot(),
            }
        )

    def set_parameters(self, parameters: Params) -> None:
        """Adopt parameters edited elsewhere (the parameters panel), so ``template()`` carries
        them and a technique applied next sees them; the text being edited is not touched."""
        self._base = self._base.model_copy(update={"parameters": parameters})

    # --- errors -----------------------------------------------------------------------------

    def editor_for(self, source: str) -> CodeEditor | None:
        """The editor holding the body a ``TemplateError.source`` names."""
        match = _MESSAGE_SOURCE.match(source)
        if match:
            index = int(match.group(1))
            return self.messages.cards[index].editor if index < len(self.messages.cards) else None
        if source == "text":
            return self.text_editor
        if source.startswith("components."):
            return self.component_editors.get(source.split(".", 1)[1])
        if source == "few_shot.example_format":
            return self.few_shot.format
        return None

    def _all_editors(self) -> list[CodeEditor]:
        return [
            *(card.editor for card in self.messages.cards),
            self.text_editor,
            *self.component_editors.values(),
            self.few_shot.format,
        ]

    def show_error(self, error: TemplateError | None) -> bool:
        """Mark ``error`` in the editor it belongs to (None clears every mark).

        Returns whether an editor of this template showed it.
        """
        for each in self._all_editors():
            each.clear_error()
        if error is None:
            return False
        editor = self.editor_for(error.source)
        if editor is None:
            return False
        if editor in self.component_editors.values():
            self.components_section.set_expanded(True)
        elif editor is self.few_shot.format:
            self.examples_section.set_expanded(True)
        message = error.reason + (f" — {error.hint}" if error.hint else "")
        editor.set_error(error.line, error.column, message)  # no scrolling away from the typing
        return True

    # --- techniques ---------------------------------------------------------------------------

    def _technique_chosen(self, _index: int = 0) -> None:
        chosen = self.technique.currentData()
        self.technique.setToolTip(
            f"{get_technique(chosen).description}\n\n{TECHNIQUE_TOOLTIP}"
        )
        self.apply_button.setDefault(chosen != self._base.technique)

    def apply_selected_technique(self) -> bool:
        """Lay the template out with the technique chosen in the picker."""
        chosen = self.technique.currentData()
        before = self.template()
        try:
            after = apply_technique(before, chosen)
        except KnownError as err:
            self._notify(f"Cannot apply {get_technique(chosen).name}: {err}", error=True)
            return False
        self._show(after)
        self._offer_undo(
            f"Applied {get_technique(chosen).name}: the messages were laid out again.", before
        )
        return True

    # --- undo strip ------------------------------------------------------------------------

    def _notify(self, text: str, *, error: bool = False) -> None:
        self.notice.setText(text)
        color = status_color("error") if error else self.palette().text().color()
        palette = self.notice.palette()
        palette.setColor(palette.ColorRole.WindowText, color)
        self.notice.setPalette(palette)
        self.undo_button.setVisible(bool(self._undo))
        self.redo_button.setVisible(bool(self._redo))
        self.notice_bar.show()

    def _offer_undo(self, text: str, snapshot: PromptTemplate) -> None:
        self._undo.append((text, snapshot))
        del self._undo[:-UNDO_DEPTH]
        self._redo.clear()
        self._notify(text)

    def undo(self) -> bool:
        """Put back the template as it was before the last undoable change (technique applied,
        message removed); earlier ones can be undone in turn."""
        if not self._undo:
            return False
        text, before = self._undo.pop()
        self._redo.append((text, self.template()))
        self._show(before)
        self._notify(f"Undone: {text}")
        return True

    def redo(self) -> bool:
        """Make the last undone change again."""
        if not self._redo:
            return False
        text, after = self._redo.pop()
        self._undo.append((text, self.template()))
        self._show(after)
        self._notify(f"Redone: {text}")
        return True

    def _message_removed(self, index: int, message: Message) -> None:
        current = self.template()
        restored = list(current.messages)
        restored.insert(index, message)
        self._offer_undo(
            f"Removed the {message.role} message.",
            current.model_copy(update={"messages": restored}),
        )

    # --- change notification ----------------------------------------------------------------

    def _changed(self) -> None:
        if self._loading:
            return
        self._update_components_summary()
        self._debounce.start()

    def _update_examples_summary(self) -> None:
        self.examples_section.set_summary(self.few_shot.summary())

    def _update_components_summary(self) -> None:
        filled = [COMPONENT_LABELS[n].lower() for n, e in self.component_editors.items()
                  if not e.document().isEmpty()]
        self.components_section.set_summary(", ".join(filled) if filled else "none filled in")

    def _emit_template(self) -> None:
        template = self.template()
        self._base = template
        self._show_warnings(technique_warnings(template))
        self.templateChanged.emit(template)

    def _show_warnings(self, warnings: list[str]) -> None:
        self.warnings.setVisible(bool(warnings))
        if warnings:
            palette = self.warnings.palette()
            palette.setColor(palette.ColorRole.WindowText, status_color("warning"))
            self.warnings.setPalette(palette)
            self.warnings.setText("⚠ " + "; ".join(warnings) + ".")
