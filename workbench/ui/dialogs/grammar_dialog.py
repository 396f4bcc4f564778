"""The grammar editor: the template's raw GBNF ``grammar`` (llama.cpp's constrained decoding, for
power users), checked as typed with llama.cpp's parsing rules (``core.gbnf``: the first problem
marked at its line and column, how many more said), and "From schema" to start from the grammar
llama-cpp-python makes of the template's ``output_schema`` (asked first when it would replace a
grammar; Ctrl+Z in the editor brings the old one back).

OK is offered only for a grammar llama.cpp accepts or an empty text (no grammar): a grammar it
refuses would bring the process down at run time rather than say why.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from workbench.core.errors import KnownError
from workbench.core.gbnf import check
from workbench.ui.widgets.code_editor import CodeEditor
from workbench.ui.window_support import replace_after_asking

NO_SCHEMA = "The template has no output_schema to make a grammar from: add one with Schema…"


class GrammarDialog(QDialog):
    """Edits a GBNF grammar; ``grammar()`` is the result (None: no grammar)."""

    def __init__(
        self, grammar: str | None, schema: dict[str, Any] | None, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Grammar (GBNF)")
        self._schema = schema
        self.editor = CodeEditor(self, jinja=False, min_lines=14, max_lines=36)
        self.editor.setAccessibleName("Grammar (GBNF)")
        self.editor.setPlaceholderText('root ::= ("yes" | "no")')
        self.editor.setPlainText(grammar or "")
        self.from_schema_button = QPushButton("From schema", self)
        self.from_schema_button.setEnabled(schema is not None)
        self.from_schema_button.setToolTip(
            "Replace the grammar with the one llama-cpp-python makes of the template's "
            "output_schema, to edit from there" if schema is not None else NO_SCHEMA
        )
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self)
        tools = QHBoxLayout()
        tools.addWidget(self.from_schema_button)
        tools.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel(
            "GBNF grammar the answer must match, for the local (llama.cpp) backend (empty: none)",
            self))
        layout.addWidget(self.editor)
        layout.addLayout(tools)
        layout.addStretch(1)  # the editor grows with its text; the rest of the room is below
        layout.addWidget(self.buttons)
        self.editor.textChanged.connect(self._check)
        self.from_schema_button.clicked.connect(self.from_schema)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        self._grammar = grammar or None
        self._check()

    def grammar(self) -> str | None:
        return self._grammar

    def from_schema(self) -> None:
        """Fill the grammar made from the template's schema; a grammar already there is
        replaced only when the person says so."""
        if self._schema is None:
            return
        from workbench.backends.structured import schema_grammar  # imports llama.cpp

        try:
            made = schema_grammar(self._schema)
        except KnownError as err:  # said in the editor's error strip until the next edit
            self.editor.set_error(None, None, str(err))
            return
        replace_after_asking(
            self.editor, made, "Replace the grammar?",
            "Replace the grammar with the one made from the output schema? Everything written in "
            "it now is lost;")

    def _check(self) -> None:
        ok = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        text = self.editor.toPlainText()
        if not text.strip():
            self.editor.clear_error()
            self._grammar = None
            ok.setEnabled(True)
            return
        problems = check(text).problems
        if problems:
            first = problems[0]
            more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
            self.editor.set_error(first.line, first.column, first.message + more)
            ok.setEnabled(False)
            return
        self.editor.clear_error()
        self._grammar = text
        ok.setEnabled(True)
