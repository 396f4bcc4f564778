"""The parameters panel, generated from the selected backend's capability table.

A preset picker (built-in and the user's own, with "save as preset"), a slider and number field
per numeric parameter within the range the backend accepts, the stop list, seed and greedy.
Parameters the backend ignores stay visible, greyed out with "ignored by this backend", so a
setting is never dropped silently; so do a response format it cannot enforce
(``ResponseFormatRow``) and tools it cannot send (``ToolsRow``). Every change that makes a valid
``Params`` is emitted as ``paramsChanged``; one that does not (best_of below n…) is refused and
the panel says why.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import get_args

from pydantic import ValidationError
from PySide6.QtCore import QEvent, Qt, Signal
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from workbench.core import paths
from workbench.core.errors import KnownError
from workbench.core.models import Params, ReasoningEffort
from workbench.core.params import (
    PARAM_NAMES,
    Capabilities,
    Preset,
    dump_presets,
    follows_preset,
    load_presets,
    with_preset,
)
from workbench.storage.files import write_text
from workbench.ui import theming
from workbench.ui.widgets.param_rows import (
    DEFAULT_TEXT,
    SPECS,
    NumericRow,
    StopListEditor,
    tooltip,
)
from workbench.ui.widgets.response_format_row import ResponseFormatRow
from workbench.ui.widgets.tools_row import ToolsRow

#: Sampling knobs that greedy decoding decides by itself.
GREEDY_DECIDES = ("temperature", "top_p", "top_k", "min_p")
NO_PRESET = "No preset"


def builtin_presets_file() -> Path:
    return paths.resources_dir() / "presets.yaml"


def user_presets_dir() -> Path:
    return paths.config_dir() / "presets"


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "preset"


class ParamsPanel(QWidget):
    """Edits one ``Params``. Call ``set_capabilities`` when the backend changes."""

    paramsChanged = Signal(object)  # Params
    presetSaved = Signal(str)

    def __init__(
        self,
        parent: QWidget | None = None,
        *,
        presets_file: Path | None = None,
        presets_dir: Path | None = None,
    ) -> None:
        super().__init__(parent)
        self.presets_file = presets_file or builtin_presets_file()
        self.presets_dir = presets_dir or user_presets_dir()
        self.presets: dict[str, Preset] = {}
        self.capabilities = Capabilities.supporting(*PARAM_NAMES)
        self._params = Params()
        self._preset: str | None = None
        self._updating = False
        self._build()
        self.reload_presets()
        self.set_capabilities(self.capabilities)

    # --- construction -----------------------------------------------------------------------

    def _build(self) -> None:
        self.backend_label = QLabel(self)
        self.backend_label.setAccessibleName("Backend these parameters are for")
        self.backend_label.setEnabled(False)

        self.preset_combo = QComboBox(self)
        self.preset_combo.setAccessibleName("Preset")
        self.preset_combo.setToolTip("Apply a set of parameters (built-in or saved by you)")
        self.modified_label = QLabel("modified", self)
        self.modified_label.setAccessibleName("Preset modified")
        self.modified_label.setToolTip("The parameters differ from the chosen preset")
        self.modified_label.setEnabled(False)
        self.modified_label.hide()
        self.save_button = QToolButton(self)
        self.save_button.setAccessibleName("Save as preset")
        self.save_button.setToolTip("Save these parameters as a preset of your own")
        self.reset_button = QToolButton(self)
        self.reset_button.setAccessibleName("Reset parameters")
        self.reset_button.setToolTip("Reset every parameter to the backend's default")
        presets_row = QHBoxLayout()
        presets_row.setSpacing(4)
        presets_row.addWidget(self.preset_combo, 1)
        presets_row.addWidget(self.modified_label)
        presets_row.addWidget(self.save_button)
        presets_row.addWidget(self.reset_button)

        self.save_row = QWidget(self)
        self.preset_name = QLineEdit(self.save_row)
        self.preset_name.setPlaceholderText("name of the new preset")
        self.preset_name.setAccessibleName("New preset name")
        self.preset_name.setToolTip("Name of the preset to save (Enter saves, Esc closes)")
        self.save_confirm = QPushButton("Save", self.save_row)
        self.save_confirm.setAccessibleName("Save the preset")
        self.save_confirm.setToolTip("Save the preset (Enter)")
        self.save_cancel = QPushButton("Cancel", self.save_row)
        self.save_cancel.setAccessibleName("Do not save a preset")
        self.save_cancel.setToolTip("Close without saving (Esc)")
        save_layout = QHBoxLayout(self.save_row)
        save_layout.setContentsMargins(0, 0, 0, 0)
        save_layout.setSpacing(4)
        save_layout.addWidget(self.preset_name, 1)
        save_layout.addWidget(self.save_confirm)
        save_layout.addWidget(self.save_cancel)
        self.save_row.hide()

        grid = QGridLayout()
        grid.setHorizontalSpacing(8)
        grid.setVerticalSpacing(4)
        grid.setColumnStretch(1, 1)
        self.rows: dict[str, NumericRow] = {}
        for index, spec in enumerate(SPECS):
            row = NumericRow(spec, grid, index, self)
            row.changed.connect(self._edited)
            self.rows[spec.name] = row
        self.greedy = QCheckBox("Greedy", self)
        self.greedy.setAccessibleName("Greedy decoding")
        self.greedy.setToolTip(tooltip("greedy"))
        self.greedy.toggled.connect(self._greedy_toggled)
        grid.addWidget(self.greedy, len(SPECS), 0, 1, 3)
        stop_label = QLabel("Stop", self)
        stop_label.setToolTip(tooltip("stop"))
        stop_label.setAlignment(Qt.AlignmentFlag.AlignTop)
        self.stop_editor = StopListEditor(self)
        self.stop_editor.changed.connect(self._edited)
        stop_label.setBuddy(self.stop_editor.entry)
        grid.addWidget(stop_label, len(SPECS) + 1, 0)
        grid.addWidget(self.stop_editor, len(SPECS) + 1, 1, 1, 2)
        self.effort_label = effort_label = QLabel("Reasoning effort", self)
        effort_label.setToolTip(tooltip("reasoning_effort"))
        self.effort = QComboBox(self)
        self.effort.setAccessibleName("Reasoning effort")
        self.effort.addItem(DEFAULT_TEXT, None)
        for level in get_args(ReasoningEffort):
            self.effort.addItem(level, level)
        self.effort.currentIndexChanged.connect(self._edited)
        effort_label.setBuddy(self.effort)
        grid.addWidget(effort_label, len(SPECS) + 2, 0)
        grid.addWidget(self.effort, len(SPECS) + 2, 1, 1, 2)

        self.response_format = ResponseFormatRow(self)
        self.tools = ToolsRow(self)

        self.message = QLabel(self)
        self.message.setAccessibleName("Parameters message")
        self.message.setWordWrap(True)
        self.message.hide()

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(8)
        layout.addWidget(self.backend_label)
        layout.addLayout(presets_row)
        layout.addWidget(self.save_row)
        layout.addLayout(grid)
        layout.addWidget(self.response_format)
        layout.addWidget(self.tools)
        layout.addWidget(self.message)
        layout.addStretch(1)

        self.preset_combo.activated.connect(self._preset_chosen)
        self.save_button.clicked.connect(self._open_save_row)
        self.save_confirm.clicked.connect(self._save_from_row)
        self.preset_name.returnPressed.connect(self._save_from_row)
        self.save_cancel.clicked.connect(self.save_row.hide)
        self.reset_button.clicked.connect(self.reset)
        self._refresh_icons()

    def _refresh_icons(self) -> None:
        self.save_button.setIcon(theming.icon("save"))
        self.reset_button.setIcon(theming.icon("rerun"))

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.PaletteChange:
            self._refresh_icons()
        super().changeEvent(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_Escape and self.save_row.isVisible():
            self.save_row.hide()
            return
        super().keyPressEvent(event)

    # --- public surface -----------------------------------------------------------------------

    def params(self) -> Params:
        """The last valid parameters (what ``paramsChanged`` last carried)."""
        return self._params

    @property
    def preset(self) -> str | None:
        return self._preset

    def set_capabilities(
        self,
        capabilities: Capabilities,
        backend_name: str = "",
        backend: Capabilities | None = None,
    ) -> None:
        """Rebuild the ranges and the ignored rows for a backend, or for its chosen model
        (``Backend.model_capabilities``: reasoning settings only a reasoning model takes; then
        ``backend`` is the backend's own table, so a setting only the model does not take says
        so)."""
        self.capabilities = capabilities
        self.response_format.set_capabilities(capabilities)
        self.tools.set_capabilities(capabilities)
        self.backend_label.setText(f"For {backend_name}" if backend_name else "")
        self._updating = True
        caps = capabilities.params
        by_model = {
            name for name in caps
            if backend is not None and capabilities.status(name) == "ignored"
            and backend.status(name) == "supported"
        }
        moved = [
            row.apply_capability(caps.get(name), name in by_model)
            for name, row in self.rows.items()
        ]
        stop_cap = caps.get("stop")
        stop_ignored = stop_cap is None or not stop_cap.supported
        self.stop_editor.setEnabled(not stop_ignored)
        note = "Ignored by this backend." if stop_ignored or stop_cap is None else stop_cap.note
        self.stop_editor.list.setToolTip(tooltip("stop", note))
        effort_cap = caps.get("reasoning_effort")
        self.effort.setEnabled(effort_cap is not None and effort_cap.supported)
        self.effort_label.setEnabled(self.effort.isEnabled())  # greyed as the rows' labels are
        effort_note = effort_cap.note if effort_cap is not None else ""
        scope = "model" if "reasoning_effort" in by_model else "backend"
        self.effort.setToolTip(tooltip("reasoning_effort", f"Ignored by this {scope}: "
                                       + effort_note if not self.effort.isEnabled()
                                       else effort_note))
        self._updating = False
        self._greedy_toggled(self.greedy.isChecked(), emit=False)
        notes = [m for m in moved if m]
        self._commit(note="; ".join(notes))

    def ignored(self) -> list[str]:
        """Names of the parameters greyed out as ignored by this backend."""
        names = [name for name, row in self.rows.items() if row.is_ignored]
        if not self.stop_editor.isEnabled():
            names.append("stop")
        if not self.effort.isEnabled():
            names.append("reasoning_effort")
        return names

    def set_params(self, params: Params) -> None:
        """Show ``params`` (e.g. restored from a past run) and emit them."""
        self._show(params)
        self._commit()

    def reload_presets(self) -> None:
        try:
            self.presets = load_presets(self.presets_file, self.presets_dir)
        except KnownError as err:
            self.presets = {}
            self._say(str(err), "error")
        self.preset_combo.clear()
        self.preset_combo.addItem(NO_PRESET, None)
        for name, preset in self.presets.items():
            label = name if preset.builtin else f"{name} (yours)"
            self.preset_combo.addItem(label, name)
            values = preset.params.model_dump(exclude_defaults=True)
            summary = ", ".join(f"{k} {v}" for k, v in values.items())
            self.preset_combo.setItemData(
                self.preset_combo.count() - 1, f"{preset.description}\n{summary}".strip(),
                Qt.ItemDataRole.ToolTipRole,
            )
        self._select_preset(self._preset)

    def apply_preset(self, name: str | None) -> None:
        """Set the parameters a preset names (``core.params.with_preset``: the ones the
        previous preset named go back to the default, the rest — max tokens… — stay)."""
        if name is None:
            self._preset = None
            self._select_preset(None)
            self._update_modified()
            return
        preset = self.presets[name]
        previous = self.presets.get(self._preset) if self._preset else None
        self._preset = name
        self._select_preset(name)
        self._show(with_preset(self._params, preset, previous))
        self._commit()

    def save_preset(self, name: str, description: str = "") -> Preset:
        """Save the current parameters as a user preset (a file in the config folder)."""
        name = name.strip()
        if not name:
            raise KnownError("a preset needs a name")
        preset = Preset(name=name, description=description, params=self._params)
        write_text(self.presets_dir / f"{_slug(name)}.yaml", dump_presets([preset]))
        replaced = self.presets.get(name)
        self._preset = name
        self.reload_presets()
        replaces = replaced is not None and replaced.builtin
        note = " (it replaces the built-in preset of that name)" if replaces else ""
        self._say(f"Saved the preset '{name}'{note}.", "ok")
        self.presetSaved.emit(name)
        return preset

    def reset(self) -> None:
        self._preset = None
        self._select_preset(None)
        self._show(Params())
        self._commit()

    # --- internals ----------------------------------------------------------------------------

    def _show(self, params: Params) -> None:
        self._updating = True
        try:
            for name, row in self.rows.items():
                row.set_value(getattr(params, name))
            self.stop_editor.set_stops(list(params.stop))
            self.greedy.setChecked(params.greedy)
            self.effort.setCurrentIndex(max(self.effort.findData(params.reasoning_effort), 0))
        finally:
            self._updating = False
        self._greedy_toggled(params.greedy, emit=False)

    def _read(self) -> Params:
        values: dict[str, object] = {name: row.value() for name, row in self.rows.items()}
        values["stop"] = self.stop_editor.stops()
        values["greedy"] = self.greedy.isChecked()
        values["reasoning_effort"] = self.effort.currentData()
        return Params.model_validate(values)

    def _edited(self) -> None:
        if not self._updating:
            self._commit()

    def _commit(self, note: str = "") -> None:
        """Validate the controls; emit the new ``Params``, or refuse and put the last valid
        values back."""
        try:
            params = self._read()
        except ValidationError as err:
            first = err.errors()[0]
            self._show(self._params)
            self._say(f"Refused: {first['msg'].removeprefix('Value error, ')}.", "error")
            return
        if note:
            self._say(note, "warning")
        else:
            self.message.hide()
        changed = params != self._params
        self._params = params
        self._update_modified()
        if changed:
            self.paramsChanged.emit(params)

    def _greedy_toggled(self, greedy: bool, emit: bool = True) -> None:
        for name in GREEDY_DECIDES:
            self.rows[name].set_held(greedy, "Greedy decides this (temperature 0, top-k 1)")
        if emit:
            self._edited()

    def _preset_chosen(self, index: int) -> None:
        self.apply_preset(self.preset_combo.itemData(index))

    def _select_preset(self, name: str | None) -> None:
        index = self.preset_combo.findData(name) if name is not None else 0
        self.preset_combo.setCurrentIndex(max(index, 0))

    def _update_modified(self) -> None:
        preset = self.presets.get(self._preset) if self._preset else None
        modified = preset is not None and not follows_preset(self._params, preset)
        self.modified_label.setVisible(modified)

    def _open_save_row(self) -> None:
        self.save_row.show()
        self.preset_name.setText(self._preset or "")
        self.preset_name.setFocus()
        self.preset_name.selectAll()

    def _save_from_row(self) -> None:
        try:
            self.save_preset(self.preset_name.text())
        except KnownError as err:
            self._say(str(err), "error")
            return
        self.save_row.hide()

    def _say(self, text: str, kind: theming.StatusKind) -> None:
        color = theming.status_color(kind)
        self.message.setText(text)
        self.message.setStyleSheet(f"color: {color.name()};")
        self.message.show()
