"""The model picker: every GGUF file found or opened, with what its header says and the memory it
needs, and the load settings remembered for the chosen one.

Finding and reading the files runs off the GUI thread (a Hugging Face cache can hold thousands
of files); a file opened by hand is read at once (its header only). "Use this model" makes it the
local backend's model (``model_path``) and saves its load settings in the backend's config.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QGroupBox,
    QHeaderView,
    QLabel,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from workbench.backends import llamacpp_load, local_models
from workbench.backends.gguf_files import (
    KV_CACHE_TYPES,
    GgufError,
    GgufInfo,
    human_bytes,
    human_count,
    read_info,
)
from workbench.backends.llamacpp_load import ModelLoadSettings
from workbench.backends.local_models import LocalModel
from workbench.core.errors import KnownError
from workbench.ui.background import TaskRunner, TaskWorker

#: Column titles and their tooltips.
COLUMNS = {
    "Model": "The file's name, as 'workbench models' lists it (each row's tooltip has its path, "
    "the name written inside the file and, for a built-in model, the id runs record)",
    "Found in": "The app whose folder holds it, or how it came here",
    "Size": "Size on disk",
    "Parameters": "Weights, summed over the file's tensors",
    "Quantization": "The file type: how the weights are stored",
    "Context": "The context length the model was trained for",
    "Chat template": "The chat template in the file, by family when recognised",
    "Memory": "Weights plus the KV cache at the context size the file is loaded with: "
    "n_layer × n_ctx × (n_embd_k_gqa + n_embd_v_gqa) × bytes per element",
}


@dataclass(frozen=True)
class ModelRow:
    """One file in the table: its header's metadata, or why it could not be read."""

    model: LocalModel
    info: GgufInfo | None
    error: str | None = None
    opened: bool = False  # opened or dropped in this session

    @property
    def where(self) -> str:
        if self.opened:
            return "opened"
        return self.model.app or {"embedded": "built in", "package": "package",
                                  "configured": "chosen", "folder": "models folder",
                                  "app": "other app"}.get(self.model.source, self.model.source)


def _name_tip(row: ModelRow) -> str:
    """The path first, then the other names the model goes by: the one written in the file
    (GGUF general.name, often a training-run name) and a packaged model's id (the toolbar's)."""
    lines = [str(row.model.path)]
    if row.info is not None and row.info.name:
        lines.append(f"Name in the file: {row.info.name}")
    if row.model.source in ("embedded", "package"):
        lines.append(f"Model id: {row.model.id}")
    return "\n".join(lines)


def read_row(model: LocalModel) -> ModelRow:
    assert model.path is not None
    try:
        return ModelRow(model, read_info(model.path))
    except GgufError as err:
        return ModelRow(model, None, str(err))


def find_rows(options: Any) -> list[ModelRow]:
    """Every model file the local backend can see, read (runs on a worker thread)."""
    found = local_models.discover(options.model_path, options.model_dirs)
    return [read_row(m) for m in found if m.path is not None]


