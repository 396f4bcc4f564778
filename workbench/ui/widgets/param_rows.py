"""The controls of one inference parameter: a slider with a number field, or the stop list.

Ranges come from ``core.models.Params`` itself (its pydantic bounds), narrowed by the selected
backend's ``Capabilities``; nothing here repeats them. "Unset" (leave it to the backend) is the
value one step below the minimum, shown as "default", so every field can go back to it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from annotated_types import Ge, Gt, Le, Lt
from PySide6.QtCore import QEvent, QObject, Qt, Signal
from PySide6.QtGui import QKeyEvent, QValidator
from PySide6.QtWidgets import (
    QAbstractSpinBox,
    QDoubleSpinBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QSlider,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from workbench.core.models import Params
from workbench.core.params import DESCRIPTIONS, ParamCapability
from workbench.ui import theming

DEFAULT_TEXT = "default"
IGNORED_TEXT = "ignored by this backend"
#: A setting the backend carries but the chosen model does not take (a reasoning effort for
#: gpt-4o): the backend is not to blame.
MODEL_IGNORED_TEXT = "ignored by this model"
SEED_MAX = 2**31 - 1


@dataclass(frozen=True)
class NumericSpec:
    """How one numeric parameter is edited. ``high`` is where the field stops when the model
    sets no upper bound; ``slider_high`` keeps a slider usable for wide ranges."""

    name: str
    label: str
    integer: bool
    step: float
    high: float | None = None
    slider_high: float | None = None
    slider: bool = True

    def bounds(self) -> tuple[float, float]:
        """The valid closed range, from the ``Params`` field's own constraints."""
        low, high = -math.inf, math.inf
        for rule in Params.model_fields[self.name].metadata:
            if isinstance(rule, Ge):
                low = float(rule.ge)  # type: ignore[arg-type]
            elif isinstance(rule, Gt):
                low = float(rule.gt) + self.step  # type: ignore[arg-type]
            elif isinstance(rule, Le):
                high = float(rule.le)  # type: ignore[arg-type]
            elif isinstance(rule, Lt):
                high = float(rule.lt) - self.step  # type: ignore[arg-type]
        if self.high is not None:
            high = min(high, self.high)
        return (0.0 if low == -math.inf else low), high


SPECS: tuple[NumericSpec, ...] = (
    NumericSpec("temperature", "Temperature", False, 0.01),
    NumericSpec("top_p", "Top-p", False, 0.01),
    NumericSpec("top_k", "Top-k", True, 1, high=500, slider_high=200),
    NumericSpec("min_p", "Min-p", False, 0.01),
    NumericSpec("max_tokens", "Max tokens", True, 1, high=1_048_576, slider_high=8192),
    NumericSpec("presence_penalty", "Presence penalty", False, 0.01),
    NumericSpec("frequency_penalty", "Frequency penalty", False, 0.01),
    NumericSpec("repetition_penalty", "Repetition penalty", False, 0.01),
    NumericSpec("seed", "Seed", True, 1, high=SEED_MAX, slider=False),
    NumericSpec("n", "Answers (n)", True, 1, slider=False),
    NumericSpec("best_of", "Best of", True, 1, slider=False),
    NumericSpec("top_logprobs", "Token alternatives", True, 1, slider=False),
    NumericSpec("thinking_budget", "Thinking budget", True, 1, high=1_048_576,
                slider_high=32_768),
)


def _validate_default(text: str) -> QValidator.State | None:
    """Empty or (a prefix of) "default" means unset; None: an ordinary number to check."""
    typed = text.strip().lower()
    if typed in ("", DEFAULT_TEXT):
        return QValidator.State.Acceptable
    if DEFAULT_TEXT.startswith(typed) and not typed[0].isdigit():
        return QValidator.State.Intermediate
    return None


class IntField(QSpinBox):
    """A spin box where clearing the field or typing "default" goes back to unset."""

    def validate(self, text: str, pos: int) -> tuple[QValidator.State, str, int]:
        state = _validate_default(text)
        return (state, text, pos) if state is not None else super().validate(text, pos)

    def valueFromText(self, text: str) -> int:
        return self.minimum() if _validate_default(text) else super().valueFromText(text)


class FloatField(QDoubleSpinBox):
    """``IntField`` for decimals."""

    def validate(self, text: str, pos: int) -> tuple[QValidator.State, str, int]:
        state = _validate_default(text)
        return (state, text, pos) if state is not None else super().validate(text, pos)

    def valueFromText(self, text: str) -> float:
        return self.minimum() if _validate_default(text) else super().valueFromText(text)


def tooltip(name: str, note: str = "") -> str:
    text = DESCRIPTIONS.get(name, "")
    return f"{text}\n\n{note}" if note else text


