"""The inline "add variant" panel: duplicate a column and change one thing.

One thing at a time (a parameter, the template version, the model, a variable) keeps every column
one named difference away from the one it came from; the panel sits above the columns instead of
opening a dialog, and Enter adds the column.
"""

from __future__ import annotations

from pydantic import ValidationError
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QStackedWidget,
    QWidget,
)

from workbench.core.experiments import Variant
from workbench.core.grid import TemplateChoice
from workbench.core.models import Params
from workbench.core.params import DESCRIPTIONS, PARAM_NAMES
from workbench.ui import theming
from workbench.ui.compare.variants import format_value, version_label, with_version

KINDS = ("parameter", "template version", "model", "variable")
#: Parameters typed as text, parsed by ``Params`` itself (so the ranges are the model's).
EDITABLE_PARAMS = tuple(name for name in PARAM_NAMES if name not in ("n", "best_of"))


def parse_value(name: str, text: str) -> object:
    """The typed text as a parameter value: "" is the backend's default, stop is a list."""
    text = text.strip()
    if text == "" or text.lower() == "default":
        return None
    if name == "stop":
        return [part.encode().decode("unicode_escape") for part in text.split("|") if part]
    return text


class VariantEditor(QWidget):
    """Edits a copy of ``base``; ``variantReady`` carries the changed copy."""

    variantReady = Signal(object)  # Variant
    closed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.base: Variant | None = None
        self.versions: list[TemplateChoice] = []
        self.kind = QComboBox(self)
        self.kind.addItems([k.capitalize() for k in KINDS])
        self.kind.setAccessibleName("What to change")
        self.kind.setToolTip("Change one thing; the new column's header names it")
        self.kind.currentIndexChanged.connect(self._kind_changed)

        self.param = QComboBox(self)
        self.param.addItems(list(EDITABLE_PARAMS))
        self.param.setAccessibleName("Parameter")
        self.param.currentTextChanged.connect(self._param_changed)
        self.param_value = QLineEdit(self)
        self.param_value.setAccessibleName("Parameter value")
        self.param_value.setPlaceholderText("value, or empty for the default")
        self.version = QComboBox(self)
        self.version.setAccessibleName("Template version")
        self.backend = QComboBox(self)
        self.backend.setEditable(True)
        self.backend.setAccessibleName("Backend")
        self.backend.setToolTip("A configured backend or a backend id")
        self.model = QLineEdit(self)
        self.model.setAccessibleName("Model")
        self.model.setPlaceholderText("model id (empty: the backend's default)")
        self.variable = QComboBox(self)
        self.variable.setEditable(True)
        self.variable.setAccessibleName("Variable")
        self.variable.currentTextChanged.connect(self._variable_changed)
        self.variable_value = QLineEdit(self)
        self.variable_value.setAccessibleName("Variable value")

        self.pages = QStackedWidget(self)
        for widgets in ((self.param, self.param_value), (self.version,),
                        (self.backend, self.model), (self.variable, self.variable_value)):
            page = QWidget(self.pages)
            row = QHBoxLayout(page)
            row.setContentsMargins(0, 0, 0, 0)
            row.setSpacing(8)
            for widget in widgets:
                widget.setParent(page)
                row.addWidget(widget, 1 if isinstance(widget, QLineEdit) else 0)
            self.pages.addWidget(page)

        self.error = QLabel(self)
        self.error.setAccessibleName("Why the variant cannot be added")
        self.add_button = QPushButton("Add column", self)
        self.add_button.setDefault(True)
        self.add_button.setToolTip("Add the changed copy as a new column (Enter)")
        self.add_button.clicked.connect(self.accept)
        self.cancel_button = QPushButton("Cancel", self)
        self.cancel_button.setToolTip("Close without adding (Esc)")
        self.cancel_button.clicked.connect(self.close_editor)
        self.source = QLabel(self)
        for field in (self.param_value, self.model, self.variable_value):
            field.returnPressed.connect(self.accept)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(8)
        layout.addWidget(self.source)
        layout.addWidget(self.kind)
        layout.addWidget(self.pages, 1)
        layout.addWidget(self.error)
        layout.addWidget(self.add_button)
        layout.addWidget(self.cancel_button)
        self.hide()

    # --- public surface -----------------------------------------------------------------------

    def set_versions(self, versions: list[TemplateChoice]) -> None:
        """The library's versions of the template, which the user may pick."""
        self.versions = list(versions)

    def set_backends(self, names: list[str]) -> None:
        self.backend.clear()
        self.backend.addItems(names)

    def open_for(self, base: Variant, source_name: str, kind: str = "parameter") -> None:
        """Show the panel editing a copy of ``base`` (named ``source_name``, e.g. "copy of B")."""
        self.base = base
        self.source.setText(f"Copy of {source_name}, change:")
        self.version.clear()
        for choice in self.versions:
            self.version.addItem(version_label(choice.version or 0, choice.message))
        current = next((i for i, c in enumerate(self.versions)
                        if (c.key, c.version) == (base.template_key, base.template_version)), -1)
        if current >= 0:
            self.version.setCurrentIndex(current)
        self.backend.setCurrentText(base.backend)
        self.model.setText(base.model)
        self.variable.clear()
        names = [v.name for v in base.template.variables] or sorted(base.variables)
        self.variable.addItems(names)
        self.kind.setCurrentIndex(KINDS.index(kind))
        self._kind_changed(KINDS.index(kind))
        self._param_changed(self.param.currentText())
        self.error.clear()
        self.show()
        self._focus_field()

    def close_editor(self) -> None:
        self.hide()
        self.closed.emit()

    def accept(self) -> None:
        if not self.isVisible():  # Enter reaches both the field and the panel
            return
        try:
            variant = self.changed_variant()
        except (ValueError, ValidationError) as err:
            message = err.errors()[0]["msg"] if isinstance(err, ValidationError) else str(err)
            self.error.setText(message)
            self.error.setToolTip(message)
            palette = self.error.palette()
            palette.setColor(self.error.foregroundRole(), theming.status_color("error"))
            self.error.setPalette(palette)
            return
        self.hide()
        self.variantReady.emit(variant)

    def changed_variant(self) -> Variant:
        """The copy with the one change made; ``ValueError`` says why it cannot be made."""
        if self.base is None:
            raise ValueError("nothing to copy")
        base = self.base
        kind = KINDS[self.kind.currentIndex()]
        if kind == "parameter":
            name = self.param.currentText()
            values = base.params.model_dump(exclude_defaults=True)
            value = parse_value(name, self.param_value.text())
            if value is None:
                values.pop(name, None)
            else:
                values[name] = value
            params = Params.model_validate(values)
            return base.model_copy(update={"params": params, "label": ""})
        if kind == "template version":
            index = self.version.currentIndex()
            if not 0 <= index < len(self.versions):
                raise ValueError("no other template versions: save versions in the library first")
            return with_version(base, self.versions[index])
        if kind == "model":
            backend = self.backend.currentText().strip()
            if not backend:
                raise ValueError("name a backend")
            return base.model_copy(update={
                "backend": backend, "model": self.model.text().strip(), "label": ""})
        name = self.variable.currentText().strip()
        if not name:
            raise ValueError("name a variable")
        variables = {**base.variables, name: self.variable_value.text()}
        return base.model_copy(update={"variables": variables, "label": ""})

    # --- internals ----------------------------------------------------------------------------

    def _kind_changed(self, index: int) -> None:
        self.pages.setCurrentIndex(index)
        self.error.clear()
        self._focus_field()

    def _focus_field(self) -> None:
        field = (self.param_value, self.version, self.model,
                 self.variable_value)[self.kind.currentIndex()]
        field.setFocus(Qt.FocusReason.OtherFocusReason)
        if isinstance(field, QLineEdit):
            field.selectAll()

    def _param_changed(self, name: str) -> None:
        self.param.setToolTip(DESCRIPTIONS.get(name, ""))
        self.param_value.setToolTip(DESCRIPTIONS.get(name, "") + (
            "\nSeparate stop sequences with |" if name == "stop" else ""))
        if self.base is not None:
            value = self.base.params.model_dump(exclude_defaults=True).get(name)
            if isinstance(value, list):
                self.param_value.setText("|".join(value))
            else:
                self.param_value.setText("" if value is None else format_value(value))

    def _variable_changed(self, name: str) -> None:
        if self.base is not None:
            self.variable_value.setText(self.base.variables.get(name, ""))

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_Escape:
            self.close_editor()
            return
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            self.accept()
            return
        super().keyPressEvent(event)
