"""File ▸ Open model file…, Tools ▸ Model files…, and a ``.gguf`` dropped on the window: each
opens the model picker (``ModelFilesDialog``); choosing a model there makes the local backend run
it, and the toolbar's model picker follows.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtGui import QAction, QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QFileDialog, QMenu, QWidget

from workbench.ui.dialogs.model_files_dialog import ModelFilesDialog

if TYPE_CHECKING:
    from workbench.ui.main_window import MainWindow

LOCAL_BACKEND = "llamacpp"
GGUF_FILTER = "GGUF models (*.gguf);;All files (*)"


def dropped_models(event: QDragEnterEvent | QDropEvent) -> list[Path]:
    """The local ``.gguf`` files a drag carries."""
    if not event.mimeData().hasUrls():
        return []
    paths = [Path(url.toLocalFile()) for url in event.mimeData().urls() if url.isLocalFile()]
    return [p for p in paths if p.suffix.lower() == ".gguf"]


class ModelFiles(QObject):
    """The window's model-file actions and its drop target for ``.gguf`` files."""

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.window = window
        self.dialog: ModelFilesDialog | None = None
        window.setAcceptDrops(True)
        window.installEventFilter(self)
        # Widgets that take drops themselves (the template editor would paste the file's URL)
        # see a model file first: it opens in the picker instead.
        for widget in window.findChildren(QWidget):
            if widget.acceptDrops():
                widget.installEventFilter(self)

    def add_to(self, file_menu: QMenu, tools_menu: QMenu) -> None:
        open_action = QAction("Open &model file…", self)
        open_action.setToolTip("Open a .gguf model file: its metadata, memory needs and load "
                               "settings, and run prompts on it (or drop the file on the window)")
        open_action.triggered.connect(self.open_model_file)
        file_menu.addAction(open_action)
        picker_action = QAction("&Model files…", self)
        picker_action.setToolTip("The GGUF files on this computer (LM Studio, Hugging Face, "
                                 "GPT4All, Jan, your folders): choose one for the local backend")
        picker_action.triggered.connect(self.show_picker)
        tools_menu.addAction(picker_action)

    def open_model_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self.window, "Open model file", str(Path.home()), GGUF_FILTER
        )
        if path:
            self.open_path(path)

    def open_path(self, path: Path | str) -> ModelFilesDialog:
        """The picker with ``path`` read, listed first and selected (or why it cannot be)."""
        dialog = self.show_picker()
        dialog.add_file(path)
        return dialog

    def show_picker(self) -> ModelFilesDialog:
        """The model picker (one at a time), searching for files as it opens."""
        if self.dialog is not None and self.dialog.isVisible():
            self.dialog.raise_()
            return self.dialog
        options = self.window.workspace.runner.backend(LOCAL_BACKEND).options
        dialog = ModelFilesDialog(options, self.window)
        dialog.setObjectName("modelFilesDialog")
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.chosen.connect(self._chosen)
        dialog.destroyed.connect(lambda _obj=None: setattr(self, "dialog", None))
        self.dialog = dialog
        dialog.search()
        dialog.show()
        return dialog

    def _chosen(self, model_id: str) -> None:
        """Reopen the local backend with its new settings and select the model in the toolbar."""
        self.window.workspace.runner.forget(LOCAL_BACKEND)
        picker = self.window.picker
        picker.reload()
        picker.select(LOCAL_BACKEND, model_id)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        kind = event.type()
        if kind in (QEvent.Type.DragEnter, QEvent.Type.DragMove) and isinstance(
            event, QDragEnterEvent | QDropEvent
        ):
            if dropped_models(event):
                event.acceptProposedAction()
                return True
        elif kind == QEvent.Type.Drop and isinstance(event, QDropEvent):
            models = dropped_models(event)
            if models:
                event.acceptProposedAction()
                for path in models:
                    self.open_path(path)
                return True
        return super().eventFilter(watched, event)