class NumericRow(QObject):
    """Label, slider and number field of one parameter, placed in a grid row."""

    changed = Signal()

    def __init__(self, spec: NumericSpec, grid: QGridLayout, row: int, parent: QWidget) -> None:
        super().__init__(parent)
        self.spec = spec
        self.low, self.high = spec.bounds()
        self.label = QLabel(spec.label, parent)
        self.label.setToolTip(tooltip(spec.name))
        self.spin: IntField | FloatField
        if spec.integer:
            self.spin = IntField(parent)
        else:
            self.spin = FloatField(parent)
            self.spin.setDecimals(2)
            self.spin.setSingleStep(spec.step)
        self.spin.setSpecialValueText(DEFAULT_TEXT)
        self.spin.setAlignment(Qt.AlignmentFlag.AlignRight)
        self.spin.setCorrectionMode(QAbstractSpinBox.CorrectionMode.CorrectToPreviousValue)
        self.spin.setKeyboardTracking(False)  # typing "1.5" is one change, not three
        self.spin.setAccessibleName(f"{spec.label} value")
        self.slider = QSlider(Qt.Orientation.Horizontal, parent)
        self.slider.setAccessibleName(f"{spec.label} slider")
        self.ignored = QLabel(IGNORED_TEXT, parent)
        self.ignored.setEnabled(False)
        self.ignored.setAccessibleName(f"{spec.label} is ignored by this backend")
        self.ignored.hide()
        self.label.setBuddy(self.spin)
        grid.addWidget(self.label, row, 0)
        grid.addWidget(self.slider, row, 1)
        grid.addWidget(self.ignored, row, 1)
        grid.addWidget(self.spin, row, 2)
        self.slider.setVisible(spec.slider)
        self._syncing = False
        self._is_ignored = False
        self._default: float | None = None  # what the backend sends when unset
        self.set_range(self.low, self.high)
        self.set_value(None)
        self.spin.valueChanged.connect(self._spin_moved)
        self.slider.valueChanged.connect(self._slider_moved)
        self.set_note("")

    # --- range and value ------------------------------------------------------------------

    def set_range(self, low: float, high: float) -> None:
        """Valid values ``low``..``high``; one step below ``low`` means "default"."""
        was = self.value()  # read against the old range: its "default" sits below the old low
        self.low, self.high = low, high
        self._syncing = True
        sentinel = low - self.spec.step
        if isinstance(self.spin, IntField):
            self.spin.setRange(int(sentinel), int(high))
        else:
            self.spin.setRange(sentinel, high)
        top = min(high, self.spec.slider_high or high)
        self.slider.setRange(0, self._position(top) if self.spec.slider else 0)
        self._syncing = False
        self.set_value(was)

    def value(self) -> float | int | None:
        raw = self.spin.value()
        if raw < self.low - self.spec.step / 2:
            return None
        return int(raw) if self.spec.integer else round(float(raw), 2)

    def set_value(self, value: float | None) -> None:
        self._syncing = True
        try:
            sentinel = self.low - self.spec.step
            self.spin.setValue(sentinel if value is None else value)  # type: ignore[arg-type]
            shown = self.value()
            if self.spec.slider:
                self.slider.setValue(0 if shown is None else self._position(shown))
        finally:
            self._syncing = False

    def _position(self, value: float) -> int:
        return round((value - self.low) / self.spec.step) + 1

    def _spin_moved(self) -> None:
        if self._syncing:
            return
        value = self.value()
        if self.spec.slider:
            self._syncing = True
            self.slider.setValue(0 if value is None else self._position(value))
            self._syncing = False
        self.changed.emit()

    def _slider_moved(self, position: int) -> None:
        if self._syncing:
            return
        value = None if position == 0 else self.low + (position - 1) * self.spec.step
        self._syncing = True
        self.spin.setValue(self.low - self.spec.step if value is None else value)  # type: ignore[arg-type]
        self._syncing = False
        self.changed.emit()

    # --- presentation ---------------------------------------------------------------------

    def set_note(self, note: str) -> None:
        low, high = self.low, self.high
        fmt = "{:,.0f}" if self.spec.integer else "{:g}"
        decides = ("the backend decides" if self._default is None
                   else f"this backend sends {fmt.format(self._default)}")
        shown_range = f"Range {fmt.format(low)} to {fmt.format(high)}; the lowest position is " \
            f"'{DEFAULT_TEXT}' ({decides})."
        text = tooltip(self.spec.name, "\n".join(x for x in (note, shown_range) if x))
        for widget in (self.label, self.slider, self.spin):
            widget.setToolTip(text)
        self.ignored.setToolTip(tooltip(self.spec.name, note or "This backend does not use it."))

    def set_ignored(self, ignored: bool, note: str = "", by_model: bool = False) -> None:
        """Grey the row out and say so (``by_model``: only the chosen model does not take it),
        keeping the value (it is recorded as ignored)."""
        self._is_ignored = ignored
        text = MODEL_IGNORED_TEXT if by_model else IGNORED_TEXT
        self.ignored.setText(text)
        self.ignored.setAccessibleName(f"{self.spec.label} is {text}")
        self.label.setEnabled(not ignored)
        self.spin.setEnabled(not ignored)
        self.slider.setVisible(self.spec.slider and not ignored)
        self.ignored.setVisible(ignored)
        self.set_note(note)

    @property
    def is_ignored(self) -> bool:
        return self._is_ignored

    def set_held(self, held: bool, why: str) -> None:
        """Disable (not ignore) the controls while another setting decides the value (greedy)."""
        if self._is_ignored:
            return
        for widget in (self.slider, self.spin):
            widget.setEnabled(not held)
            if held:
                widget.setToolTip(why)
        if not held:
            self.set_note("")

    def apply_capability(self, cap: ParamCapability | None, by_model: bool = False) -> str:
        """Narrow to the backend's range; returns what changed, if a value had to move
        (``by_model``: see ``set_ignored``)."""
        low, high = self.spec.bounds()
        if cap is not None and cap.supported:
            if cap.minimum is not None:
                low = max(low, cap.minimum)
            if cap.maximum is not None:
                high = min(high, cap.maximum)
        before = self.value()
        self.set_range(low, high)
        after = self.value()
        self._default = cap.default if cap is not None else None
        self.set_ignored(
            cap is None or not cap.supported, cap.note if cap is not None else "", by_model
        )
        if before is not None and after != before:
            return f"{self.spec.label} {before:g} → {after:g}: the limit of this backend"
        return ""


