"""The output schema editor: the template's ``output_schema`` as JSON text, checked as typed
(a JSON syntax error marked at its line and column, a schema that is not valid JSON Schema named
at its path), and "Infer from example" to start from an answer the person wants (asked first
when it would replace a schema: an inferred one knows nothing of the enums, bounds and optional
keys written by hand; Ctrl+Z in the editor brings the old one back).

OK is offered only for a valid schema or an empty text (no schema).
"""

from __future__ import annotations

import json
from typing import Any

from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from workbench.core.answers import SchemaDefinitionError, check_schema
from workbench.core.schema_infer import infer_schema
from workbench.ui.widgets.code_editor import CodeEditor
from workbench.ui.window_support import replace_after_asking


def _parse(editor: CodeEditor) -> Any:
    """The editor's JSON, or ``ValueError`` after marking the syntax error in it."""
    try:
        value = json.loads(editor.toPlainText())
    except json.JSONDecodeError as err:
        editor.set_error(err.lineno, err.colno, err.msg)
        raise ValueError(err.msg) from None
    editor.clear_error()
    return value


class SchemaDialog(QDialog):
    """Edits a JSON schema; ``schema()`` is the result (None: no schema)."""

    def __init__(self, schema: dict[str, Any] | None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Output schema")
        self.editor = CodeEditor(self, jinja=False, min_lines=12, indent="  ", opens="{[")
        self.editor.setAccessibleName("Output schema (JSON Schema)")
        self.editor.setPlainText("" if schema is None else json.dumps(schema, indent=2))
        self.example = CodeEditor(self, jinja=False, min_lines=4, max_lines=10, indent="  ",
                                  opens="{[")
        self.example.setAccessibleName("Example answer (JSON)")
        self.example.setPlaceholderText('{"sentiment": "positive", "score": 0.9}')
        self.infer_button = QPushButton("Infer from example", self)
        self.infer_button.setToolTip("Replace the schema with one the example answer matches: "
                                     "every key required, no others allowed")
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("JSON Schema of the answer (empty: none)", self))
        layout.addWidget(self.editor, 1)
        layout.addWidget(QLabel("Example answer", self))
        layout.addWidget(self.example)
        layout.addWidget(self.infer_button)
        layout.addWidget(self.buttons)
        self.editor.textChanged.connect(self._check)
        self.infer_button.clicked.connect(self.infer)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        self._schema: dict[str, Any] | None = schema
        self._check()

    def schema(self) -> dict[str, Any] | None:
        return self._schema

    def infer(self) -> None:
        """Fill the schema from the example answer (a syntax error is marked in the example);
        a schema already there is replaced only when the person says so."""
        try:
            value = _parse(self.example)
        except ValueError:
            return
        inferred = json.dumps(infer_schema(value), indent=2)
        replace_after_asking(
            self.editor, inferred, "Replace the schema?",
            "Replace the schema with one inferred from the example? Everything in it now (enums, "
            "bounds, optional keys) is lost;")

    def _check(self) -> None:
        ok = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        if not self.editor.toPlainText().strip():
            self.editor.clear_error()
            self._schema = None
            ok.setEnabled(True)
            return
        try:
            value = _parse(self.editor)
            if not isinstance(value, dict):
                raise SchemaDefinitionError("a JSON schema is an object ({...})")
            check_schema(value)
        except ValueError:
            ok.setEnabled(False)
            return
        except SchemaDefinitionError as err:
            self.editor.set_error(None, None, err.message)
            ok.setEnabled(False)
            return
        self._schema = value
        ok.setEnabled(True)
