"""Images on a user message in the real main window: attached by the Image… slot, a dropped
image file and a pasted picture, shown as chips (one removed again), counted in the preview by
OpenAI's formula for an OpenAI model, kept through save and reopen; the Image… button greyed
with the reason on the embedded model."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent, QGuiApplication, QImage
from PySide6.QtWidgets import QApplication, QWidget
from pytestqt.qtbot import QtBot

from tests.images import encode
from tests.ui.windows import close_window, open_window, press_save, shot
from workbench.backends.config import add_config
from workbench.core.images import ImagePart
from workbench.core.models import Message, PromptTemplate
from workbench.ui.main_window import MainWindow
from workbench.ui.widgets.message_images import MessageImages


@pytest.fixture
def window(qtbot: QtBot) -> Iterator[MainWindow]:
    add_config("vision", "scripted", {"script": [{"text": "A chart."}], "models": ["gpt-4o"]})
    window = open_window(qtbot)
    window.picker.select("vision", "gpt-4o")
    yield window
    close_window(window)


def _images(window: MainWindow) -> MessageImages:
    return window.editor.messages.cards[1].images


def _drop(target: QWidget, path: Path) -> None:
    """Drag ``path`` over ``target`` and drop it, as a file manager does."""
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    for kind in (QDropEvent.Type.DragEnter, QDropEvent.Type.Drop):
        event = QDropEvent(QPointF(10, 10), Qt.DropAction.CopyAction, mime,
                           Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, kind)
        QApplication.sendEvent(target, event)


def test_attach_drop_paste_preview_and_reopen(
    qtbot: QtBot, window: MainWindow, tmp_path: Path
) -> None:
    window.editor.set_template(PromptTemplate(name="Chart reader", messages=[
        Message(role="system", content="You read charts."),
        Message(role="user", content="What does this show?"),
    ]))
    images = _images(window)
    assert images.button.isEnabled() and images.button.isVisible()
    assert not window.editor.messages.cards[0].images.button.isVisible()  # system: none

    chart = tmp_path / "chart.png"
    chart.write_bytes(encode(1024, 1024))
    assert images.attach_file(chart)  # what the file picker calls

    photo = tmp_path / "photo.jpg"
    photo.write_bytes(encode(300, 200, "JPEG", 85))
    _drop(window.editor.messages.cards[1].editor.viewport(), photo)  # on the message's text
    qtbot.waitUntil(lambda: len(images.chips) == 2)
    assert window.editor.messages.cards[1].editor.toPlainText() == "What does this show?"

    pasted = QImage(64, 64, QImage.Format.Format_RGB32)
    pasted.fill(Qt.GlobalColor.darkGreen)
    QGuiApplication.clipboard().setImage(pasted)
    editor = window.editor.messages.cards[1].editor
    editor.setFocus()
    qtbot.keyClick(editor, Qt.Key.Key_V, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: len(images.chips) == 3)
    assert images.chips[2].image.media_type == "image/png"
    assert images.chips[2].image.size() == (64, 64)
    assert [c.label.text() for c in images.chips] == ["PNG 1024×1024", "JPEG 300×200",
                                                      "PNG 64×64"]
    assert not images.attach_bytes(b"no image here", "notes.txt")
    assert "Not attached: notes.txt: not a PNG" in images.problem.text()

    qtbot.waitUntil(lambda: len(window.editor.template().messages[1].images) == 3)
    # OpenAI's formula: 1024² → 765, 300×200 → 255, 64² → 255
    qtbot.waitUntil(lambda: "+ 3 images (1,275 tokens)" in window.preview.messages_view
                    .toPlainText(), timeout=10_000)
    total = int(window.preview.tokens_label.text().split()[0].replace(",", ""))
    assert total > 1275
    shot(window, "message_images_attached")

    images.chips[1].remove.click()  # the photo goes
    qtbot.waitUntil(lambda: len(window.editor.template().messages[1].images) == 2)
    kept = window.editor.template().messages[1].images
    press_save(qtbot, window, "Chart reader")
    qtbot.waitUntil(lambda: window.key is not None and not window.dirty, timeout=10_000)
    key = window.key
    assert key is not None
    folder = window.workspace.library.path_for(key).parent / f"{key}.images"
    assert len(list(folder.iterdir())) == 2

    window.new_template()
    qtbot.waitUntil(lambda: window.key is None)
    window.open_library_template(key)
    qtbot.waitUntil(lambda: window.key == key)
    reopened = _images(window)
    assert [c.image for c in reopened.chips] == kept
    assert [c.label.text() for c in reopened.chips] == ["PNG 1024×1024", "PNG 64×64"]
    assert not window.dirty and reopened.problem.isHidden()
    qtbot.waitUntil(lambda: "+ 2 images (1,020 tokens)" in window.preview.messages_view
                    .toPlainText(), timeout=10_000)
    shot(window, "message_images_reopened")


def test_the_embedded_model_greys_the_image_button(qtbot: QtBot, window: MainWindow) -> None:
    window.editor.set_template(PromptTemplate(name="t", messages=[
        Message(role="system", content="s"),
        Message(role="user", content="What is this?",
                images=[ImagePart.from_bytes(encode(20, 20))])]))
    window.picker.select("llamacpp", "")
    images = _images(window)
    qtbot.waitUntil(lambda: not images.button.isEnabled())
    assert images.button.toolTip() == (
        "Images not offered: the embedded model cannot see images"
    )
    assert len(images.chips) == 1  # kept: the run says why it cannot go


def test_a_stored_run_keeps_its_images_and_restores_them(tmp_path: Path) -> None:
    from workbench.core.models import RenderedMessage, RunResult, SentRequest
    from workbench.storage.db import Database
    from workbench.storage.repositories import RunRef, Store
    from workbench.ui.run_restore import sent_template

    image = ImagePart.from_bytes(encode(30, 20))
    sent = SentRequest(backend="openai_compat", model="gpt-4o", messages=[
        RenderedMessage(role="user", content="What is this?", images=[image])])
    store = Store(Database(tmp_path / "db.sqlite"))
    run_id = store.runs.add(RunResult(request=sent, text="A box.", finish_reason="stop"),
                            RunRef())
    stored = store.runs.get(run_id)
    assert stored.result.request.messages[0].images == [image]
    assert sent_template(stored).messages[0].images == [image]  # a never-saved prompt's run
    store.db.close()

