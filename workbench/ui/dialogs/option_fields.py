"""A form generated from a backend's pydantic ``Options`` model.

Each field gets the editor its type calls for (text, number within the field's bounds, switch,
choice, list, key/value table) with its description as tooltip. The fields most people set
come first; the rest fold away under "Advanced". Values are read back raw: validation is the
Options model's job (``Registry.options``), so the form cannot disagree with the CLI.
"""

from __future__ import annotations

import types
import typing
from typing import Any, Literal

from annotated_types import Ge, Gt, Le, Lt
from pydantic.fields import FieldInfo
from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLineEdit,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from workbench.backends.base import BackendOptions
from workbench.ui import theming
from workbench.ui.widgets.section import Section

#: Shown first, in this order, when a backend has them.
PRIMARY = ("base_url", "base_urls", "default_model", "model_path", "region", "profile",
           "endpoint_url", "extra_headers", "concurrency")
#: Never edited here: keys live in the keyring, capability tables in the CLI / YAML.
HIDDEN = ("capability_overrides",)
_WORDS = {"url": "URL", "api": "API", "tls": "TLS", "ctx": "context", "n": "", "aws": "AWS",
          "dirs": "folders", "rpm": "RPM"}
NOT_SET = "not set"


def label_for(name: str) -> str:
    words = [_WORDS.get(w, w) for w in name.split("_")]
    text = " ".join(w for w in words if w)
    return text[:1].upper() + text[1:]


def _optional(annotation: Any) -> tuple[Any, bool]:
    """``(inner type, allows None)`` for ``X | None``."""
    args = typing.get_args(annotation)
    origin = typing.get_origin(annotation)
    if (origin is typing.Union or origin is types.UnionType) and type(None) in args:
        rest = [a for a in args if a is not type(None)]
        return (rest[0] if len(rest) == 1 else annotation), True
    return annotation, False


def _bounds(info: FieldInfo, default_high: float) -> tuple[float, float]:
    low, high = -1e9, default_high
    for rule in info.metadata:
        if isinstance(rule, Ge):
            low = float(rule.ge)  # type: ignore[arg-type]
        elif isinstance(rule, Gt):
            low = float(rule.gt) + 0.01  # type: ignore[arg-type]
        elif isinstance(rule, Le):
            high = float(rule.le)  # type: ignore[arg-type]
        elif isinstance(rule, Lt):
            high = float(rule.lt) - 0.01  # type: ignore[arg-type]
    return (0.0 if low == -1e9 else low), high


