"""One-line labels of the run views: a status that shortens instead of widening its panel, a
figure with a shorter form for narrow panels, and live figures that change many times a second
without making Qt lay the window out again."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QSize, Qt
from PySide6.QtGui import QColor, QPainter, QPaintEvent, QPalette
from PySide6.QtWidgets import QLabel, QWidget


class ElidedLabel(QLabel):
    """A one-line label that shortens its text with "…" instead of widening the panel; the
    full text is in its tooltip. ``elide_mode`` says where the "…" goes (the end by default)."""

    elide_mode = Qt.TextElideMode.ElideRight

    def minimumSizeHint(self) -> QSize:
        width = self.fontMetrics().horizontalAdvance("✓ finished…")
        return QSize(width, super().minimumSizeHint().height())

    def set_color(self, color: QColor) -> None:
        palette = self.palette()
        palette.setColor(QPalette.ColorRole.WindowText, color)
        self.setPalette(palette)

    def setText(self, text: str) -> None:
        super().setText(text)
        self.setToolTip(text)

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.setPen(self.palette().color(self.foregroundRole()))
        rect = self.contentsRect()  # inside the margins a label at a view's edge keeps
        painter.drawText(rect, int(self.alignment()), self.shown_text())  # QLabel's: left, centred

    def shown_text(self) -> str:
        """The text as painted: shortened to the label's width."""
        return self.fontMetrics().elidedText(self.text(), self.elide_mode,
                                             self.contentsRect().width())


class MetricLabel(QLabel):
    """A right-aligned figure that keeps room for a typical value, so the strip does not jump
    as numbers change, and grows for a longer one instead of clipping it (never shrinking back).

    Its size is fixed between growths: Qt lays out every parent of a label again whenever its
    text changes, unless the label's size is fixed, and a running answer's figures change many
    times a second (eight compare columns relaid the whole strip of columns five times a
    second).
    """

    def __init__(self, typical: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._typical = typical
        self._width = 0
        self.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self._fit()

    def setText(self, text: str) -> None:
        super().setText(text)
        self._fit()

    def changeEvent(self, event: QEvent) -> None:
        if event.type() in (QEvent.Type.FontChange, QEvent.Type.StyleChange):
            self._width = 0
            self._fit()
        super().changeEvent(event)

    def _fit(self) -> None:
        metrics = self.fontMetrics()
        margins = self.contentsMargins()
        extra = 2 * self.margin() + margins.left() + margins.right()
        text = max(metrics.horizontalAdvance(self._typical), metrics.horizontalAdvance(self.text()))
        width = max(self._width, text + extra)
        height = metrics.height() + 2 * self.margin() + margins.top() + margins.bottom()
        if width != self._width or height != self.height():
            self._width = width
            self.setFixedSize(width, height)



class FittingLabel(QLabel):
    """A one-line label with a shorter form of its text, painted when the full one does not fit,
    so a detail gives way before the panel (and the window) widens. ``text()`` stays the full
    text, which screen readers read."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._short = ""

    def set_texts(self, text: str, short: str | None = None) -> None:
        self._short = text if short is None else short
        self.setText(text)
        self.updateGeometry()

    def shown(self) -> str:
        """The form that fits the label's width now."""
        return self.text() if self._width(self.text()) <= self.width() else self._short

    def _width(self, text: str) -> int:
        margins = self.contentsMargins()
        return self.fontMetrics().horizontalAdvance(text) + margins.left() + margins.right() + \
            2 * self.margin()

    def minimumSizeHint(self) -> QSize:
        return QSize(self._width(self._short), super().minimumSizeHint().height())

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.setPen(self.palette().color(self.foregroundRole()))
        rect = self.contentsRect().adjusted(self.margin(), 0, -self.margin(), 0)
        painter.drawText(rect, int(self.alignment()), self.shown())