def escape(text: str) -> str:
    """A stop sequence as typed: backslash escapes for newline, tab and backslash."""
    return text.replace("\\", "\\\\").replace("\n", "\\n").replace("\t", "\\t")


def unescape(text: str) -> str:
    out: list[str] = []
    chars = iter(text)
    for char in chars:
        if char != "\\":
            out.append(char)
            continue
        following = next(chars, "")
        out.append({"n": "\n", "t": "\t", "\\": "\\"}.get(following, "\\" + following))
    return "".join(out)


class StopListEditor(QWidget):
    """Stop sequences as a list; ``\\n`` and ``\\t`` are typed as escapes. Empty and duplicate
    sequences are refused with a message."""

    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.list = QListWidget(self)
        self.list.setAccessibleName("Stop sequences")
        self.list.setToolTip(tooltip("stop", "Shown with escapes: \\n is a newline, \\t a tab."))
        self.list.setFont(theming.monospace_font())
        self.list.setMaximumHeight(self.list.fontMetrics().height() * 4 + 8)
        self.entry = QLineEdit(self)
        self.entry.setPlaceholderText("add a stop sequence, e.g. \\n\\n")
        self.entry.setAccessibleName("New stop sequence")
        self.entry.setToolTip("Type a stop sequence and press Enter (\\n for a newline)")
        self.entry.setFont(theming.monospace_font())
        self.add_button = QToolButton(self)
        self.add_button.setAccessibleName("Add stop sequence")
        self.add_button.setToolTip("Add the stop sequence (Enter)")
        self.remove_button = QToolButton(self)
        self.remove_button.setAccessibleName("Remove stop sequence")
        self.remove_button.setToolTip("Remove the selected stop sequence (Delete)")
        self.message = QLabel(self)
        self.message.setAccessibleName("Stop sequence problem")
        self.message.hide()
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(4)
        row.addWidget(self.entry, 1)
        row.addWidget(self.add_button)
        row.addWidget(self.remove_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        layout.addWidget(self.list)
        layout.addLayout(row)
        layout.addWidget(self.message)
        self.entry.returnPressed.connect(self.add_from_entry)
        self.add_button.clicked.connect(self.add_from_entry)
        self.remove_button.clicked.connect(self.remove_selected)
        self._refresh_icons()

    def _refresh_icons(self) -> None:
        self.add_button.setIcon(theming.icon("add"))
        self.remove_button.setIcon(theming.icon("remove"))

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.PaletteChange:
            self._refresh_icons()
        super().changeEvent(event)

    def stops(self) -> list[str]:
        return [self.list.item(i).data(Qt.ItemDataRole.UserRole) for i in range(self.list.count())]

    def set_stops(self, stops: list[str]) -> None:
        self.list.clear()
        for stop in stops:
            self._append(stop)
        self.message.hide()

    def _append(self, stop: str) -> None:
        item = QListWidgetItem(escape(stop))
        item.setData(Qt.ItemDataRole.UserRole, stop)
        self.list.addItem(item)

    def add_from_entry(self) -> bool:
        """Add what was typed; False (with a message) when it is refused."""
        stop = unescape(self.entry.text())
        if stop == "":
            return self._refuse("A stop sequence cannot be empty.")
        if stop in self.stops():
            return self._refuse(f"'{escape(stop)}' is already a stop sequence.")
        self._append(stop)
        self.entry.clear()
        self.message.hide()
        self.changed.emit()
        return True

    def remove_selected(self) -> None:
        row = self.list.currentRow()
        if row >= 0:
            self.list.takeItem(row)
            self.changed.emit()

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_Delete and self.list.hasFocus():
            self.remove_selected()
            return
        super().keyPressEvent(event)

    def _refuse(self, why: str) -> bool:
        self.message.setText(why)
        self.message.setStyleSheet(f"color: {theming.status_color('error').name()};")
        self.message.show()
        return False