class KeyValueTable(QWidget):
    """Editable name → value pairs (extra headers, wire names)."""

    changed = Signal()

    def __init__(self, title: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.table = QTableWidget(0, 2, self)
        self.table.setHorizontalHeaderLabels(["Name", "Value"])
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.table.verticalHeader().hide()
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setAccessibleName(title)
        self.table.setMaximumHeight(self.table.fontMetrics().height() * 6)
        self.add_button = QToolButton(self)
        self.add_button.setAccessibleName(f"Add to {title.lower()}")
        self.add_button.setToolTip("Add a row")
        self.remove_button = QToolButton(self)
        self.remove_button.setAccessibleName(f"Remove from {title.lower()}")
        self.remove_button.setToolTip("Remove the selected row")
        buttons = QVBoxLayout()
        buttons.setSpacing(4)
        buttons.addWidget(self.add_button)
        buttons.addWidget(self.remove_button)
        buttons.addStretch(1)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        layout.addWidget(self.table, 1)
        layout.addLayout(buttons)
        self.add_button.clicked.connect(lambda: self.add_row())
        self.remove_button.clicked.connect(self._remove_row)
        self.table.itemChanged.connect(lambda _item: self.changed.emit())
        self.add_button.setIcon(theming.icon("add"))
        self.remove_button.setIcon(theming.icon("remove"))

    def add_row(self, name: str = "", value: str = "") -> None:
        row = self.table.rowCount()
        self.table.insertRow(row)
        name_item = QTableWidgetItem(name)
        self.table.setItem(row, 0, name_item)
        self.table.setItem(row, 1, QTableWidgetItem(value))
        if not name:
            self.table.setCurrentCell(row, 0)
            self.table.editItem(name_item)
        self.changed.emit()

    def _remove_row(self) -> None:
        if self.table.currentRow() >= 0:
            self.table.removeRow(self.table.currentRow())
            self.changed.emit()

    def set_value(self, value: dict[str, str]) -> None:
        self.table.setRowCount(0)
        for name, text in value.items():
            self.add_row(name, text)

    def value(self) -> dict[str, str]:
        pairs: dict[str, str] = {}
        for row in range(self.table.rowCount()):
            name_item, value_item = self.table.item(row, 0), self.table.item(row, 1)
            name = name_item.text().strip() if name_item else ""
            if name:
                pairs[name] = value_item.text() if value_item else ""
        return pairs


class OptionsForm(QWidget):
    """Editors for the fields of ``options_cls``, filled from ``values`` (saved options)."""

    changed = Signal()

    def __init__(self, options_cls: type[BackendOptions], values: dict[str, Any],
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.options_cls = options_cls
        self._original = dict(values)
        self.editors: dict[str, QWidget] = {}
        self._getters: dict[str, typing.Callable[[], Any]] = {}
        primary = QFormLayout()
        advanced_body = QWidget(self)
        advanced = QFormLayout(advanced_body)
        for form in (primary, advanced):
            form.setContentsMargins(0, 0, 0, 0)
            form.setHorizontalSpacing(8)
            form.setVerticalSpacing(4)
        names = [n for n in PRIMARY if n in options_cls.model_fields]
        names += [n for n in options_cls.model_fields if n not in names]
        current = {**{n: f.get_default(call_default_factory=True)
                      for n, f in options_cls.model_fields.items()}, **values}
        for name in names:
            info = options_cls.model_fields[name]
            if name in HIDDEN or name.startswith("api_key_"):
                continue
            editor = self._editor(name, info, current.get(name))
            if editor is None:
                continue
            editor.setToolTip(info.description or "")
            editor.setAccessibleName(label_for(name))
            self.editors[name] = editor
            (primary if name in PRIMARY else advanced).addRow(label_for(name), editor)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(8)
        layout.addLayout(primary)
        self.advanced = Section("Advanced", advanced_body,
                                tooltip="Timeouts, retries and other settings most people keep")
        layout.addWidget(self.advanced)
        self.advanced.setVisible(advanced.rowCount() > 0)

    def values(self) -> dict[str, Any]:
        """The saved options with every edited field replaced (fields not shown are kept)."""
        return {**self._original, **{name: get() for name, get in self._getters.items()}}

    # --- editors ------------------------------------------------------------------------------

    def _editor(self, name: str, info: FieldInfo, value: Any) -> QWidget | None:
        kind, optional = _optional(info.annotation)
        origin = typing.get_origin(kind)
        if kind is bool:
            return self._check(name, bool(value))
        if kind is int:
            return self._int(name, info, value, optional)
        if kind is float:
            return self._float(name, info, value)
        if kind is str:
            return self._text(name, value, optional)
        if origin is Literal:
            return self._choice(name, [str(a) for a in typing.get_args(kind)], str(value))
        if origin is list and typing.get_args(kind) == (str,):
            return self._list(name, list(value or []))
        if origin is dict and typing.get_args(kind) == (str, str):
            table = KeyValueTable(label_for(name), self)
            table.set_value(dict(value or {}))
            table.changed.connect(self.changed)
            self._getters[name] = table.value
            return table
        return None

    def _check(self, name: str, value: bool) -> QWidget:
        box = QCheckBox(self)
        box.setChecked(value)
        box.toggled.connect(lambda _on: self.changed.emit())
        self._getters[name] = box.isChecked
        return box

    def _int(self, name: str, info: FieldInfo, value: Any, optional: bool) -> QWidget:
        low, high = _bounds(info, 1_048_576)
        spin = QSpinBox(self)
        spin.setRange(int(low) - (1 if optional else 0), int(high))
        if optional:
            spin.setSpecialValueText(NOT_SET)
        spin.setValue(int(value) if value is not None else spin.minimum())
        spin.valueChanged.connect(lambda _v: self.changed.emit())
        unset = spin.minimum() if optional else None
        self._getters[name] = lambda: None if spin.value() == unset else spin.value()
        return spin

    def _float(self, name: str, info: FieldInfo, value: Any) -> QWidget:
        low, high = _bounds(info, 1e6)
        spin = QDoubleSpinBox(self)
        spin.setDecimals(2)
        spin.setRange(low, high)
        spin.setValue(float(value))
        spin.valueChanged.connect(lambda _v: self.changed.emit())
        self._getters[name] = spin.value
        return spin

    def _text(self, name: str, value: Any, optional: bool) -> QWidget:
        line = QLineEdit(self)
        line.setText("" if value is None else str(value))
        if optional:
            line.setPlaceholderText(NOT_SET)
        line.textChanged.connect(lambda _t: self.changed.emit())
        self._getters[name] = (lambda: line.text().strip() or None) if optional else line.text
        return line

    def _choice(self, name: str, choices: list[str], value: str) -> QWidget:
        combo = QComboBox(self)
        combo.addItems(choices)
        combo.setCurrentText(value)
        combo.currentTextChanged.connect(lambda _t: self.changed.emit())
        self._getters[name] = combo.currentText
        return combo

    def _list(self, name: str, value: list[str]) -> QWidget:
        line = QLineEdit(self)
        line.setText("; ".join(value))
        line.setPlaceholderText("separate several with ;")
        line.textChanged.connect(lambda _t: self.changed.emit())
        self._getters[name] = lambda: [p.strip() for p in line.text().split(";") if p.strip()]
        return line
