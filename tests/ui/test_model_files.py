"""Model files in the app: File ▸ Open model file… and a dropped .gguf open the model picker,
which lists found and opened files with their metadata and memory needs; choosing one makes the
local backend run it with its remembered load settings (a real run on the embedded model's file
copied to a folder of its own)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QApplication, QFileDialog, QPlainTextEdit, QWidget
from pytestqt.qtbot import QtBot

from tests.backends.gguf_writer import write_gguf
from tests.ui.windows import shot, window
from workbench.backends import llamacpp_load
from workbench.backends.base import run_to_result
from workbench.backends.config import load_configs
from workbench.backends.llamacpp import LlamaCppOptions
from workbench.backends.local_models import EMBEDDED_ID, embedded_model_path
from workbench.core.models import Params, RenderedMessage, RunRequest
from workbench.ui.dialogs.model_files_dialog import COLUMNS, ModelFilesDialog
from workbench.ui.main_window import MainWindow

__all__ = ["window"]

GGUF_FILTER = "GGUF models (*.gguf)"

pytestmark = pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints")


@pytest.fixture(autouse=True)
def user_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A home folder holding one LM Studio download (set before the window opens)."""
    home = tmp_path / "user"
    for var in ("HF_HOME", "HF_HUB_CACHE", "XDG_CACHE_HOME", "XDG_DATA_HOME"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HOME", str(home))
    write_gguf(home / ".lmstudio/models/org/Tiny-GGUF/tiny-q8.gguf", name="Tiny Chat")
    yield home


@pytest.fixture
def model_copy(tmp_path: Path) -> Path:
    source = embedded_model_path()
    assert source is not None
    target = tmp_path / "downloads" / "my-smollm2.gguf"
    target.parent.mkdir()
    shutil.copyfile(source, target)
    return target


def _cells(dialog: ModelFilesDialog, row: int) -> dict[str, str]:
    return {name: dialog.table.item(row, c).text() for c, name in enumerate(COLUMNS)}


def _rows(dialog: ModelFilesDialog) -> list[str]:
    tips = [dialog.table.item(r, 0).toolTip() for r in range(dialog.table.rowCount())]
    return [tip.splitlines()[0] for tip in tips]  # the path comes first


def test_the_picker_lists_found_files_with_metadata(qtbot: QtBot, tmp_path: Path) -> None:
    dialog = ModelFilesDialog(LlamaCppOptions())
    qtbot.addWidget(dialog)
    dialog.show()
    dialog.search()
    qtbot.waitUntil(lambda: dialog.table.rowCount() == 2 and "model file" in dialog.status.text())
    embedded = _cells(dialog, 0)
    assert embedded["Found in"] == "built in" and embedded["Quantization"] == "Q4_1"
    assert (embedded["Parameters"], embedded["Context"], embedded["Size"]) == (
        "135M",
        "8,192",
        "98 MB",
    )
    assert (embedded["Chat template"], embedded["Memory"]) == ("ChatML", "191 MB")
    # One name everywhere: the file's, as 'workbench models' says it; the name written in the
    # file and the id the toolbar shows are details in the tooltip.
    assert embedded["Model"] == "SmolLM2-135M-Instruct.Q4_1.gguf"
    tip = dialog.table.item(0, 0).toolTip()
    assert "Name in the file: Smollm2 135M" in tip and "Model id: smollm2-135m-instruct" in tip
    tiny = _cells(dialog, 1)
    assert (tiny["Model"], tiny["Found in"], tiny["Quantization"]) == (
        "tiny-q8.gguf",
        "LM Studio",
        "F32",
    )
    # The estimate follows the form: 30 x 2048 x 384 x 2 bytes = 45 MiB at 2,048 tokens.
    dialog.table.selectRow(0)
    dialog.ctx_spin.setValue(2048)
    assert dialog.estimate.text().startswith("144 MB = 97 MB weights + 47 MB KV cache (f16")
    dialog.kv_box.setCurrentText("q8_0")
    assert "KV cache (q8_0, 2,048 tokens)" in dialog.estimate.text()
    assert dialog.gpu_spin.isHidden() == (not llamacpp_load.gpu_offload_supported())
    fake = tmp_path / "broken.gguf"
    fake.write_text("<html>not found</html>")
    assert not dialog.add_file(fake)
    assert str(fake) in dialog.status.text() and "not a GGUF" in dialog.status.text()
    assert dialog.table.rowCount() == 2
    image = shot(dialog, "model_files_picker")
    assert image.stat().st_size > 0


def test_a_file_that_is_not_a_gguf_is_named_in_the_picker(
    qtbot: QtBot, window: MainWindow, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = tmp_path / "bad.gguf"
    fake.write_text("<html>not found</html>")
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *_a, **_k: (str(fake), GGUF_FILTER))
    window.model_files.open_model_file()  # File ▸ Open model file…
    dialog = window.model_files.dialog
    assert dialog is not None
    qtbot.waitUntil(lambda: "model file(s)" in dialog.status.text())  # the search has finished
    message = dialog.status.text()  # still says why the file is not listed
    assert f"Cannot open {fake}: not a GGUF model file" in message, message
    assert str(fake) not in _rows(dialog)


@pytest.mark.slow
def test_open_model_file_choose_it_and_run_on_it(
    qtbot: QtBot, window: MainWindow, model_copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(
        QFileDialog, "getOpenFileName", lambda *_a, **_k: (str(model_copy), GGUF_FILTER)
    )
    window.model_files.open_model_file()  # File ▸ Open model file…
    dialog = window.model_files.dialog
    assert dialog is not None and dialog.isVisible()
    assert _rows(dialog)[0] == str(model_copy) and dialog.selected() is dialog.rows[0]
    assert _cells(dialog, 0)["Found in"] == "opened"
    qtbot.waitUntil(lambda: "model file" in dialog.status.text())  # the search adds the others
    assert _rows(dialog)[0] == str(model_copy) and len(_rows(dialog)) == 3
    dialog.ctx_spin.setValue(1024)
    with qtbot.waitSignal(dialog.chosen):
        qtbot.mouseClick(dialog.use_button, Qt.MouseButton.LeftButton)
    saved = load_configs()["llamacpp"].options
    assert saved["model_path"] == str(model_copy)
    assert saved["models"] == {str(model_copy): {"n_ctx": 1024}}
    picker = window.picker
    qtbot.waitUntil(lambda: picker.model == str(model_copy))
    backend = window.workspace.runner.backend("llamacpp")
    assert picker.backend is backend and backend.options.model_path == str(model_copy)
    assert picker.context_window() == 1024
    request = RunRequest(
        backend="llamacpp",
        model=picker.model,
        messages=[RenderedMessage(role="user", content="Say hi.")],
        params=Params(greedy=True, max_tokens=4),
    )
    result = run_to_result(backend, request)
    assert result.error is None and result.text and result.request.model == str(model_copy)
    # Choosing the built-in model again forgets the file as the default.
    dialog = window.model_files.show_picker()
    qtbot.waitUntil(lambda: EMBEDDED_ID in [r.model.id for r in dialog.rows])
    dialog.table.selectRow([r.model.id for r in dialog.rows].index(EMBEDDED_ID))
    dialog.use_selected()
    assert "model_path" not in load_configs()["llamacpp"].options
    qtbot.waitUntil(lambda: picker.model == EMBEDDED_ID)


def _drag(kind: type[QDropEvent], *paths: Path) -> QDropEvent:
    data = QMimeData()
    urls = [QUrl.fromLocalFile(str(p)) for p in paths]
    data.setUrls(urls)
    data.setText("\n".join(u.toString() for u in urls))  # as file managers send it too
    event = kind(
        QPoint(200, 200) if kind is QDragEnterEvent else QPointF(200, 200),
        Qt.DropAction.CopyAction,
        data,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    event._data = data  # type: ignore[attr-defined]  # the event does not own its mime data
    return event


def _drop_target(window: MainWindow, where: str) -> QWidget:
    if where == "editor":
        (editor,) = [
            w for w in window.findChildren(QPlainTextEdit) if w.isVisible() and w.acceptDrops()
        ][:1]
        return editor.viewport()
    return window.library.search if where == "search box" else window


@pytest.mark.parametrize("where", ["window", "editor", "search box"])
def test_a_dropped_gguf_opens_in_the_picker(
    qtbot: QtBot, window: MainWindow, tmp_path: Path, where: str
) -> None:
    """Dropped on the window, the template editor, or a text field (which would paste the
    file's URL into itself)."""
    target = _drop_target(window, where)
    before = window.editor.template()
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    enter = _drag(QDragEnterEvent, text)
    QApplication.sendEvent(target, enter)
    assert enter.isAccepted() == (where == "search box")  # not a model: a text field's text
    model = write_gguf(tmp_path / "dropped" / "qwen-mini.gguf", arch="qwen2", name="Qwen Mini")
    enter = _drag(QDragEnterEvent, model)
    QApplication.sendEvent(target, enter)
    assert enter.isAccepted()
    drop = _drag(QDropEvent, model)
    QApplication.sendEvent(target, drop)
    assert drop.isAccepted()
    assert window.editor.template() == before and window.library.search.text() == ""
    dialog = window.model_files.dialog
    assert dialog is not None and _rows(dialog)[0] == str(model)
    cells = _cells(dialog, 0)
    assert (cells["Model"], cells["Found in"], cells["Context"]) == (
        "qwen-mini.gguf", "opened", "2,048"
    )

