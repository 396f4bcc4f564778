"""The response format picker of the parameters panel: text, any JSON object, the template's
``output_schema``, or its raw GBNF ``grammar``, sent to the model so the answer has that shape.

Like a parameter the backend ignores, a format it cannot enforce stays choosable but greyed, with
the reason in its tooltip and "not enforced by this backend" beside it: the run still happens,
the schema still guides the prompt, and the result records the format as ignored. JSON schema is
greyed when the template has no ``output_schema`` to send, Grammar when it has no ``grammar`` (and
on every backend but llama.cpp); "Schema…" edits that schema (``SchemaDialog``), "Grammar…" the
grammar (``GrammarDialog``). A choice or an edit is ``formatChanged``: ``value()``, ``schema``
and ``grammar``.
"""

from __future__ import annotations

from typing import Any, cast

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QStandardItemModel
from PySide6.QtWidgets import QComboBox, QDialog, QHBoxLayout, QLabel, QPushButton, QWidget

from workbench.core.models import PromptTemplate, ResponseFormatType
from workbench.core.params import Capabilities
from workbench.ui.dialogs.grammar_dialog import GrammarDialog
from workbench.ui.dialogs.schema_dialog import SchemaDialog

#: (value, label, what it does) in the order shown.
FORMATS: tuple[tuple[ResponseFormatType, str, str], ...] = (
    ("text", "Text", "Free text: the model answers as it likes."),
    ("json_object", "JSON object", "The answer is one JSON object, of any shape."),
    ("json_schema", "JSON schema", "The answer is JSON matching the template's output_schema."),
    ("grammar", "Grammar (GBNF)", "The answer is text the template's GBNF grammar accepts."),
)
NOT_ENFORCED = "not enforced by this backend"
NO_SCHEMA = "The template has no output_schema to send."
NO_GRAMMAR = "The template has no grammar to send: write one with Grammar…"


class ResponseFormatRow(QWidget):
    """Chooses the template's ``response_format``; ``formatChanged(str)`` on a user's choice."""

    formatChanged = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.capabilities = Capabilities()
        self.schema: dict[str, Any] | None = None
        self.grammar: str | None = None
        self.label = QLabel("Format", self)
        self.combo = QComboBox(self)
        self.combo.setAccessibleName("Response format")
        for value, text, _ in FORMATS:
            self.combo.addItem(text, value)
        self.label.setBuddy(self.combo)
        self.label.setToolTip("The shape the answer must have, enforced by the backend")
        self.note = QLabel(NOT_ENFORCED, self)
        self.note.setEnabled(False)
        self.note.setWordWrap(True)
        self.note.setAccessibleName("Response format is not enforced by this backend")
        self.note.hide()
        self.schema_button = QPushButton("Schema…", self)
        self.schema_button.setToolTip("Edit the template's output_schema, or infer it from an "
                                      "example answer")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(8)
        layout.addWidget(self.label)
        layout.addWidget(self.combo)
        layout.addWidget(self.note, 1)
        self.grammar_button = QPushButton("Grammar…", self)
        self.grammar_button.setToolTip("Edit the template's raw GBNF grammar (llama.cpp's "
                                       "constrained decoding), or make one from the schema")
        layout.addWidget(self.schema_button)
        layout.addWidget(self.grammar_button)
        self.combo.activated.connect(self._chosen)
        self.schema_button.clicked.connect(self.edit_schema)
        self.grammar_button.clicked.connect(self.edit_grammar)
        self._refresh()

    def value(self) -> ResponseFormatType:
        return cast(ResponseFormatType, self.combo.currentData())

    @property
    def has_schema(self) -> bool:
        return self.schema is not None

    def edit_schema(self) -> SchemaDialog:
        """Open the schema editor; an accepted edit is a ``formatChanged`` (a removed schema
        turns a JSON-schema format back to text)."""
        dialog = SchemaDialog(self.schema, self)
        dialog.finished.connect(lambda result: self._schema_edited(dialog, result))
        dialog.open()
        return dialog

    def _schema_edited(self, dialog: SchemaDialog, result: int) -> None:
        if result != QDialog.DialogCode.Accepted:
            return
        self.schema = dialog.schema()
        if self.schema is None and self.value() == "json_schema":
            self.combo.setCurrentIndex(self.combo.findData("text"))
        self._chosen(self.combo.currentIndex())

    def edit_grammar(self) -> GrammarDialog:
        """Open the grammar editor; an accepted edit is a ``formatChanged``: a grammar written
        while the format is text is chosen, a removed one turns a grammar format back to text."""
        dialog = GrammarDialog(self.grammar, self.schema, self)
        dialog.finished.connect(lambda result: self._grammar_edited(dialog, result))
        dialog.open()
        return dialog

    def _grammar_edited(self, dialog: GrammarDialog, result: int) -> None:
        if result != QDialog.DialogCode.Accepted:
            return
        self.grammar = dialog.grammar()
        if (self.grammar is None) == (self.value() == "grammar"):
            self.combo.setCurrentIndex(self.combo.findData("text" if self.grammar is None
                                                           else "grammar"))
        self._chosen(self.combo.currentIndex())

    def why_unavailable(self, value: ResponseFormatType) -> str:
        """Why ``value`` would not be enforced now ("" when it would)."""
        if value == "json_schema" and not self.has_schema:
            return NO_SCHEMA
        if value == "grammar" and self.grammar is None:
            return NO_GRAMMAR
        support = self.capabilities.format_support(value)
        return "" if support.supported else f"This backend cannot enforce it: {support.note}."

    def set_capabilities(self, capabilities: Capabilities) -> None:
        self.capabilities = capabilities
        self._refresh()

    def set_template(self, template: PromptTemplate) -> None:
        """Show the template's format and whether it has a schema to send."""
        self.schema = template.output_schema
        self.grammar = template.grammar or None
        self.combo.setCurrentIndex(max(self.combo.findData(template.response_format), 0))
        self._refresh()

    def _refresh(self) -> None:
        model = cast(QStandardItemModel, self.combo.model())
        for index, (value, _, meaning) in enumerate(FORMATS):
            reason = self.why_unavailable(value)
            item = model.item(index)
            item.setEnabled(not reason or value == self.value())  # the current one stays shown
            support = self.capabilities.format_support(value).note
            how = f"\n\nEnforced here by {support}." if support and not reason else ""
            item.setData(f"{meaning}{how}{chr(10) * 2 + reason if reason else ''}",
                         Qt.ItemDataRole.ToolTipRole)
        reason = self.why_unavailable(self.value())
        self.note.setText({NO_SCHEMA: "no output_schema", NO_GRAMMAR: "no grammar"}.get(
            reason, NOT_ENFORCED))
        self.note.setVisible(bool(reason))
        self.note.setToolTip(reason)
        self.combo.setToolTip(reason or str(model.item(self.combo.currentIndex()).toolTip()))

    def _chosen(self, _index: int) -> None:
        self._refresh()
        self.formatChanged.emit(self.value())
