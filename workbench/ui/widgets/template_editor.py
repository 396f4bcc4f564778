"""The template editor: the messages, the technique, the examples and the optional components.

It edits the parts of a ``PromptTemplate`` a person writes and carries the rest (name, variables,
answer pattern, schema) through unchanged; ``templateChanged`` is emitted once typing pauses.
Applying a technique edits the person's own user message, so the change is shown first as a word
diff (``ChangePreview``) and made only when accepted. Every change, typed or structural, is a
step in one history (``core.history``): Ctrl+Z and Ctrl+Shift+Z go back and forth through them in
order, from any field of the editor. Errors found while rendering (by the preview) come back
through ``show_error`` and are marked in the editor they belong to.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from workbench.core.errors import KnownError, TemplateError
from workbench.core.history import History
from workbench.core.models import Message, Params, PromptTemplate, ResponseFormatType
from workbench.core.techniques import (
    apply_technique,
    example_use,
    get_technique,
    technique_warnings,
    techniques,
)
from workbench.core.template_outline import changes
from workbench.core.templates import COMPONENT_NAMES
from workbench.core.tools import Tool
from workbench.storage.formats.flatten import flatten
from workbench.ui.theming import status_color
from workbench.ui.widgets import components_form
from workbench.ui.widgets.change_preview import ChangePreview
from workbench.ui.widgets.code_editor import CodeEditor
from workbench.ui.widgets.components_form import ComponentsForm
from workbench.ui.widgets.few_shot_editor import FewShotEditor
from workbench.ui.widgets.few_shot_editor import summary as examples_summary
from workbench.ui.widgets.message_list import MessageList
from workbench.ui.widgets.section import Section

DEBOUNCE_MS = 150

EXAMPLES_TOOLTIP = (
    "Input → output examples shown to the model (few-shot, in-context learning) to calibrate "
    "the format and behaviour of its answer. They are sent only where a message places them "
    "with {{ examples_block }}: Apply Few-shot puts it before your input."
)
TECHNIQUE_TOOLTIP = (
    "The prompting technique. Apply shows what it adds to your own user message (the examples "
    "before your input, a reasoning cue after it) and takes out what the previous technique "
    "added; nothing changes until you accept, and Ctrl+Z undoes it."
)

#: The fields carried through unchanged, which the document may change under the editor.
CARRIED = ("name", "description", "tags", "variables")

_MESSAGE_SOURCE = re.compile(r"^messages\[(\d+)\]")

#: A change proposed to the template: what it turns the current template into.
Change = Callable[[PromptTemplate], PromptTemplate]


class TemplateEditor(QWidget):
    """Edits a ``PromptTemplate``; emits ``templateChanged(PromptTemplate)`` when typing pauses
    and ``parametersChanged(Params)`` when a change it made (a technique, an undo) sets them."""

    templateChanged = Signal(object)
    parametersChanged = Signal(object)

    def __init__(self, parent: QWidget | None = None, *, debounce_ms: int = DEBOUNCE_MS) -> None:
        super().__init__(parent)
        self._base = PromptTemplate(name="untitled")
        self._loading = False
        self.history: History[PromptTemplate] = History(self._base)
        self._change: tuple[Change, str, str] | None = None  # proposed: change, title, label
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
        self.apply_button = QPushButton("Apply…", self)
        self.apply_button.setAccessibleName("Apply technique")
        self.apply_button.setToolTip(
            "Show what the chosen technique changes in your messages, then apply it."
        )
        technique_label = QLabel("Technique", self)
        technique_label.setBuddy(self.technique)
        technique_label.setToolTip(TECHNIQUE_TOOLTIP)
        self.warnings = QLabel(self)
        self.warnings.setWordWrap(True)
        self.warnings.setAccessibleName("Technique warnings")
        self.warnings.setToolTip("What keeps this template from working as its technique intends.")
        self.warnings.hide()
        self.change_preview = ChangePreview(self)

        # --- the strip that reports a change and offers to undo it --------------------------
        self.notice = QLabel(self)
        self.notice.setWordWrap(True)
        self.notice.setAccessibleName("Notice")
        self.undo_button = QPushButton("Undo", self)
        self.undo_button.setAccessibleName("Undo last template change")
        self.undo_button.setToolTip("Go back one change (Ctrl+Z); earlier ones can follow.")
        self.redo_button = QPushButton("Redo", self)
        self.redo_button.setAccessibleName("Redo the undone template change")
        self.redo_button.setToolTip("Make the undone change again (Ctrl+Shift+Z).")
        self.notice_bar = QWidget(self)
        bar = QHBoxLayout(self.notice_bar)
        bar.setContentsMargins(8, 4, 8, 4)
        bar.setSpacing(8)
        bar.addWidget(self.notice, 1)
        bar.addWidget(self.undo_button)
        bar.addWidget(self.redo_button)
        self.notice_bar.hide()

        # --- the body: messages or completion text, examples, components --------------------
        self.messages = MessageList(self)
        self.messages.prepare_editor = self._route_undo
        self.text_editor = CodeEditor(self, min_lines=6, max_lines=40)
        self.text_editor.setAccessibleName("Prompt text")
        self.text_editor.setToolTip(
            "The whole prompt of a completion template (for base models), in Jinja."
        )
        self.components = ComponentsForm(self)
        self.components_section = Section(
            "Prompt components", self.components, tooltip=components_form.TOOLTIP, parent=self
        )
        self.few_shot = FewShotEditor(self)
        self.examples_section = Section(
            "Examples (few-shot)", self.few_shot, tooltip=EXAMPLES_TOOLTIP, parent=self
        )
        for editor in (self.text_editor, *self.components.editors.values(), self.few_shot.format):
            self._route_undo(editor)
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
        body_layout.addWidget(self.examples_section)
        body_layout.addWidget(self.components_section)
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
        preview = QHBoxLayout()
        preview.setContentsMargins(8, 0, 8, 0)
        preview.addWidget(self.change_preview)
        layout.addLayout(preview)
        layout.addWidget(self.notice_bar)
        layout.addWidget(self.scroll_area, 1)

        self.messages.changed.connect(self._changed)
        self.messages.aboutToRemove.connect(self._flush)
        self.messages.removed.connect(self._message_removed)
        self.text_editor.textChanged.connect(self._changed)
        self.components.changed.connect(self._changed)
        self.components.writeRequested.connect(self.propose_writing_components)
        self.few_shot.changed.connect(self._changed)
        self.technique.currentIndexChanged.connect(self._technique_chosen)
        self.apply_button.clicked.connect(self.apply_selected_technique)
        self.change_preview.accepted.connect(self.accept_change)
        self.change_preview.rejected.connect(self.reject_change)
        self.undo_button.clicked.connect(self.undo)
        self.redo_button.clicked.connect(self.redo)
        self.set_template(self._base)

    def _route_undo(self, editor: CodeEditor) -> None:
        editor.route_undo(self.undo, self.redo)

    # --- loading and reading the template ---------------------------------------------------

    def set_template(self, template: PromptTemplate) -> None:
        """Show ``template`` as a new document (the changes of another cannot be undone into
        it); ``templateChanged`` follows at once."""
        self.history.reset(template)
        self.notice_bar.hide()
        self._drop_change()
        self.components_section.set_expanded(  # open only where this document uses them
            any(getattr(template.components, name) for name in COMPONENT_NAMES)
        )
        self._show(template)
        for editor in self._all_editors():  # a document opens at its start
            editor.moveCursor(editor.textCursor().MoveOperation.Start)

    def _show(self, template: PromptTemplate) -> None:
        """Put ``template`` in the widgets, replacing only what differs (focus and cursor stay)."""
        self._loading = True
        try:
            self._base = template
            chat = template.mode == "chat"
            self.messages.set_messages(list(template.messages) if chat else [])
            self.messages.setVisible(chat)
            self.messages_title.setText("Messages" if chat else "Prompt text")
            self.text_editor.setVisible(not chat)
            self.text_editor.replace_text(template.text)
            self.components.set_components(template.components)
            if (template.examples, template.few_shot) != (
                self.few_shot.examples(), self.few_shot.few_shot()
            ):
                self.few_shot.set_values(list(template.examples), template.few_shot)
            index = self.technique.findData(template.technique)
            self.technique.setCurrentIndex(max(index, 0))
        finally:
            self._loading = False
        if any(getattr(template.components, name) for name in COMPONENT_NAMES):
            self.components_section.set_expanded(True)
        if template.examples:
            self.examples_section.set_expanded(True)
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
                "components": self.components.components(),
                "examples": self.few_shot.examples(),
                "few_shot": self.few_shot.few_shot(),
            }
        )

    def adopt(self, template: PromptTemplate) -> None:
        """Take the fields this editor carries (name, description, tags, variables) from
        ``template`` (a save declared the variables, a rename); the text is not touched."""
        self._base = self._base.model_copy(update={f: getattr(template, f) for f in CARRIED})

    def focus_body(self) -> None:
        """Put the cursor in the first message (or the completion text): where writing starts."""
        cards = self.messages.cards
        (cards[0].editor if cards and self._base.mode == "chat" else self.text_editor).setFocus()

    def set_parameters(self, parameters: Params) -> None:
        """Adopt parameters edited elsewhere (the parameters panel), so ``template()`` carries
        them and a technique applied next sees them; the text being edited is not touched, and
        the history does not count it as an edit of the template's text."""
        self._settle({"parameters": parameters})

    def set_response_format(
        self, value: ResponseFormatType, schema: dict[str, Any] | None, grammar: str | None = None
    ) -> None:
        """Adopt the response format, output schema and grammar chosen in the parameters panel,
        as ``set_parameters``."""
        self._settle({"response_format": value, "output_schema": schema, "grammar": grammar})

    def set_tool_choice(self, choice: str) -> None:
        """Adopt the tool choice chosen in the parameters panel, as ``set_parameters``."""
        self._settle({"tool_choice": choice})

    def set_tools(self, tools: list[Tool]) -> None:
        """Adopt the tools as edited in the parameters panel (their mocks), as
        ``set_parameters``."""
        self._settle({"tools": tools})

    def _settle(self, update: dict[str, Any]) -> None:
        self._base = self._base.model_copy(update=update)
        present = self.history.present
        self.history.settle(present.model_copy(update=update))

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
            return self.components.editors.get(source.split(".", 1)[1])
        if source == "few_shot.example_format":
            return self.few_shot.format
        return None

    def _all_editors(self) -> list[CodeEditor]:
        return [
            *(card.editor for card in self.messages.cards),
            self.text_editor,
            *self.components.editors.values(),
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
        if editor in self.components.editors.values():
            self.components_section.set_expanded(True)
        elif editor is self.few_shot.format:
            self.examples_section.set_expanded(True)
        message = error.reason + (f" — {error.hint}" if error.hint else "")
        editor.set_error(error.line, error.column, message)  # no scrolling away from the typing
        return True

    # --- techniques and other proposed changes -----------------------------------------------

    def _technique_chosen(self, _index: int = 0) -> None:
        chosen = self.technique.currentData()
        self.technique.setToolTip(
            f"{get_technique(chosen).description}\n\n{TECHNIQUE_TOOLTIP}"
        )
        self.apply_button.setDefault(chosen != self._base.technique)

    def apply_selected_technique(self) -> bool:
        """Show what the technique chosen in the picker changes; it is made on Apply."""
        chosen = self.technique.currentData()
        name = get_technique(chosen).name
        return self._propose(
            lambda t: apply_technique(t, chosen),
            f"Apply {name}? Your template changes like this:",
            f"Applied {name}",
            f"{name} is in place already: nothing to change.",
        )

    def propose_writing_components(self) -> bool:
        """Show the components' text written where the messages place them."""

        def write(template: PromptTemplate) -> PromptTemplate:
            try:
                return flatten(template, "plain message", examples=False).template
            except KnownError as err:  # a part used with a filter or in a loop
                raise KnownError(str(err), hint="edit that message by hand") from None

        return self._propose(
            write,
            "Write the components into the messages? They change like this:",
            "Wrote the components into the messages",
            "No message places a component: nothing to write.",
        )

    def _propose(self, change: Change, title: str, label: str, unchanged: str) -> bool:
        self._flush()
        before = self.template()
        try:
            after = change(before)
        except KnownError as err:
            self._drop_change()
            self._notify(f"Cannot do it: {err}", error=True)
            return False
        if after == before:
            self._drop_change()
            self._notify(unchanged)
            return False
        self._change = (change, title, label)
        self.notice_bar.hide()
        self.change_preview.propose(title, before, after)
        return True

    def accept_change(self) -> bool:
        """Make the proposed change; if the template was edited since it was shown, show the
        change again as it now stands instead."""
        if self._change is None or self.change_preview.before is None:
            return False
        self._flush()
        change, title, label = self._change
        if self.template() != self.change_preview.before:
            return self._propose(change, title, label, "Nothing to change any more.")
        after = self.change_preview.after
        self._drop_change()
        if after is None:
            return False
        self._commit(after, label)
        return True

    def reject_change(self) -> None:
        """Cancel: nothing changes, and the picker shows the technique in effect again (not the
        one that was only being looked at)."""
        self._drop_change()
        index = self.technique.findData(self._base.technique)
        self.technique.setCurrentIndex(max(index, 0))

    def _drop_change(self) -> None:
        self._change = None
        self.change_preview.clear()

    def _commit(self, after: PromptTemplate, label: str) -> None:
        """A structural change: one step of its own in the history, reported with Undo."""
        params = self._base.parameters
        self.history.record(after, label)
        self._show(after)
        self._notify(f"{label}. Ctrl+Z undoes it.")
        if after.parameters != params:
            self.parametersChanged.emit(after.parameters)

    def _message_removed(self, index: int, message: Message) -> None:
        self._debounce.stop()
        self.history.record(self.template(), f"Removed the {message.role} message")
        self._emit_template()
        self._notify(f"Removed the {message.role} message. Ctrl+Z undoes it.")

    # --- undo and redo ----------------------------------------------------------------------

    def undo(self) -> bool:
        """Go back one change (typing, a technique applied, a message removed); earlier ones
        can be undone in turn."""
        self._flush()
        step = self.history.undo()
        if step is None:
            return False
        self._restore(step.before, step.after.parameters, step.before.parameters)
        self._notify(f"Undone: {step.label}.")
        return True

    def redo(self) -> bool:
        """Make the last undone change again."""
        self._flush()
        step = self.history.redo()
        if step is None:
            return False
        self._restore(step.after, step.before.parameters, step.after.parameters)
        self._notify(f"Redone: {step.label}.")
        return True

    def _restore(self, state: PromptTemplate, changed_from: Params, changed_to: Params) -> None:
        """Show ``state``, with the parameters as they are now except those the step changed
        (a technique's stop sequence): a temperature set since in the parameters panel stays."""
        params = self._base.parameters
        values = params.model_dump()
        old, new = changed_from.model_dump(), changed_to.model_dump()
        values.update({key: new[key] for key in new if new[key] != old[key]})
        try:
            state = state.model_copy(update={"parameters": Params.model_validate(values)})
        except ValueError:  # the mix is not valid together: the step's own parameters
            state = state.model_copy(update={"parameters": changed_to})
        self.history.settle(state)
        self._drop_change()
        self._show(state)
        if state.parameters != params:
            self.parametersChanged.emit(state.parameters)

    def _notify(self, text: str, *, error: bool = False) -> None:
        self.notice.setText(text)
        color = status_color("error") if error else self.palette().text().color()
        palette = self.notice.palette()
        palette.setColor(palette.ColorRole.WindowText, color)
        self.notice.setPalette(palette)
        self.undo_button.setVisible(self.history.can_undo and not error)
        self.redo_button.setVisible(self.history.can_redo and not error)
        self.notice_bar.show()

    # --- change notification ----------------------------------------------------------------

    def _changed(self) -> None:
        if self._loading:
            return
        self._debounce.start()

    def _flush(self) -> None:
        """Record typing that has not paused yet, so it is a step before what comes next."""
        if self._debounce.isActive():
            self._debounce.stop()
            self._emit_template()

    def _emit_template(self) -> None:
        template = self.template()
        self._base = template
        before = self.history.present
        what = changes(before, template) if template != before else []
        if what and self.history.record(
            template, "edited the " + ", ".join(what), key="|".join(what)
        ):
            self.notice_bar.hide()  # what it said (and its Undo) is not the last change now
        self._show_warnings(technique_warnings(template))
        use = example_use(template)
        self.examples_section.set_summary(examples_summary(use, template.few_shot))
        self.components_section.set_summary(components_form.summary(template))
        self.components.show_state(template)
        if self._change is not None and template != self.change_preview.before:
            change, title, label = self._change
            self._propose(change, title, label, "Nothing to change any more.")
        self.templateChanged.emit(template)

    def _show_warnings(self, warnings: list[str]) -> None:
        self.warnings.setVisible(bool(warnings))
        if warnings:
            palette = self.warnings.palette()
            palette.setColor(palette.ColorRole.WindowText, status_color("warning"))
            self.warnings.setPalette(palette)
            self.warnings.setText("⚠ " + "; ".join(warnings) + ".")
