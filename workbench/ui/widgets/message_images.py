"""A user message's images in the editor: attach (Image… button, drop, paste), shown as
thumbnail chips with a remove button.

The strip also watches its message's text editor, so an image file dropped on the text or an
image pasted into it (Ctrl+V with a picture on the clipboard) is attached instead of inserted as
text. Images are greyed with the reason when the chosen backend cannot send them.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QBuffer, QByteArray, QEvent, QIODevice, QMimeData, QObject, Qt, Signal
from PySide6.QtGui import (
    QDragEnterEvent,
    QDropEvent,
    QGuiApplication,
    QImage,
    QKeyEvent,
    QKeySequence,
    QPalette,
    QPixmap,
)
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from workbench.core.images import EXTENSIONS, ImagePart
from workbench.core.params import ParamCapability
from workbench.ui.widgets.flow_layout import FlowLayout

#: The file picker's filter: what every vision API takes.
IMAGE_FILTER = "Images (*.png *.jpg *.jpeg *.gif *.webp)"
_SUFFIXES = {".png", ".jpg", ".jpeg", ".gif", ".webp"}
THUMBNAIL_PX = 40
#: Larger files are refused: providers cap an image at about 5 MB (Anthropic) to 20 MB (OpenAI).
MAX_IMAGE_BYTES = 5 * 1024 * 1024


class ImageChip(QWidget):
    """One image: its thumbnail, type and size, and a × that removes it."""

    removeRequested = Signal(object)

    def __init__(self, image: ImagePart, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.image = image
        width, height = image.size()
        pixmap = QPixmap()
        pixmap.loadFromData(QByteArray(image.raw()))
        self.thumbnail = QLabel(self)
        self.thumbnail.setPixmap(pixmap.scaled(
            THUMBNAIL_PX, THUMBNAIL_PX, Qt.AspectRatioMode.KeepAspectRatio,
            Qt.TransformationMode.SmoothTransformation,
        ))
        kind = EXTENSIONS[image.media_type].upper()
        self.label = QLabel(f"{kind} {width}×{height}", self)
        self.remove = QToolButton(self)
        self.remove.setText("×")
        self.remove.setAutoRaise(True)
        self.remove.setAccessibleName(f"Remove image {kind} {width}×{height}")
        self.remove.setToolTip("Remove this image from the message")
        self.remove.clicked.connect(lambda: self.removeRequested.emit(self))
        self.setToolTip(f"{image.media_type}, {width}×{height} px, "
                        f"{len(image.raw()) / 1024:,.0f} KB")
        self.setAccessibleName(f"Image {kind} {width}×{height}")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.setSpacing(4)
        layout.addWidget(self.thumbnail)
        layout.addWidget(self.label)
        layout.addWidget(self.remove)
        self.setAutoFillBackground(True)
        self.setBackgroundRole(QPalette.ColorRole.AlternateBase)


class MessageImages(QWidget):
    """The images of one message: chips, plus attach slots for a path, a QImage or mime data."""

    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.chips: list[ImageChip] = []
        self.user = True  # only a user message carries images
        self.button = QToolButton(parent)  # placed in the card's header by its owner
        self.button.setText("Image…")
        self.button.setAccessibleName("Attach image")
        self.button.clicked.connect(self.pick_file)
        self.problem = QLabel(self)  # why the last attach failed
        self.problem.setWordWrap(True)
        self.problem.setStyleSheet("color: palette(highlighted-text); background: #b3261e;")
        self.problem.hide()
        self._chips = QWidget(self)
        self._flow = FlowLayout(self._chips)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        layout.addWidget(self._chips)
        layout.addWidget(self.problem)
        self.set_vision(ParamCapability())
        self.setAcceptDrops(True)

    # --- contents ------------------------------------------------------------------------------

    def images(self) -> list[ImagePart]:
        return [chip.image for chip in self.chips]

    def set_images(self, images: list[ImagePart]) -> None:
        self.problem.hide()  # another message shown: an old refusal is moot
        if images == self.images():
            self._update_visibility()
            return
        for chip in self.chips:
            self._flow.removeWidget(chip)
            chip.deleteLater()
        self.chips = []
        for image in images:
            self._add_chip(image)
        self._update_visibility()

    def _add_chip(self, image: ImagePart) -> None:
        chip = ImageChip(image, self._chips)
        chip.removeRequested.connect(self.remove_chip)
        self.chips.append(chip)
        self._flow.addWidget(chip)
        chip.show()

    def remove_chip(self, chip: ImageChip) -> None:
        self.chips.remove(chip)
        self._flow.removeWidget(chip)
        chip.deleteLater()
        self.problem.hide()
        self._update_visibility()
        self.changed.emit()

    def set_user(self, user: bool) -> None:
        """Offer images on a user message only (others keep theirs hidden, unsent)."""
        self.user = user
        self.button.setVisible(user)
        self._update_visibility()

    def _update_visibility(self) -> None:
        self.setVisible(self.user and (bool(self.chips) or not self.problem.isHidden()))

    def set_vision(self, vision: ParamCapability) -> None:
        """Grey the attach button with the reason when the backend cannot send images."""
        self.button.setEnabled(vision.supported)
        tip = ("Attach an image to this message (or drop an image file on it, or paste one). "
               + vision.note)
        self.button.setToolTip(tip if vision.supported else f"Images not offered: {vision.note}")

    # --- attaching -----------------------------------------------------------------------------

    def pick_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Attach image", "", IMAGE_FILTER)
        if path:
            self.attach_file(path)

    def attach_file(self, path: str | Path) -> bool:
        """Attach the image file at ``path``; False (the reason shown) if it is none."""
        path = Path(path)
        try:
            raw = path.read_bytes()
        except OSError as err:
            return self._refuse(f"{path.name}: {err.strerror or err}")
        return self.attach_bytes(raw, path.name)

    def attach_bytes(self, raw: bytes, name: str = "the image") -> bool:
        if len(raw) > MAX_IMAGE_BYTES:
            return self._refuse(f"{name} is {len(raw) / 1e6:.1f} MB; images of up to "
                                f"{MAX_IMAGE_BYTES // (1024 * 1024)} MB are sent")
        try:
            image = ImagePart.from_bytes(raw)
            image.size()
        except ValueError as err:
            return self._refuse(f"{name}: {err}")
        self.problem.hide()
        self._add_chip(image)
        self._update_visibility()
        self.changed.emit()
        return True

    def attach_image(self, image: QImage) -> bool:
        """Attach a picture that has no file (a pasted screenshot), as PNG."""
        buffer = QBuffer()
        buffer.open(QIODevice.OpenModeFlag.WriteOnly)
        # The format as str: the stubs want bytes, but PySide passes bytes on unterminated
        # and QImage.save crashed reading past "PNG".
        if image.isNull() or not image.save(buffer, "PNG"):  # type: ignore[call-overload]
            return self._refuse("the pasted picture could not be read")
        return self.attach_bytes(bytes(buffer.data().data()), "the pasted picture")

    def attach_mime(self, mime: QMimeData) -> bool:
        """Attach what a drop or paste carries: image files, else a picture; False if neither."""
        files = image_files(mime)
        if files:
            return all([self.attach_file(f) for f in files])
        if mime.hasImage():
            return self.attach_image(QImage(mime.imageData()))
        return False

    def _refuse(self, reason: str) -> bool:
        self.problem.setText(f"Not attached: {reason}")
        self.problem.show()
        self._update_visibility()
        return False

    # --- drops on the strip and on the message's editor ------------------------------------------

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if self.button.isEnabled() and wants(event.mimeData()):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        if self.attach_mime(event.mimeData()):
            event.acceptProposedAction()

    def watch(self, editor: QObject, viewport: QObject) -> None:
        """Take image drops on ``editor``'s ``viewport`` and image pastes into ``editor``."""
        viewport.installEventFilter(self)
        editor.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if not self.button.isEnabled() or not self.button.isVisible():
            return False
        kind = event.type()
        if kind in (QEvent.Type.DragEnter, QEvent.Type.DragMove) and isinstance(
            event, QDragEnterEvent | QDropEvent
        ) and image_files(event.mimeData()):
            event.acceptProposedAction()
            return True
        if kind == QEvent.Type.Drop and isinstance(event, QDropEvent) and image_files(
            event.mimeData()
        ):
            self.attach_mime(event.mimeData())
            event.acceptProposedAction()
            return True
        if kind == QEvent.Type.KeyPress and isinstance(event, QKeyEvent) and event.matches(
            QKeySequence.StandardKey.Paste
        ):
            mime = QGuiApplication.clipboard().mimeData()
            if mime is not None and (image_files(mime) or (mime.hasImage() and not mime.hasText())):
                self.attach_mime(mime)
                return True
        return False


def image_files(mime: QMimeData) -> list[Path]:
    """The local image files among ``mime``'s URLs (by suffix; the bytes are checked later)."""
    if not mime.hasUrls():
        return []
    paths = [Path(url.toLocalFile()) for url in mime.urls() if url.isLocalFile()]
    return [p for p in paths if p.suffix.lower() in _SUFFIXES]


def wants(mime: QMimeData) -> bool:
    return bool(image_files(mime)) or mime.hasImage()
