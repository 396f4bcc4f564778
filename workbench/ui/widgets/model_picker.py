"""Where a prompt runs: the backend (the embedded local model or a configured server) and its
model.

Opening a backend is cheap; asking a server for its models is not (and fails offline), so model
lists are fetched off the GUI thread and the model field stays editable for servers meanwhile.
"""

from __future__ import annotations

from PySide6.QtCore import QTimer, Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QWidget

from workbench.backends.base import Backend, ModelInfo
from workbench.backends.config import load_configs
from workbench.core.errors import KnownError
from workbench.core.models import RenderedMessage, RunRequest
from workbench.core.params import Capabilities
from workbench.services.runner import Runner
from workbench.ui.background import TaskRunner, TaskWorker
from workbench.ui.widgets.preview_compute import RawPromptFunction

LOCAL_BACKEND = "llamacpp"
_NAME = 0x0100  # Qt.ItemDataRole.UserRole


class ModelPicker(QWidget):
    """Backend and model combos. ``changed(backend, model)`` fires for every new choice;
    ``problem(text)`` when a backend cannot be opened or listed."""

    changed = Signal(object, str)  # Backend, model id ("" for the backend's default)
    #: Backend, model id and that model's table (``Backend.model_capabilities``, asked off the
    #: GUI thread once the choice settles: it may read the model's file or ask its server).
    capabilities = Signal(object, str, object)
    problem = Signal(str)

    def __init__(self, runner: Runner, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.runner = runner
        self.backend: Backend | None = None
        self.models: list[ModelInfo] = []
        self._wanted = ""  # a model chosen before the list that offers it arrived
        self.tasks = TaskRunner(self, max_threads=1)
        self._settled = QTimer(self, singleShot=True, interval=250)  # a model name being typed
        self._settled.timeout.connect(self._ask_capabilities)
        self.backend_box = QComboBox(self)
        self.backend_box.setAccessibleName("Backend")
        self.backend_box.setToolTip(
            "Where prompts run: the embedded local model or a configured server "
            "(Tools ▸ Backends… adds one)"
        )
        self.backend_box.setMinimumContentsLength(18)
        self.model_box = QComboBox(self)
        self.model_box.setAccessibleName("Model")
        self.model_box.setToolTip("The model this backend runs")
        self.model_box.setMinimumContentsLength(24)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(8)
        layout.addWidget(QLabel("Backend", self))
        layout.addWidget(self.backend_box)
        layout.addWidget(QLabel("Model", self))
        layout.addWidget(self.model_box)
        self.backend_box.currentIndexChanged.connect(lambda _i: self._open(self.backend_name))
        self.model_box.currentTextChanged.connect(self._model_changed)

    @property
    def backend_name(self) -> str:
        return str(self.backend_box.currentData(_NAME) or "")

    def backend_names(self) -> list[str]:
        return [str(self.backend_box.itemData(i, _NAME)) for i in range(self.backend_box.count())]

    @property
    def model(self) -> str:
        return self.model_box.currentText()

    def context_window(self) -> int | None:
        info = next((m for m in self.models if m.id == self.model), None)
        return info.context_window if info else None

    def reload(self) -> None:
        """Re-read the configured backends (after the Backends dialog), keeping the choice."""
        names = [LOCAL_BACKEND]
        try:
            names += sorted(load_configs())
        except KnownError as err:
            self.problem.emit(str(err))
        current = self.backend_name or LOCAL_BACKEND
        self.backend_box.blockSignals(True)
        self.backend_box.clear()
        for name in names:
            label = "Local · embedded llama.cpp" if name == LOCAL_BACKEND else name
            self.backend_box.addItem(label)
            self.backend_box.setItemData(self.backend_box.count() - 1, name, _NAME)
        self.backend_box.setCurrentIndex(names.index(current) if current in names else 0)
        self.backend_box.blockSignals(False)
        self._open(self.backend_name)

    def select(self, backend: str, model: str) -> None:
        """Choose ``backend`` (a configured name or id) and ``model`` if they are offered."""
        index = self.backend_box.findData(backend, _NAME)
        if index >= 0 and index != self.backend_box.currentIndex():
            self.backend_box.setCurrentIndex(index)
        if model:
            self.model_box.setCurrentText(model)
            self._wanted = "" if self.model == model else model

    def shutdown(self, timeout_s: float) -> bool:
        """Stop asking (the window is closing): no model table is asked after this, and what
        the running tasks still report is dropped."""
        self._settled.stop()
        return self.tasks.shutdown(timeout_s=timeout_s)

    def _open(self, name: str) -> None:
        if not name:
            return
        try:
            backend = self.runner.backend(name)
        except KnownError as err:
            self.problem.emit(f"{name}: {err}")
            return
        self.backend = backend
        self.models = []
        self._wanted = ""  # another backend: a model wanted from the previous one is moot
        self.model_box.blockSignals(True)
        self.model_box.clear()
        self.model_box.setEditable(name != LOCAL_BACKEND)
        # the configured default is what a run uses: shown at once, and kept if listing fails
        default = str(getattr(backend.options, "default_model", "") or "")
        if default:
            self.model_box.addItem(default)
        self.model_box.blockSignals(False)
        worker: TaskWorker[list[ModelInfo]] = TaskWorker(
            lambda _report, _cancel: backend.list_models()
        )
        worker.signals.finished.connect(lambda models, b=backend: self._show_models(b, models))
        worker.signals.failed.connect(lambda error, b=backend: self._list_failed(b, error))
        self.tasks.start(worker)
        self._changed()

    def _show_models(self, backend: Backend, models: list[ModelInfo]) -> None:
        if backend is not self.backend:
            return  # the user picked another backend meanwhile
        typed = self._wanted or self.model_box.currentText()
        self._wanted = ""
        self.models = models
        self.model_box.blockSignals(True)
        self.model_box.clear()
        self.model_box.addItems([m.id for m in models])
        if typed:
            self.model_box.setCurrentText(typed)
        self.model_box.blockSignals(False)
        self._changed()

    def _list_failed(self, backend: Backend, error: KnownError) -> None:
        if backend is self.backend:
            self.problem.emit(f"Cannot list the models of {backend.display_name}: {error}")

    def _model_changed(self, _model: str) -> None:
        if self.backend is not None:
            self._changed()

    def _changed(self) -> None:
        self.changed.emit(self.backend, self.model)
        self._settled.start()

    def _ask_capabilities(self) -> None:
        backend, model = self.backend, self.model
        if backend is None:
            return
        worker: TaskWorker[Capabilities] = TaskWorker(
            lambda _report, _cancel: backend.model_capabilities(model)
        )
        worker.signals.finished.connect(
            lambda table, b=backend, m=model: self._show_capabilities(b, m, table)
        )
        self.tasks.start(worker)

    def _show_capabilities(self, backend: Backend, model: str, table: Capabilities) -> None:
        if backend is self.backend and model == self.model:  # else the choice moved on
            self.capabilities.emit(backend, model, table)


def raw_prompt_function(backend: Backend, model: str) -> RawPromptFunction | None:
    """What a local model reads after its chat template, for the preview (None for servers,
    whose templates are not visible). The function runs off the GUI thread."""
    preview = getattr(backend, "preview", None)
    if backend.id != LOCAL_BACKEND or preview is None:
        return None

    def raw(messages: list[RenderedMessage]) -> str:
        request = RunRequest(backend=backend.id, model=model, messages=messages)
        return str(preview(request).raw_prompt)

    return raw