class ModelFilesDialog(QDialog):
    """``chosen(model id)`` after "Use this model" saved the choice and its load settings."""

    chosen = Signal(str)

    def __init__(self, options: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Model files")
        self.options = options  # the local backend's options: defaults and remembered settings
        self.rows: list[ModelRow] = []
        self.problem = ""  # why the file last opened is not listed (kept past the search)
        self.tasks = TaskRunner(self, max_threads=1)
        self.table = QTableWidget(0, len(COLUMNS), self)
        for column, (name, tip) in enumerate(COLUMNS.items()):
            header_item = QTableWidgetItem(name)
            header_item.setToolTip(tip)
            self.table.setHorizontalHeaderItem(column, header_item)
        self.table.setAccessibleName("Model files")
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().hide()
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.status = QLabel("Searching for model files…", self)
        self.status.setWordWrap(True)
        self._build_settings()
        self.use_button = QPushButton("Use this model", self)
        self.use_button.setDefault(True)
        self.use_button.setToolTip("Run prompts on the local backend with this file and these "
                                   "load settings (remembered for this file)")
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.addButton(self.use_button, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.rejected.connect(self.reject)
        self.use_button.clicked.connect(self.use_selected)
        layout = QVBoxLayout(self)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.status)
        layout.addWidget(self.settings_box)
        layout.addWidget(buttons)
        self.table.itemSelectionChanged.connect(self._selection_changed)
        self._selection_changed()
        self.resize(980, 560)

    def _build_settings(self) -> None:
        self.settings_box = QGroupBox("Load settings for this file", self)
        form = QFormLayout(self.settings_box)
        self.ctx_spin = QSpinBox(self.settings_box)
        self.ctx_spin.setRange(256, 1_048_576)
        self.ctx_spin.setSingleStep(1024)
        self.ctx_spin.setAccessibleName("Context size")
        self.ctx_spin.setToolTip("Tokens of prompt plus answer; the KV cache grows with it")
        self.threads_spin = QSpinBox(self.settings_box)
        self.threads_spin.setRange(1, max(1, os.cpu_count() or 1))
        self.threads_spin.setAccessibleName("Threads")
        self.gpu_spin = QSpinBox(self.settings_box)
        self.gpu_spin.setRange(-1, 1000)
        self.gpu_spin.setSpecialValueText("all")
        self.gpu_spin.setAccessibleName("GPU layers")
        self.kv_box = QComboBox(self.settings_box)
        self.kv_box.addItems(list(KV_CACHE_TYPES))
        self.kv_box.setAccessibleName("KV cache type")
        self.kv_box.setToolTip("f16 is exact; q8_0 halves the cache, q4_0 quarters it "
                               "(quantized caches use flash attention)")
        self.estimate = QLabel(self.settings_box)
        self.estimate.setAccessibleName("Memory estimate")
        form.addRow("Context size", self.ctx_spin)
        form.addRow("Threads", self.threads_spin)
        if llamacpp_load.gpu_offload_supported():
            form.addRow("GPU layers", self.gpu_spin)
        else:
            self.gpu_spin.hide()  # a CPU-only build: nothing to offload to
        form.addRow("KV cache", self.kv_box)
        form.addRow("Memory", self.estimate)
        self.ctx_spin.valueChanged.connect(lambda _v: self._show_estimate())
        self.kv_box.currentTextChanged.connect(lambda _t: self._show_estimate())

    # --- filling ---------------------------------------------------------------------------------

    def search(self) -> None:
        """Find the files off the GUI thread; rows opened meanwhile stay first."""
        options = self.options
        worker: TaskWorker[list[ModelRow]] = TaskWorker(lambda _r, _c: find_rows(options))
        worker.signals.finished.connect(self._found)
        worker.signals.failed.connect(lambda err: self.status.setText(f"Search failed: {err}"))
        self.tasks.start(worker)

    def _found(self, rows: list[ModelRow]) -> None:
        known = {r.model.path for r in self.rows}
        for row in rows:
            if row.model.path not in known:
                self._append(row)
        unreadable = sum(1 for r in self.rows if r.error)
        self.status.setText(
            f"{len(self.rows)} model file(s)"
            + (f", {unreadable} unreadable" if unreadable else "")
            + ". Open any .gguf with File ▸ Open model file… or drop it on the window."
            + (f"\n{self.problem}" if self.problem else "")  # a file opened as the search ran
        )
        if not self.table.selectedItems() and self.rows:
            self.table.selectRow(0)

    def add_file(self, path: Path | str) -> bool:
        """Read an opened file, list it first and select it; False (said below the table) when
        it is not a readable GGUF."""
        path = local_models.file_path(path)
        try:
            info = read_info(path)
        except GgufError as err:
            self.problem = f"Cannot open {err}"
            self.status.setText(self.problem)
            return False
        self.problem = ""
        for index, row in enumerate(self.rows):
            if row.model.path == path:
                self.table.selectRow(index)
                return True
        model = LocalModel(str(path), path, path.name, "configured")
        self._append(ModelRow(model, info, opened=True), at=0)
        self.table.selectRow(0)
        self.status.setText(f"Opened {path}")
        return True

    def _append(self, row: ModelRow, at: int | None = None) -> None:
        index = len(self.rows) if at is None else at
        self.rows.insert(index, row)
        self.table.insertRow(index)
        info = row.info
        load = llamacpp_load.resolve(self.options, row.model.path)
        if info is None:
            cells = [row.model.path.name if row.model.path else row.model.id, row.where,
                     "", "", "", "", "", row.error or ""]
        else:
            template = (info.chat_template_name or "yes") if info.chat_template else "none"
            cells = [
                row.model.path.name if row.model.path else row.model.id,
                row.where,
                human_bytes(info.size_bytes),
                human_count(info.parameters),
                info.file_type,
                f"{info.context_length:,}" if info.context_length else "?",
                template,
                human_bytes(info.memory_estimate(load.n_ctx, load.kv_cache_type)),
            ]
        for column, text in enumerate(cells):
            item = QTableWidgetItem(text)
            item.setToolTip(_name_tip(row) if column == 0 else text)
            if column in (2, 3, 5, 7):
                item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            self.table.setItem(index, column, item)

    # --- the chosen row --------------------------------------------------------------------------

    def selected(self) -> ModelRow | None:
        rows = self.table.selectionModel().selectedRows()
        return self.rows[rows[0].row()] if rows else None

    def _selection_changed(self) -> None:
        row = self.selected()
        usable = row is not None and row.info is not None
        self.settings_box.setEnabled(usable)
        self.use_button.setEnabled(usable)
        if row is None or row.info is None:
            self.estimate.setText(row.error or "" if row else "")
            return
        load = llamacpp_load.resolve(self.options, row.model.path)
        self.ctx_spin.setValue(load.n_ctx)
        self.threads_spin.setValue(min(load.n_threads, self.threads_spin.maximum()))
        self.gpu_spin.setMaximum(row.info.n_layer or 1000)
        self.gpu_spin.setValue(load.n_gpu_layers)
        self.kv_box.setCurrentText(load.kv_cache_type)
        self._show_estimate()

    def _show_estimate(self) -> None:
        row = self.selected()
        if row is None or row.info is None:
            return
        info, n_ctx, kv = row.info, self.ctx_spin.value(), self.kv_box.currentText()
        cache = info.kv_cache_bytes(n_ctx, kv)
        text = (
            f"{human_bytes(info.memory_estimate(n_ctx, kv))} = {human_bytes(info.weights_bytes)} "
            f"weights + {human_bytes(cache)} KV cache ({kv}, {n_ctx:,} tokens)"
        )
        if info.context_length and n_ctx > info.context_length:
            text += f"; beyond the {info.context_length:,} tokens it was trained for"
        self.estimate.setText(text)

    def load_settings(self) -> ModelLoadSettings:
        """The form's values that differ from the backend's defaults (a file remembers only
        what was set for it)."""
        o = self.options
        gpu = self.gpu_spin.value() if llamacpp_load.gpu_offload_supported() else o.n_gpu_layers
        values = {
            "n_ctx": self.ctx_spin.value(),
            "n_threads": self.threads_spin.value(),
            "n_gpu_layers": gpu,
            "kv_cache_type": self.kv_box.currentText(),
        }
        return ModelLoadSettings(**{k: v for k, v in values.items() if v != getattr(o, k)})

    def use_selected(self) -> None:
        row = self.selected()
        if row is None or row.info is None or row.model.path is None:
            return
        try:
            llamacpp_load.remember(row.model.path, self.load_settings())
            embedded = row.model.source == "embedded"
            llamacpp_load.choose(None if embedded else row.model.path)
        except KnownError as err:
            self.status.setText(f"Not saved: {err}")
            return
        self.chosen.emit(row.model.id if embedded else str(row.model.path))
        self.accept()

    def done(self, result: int) -> None:
        self.tasks.shutdown()
        super().done(result)
